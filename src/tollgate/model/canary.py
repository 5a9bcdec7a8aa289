"""Values of canary analysis: metric series, per-test and per-metric outcomes, the judge's result.

The labels of :class:`MetricClassification` are Kayenta's (``Pass``, ``High``, ``Low``,
``NodataFailMetric``, ``Nodata``, ``Error``) plus our own ``Inconclusive``: the data were present but
did not suffice to decide (fewer than ``minSamples``, or a sequential test still undecided when the
data ended). An inconclusive metric never counts as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Series:
    """Samples of one metric for one side (baseline or canary), in time order.

    ``timestamps`` are unix seconds, one per value, or empty when unknown. Values may hold NaN or
    infinities; the judge handles them per the metric's ``nanStrategy``.
    """

    values: tuple[float, ...]
    timestamps: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.timestamps and len(self.timestamps) != len(self.values):
            raise ValueError(
                f"series has {len(self.values)} values but {len(self.timestamps)} timestamps"
            )

    def __len__(self) -> int:
        return len(self.values)


class Decision(StrEnum):
    """What one statistical test concluded from the data it saw."""

    FAIL = "fail"
    PASS = "pass"
    CONTINUE = "continue"  # not enough evidence yet either way


class MetricClassification(StrEnum):
    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA_FAIL = "NodataFailMetric"
    NODATA = "Nodata"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"


class CanaryVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class Effect:
    """An effect estimate with a confidence interval.

    ``measure`` names what the numbers are: ``shift`` (canary minus baseline, metric units),
    ``relative`` (shift divided by the baseline mean), ``rate_ratio`` (canary rate / baseline rate),
    ``exceedance_ratio`` (canary tail exceedances / baseline tail exceedances).
    """

    measure: str
    estimate: float
    lower: float
    upper: float
    confidence: float


@dataclass(frozen=True, slots=True)
class StatResult:
    """The outcome of one test on one metric (``location``, ``tail_p99``, ``count``, ``mann_whitney``)."""

    name: str
    decision: Decision
    effect: Effect | None
    samples: int  # observations (pairs, or per-side samples) used when it decided, or all it saw
    evidence: float | None = None  # e-value (sequential) or p-value (fixed horizon), when meaningful
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """Descriptive statistics of one side after preprocessing."""

    count: int
    mean: float
    median: float
    min: float
    max: float
    std: float
    p95: float
    p99: float


@dataclass(frozen=True, slots=True)
class MetricResult:
    """How one metric was classified, and why.

    ``critical`` is true when this metric, on its own, zeroes the canary score (a critical metric
    that failed beyond its critical effect size, or had no data). ``samples`` is the number of
    observations the classification rests on (for a sequential decision: when it was reached).
    """

    name: str
    classification: MetricClassification
    reason: str
    groups: tuple[str, ...] = ()
    critical: bool = False
    muted: bool = False
    effect: Effect | None = None
    tests: tuple[StatResult, ...] = ()
    samples: int = 0
    baseline: SeriesStats | None = None
    canary: SeriesStats | None = None
    mean_ratio: float | None = None  # canary mean / baseline mean (Kayenta's "ratio"), None if undefined


@dataclass(frozen=True, slots=True)
class GroupScore:
    """Score of one metric group: 100 × passed / counted (``no_data`` when nothing was counted)."""

    name: str
    score: float
    weight: float
    counted: int
    passed: int
    no_data: bool = False


@dataclass(frozen=True, slots=True)
class JudgeResult:
    """The canary verdict with its score, the reason a human reads, and every metric's result."""

    verdict: CanaryVerdict
    score: float
    reason: str
    metrics: tuple[MetricResult, ...]
    groups: tuple[GroupScore, ...]
    mode: str  # "sequential" or "mannwhitney"
    pass_threshold: float
    marginal_threshold: float
    judge_name: str = "tollgate-judge-v1"
    notes: tuple[str, ...] = field(default=())
