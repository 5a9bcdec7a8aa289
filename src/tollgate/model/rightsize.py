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
