"""FinOps orchestration: FOCUS store -> series -> anomalies/forecasts, with ledger changes as likely causes.

The only module that reads the billing store and the ledger together:

* :func:`find_anomalies` -- scan the store (:func:`tollgate.detect.cost_anomaly.scan`), drill into each
  anomaly (:func:`tollgate.cost.rootcause.root_causes`), attach the ledger decisions made in the
  ``lookback`` before its onset (:func:`rank_changes`) and apply user feedback;
* :func:`record_feedback` -- store ``yes|no|planned`` for an anomaly id;
* :func:`forecast_budgets` -- month/quarter-end forecasts and breach odds per budget.

**Feedback lives in the ledger** as decisions of kind ``cost-feedback`` (verdict = the feedback, subject =
the anomaly id, onset and scope): it is append-only and auditable like every other decision, needs no
schema in the billing store (which may be rebuilt from exports at any time), and the latest record per
anomaly wins. Anomaly ids are a hash of granularity, scope and onset (:func:`tollgate.model.finops.anomaly_id`),
so they are stable across runs. An anomaly marked ``no`` or ``planned`` is muted, and so is a later anomaly of
the same scope whose onset falls within ``mute_days`` after the marked one ended (a repeat).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tollgate.cost.budgets import load_budgets
from tollgate.cost.rootcause import DRILL_DIMENSIONS, root_causes
from tollgate.detect.cost_anomaly import DEFAULT_LEVELS, AnomalySettings, scan
from tollgate.detect.forecast import budget_status, forecast_period, month_bounds, quarter_bounds
from tollgate.errors import InputError, NotFoundError
from tollgate.ledger.backends import open_ledger
from tollgate.ledger.base import DecisionLedger
from tollgate.model.finops import (
    Budget,
    BudgetStatus,
    CostAnomaly,
    FeedbackKind,
    LikelyChange,
    PeriodForecast,
    RootCause,
)
from tollgate.model.ledger import DecisionDraft, DecisionRecord, digest_inputs
from tollgate.model.series import DEFAULT_DIMS, CostCube
from tollgate.settings import Settings
from tollgate.sources.billing_store import BillingSource, BillingStore

__all__ = [
    "CHANGE_KINDS",
    "FEEDBACK_KIND",
    "AnomalyQuery",
    "ScopeForecast",
    "anomaly_to_dict",
    "budget_to_dict",
    "find_anomalies",
    "forecast_budgets",
    "forecast_scopes",
    "rank_changes",
    "open_store",
    "record_feedback",
    "run_anomalies",
    "run_feedback",
    "run_forecast",
    "scope_forecast_to_dict",
]

FEEDBACK_KIND = "cost-feedback"
"""Ledger kind of feedback records."""

CHANGE_KINDS: tuple[str, ...] = ("review", "judge")
"""Ledger kinds that stand for a change reaching an environment."""

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class AnomalyQuery:
    """What :func:`find_anomalies` scans and how it links causes."""

    since: date | datetime | str | None = None
    min_impact: float = 100.0
    min_pct: float = 10.0
    granularity: str = "day"
    levels: tuple[tuple[str, ...], ...] = DEFAULT_LEVELS
    tag_keys: tuple[str, ...] = ("app", "application")
    lookback: timedelta = timedelta(days=3)
    include_muted: bool = False
    mute_days: int = 7
    max_changes: int = 5
    settings: AnomalySettings = AnomalySettings()


def _cube(source: BillingSource, query: AnomalyQuery) -> CostCube:
    if query.granularity not in ("day", "hour"):
        raise InputError(f"granularity {query.granularity!r}: use day or hour")
    dims = (*DEFAULT_DIMS, *(f"tag:{k}" for k in query.tag_keys))
    return source.cube(granularity="hour" if query.granularity == "hour" else "day", dims=dims)


def find_anomalies(
    source: BillingSource,
    ledger: DecisionLedger | None = None,
    query: AnomalyQuery | None = None,
) -> list[CostAnomaly]:
    """Anomalies in the store with root causes, likely changes and feedback; muted ones left out
    unless ``query.include_muted``."""
    q = query or AnomalyQuery()
    cube = _cube(source, q)
    found = scan(cube, since=q.since, min_impact=q.min_impact, min_pct=q.min_pct, levels=q.levels,
                 settings=q.settings)
    drill = (*DRILL_DIMENSIONS, *(f"tag:{k}" for k in q.tag_keys))
    feedback = _feedback(ledger) if ledger is not None else {}
    out: list[CostAnomaly] = []
    for anomaly in found:
        causes = tuple(c for c in root_causes(cube, anomaly.scope, anomaly.start, anomaly.end, dimensions=drill)
                       if c.value != "")
        enriched = replace(anomaly, root_causes=causes)
        if ledger is not None:
            step = timedelta(hours=1) if anomaly.granularity == "hourly" else timedelta(days=1)
            changes = _changes_before(ledger, anomaly.start, q.lookback, step)
            enriched = replace(enriched, likely_changes=tuple(rank_changes(enriched, changes, q.lookback, step)
                                                              [: q.max_changes]))
        enriched = _apply_feedback(enriched, feedback, q.mute_days)
        if enriched.muted and not q.include_muted:
            continue
        out.append(enriched)
    return out


def _changes_before(ledger: DecisionLedger, onset: datetime, lookback: timedelta,
                    step: timedelta) -> list[DecisionRecord]:
    records: list[DecisionRecord] = []
    for kind in CHANGE_KINDS:
        records.extend(r for r in ledger.list(kind=kind, since=onset - lookback, limit=1000)
                       if r.created_at < onset + step)
    return records


def _names(record: DecisionRecord) -> set[str]:
    """App and workload names a decision touched (lower case)."""
    names = {record.app.lower()} if record.app else set()
    payload: Mapping[str, Any] = record.payload
    names.update(str(a).lower() for a in payload.get("apps", []) if a)
    for change in payload.get("changes", []) or []:
        if isinstance(change, Mapping) and change.get("name"):
            names.add(str(change["name"]).lower())
    return {n for n in names if len(n) >= 3}


def _tokens(anomaly: CostAnomaly) -> set[str]:
    values: Iterable[str] = [*anomaly.scope.values(), *(c.value for c in anomaly.root_causes)]
    tokens: set[str] = set()
    for value in values:
        tokens.add(value.lower())
        tokens.update(t.lower() for t in _TOKEN.findall(value))
    return tokens


def _monthly_delta(record: DecisionRecord) -> float:
    cost = record.payload.get("cost")
    if isinstance(cost, Mapping):
        try:
            return float(cost.get("monthly_delta") or 0.0)
        except (TypeError, ValueError):
            return 0.0
    return 0.0


def _commit(record: DecisionRecord) -> str | None:
    refs = record.payload.get("refs")
    if isinstance(refs, Mapping) and refs.get("head_commit"):
        return str(refs["head_commit"])
    return record.subject.get("head_commit") or record.subject.get("head") or record.subject.get("commit")


def rank_changes(anomaly: CostAnomaly, records: Sequence[DecisionRecord], lookback: timedelta,
                 step: timedelta = timedelta(days=1)) -> list[LikelyChange]:
    """Decisions ranked as causes of ``anomaly``: name match with the scope and root causes first
    (app +3, workload +2), then a recorded cost increase (+1, +1 more when its daily size is within a
    factor of three of the anomaly's daily impact), then closeness to the onset (up to +1)."""
    tokens = _tokens(anomaly)
    buckets = max(1, round((anomaly.end - anomaly.start) / step) + 1)
    daily_impact = anomaly.impact / buckets * (24 if step < timedelta(days=1) else 1)
    ranked: list[tuple[float, datetime, LikelyChange]] = []
    for record in records:
        score = 0.0
        reasons: list[str] = []
        app = record.app.lower() if record.app else None
        for name in sorted(_names(record)):
            if any(name == t or name in t for t in tokens):
                bonus = 3.0 if name == app else 2.0
                score += bonus
                reasons.append(f"{'app' if bonus == 3.0 else 'workload'} {name} matches the anomaly")
                break
        delta = _monthly_delta(record)
        if delta > 0:
            score += 1.0
            reasons.append(f"review recorded +{delta:,.2f}/month")
            per_day = delta / 30.0
            if daily_impact > 0 and daily_impact / 3 <= per_day <= daily_impact * 3:
                score += 1.0
                reasons.append("recorded increase is the size of the jump")
        age = (anomaly.start + step) - record.created_at
        closeness = max(0.0, 1.0 - age / (lookback + step))
        score += closeness
        change = LikelyChange(decision_id=record.id, commit=_commit(record), app=record.app,
                              at=record.created_at, score=round(score, 3), reasons=tuple(reasons))
        ranked.append((score, record.created_at, change))
    ranked.sort(key=lambda item: (-item[0], -item[1].timestamp()))
    return [c for _s, _t, c in ranked]


# -- feedback ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Feedback:
    kind: FeedbackKind
    scope: dict[str, str]
    start: datetime
    end: datetime


def _feedback(ledger: DecisionLedger) -> dict[str, _Feedback]:
    """Latest feedback per anomaly id."""
    latest: dict[str, _Feedback] = {}
    for record in reversed(ledger.list(kind=FEEDBACK_KIND, limit=10_000)):  # oldest first; newest wins
        info = record.payload.get("anomaly")
        if not isinstance(info, Mapping):
            continue
        try:
            latest[str(info["id"])] = _Feedback(
                kind=FeedbackKind(record.verdict), scope={str(k): str(v) for k, v in info["scope"].items()},
                start=datetime.fromisoformat(str(info["start"])), end=datetime.fromisoformat(str(info["end"])),
            )
        except (KeyError, ValueError, AttributeError):
            continue
    return latest


def _apply_feedback(anomaly: CostAnomaly, feedback: Mapping[str, _Feedback], mute_days: int) -> CostAnomaly:
    own = feedback.get(anomaly.id)
    if own is not None:
        return replace(anomaly, feedback=own.kind.value, muted=own.kind != FeedbackKind.YES)
    scope = dict(anomaly.scope)
    for fb in feedback.values():
        if (fb.kind != FeedbackKind.YES and fb.scope == scope and fb.start < anomaly.start
                and anomaly.start <= fb.end + timedelta(days=mute_days)):
            return replace(anomaly, feedback=f"repeat-{fb.kind.value}", muted=True)
    return anomaly


def record_feedback(
    source: BillingSource,
    ledger: DecisionLedger,
    anomaly_id: str,
    kind: FeedbackKind | str,
    *,
    actor: str | None = None,
    granularity: str = "day",
) -> DecisionRecord:
    """Store feedback for the anomaly ``anomaly_id`` (found again by scanning the store without thresholds).

    Raises :class:`InputError` for an unknown feedback word and :class:`NotFoundError` for an unknown id.
    """
    try:
        fb = FeedbackKind(str(kind).lower())
    except ValueError:
        raise InputError(f"feedback {kind!r}: use yes, no or planned") from None
    query = AnomalyQuery(min_impact=0.0, min_pct=0.0, granularity=granularity, include_muted=True, tag_keys=())
    found = scan(_cube(source, query), min_impact=0.0, min_pct=0.0, levels=query.levels,
                 settings=query.settings, collapse=False)
    match = next((a for a in found if a.id == anomaly_id), None)
    if match is None:
        raise NotFoundError(f"no cost anomaly with id {anomaly_id!r} in the billing store",
                            hint="list ids with: tollgate cost anomalies --format json")
    info = {"id": match.id, "scope": dict(match.scope), "start": match.start.isoformat(),
            "end": match.end.isoformat(), "impact": round(match.impact, 2), "granularity": match.granularity}
    draft = DecisionDraft(
        kind=FEEDBACK_KIND, environment="billing", verdict=fb.value,
        subject={"anomaly": match.id, "start": match.start.isoformat(),
                 **{f"scope.{k}": v for k, v in sorted(match.scope.items())}},
        inputs_digest=digest_inputs({"anomaly": match.id, "feedback": fb.value}),
        payload={"anomaly": info}, actor=actor,
    )
    return ledger.append(draft)


# -- JSON ---------------------------------------------------------------------------------------------------


def _money(value: float) -> float:
    return round(float(value), 2)


def _when(value: datetime, granularity: str) -> str:
    return value.date().isoformat() if granularity == "daily" else value.isoformat()


def anomaly_to_dict(anomaly: CostAnomaly, *, with_feedback: bool = False) -> dict[str, Any]:
    """The JSON object of one anomaly (``tollgate cost anomalies --format json``)."""
    out: dict[str, Any] = {
        "id": anomaly.id,
        "start": _when(anomaly.start, anomaly.granularity),
        "end": _when(anomaly.end, anomaly.granularity),
        "scope": dict(anomaly.scope),
        "expected": _money(anomaly.expected),
        "actual": _money(anomaly.actual),
        "impact": _money(anomaly.impact),
        "impact_pct": None if anomaly.impact_pct is None else round(anomaly.impact_pct, 1),
        "severity": anomaly.severity,
        "root_causes": [_cause(c) for c in anomaly.root_causes],
        "likely_changes": [
            {"decision_id": c.decision_id, "commit": c.commit, "app": c.app,
             "at": c.at.astimezone(UTC).isoformat().replace("+00:00", "Z")}
            for c in anomaly.likely_changes
        ],
    }
    if with_feedback:
        out["feedback"] = anomaly.feedback
        out["muted"] = anomaly.muted
    return out


def _cause(cause: RootCause) -> dict[str, Any]:
    return {"dimension": cause.dimension, "value": cause.value, "impact": _money(cause.impact)}


# -- forecasts and budgets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopeForecast:
    """Month- and quarter-end forecasts of a scope without a budget."""

    name: str
    scope: Mapping[str, str]
    currency: str
    month: PeriodForecast
    quarter: PeriodForecast


def _dense(cube: CostCube, dates: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The cube's total daily series on ``dates`` (zeros where the scope had no cost)."""
    day = cube.to_day()
    out = np.zeros(len(dates), dtype=np.float64)
    if len(day) == 0 or len(dates) == 0:
        return out
    idx = (day.bucket - dates[0]).astype(np.int64)
    ok = (idx >= 0) & (idx < len(dates))
    np.add.at(out, idx[ok], day.cost[ok])
    return out


def _all_dates(source: BillingSource) -> tuple[CostCube, np.ndarray[Any, Any]]:
    total = source.cube(granularity="day", dims=("provider",))
    dates = total.dates()
    if len(dates) == 0:
        raise InputError("the billing store holds no cost rows; ingest FOCUS files first (tollgate cost ingest)")
    return total, dates


def forecast_budgets(source: BillingSource, budgets: Sequence[Budget], *, level: float = 0.9) -> list[BudgetStatus]:
    """Each budget's forecast for its period (as of the store's last day), breach probability and day.

    Raises :class:`InputError` naming a budget whose currency differs from the store's.
    """
    _total, dates = _all_dates(source)
    out: list[BudgetStatus] = []
    for budget in budgets:
        cube = source.cube(granularity="day", dims=("provider",), filters=dict(budget.scope),
                           currency=budget.currency)
        if len(cube) == 0 and cube.other_currency_rows and budget.currency != _total.currency:
            raise InputError(f"budget {budget.name!r}: currency {budget.currency} but the billing data is in "
                             f"{_total.currency}")
        out.append(budget_status(budget, dates, _dense(cube, dates), level=level))
    return out


def forecast_scopes(source: BillingSource, *, level: float = 0.9) -> list[ScopeForecast]:
    """Forecasts for the whole bill and each provider (when no budgets are given)."""
    total, dates = _all_dates(source)
    as_of = date.fromisoformat(str(dates[-1]))
    scopes: list[tuple[str, dict[str, str]]] = [("total", {})]
    scopes.extend((f"provider {p}", {"provider": p}) for p in total.values("provider") if p)
    out: list[ScopeForecast] = []
    for name, scope in scopes:
        values = _dense(total.filter(scope) if scope else total, dates)
        out.append(ScopeForecast(
            name=name, scope=scope, currency=total.currency,
            month=forecast_period(dates, values, *month_bounds(as_of), level=level),
            quarter=forecast_period(dates, values, *quarter_bounds(as_of), level=level),
        ))
    return out


def _period_dict(fc: PeriodForecast) -> dict[str, Any]:
    return {"start": fc.period_start.isoformat(), "end": fc.period_end.isoformat(),
            "actual_to_date": _money(fc.actual_to_date), "forecast": _money(fc.forecast),
            "lower": _money(fc.lower), "upper": _money(fc.upper), "level": fc.level}


def budget_to_dict(status: BudgetStatus) -> dict[str, Any]:
    """The JSON object of one budget forecast (``tollgate cost forecast --format json``)."""
    b = status.budget
    month = status.forecast if b.period.value == "monthly" else status.quarter
    quarter = status.quarter if b.period.value == "monthly" else status.forecast
    return {
        "name": b.name, "scope": dict(b.scope), "owner": b.owner, "currency": b.currency,
        "period": b.period.value, "amount": _money(b.amount), "as_of": status.forecast.as_of.isoformat(),
        "forecast": _period_dict(status.forecast),
        "month": None if month is None else _period_dict(month),
        "quarter": None if quarter is None else _period_dict(quarter),
        "probability_of_breach": status.probability_of_breach,
        "expected_breach_day": None if status.expected_breach_day is None else status.expected_breach_day.isoformat(),
    }


def scope_forecast_to_dict(fc: ScopeForecast) -> dict[str, Any]:
    """The JSON object of a budget-less scope forecast."""
    return {"name": fc.name, "scope": dict(fc.scope), "owner": None, "currency": fc.currency, "period": None,
            "amount": None, "as_of": fc.month.as_of.isoformat(), "forecast": _period_dict(fc.month),
            "month": _period_dict(fc.month), "quarter": _period_dict(fc.quarter),
            "probability_of_breach": None, "expected_breach_day": None}


# -- entry points for the CLI and the service: open the store and the ledger, run, close ------------------


def open_store(settings: Settings, store: Path | None = None) -> BillingStore:
    """The billing store (``store`` or the configured one), read-only; :class:`InputError` when missing."""
    path = store or settings.resolved_billing_store()
    if not Path(path).is_file():
        raise InputError(f"{path}: no billing store here", hint="ingest FOCUS files first: tollgate cost ingest FILE…")
    return BillingStore(path, read_only=True)


def run_anomalies(settings: Settings, query: AnomalyQuery, *, store: Path | None = None,
                  use_ledger: bool = True) -> list[CostAnomaly]:
    """:func:`find_anomalies` over the configured store and ledger."""
    source = open_store(settings, store)
    try:
        ledger = open_ledger(settings.resolved_ledger_url()) if use_ledger else None
        try:
            return find_anomalies(source, ledger, query)
        finally:
            if ledger is not None:
                ledger.close()
    finally:
        source.close()


def run_feedback(settings: Settings, anomaly_id: str, kind: str, *, store: Path | None = None,
                 actor: str | None = None) -> DecisionRecord:
    """:func:`record_feedback` into the configured ledger."""
    source = open_store(settings, store)
    try:
        ledger = open_ledger(settings.resolved_ledger_url())
        try:
            return record_feedback(source, ledger, anomaly_id, kind, actor=actor)
        finally:
            ledger.close()
    finally:
        source.close()


def run_forecast(settings: Settings, *, budgets_file: Path | None = None, store: Path | None = None,
                 level: float = 0.9) -> tuple[list[BudgetStatus], list[ScopeForecast]]:
    """Budget forecasts when a budgets file is given, else forecasts of the whole bill and each provider."""
    budgets = load_budgets(budgets_file) if budgets_file is not None else None
    source = open_store(settings, store)
    try:
        if budgets is not None:
            return forecast_budgets(source, budgets, level=level), []
        return [], forecast_scopes(source, level=level)
    finally:
        source.close()
