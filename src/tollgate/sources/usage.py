"""Container usage history for rightsizing, from Prometheus (or a fake).

:class:`PrometheusUsageSource` asks a fixed handful of range queries per namespace, whatever the number
of workloads in it (CPU rate, memory working set, requests, limits, OOMKilled terminations, restarts,
pod owners, HPAs), and splits the answers per workload container. Pods are mapped to workloads through
``kube_pod_owner`` / ``kube_replicaset_owner`` when those series exist, else by pod-name shape:
Deployment ``<name>-<rs-hash>-<pod-hash>``, StatefulSet ``<name>-<ordinal>``, DaemonSet and Job
``<name>-<hash>``, CronJob ``<name>-<schedule>-<hash>``. An unreachable Prometheus raises
DependencyError (from :class:`~tollgate.sources.metrics.PrometheusClient`).
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tollgate.errors import InputError
from tollgate.model.canary import Series
from tollgate.model.rightsize import ContainerUsage, HpaInfo, PodUsage, ResourceValues, WorkloadContainer
from tollgate.sources.metrics import LabeledSeries, MetricSource, PrometheusClient

__all__ = [
    "FakeUsageSource",
    "PrometheusUsageSource",
    "UsageSource",
    "parse_duration",
    "pod_belongs_to",
]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str, *, field: str = "window") -> float:
    """Seconds in a Prometheus duration such as ``14d``, ``1d12h`` or ``90m``; InputError naming ``field``."""
    raw = text.strip()
    pos = 0
    total = 0.0
    for match in _DURATION.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not raw or pos != len(raw) or total <= 0:
        raise InputError(f"{field}: {text!r} is not a Prometheus duration (e.g. 14d, 36h, 1d12h)")
    return total


class UsageSource(Protocol):
    """Where usage history comes from (Prometheus, or a fake in tests and demos)."""

    def fetch(self, targets: Sequence[WorkloadContainer], window: str) -> dict[WorkloadContainer, ContainerUsage]:
        """Usage of every target over ``window`` (a Prometheus duration); a target without data gets an
        empty :class:`ContainerUsage` (no pods)."""
        ...


@dataclass
class FakeUsageSource:
    """Answers from a dict; targets it does not know get an empty history. Records each call."""

    usage: dict[WorkloadContainer, ContainerUsage] = field(default_factory=dict)
    calls: list[tuple[tuple[WorkloadContainer, ...], str]] = field(default_factory=list)

    def fetch(self, targets: Sequence[WorkloadContainer], window: str) -> dict[WorkloadContainer, ContainerUsage]:
        parse_duration(window)
        self.calls.append((tuple(targets), window))
        return {t: self.usage.get(t, ContainerUsage(t, window=window)) for t in targets}


# ------------------------------------------------------------------------------------------ pod → workload

_HASH = r"[a-z0-9]{1,10}"
_SHAPES: dict[str, str] = {
    "Deployment": rf"-{_HASH}-[a-z0-9]{{5}}",
    "Rollout": rf"-{_HASH}-[a-z0-9]{{5}}",
    "DeploymentConfig": r"-\d+-[a-z0-9]{5}",
    "StatefulSet": r"-\d+",
    "DaemonSet": r"-[a-z0-9]{5}",
    "Job": r"-[a-z0-9]{5}",
    "CronJob": r"-\d+-[a-z0-9]{5}",
    "ReplicaSet": r"-[a-z0-9]{5}",
}


def pod_belongs_to(pod: str, kind: str, name: str) -> bool:
    """Whether ``pod``'s name has the shape of a pod of workload ``kind``/``name``."""
    if not pod.startswith(name + "-"):
        return False
    shape = _SHAPES.get(kind, r"-[a-z0-9-]+")
    return re.fullmatch(re.escape(name) + shape, pod) is not None


# ------------------------------------------------------------------------------------------------ queries


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _alternation(values: Iterable[str]) -> str:
    return "|".join(re.escape(v).replace("\\", "\\\\") for v in sorted(set(values)))


