"""Monthly cost of Kubernetes workloads from their requests (OpenCost semantics, pure).

Per pod: each resource (CPU cores, memory GiB, GPUs) is the pod's effective request as the scheduler
computes it -- the sum over app containers (plus restartable "sidecar" init containers), or the largest
one-off init container if that is bigger, plus ``spec.overhead``. A container without a request for a
resource costs nothing for it (a limit alone counts as the request, as Kubernetes defaults it), and the
estimate notes "no requests". GPUs come from ``nvidia.com/gpu`` / ``amd.com/gpu`` (limit or request).

Monthly cost = (cores x cpu_core_hour + GiB x ram_gib_hour + GPUs x gpu_hour) x hours x replicas,
plus persistent storage (GiB x storage_gb_hour x hours; OpenCost prices volumes per GiB of capacity).

Replicas by kind: Deployment, ReplicaSet, ReplicationController, StatefulSet and Argo ``Rollout`` use
``spec.replicas`` (default 1); a DaemonSet runs on ``node_count`` nodes; a Pod is one replica. A
StatefulSet adds its ``volumeClaimTemplates`` per replica. Prometheus and Alertmanager CRs
(``monitoring.coreos.com``) run ``spec.replicas`` (default 1; Prometheus x ``spec.shards``) pods with
``spec.resources`` plus their ``spec.storage`` volume claim. A PersistentVolumeClaim costs its requested
storage. When an HPA targets a workload, the estimate uses ``minReplicas`` (default 1) and the worst case
uses ``maxReplicas``. A Rollout with ``workloadRef`` has no template of its own: unknown.

Job and CronJob are not priced: they run to completion, and how long (and how often they overlap) is not
in the manifest, so any monthly figure would be invented. :func:`estimate_workload` returns ``None`` for
them, as for every kind that has no pods or volumes.

A usage hook follows OpenCost's ``max(request, usage)``: pass measured usage per container name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tollgate.errors import InputError, ParseError
from tollgate.model import workloads
from tollgate.model.cost import PriceBook
from tollgate.model.manifests import Manifest, ResourceKey
from tollgate.model.quantities import parse_cpu, parse_memory

__all__ = [
    "GPU_RESOURCES",
    "NOT_PRICED_KINDS",
    "POD_TEMPLATE_KINDS",
    "ContainerUsage",
    "HpaBounds",
    "PodRequests",
    "WorkloadEstimate",
    "estimate_state",
    "estimate_workload",
    "find_hpas",
    "is_costable",
    "pod_requests",
    "pod_spec",
    "workload_annotations",
]

GIB = 2**30
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
#: Kinds whose pods come from ``spec.template``.
POD_TEMPLATE_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Rollout"}
)
_OPERATOR_KINDS = frozenset({"Prometheus", "Alertmanager"})
_OPERATOR_GROUP = "monitoring.coreos.com/"
#: Workload kinds recognised but deliberately not priced (see the module docstring).
NOT_PRICED_KINDS = frozenset({"Job", "CronJob"})


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    """Measured usage of one container (cores, bytes); ``None`` where not measured."""

    cpu_cores: float | None = None
    memory_bytes: float | None = None


@dataclass(frozen=True, slots=True)
class HpaBounds:
    """Replica range a HorizontalPodAutoscaler allows its target."""

    name: str
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True, slots=True)
class PodRequests:
    """Effective requests of one pod and the containers that lack CPU or memory requests."""

    cpu_cores: float = 0.0
    memory_bytes: float = 0.0
    gpus: float = 0.0
    missing: tuple[str, ...] = ()  # "container (cpu, memory)"

    @property
    def has_requests(self) -> bool:
        return not self.missing


@dataclass(frozen=True, slots=True)
class WorkloadEstimate:
    """Monthly cost of one workload or volume claim.

    ``monthly`` is ``None`` when the cost is unknown (``notes`` say why). ``monthly_max`` is the worst case
    when an HPA may scale it up. ``monthly_per_replica`` is what one more or one fewer replica changes.
    """

    key: ResourceKey
    replicas: int
    monthly: float | None
    monthly_per_replica: float | None = None
    monthly_max: float | None = None
    max_replicas: int | None = None
    requests: PodRequests | None = None
    storage_bytes_per_replica: float = 0.0
    scales_with_node_count: bool = False
    notes: tuple[str, ...] = ()

    @property
    def unknown(self) -> bool:
        return self.monthly is None

    @property
    def note(self) -> str:
        return "; ".join(self.notes)


# --------------------------------------------------------------------------------------------- helpers


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _where(manifest: Manifest) -> tuple[str, int | None]:
    return manifest.source.file or str(manifest.key), manifest.source.line


def _quantity(manifest: Manifest, value: Any, field: str, *, cpu: bool) -> float:
    try:
        return parse_cpu(value, field=field) if cpu else parse_memory(value, field=field)
    except InputError as exc:
        file, line = _where(manifest)
        raise ParseError(file, f"{manifest.key}: {exc.message}", line=line) from exc


def _int(manifest: Manifest, value: Any, field: str, default: int) -> int | None:
    """An integer field; ``None`` when it is a template expression we cannot know."""
    if value is None:
        return default
    if isinstance(value, bool):
        file, line = _where(manifest)
        raise ParseError(file, f"{manifest.key}: {field} must be an integer, not {value!r}", line=line)
    if isinstance(value, int):
        if value < 0:
            file, line = _where(manifest)
            raise ParseError(file, f"{manifest.key}: {field} must not be negative ({value})", line=line)
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def is_costable(manifest: Manifest) -> bool:
    """Whether :func:`estimate_workload` prices this kind of object."""
    if manifest.is_terraform:
        return False
    if manifest.kind in POD_TEMPLATE_KINDS or manifest.kind in ("Pod", "PersistentVolumeClaim"):
        return True
    return manifest.kind in _OPERATOR_KINDS and manifest.api_version.startswith(_OPERATOR_GROUP)


def pod_spec(manifest: Manifest) -> Mapping[str, Any] | None:
    """The pod spec a workload runs (``None`` for kinds without one)."""
    found = workloads.pod_spec(manifest)
    return found[1] if found is not None else None


def workload_annotations(manifest: Manifest) -> dict[str, str]:
    """Annotations of the workload and of its pod template (the workload's win)."""
    spec = _mapping(manifest.body.get("spec"))
    template_meta = _mapping(_mapping(spec.get("template")).get("metadata"))
    if manifest.kind == "CronJob":
        job = _mapping(_mapping(spec.get("jobTemplate")).get("spec"))
        template_meta = _mapping(_mapping(job.get("template")).get("metadata"))
    if manifest.kind in _OPERATOR_KINDS:
        template_meta = _mapping(spec.get("podMetadata"))
    out = {str(k): str(v) for k, v in _mapping(template_meta.get("annotations")).items()}
    out.update({str(k): str(v) for k, v in manifest.annotations.items()})
    return out


# --------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class _Res:
    cpu: float = 0.0
    mem: float = 0.0
    gpu: float = 0.0

    def __add__(self, other: _Res) -> _Res:
        return _Res(self.cpu + other.cpu, self.mem + other.mem, self.gpu + other.gpu)

    def max(self, other: _Res) -> _Res:
        return _Res(max(self.cpu, other.cpu), max(self.mem, other.mem), max(self.gpu, other.gpu))


def _container(
    manifest: Manifest,
    container: Mapping[str, Any],
    field: str,
    usage: Mapping[str, ContainerUsage] | None,
    missing: list[str],
) -> _Res:
    name = str(container.get("name", "?"))
    resources = _mapping(container.get("resources"))
    requests = _mapping(resources.get("requests"))
    limits = _mapping(resources.get("limits"))
    values: dict[str, float] = {}
    lacking: list[str] = []
    for res in ("cpu", "memory"):
        raw = requests.get(res, limits.get(res))
        if raw is None:
            lacking.append(res)
            values[res] = 0.0
        else:
            values[res] = _quantity(manifest, raw, f"{field}.resources.requests.{res}", cpu=res == "cpu")
    gpus = 0.0
    for res in GPU_RESOURCES:
        raw = limits.get(res, requests.get(res))
        if raw is not None:
            gpus += _quantity(manifest, raw, f"{field}.resources.limits.{res}", cpu=True)
    if usage and name in usage:
        used = usage[name]
        if used.cpu_cores is not None:
            values["cpu"] = max(values["cpu"], used.cpu_cores)
        if used.memory_bytes is not None:
            values["memory"] = max(values["memory"], used.memory_bytes)
    if lacking:
        missing.append(f"{name} ({', '.join(lacking)})")
    return _Res(values["cpu"], values["memory"], gpus)


def pod_requests(
    manifest: Manifest, spec: Mapping[str, Any], usage: Mapping[str, ContainerUsage] | None = None
) -> PodRequests:
    """Effective requests of one pod of ``manifest`` (scheduler rules, see the module docstring)."""
    missing: list[str] = []
    apps = _Res()
    for i, c in enumerate(_list(spec.get("containers"))):
        apps = apps + _container(manifest, _mapping(c), f"containers[{i}]", usage, missing)
    # Init containers run one by one before the app containers; sidecars (restartPolicy Always) keep
    # running, so they add to everything after them.
    init_peak = _Res()
    sidecars = _Res()
    for i, c in enumerate(_list(spec.get("initContainers"))):
        c = _mapping(c)
        res = _container(manifest, c, f"initContainers[{i}]", usage, missing)
        if c.get("restartPolicy") == "Always":
            sidecars = sidecars + res
            init_peak = init_peak.max(sidecars)
        else:
            init_peak = init_peak.max(sidecars + res)
    total = (apps + sidecars).max(init_peak)
    overhead = _mapping(spec.get("overhead"))
    if overhead:
        total = total + _Res(
            _quantity(manifest, overhead.get("cpu", 0), "overhead.cpu", cpu=True),
            _quantity(manifest, overhead.get("memory", 0), "overhead.memory", cpu=False),
        )
    return PodRequests(total.cpu, total.mem, total.gpu, tuple(missing))


def _operator_requests(manifest: Manifest, spec: Mapping[str, Any]) -> PodRequests:
    container = {"name": manifest.kind.lower(), "resources": spec.get("resources")}
    return pod_requests(manifest, {"containers": [container]})


# --------------------------------------------------------------------------------------------- HPA


def find_hpas(manifests: Iterable[Manifest]) -> dict[ResourceKey, HpaBounds]:
    """HPAs in a state, by the key of the workload they scale."""
    out: dict[ResourceKey, HpaBounds] = {}
    for m in manifests:
        if m.kind != "HorizontalPodAutoscaler" or m.is_terraform:
            continue
        spec = _mapping(m.body.get("spec"))
        target = _mapping(spec.get("scaleTargetRef"))
        kind, name = target.get("kind"), target.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            continue
        low = _int(m, spec.get("minReplicas"), "spec.minReplicas", 1)
        high = _int(m, spec.get("maxReplicas"), "spec.maxReplicas", low or 1)
        if low is None or high is None:
            continue
        out[ResourceKey(kind, m.namespace, name)] = HpaBounds(m.name, low, max(low, high))
    return out


# --------------------------------------------------------------------------------------------- estimate


def _hourly(book: PriceBook, pod: PodRequests) -> float:
    return (
        pod.cpu_cores * book.cpu_core_hour
        + pod.memory_bytes / GIB * book.ram_gib_hour
        + pod.gpus * book.gpu_hour
    )


def _claim_storage(manifest: Manifest, claim_spec: Mapping[str, Any], field: str) -> float:
    storage = _mapping(_mapping(claim_spec.get("resources")).get("requests")).get("storage")
    return 0.0 if storage is None else _quantity(manifest, storage, field, cpu=False)


def _storage_per_replica(manifest: Manifest, spec: Mapping[str, Any]) -> float:
    if manifest.kind == "StatefulSet":
        total = 0.0
        for i, tpl in enumerate(_list(spec.get("volumeClaimTemplates"))):
            claim = _mapping(_mapping(tpl).get("spec"))
            total += _claim_storage(manifest, claim, f"spec.volumeClaimTemplates[{i}].spec.resources.requests.storage")
        return total
    if manifest.kind in _OPERATOR_KINDS:
        vct = _mapping(_mapping(spec.get("storage")).get("volumeClaimTemplate"))
        return _claim_storage(
            manifest, _mapping(vct.get("spec")), "spec.storage.volumeClaimTemplate.spec.resources.requests.storage"
        )
    return 0.0


def estimate_workload(
    manifest: Manifest,
    book: PriceBook,
    *,
    node_count: int = 3,
    hours_per_month: float = 730.0,
    hpa: HpaBounds | None = None,
    usage: Mapping[str, ContainerUsage] | None = None,
) -> WorkloadEstimate | None:
    """Monthly cost of one Kubernetes object, or ``None`` when its kind is not priced.

    Raises :class:`~tollgate.errors.ParseError` (naming the file and field) for a malformed quantity.
    """
    if not is_costable(manifest):
        return None
    key = manifest.key
    spec = _mapping(manifest.body.get("spec"))
    notes: list[str] = []

    if manifest.kind == "PersistentVolumeClaim":
        size = _claim_storage(manifest, spec, "spec.resources.requests.storage")
        if size == 0:
            notes.append("no storage request")
        monthly = size / GIB * book.storage_gb_hour * hours_per_month
        return WorkloadEstimate(key, 1, monthly, monthly, storage_bytes_per_replica=size, notes=tuple(notes))

    if manifest.kind == "Rollout" and "template" not in spec:
        if "workloadRef" in spec:
            notes.append("Rollout uses workloadRef: pod template is in another object, cost unknown")
        else:
            notes.append("Rollout has no pod template, cost unknown")
        return WorkloadEstimate(key, 0, None, notes=tuple(notes))

    # replicas
    scales_with_nodes = manifest.kind == "DaemonSet"
    if scales_with_nodes:
        replicas: int | None = node_count
        notes.append(f"DaemonSet priced on {node_count} nodes")
    elif manifest.kind == "Pod":
        replicas = 1
    else:
        replicas = _int(manifest, spec.get("replicas"), "spec.replicas", 1)
        if replicas is not None and manifest.kind == "Prometheus":
            shards = _int(manifest, spec.get("shards"), "spec.shards", 1)
            replicas = None if shards is None else replicas * max(shards, 1)
    max_replicas: int | None = None
    if hpa is not None and not scales_with_nodes:
        replicas, max_replicas = hpa.min_replicas, hpa.max_replicas
        notes.append(f"HPA {hpa.name}: {hpa.min_replicas}-{hpa.max_replicas} replicas")
    if replicas is None:
        notes.append("replicas is not a number, cost unknown")
        return WorkloadEstimate(key, 0, None, notes=tuple(notes))

    if manifest.kind in _OPERATOR_KINDS:
        pod = _operator_requests(manifest, spec)
    else:
        pspec = pod_spec(manifest)
        if pspec is None:
            return WorkloadEstimate(key, replicas, None, notes=(*notes, "no pod template, cost unknown"))
        pod = pod_requests(manifest, pspec, usage)
    if pod.missing:
        notes.append("no requests: " + ", ".join(pod.missing) + " cost 0 for those resources")

    storage = _storage_per_replica(manifest, spec)
    per_replica = (_hourly(book, pod) + storage / GIB * book.storage_gb_hour) * hours_per_month
    monthly = per_replica * replicas
    monthly_max = per_replica * max_replicas if max_replicas is not None else None
    return WorkloadEstimate(
        key,
        replicas,
        monthly,
        per_replica,
        monthly_max,
        max_replicas,
        pod,
        storage,
        scales_with_nodes,
        tuple(notes),
    )


def estimate_state(
    manifests: Sequence[Manifest],
    book: PriceBook,
    *,
    node_count: int = 3,
    hours_per_month: float = 730.0,
) -> list[WorkloadEstimate]:
    """Estimates of every priced Kubernetes object in a state (HPAs applied)."""
    hpas = find_hpas(manifests)
    out: list[WorkloadEstimate] = []
    for m in manifests:
        est = estimate_workload(
            m, book, node_count=node_count, hours_per_month=hours_per_month, hpa=hpas.get(m.key)
        )
        if est is not None:
            out.append(est)
    return out
