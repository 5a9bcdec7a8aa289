"""Rightsizing values shared by the usage source, the strategies and the proposal writer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RightsizeSeverity(StrEnum):
    """KRR's severity bands for how far a value is from its recommendation."""

    GOOD = "good"
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class WorkloadContainer:
    """One container of one workload, as Prometheus and the rendered manifests both name it."""

    kind: str
    namespace: str
    name: str
    container: str


@dataclass(frozen=True, slots=True)
class ResourceValues:
    """Requests and limits of one container: CPU in cores, memory in bytes; ``None`` when unset."""

    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None


@dataclass(frozen=True, slots=True)
class UsageEvidence:
    """What a recommendation rests on (the JSON ``evidence`` object)."""

    p95_cpu: float | None
    max_memory: float | None
    oom_events: int
    samples: int
    window: str


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One container's recommendation.

    ``recommended`` is ``None`` when there is none; ``reason`` then says why (``"no usage data"`` …).
    ``file``/``path`` name where the value is really set (filled by the locator), ``monthly_delta`` the
    $/month change from the spine's cost model (filled by the orchestrator); both ``None`` until known.
    ``idle`` marks a workload with near-zero use for the whole window (proposal: scale down).
    """

    target: WorkloadContainer
    current: ResourceValues
    recommended: ResourceValues | None
    severity: RightsizeSeverity
    evidence: UsageEvidence
    strategy: str
    reason: str | None = None
    idle: bool = False
    replicas: int | None = None
    file: str | None = None
    path: str | None = None
    monthly_delta: float | None = None


@dataclass(frozen=True, slots=True)
class HpaInfo:
    """A HorizontalPodAutoscaler that scales the workload (from ``kube_horizontalpodautoscaler_*``).

    ``resources`` are the resources it scales on (``"cpu"``, ``"memory"``); the utilisation targets are
    percentages of the request, ``None`` when the HPA does not target that resource or it is unknown.
    """

    name: str
    resources: tuple[str, ...] = ()
    cpu_target_utilization: float | None = None
    memory_target_utilization: float | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None


@dataclass(frozen=True, slots=True)
class PodUsage:
    """Usage samples of one container in one pod (one Prometheus series per metric).

    CPU in cores (a rate), memory working set in bytes, timestamps in unix seconds. ``started_at`` is
    when the container started if that falls inside the window (a new pod or a restart), else ``None``;
    strategies use it to keep start-up peaks out of CPU percentiles.
    """

    pod: str
    cpu: tuple[float, ...] = ()
    cpu_timestamps: tuple[float, ...] = ()
    memory: tuple[float, ...] = ()
    memory_timestamps: tuple[float, ...] = ()
    started_at: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.cpu) != len(self.cpu_timestamps) or len(self.memory) != len(self.memory_timestamps):
            raise ValueError(f"pod {self.pod}: each sample needs exactly one timestamp")


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    """Usage history of one workload container over a window, as strategies consume it.

    ``pods`` hold the samples per pod; ``step`` is the sampling step in seconds; ``oom_kills`` counts
    OOMKilled terminations seen in the window and ``oom_memory_limit`` is the memory limit (bytes) the
    container had when it was OOM-killed (``None`` if unknown). ``observed`` is what Prometheus reports
    as the current requests/limits (``kube_pod_container_resource_*``), ``None`` when absent.
    """

    target: WorkloadContainer
    pods: tuple[PodUsage, ...] = ()
    step: float = 60.0
    window: str = "14d"
    start: float | None = None
    end: float | None = None
    oom_kills: int = 0
    oom_memory_limit: float | None = None
    restarts: int = 0
    observed: ResourceValues | None = None
    hpa: HpaInfo | None = None
    replicas: int | None = None

    @property
    def cpu_samples(self) -> int:
        """Number of CPU samples across all pods."""
        return sum(len(p.cpu) for p in self.pods)

    @property
    def memory_samples(self) -> int:
        """Number of memory samples across all pods."""
        return sum(len(p.memory) for p in self.pods)