@dataclass(frozen=True, slots=True)
class _Group:
    namespace: str
    targets: tuple[WorkloadContainer, ...]

    def selector(self, *, with_container: bool = True) -> str:
        pods = _alternation(t.name for t in self.targets)
        parts = [f'namespace="{_quote(self.namespace)}"', f'pod=~"({pods})-.+"']
        if with_container:
            parts.append(f'container=~"{_alternation(t.container for t in self.targets)}"')
        return ",".join(parts)


@dataclass
class _Owners:
    pods: dict[str, tuple[str, str]] = field(default_factory=dict)  # pod -> (kind, name)
    replicasets: dict[str, tuple[str, str]] = field(default_factory=dict)  # rs -> (kind, name)

    def workload(self, pod: str) -> tuple[str, str] | None:
        owner = self.pods.get(pod)
        if owner is None:
            return None
        if owner[0] == "ReplicaSet" and owner[1] in self.replicasets:
            return self.replicasets[owner[1]]
        return owner


class PrometheusUsageSource:
    """Usage history from Prometheus, batched per namespace.

    ``client_or_url`` is a :class:`PrometheusClient` (or any :class:`MetricSource`) or a base URL. The
    step is ``min_step`` seconds, raised so a series has at most ``max_points`` samples over the window
    (as KRR does). ``end`` fixes the end of the window (default: now). ``rate_window`` is the range of
    the CPU ``rate()``.
    """

    def __init__(
        self,
        client_or_url: MetricSource | str,
        *,
        min_step: float = 60.0,
        max_points: int = 10_000,
        rate_window: str = "5m",
        end: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._owned = isinstance(client_or_url, str)
        self.source: MetricSource = (
            PrometheusClient(client_or_url) if isinstance(client_or_url, str) else client_or_url
        )
        self.min_step = min_step
        self.max_points = max_points
        self.rate_window = rate_window
        parse_duration(rate_window, field="rate_window")
        self.end = end
        self._clock = clock
        self.queries = 0

    def close(self) -> None:
        """Close the HTTP client if this source made it."""
        if self._owned and isinstance(self.source, PrometheusClient):
            self.source.close()

    def step_for(self, window_s: float) -> float:
        """Sampling step for a window: ``min_step`` or more, at most ``max_points`` samples."""
        return max(self.min_step, float(math.ceil(window_s / self.max_points)))

    def _range(self, query: str, start: float, end: float, step: float) -> list[LabeledSeries]:
        self.queries += 1
        return self.source.query_range(query, start, end, step)

    def _instant(self, query: str, at: float) -> list[LabeledSeries]:
        return self._range(query, at, at, 1.0)

    def fetch(self, targets: Sequence[WorkloadContainer], window: str) -> dict[WorkloadContainer, ContainerUsage]:
        window_s = parse_duration(window)
        end = self.end if self.end is not None else self._clock()
        start = end - window_s
        step = self.step_for(window_s)
        by_namespace: dict[str, list[WorkloadContainer]] = defaultdict(list)
        for target in dict.fromkeys(targets):
            by_namespace[target.namespace].append(target)
        out: dict[WorkloadContainer, ContainerUsage] = {}
        for namespace, members in sorted(by_namespace.items()):
            out.update(self._fetch_group(_Group(namespace, tuple(members)), window, start, end, step))
        return {t: out[t] for t in targets}

    def _owners(self, group: _Group, window: str, end: float) -> _Owners:
        owners = _Owners()
        ns = f'namespace="{_quote(group.namespace)}"'
        pod_q = (f"max by (pod, owner_kind, owner_name) (last_over_time(kube_pod_owner{{{ns}}}[{window}]))")
        for item in self._instant(pod_q, end):
            pod, kind, name = (item.labels.get(k, "") for k in ("pod", "owner_kind", "owner_name"))
            if pod and kind and name:
                owners.pods[pod] = (kind, name)
        if any(kind == "ReplicaSet" for kind, _ in owners.pods.values()):
            rs_q = (f"max by (replicaset, owner_kind, owner_name) "
                    f"(last_over_time(kube_replicaset_owner{{{ns}}}[{window}]))")
            for item in self._instant(rs_q, end):
                rs, kind, name = (item.labels.get(k, "") for k in ("replicaset", "owner_kind", "owner_name"))
                if rs and kind and name:
                    owners.replicasets[rs] = (kind, name)
        return owners

    def _fetch_group(self, group: _Group, window: str, start: float, end: float, step: float
                     ) -> dict[WorkloadContainer, ContainerUsage]:
        sel = group.selector()
        by = "by (pod, container)"
        cpu = self._range(f"max {by} (rate(container_cpu_usage_seconds_total{{{sel}}}[{self.rate_window}]))",
                          start, end, step)
        memory = self._range(f"max {by} (container_memory_working_set_bytes{{{sel}}})", start, end, step)
        restarts = self._range(f"max {by} (kube_pod_container_status_restarts_total{{{sel}}})", start, end, step)
        oom = self._range(
            f'max {by} (kube_pod_container_status_last_terminated_reason{{{sel},reason="OOMKilled"}})',
            start, end, step)
        requests = self._instant(f'max by (pod, container, resource) (last_over_time('
                                 f'kube_pod_container_resource_requests{{{sel},resource=~"cpu|memory"}}[{window}]))',
                                 end)
        limits = self._instant(f'max by (pod, container, resource) (last_over_time('
                               f'kube_pod_container_resource_limits{{{sel},resource=~"cpu|memory"}}[{window}]))', end)
        owners = self._owners(group, window, end)
        hpas = self._hpas(group, window, end)

        def owner_of(pod: str, container: str) -> WorkloadContainer | None:
            known = owners.workload(pod)
            candidates = [t for t in group.targets if t.container == container]
            if known is not None:
                for t in candidates:
                    if (t.kind, t.name) == known:
                        return t
                return None
            shaped = [t for t in candidates if pod_belongs_to(pod, t.kind, t.name)]
            return max(shaped, key=lambda t: len(t.name)) if shaped else None

        def split(series: list[LabeledSeries]) -> dict[tuple[WorkloadContainer, str], Series]:
            found: dict[tuple[WorkloadContainer, str], Series] = {}
            for item in series:
                pod, container = item.labels.get("pod", ""), item.labels.get("container", "")
                target = owner_of(pod, container)
                if target is not None:
                    found[(target, pod)] = item.series
            return found

        cpu_by, mem_by = split(cpu), split(memory)
        restarts_by, oom_by = split(restarts), split(oom)
        observed = _observed(requests, limits, owner_of)
        out: dict[WorkloadContainer, ContainerUsage] = {}
        for target in group.targets:
            pods = sorted({pod for (t, pod) in (*cpu_by, *mem_by) if t == target})
            pod_usages = []
            kills = 0
            restart_count = 0
            for pod in pods:
                c = cpu_by.get((target, pod), Series(()))
                m = mem_by.get((target, pod), Series(()))
                r = restarts_by.get((target, pod), Series(()))
                restart_times = _increase_times(r)
                restart_count += len(restart_times)
                kills += _oom_kills(oom_by.get((target, pod), Series(())), restart_times)
                first = min((s.timestamps[0] for s in (c, m) if s.timestamps), default=start)
                started = ((first,) if first > start + step else ()) + tuple(restart_times)
                pod_usages.append(PodUsage(pod, c.values, c.timestamps, m.values, m.timestamps, started))
            last = max((p.cpu_timestamps[-1] for p in pod_usages if p.cpu_timestamps), default=None)
            replicas = (sum(1 for p in pod_usages if p.cpu_timestamps and p.cpu_timestamps[-1] >= last - step)
                        if last is not None else None)
            seen = observed.get(target)
            out[target] = ContainerUsage(
                target=target,
                pods=tuple(pod_usages),
                step=step,
                window=window,
                start=start,
                end=end,
                oom_kills=kills,
                oom_memory_limit=seen.memory_limit if seen is not None and kills else None,
                restarts=restart_count,
                observed=seen,
                hpa=hpas.get((target.kind, target.name)) or hpas.get(("", target.name)),
                replicas=replicas,
            )
        return out

    def _hpas(self, group: _Group, window: str, end: float) -> dict[tuple[str, str], HpaInfo]:
        """HPAs of the namespace keyed by their scale target (kind, name); ("", hpa name) when unknown."""
        ns = f'namespace="{_quote(group.namespace)}"'
        names = ("info", "spec_target_metric", "spec_min_replicas", "spec_max_replicas")
        found: dict[str, dict[str, LabeledSeries]] = {}
        targets: dict[str, list[LabeledSeries]] = defaultdict(list)
        for suffix in names:
            query = f"last_over_time(kube_horizontalpodautoscaler_{suffix}{{{ns}}}[{window}])"
            for item in self._instant(query, end):
                hpa = item.labels.get("horizontalpodautoscaler", "")
                if not hpa:
                    continue
                if suffix == "spec_target_metric":
                    targets[hpa].append(item)
                else:
                    found.setdefault(hpa, {})[suffix] = item
        out: dict[tuple[str, str], HpaInfo] = {}
        for hpa in sorted(set(found) | set(targets)):
            parts = found.get(hpa, {})
            resources: list[str] = []
            utilization: dict[str, float] = {}
            for item in targets.get(hpa, []):
                metric = item.labels.get("metric_name", "")
                if metric in ("cpu", "memory"):
                    resources.append(metric)
                    if item.labels.get("metric_target_type", "utilization") == "utilization" and item.series.values:
                        utilization[metric] = item.series.values[-1]
            info = HpaInfo(
                name=hpa,
                resources=tuple(sorted(set(resources))),
                cpu_target_utilization=utilization.get("cpu"),
                memory_target_utilization=utilization.get("memory"),
                min_replicas=_int(parts.get("spec_min_replicas")),
                max_replicas=_int(parts.get("spec_max_replicas")),
            )
            labels: Mapping[str, str] = parts["info"].labels if "info" in parts else {}
            kind, name = labels.get("scaletargetref_kind", ""), labels.get("scaletargetref_name", "")
            out[(kind, name) if kind and name else ("", hpa)] = info
        return out


def _int(item: LabeledSeries | None) -> int | None:
    if item is None or not item.series.values or not math.isfinite(item.series.values[-1]):
        return None
    return int(item.series.values[-1])


def _increase_times(counter: Series) -> list[float]:
    """Timestamps where a restart counter went up (one entry per step, however large the jump)."""
    out = []
    for i in range(1, len(counter.values)):
        if counter.values[i] > counter.values[i - 1]:
            out.append(counter.timestamps[i])
    return out


def _oom_kills(flag: Series, restart_times: Sequence[float]) -> int:
    """OOM kills of one container: restarts while its last termination reason reads OOMKilled, or, with
    no restart data, the times that flag turns on."""
    on = {t for t, v in zip(flag.timestamps, flag.values, strict=True) if v >= 1}
    if not on:
        return 0
    if restart_times:
        counted = sum(1 for t in restart_times if t in on)
        if counted:
            return counted
    edges = 0
    previous = 0.0
    for v in flag.values:
        if v >= 1 and previous < 1:
            edges += 1
        previous = v
    return edges


def _observed(
    requests: list[LabeledSeries],
    limits: list[LabeledSeries],
    owner_of: Callable[[str, str], WorkloadContainer | None],
) -> dict[WorkloadContainer, ResourceValues]:
    values: dict[WorkloadContainer, dict[str, float]] = defaultdict(dict)
    for kind, series in (("request", requests), ("limit", limits)):
        for item in series:
            target = owner_of(item.labels.get("pod", ""), item.labels.get("container", ""))
            resource = item.labels.get("resource", "")
            if target is None or resource not in ("cpu", "memory") or not item.series.values:
                continue
            value = item.series.values[-1]
            if math.isfinite(value):
                key = f"{resource}_{kind}"
                values[target][key] = max(values[target].get(key, value), value)
    return {
        t: ResourceValues(v.get("cpu_request"), v.get("cpu_limit"), v.get("memory_request"), v.get("memory_limit"))
        for t, v in values.items()
    }
