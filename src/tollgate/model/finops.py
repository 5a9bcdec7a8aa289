"""FinOps analysis values: cost anomalies with their causes, budgets and forecasts.

Produced by :mod:`tollgate.detect.cost_anomaly`, :mod:`tollgate.cost.rootcause`,
:mod:`tollgate.detect.forecast` and :mod:`tollgate.finops`; rendered by the CLI and
:mod:`tollgate.render.plots`. Dates are UTC calendar days (or hour starts for hourly series).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class FeedbackKind(StrEnum):
    """User feedback on an anomaly (AWS Cost Anomaly Detection's YES / NO / PLANNED_ACTIVITY)."""

    YES = "yes"
    NO = "no"
    PLANNED = "planned"


@dataclass(frozen=True, slots=True)
class RootCause:
    """One dimension value and its dollar contribution to an anomaly's jump."""

    dimension: str
    value: str
    impact: float


@dataclass(frozen=True, slots=True)
class LikelyChange:
    """A ledger decision (a reviewed or judged deploy) made shortly before an anomaly's onset."""

    decision_id: str
    commit: str | None
    app: str | None
    at: datetime
    score: float = 0.0
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SeriesTrace:
    """The series around an anomaly or forecast, for plots: one entry per bucket (day or hour)."""

    buckets: tuple[datetime, ...]
    actual: tuple[float, ...]
    expected: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


def anomaly_id(scope: Mapping[str, str], start: datetime, granularity: str = "daily") -> str:
    """Stable id of an anomaly: a short hash of its scope, onset bucket and granularity."""
    text = "|".join([granularity, start.isoformat(), *(f"{k}={scope[k]}" for k in sorted(scope))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CostAnomaly:
    """A run of buckets whose cost in ``scope`` rose above its expected band.

    ``start`` is the onset bucket, ``end`` the last anomalous bucket (inclusive). ``expected`` and
    ``actual`` are totals over the run; ``impact = actual - expected``; ``impact_pct`` is relative to
    ``expected`` (``None`` when nothing was expected). ``ongoing`` is true when the run reaches the last
    bucket of the data. ``score`` is the largest standardised residual in the run.
    """

    scope: Mapping[str, str] = field(hash=False)
    start: datetime
    end: datetime
    expected: float
    actual: float
    impact: float
    impact_pct: float | None
    severity: str
    score: float
    granularity: str = "daily"
    currency: str = "USD"
    ongoing: bool = False
    root_causes: tuple[RootCause, ...] = ()
    likely_changes: tuple[LikelyChange, ...] = ()
    feedback: str | None = None
    muted: bool = False
    trace: SeriesTrace | None = field(default=None, hash=False, compare=False)

    @property
    def id(self) -> str:
        return anomaly_id(self.scope, self.start, self.granularity)


class BudgetPeriod(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


@dataclass(frozen=True, slots=True)
class Budget:
    """A spending limit over a scope (FOCUS dimension or ``tag:<key>`` filters) and a period."""

    name: str
    scope: Mapping[str, str] = field(hash=False)
    amount: float
    currency: str = "USD"
    period: BudgetPeriod = BudgetPeriod.MONTHLY
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class PeriodForecast:
    """Forecast of the total cost of one period (month or quarter) given the data up to ``as_of``.

    ``actual_to_date`` is the cost already incurred in the period; ``forecast`` the expected total
    at period end; ``lower``/``upper`` a central prediction interval of ``level``.
    ``daily`` holds the expected remaining days (bucket, mean, lower, upper) for plots.
    """

    period_start: date
    period_end: date
    as_of: date
    actual_to_date: float
    forecast: float
    lower: float
    upper: float
    level: float
    daily: tuple[tuple[date, float, float, float], ...] = field(default=(), hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget against its period forecast: breach probability and the day the budget runs out."""

    budget: Budget
    forecast: PeriodForecast
    probability_of_breach: float
    expected_breach_day: date | None
    quarter: PeriodForecast | None = None
    history: SeriesTrace | None = field(default=None, hash=False, compare=False)
