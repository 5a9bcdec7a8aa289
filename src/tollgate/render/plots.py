"""Plots of cost anomalies and budget forecasts as SVG or PNG bytes (matplotlib, Agg, no pyplot state).

An anomaly plot shows the actual cost, the expected value and its band, the anomalous run shaded from its
onset, and the likely changes as dashed vertical lines labelled with the app and short commit. A forecast
plot shows recent daily cost, the expected remaining days with their interval, and the budget's daily run rate.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, date, datetime
from typing import Literal

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tollgate.errors import InputError
from tollgate.model.finops import BudgetStatus, CostAnomaly

__all__ = ["PlotFormat", "plot_anomaly", "plot_budget"]

PlotFormat = Literal["svg", "png"]


def _save(fig: Figure, fmt: PlotFormat) -> bytes:
    if fmt not in ("svg", "png"):
        raise InputError(f"plot format {fmt!r}: use svg or png")
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def _scope_label(scope: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(scope.items())) or "all providers"


def _num(value: datetime | date) -> float:
    """Matplotlib's date number of a (UTC) date or time."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    else:
        value = datetime(value.year, value.month, value.day)
    return float(mdates.date2num(value))  # type: ignore[no-untyped-call]


def plot_anomaly(anomaly: CostAnomaly, fmt: PlotFormat = "svg") -> bytes:
    """The anomaly's series with expected band, onset and linked changes. Needs ``anomaly.trace``."""
    trace = anomaly.trace
    if trace is None or not trace.buckets:
        raise InputError(f"anomaly {anomaly.id}: no series trace to plot")
    x = [_num(b) for b in trace.buckets]
    nan = math.nan
    fig = Figure(figsize=(9, 3.6), dpi=100)
    ax = fig.add_subplot()
    exp = [nan if v is None else v for v in trace.expected]
    ax.fill_between(x, [nan if v is None else v for v in trace.lower], [nan if v is None else v for v in trace.upper],
                    color="#9ecae1", alpha=0.5, label="expected band", step="mid")
    ax.plot(x, exp, color="#3182bd", linestyle="--", linewidth=1.2, label="expected")
    ax.plot(x, trace.actual, color="#222222", linewidth=1.5, marker="o", markersize=2.5, label="actual")
    step = (1.0 / 24.0) if anomaly.granularity == "hourly" else 1.0
    start, end = _num(anomaly.start), _num(anomaly.end)
    ax.axvspan(start - step / 2, end + step / 2, color="#fc9272", alpha=0.35, label="anomaly")
    ax.axvline(start, color="#de2d26", linewidth=1.0)
    for change in anomaly.likely_changes[:3]:
        at = _num(change.at)
        ax.axvline(at, color="#756bb1", linestyle=":", linewidth=1.2)
        label = " ".join(p for p in (change.app or "", (change.commit or "")[:8]) if p) or change.decision_id[:8]
        ax.annotate(label, xy=(at, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                    va="top", ha="right", color="#54278f")
    pct = "new spend" if anomaly.impact_pct is None else f"{anomaly.impact_pct:+.0f}%"
    ax.set_title(f"{_scope_label(dict(anomaly.scope))}: {anomaly.impact:+,.2f} {anomaly.currency} ({pct}), "
                 f"{anomaly.severity}", fontsize=10)
    ax.set_ylabel(f"cost per {'hour' if anomaly.granularity == 'hourly' else 'day'} ({anomaly.currency})")
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    ax.xaxis_date()
    fig.autofmt_xdate()
    return _save(fig, fmt)


def plot_budget(status: BudgetStatus, fmt: PlotFormat = "svg") -> bytes:
    """Recent daily cost, the forecast of the rest of the period with its interval, and the budget run rate."""
    fc = status.forecast
    fig = Figure(figsize=(9, 3.6), dpi=100)
    ax = fig.add_subplot()
    if status.history is not None and status.history.buckets:
        ax.plot([_num(b) for b in status.history.buckets], status.history.actual, color="#222222",
                linewidth=1.4, label="actual")
    if fc.daily:
        days = [_num(d) for d, _m, _lo, _hi in fc.daily]
        ax.fill_between(days, [lo for _d, _m, lo, _hi in fc.daily], [hi for _d, _m, _lo, hi in fc.daily],
                        color="#a1d99b", alpha=0.5, label=f"{fc.level:.0%} interval")
        ax.plot(days, [m for _d, m, _lo, _hi in fc.daily], color="#31a354", linestyle="--", label="forecast")
    n_days = (fc.period_end - fc.period_start).days + 1
    ax.axhline(status.budget.amount / n_days, color="#de2d26", linewidth=1.0, label="budget per day")
    if status.expected_breach_day is not None:
        b = status.expected_breach_day
        ax.axvline(_num(b), color="#de2d26", linestyle=":", linewidth=1.2)
    ax.set_title(
        f"{status.budget.name}: forecast {fc.forecast:,.0f} [{fc.lower:,.0f}, {fc.upper:,.0f}] of "
        f"{status.budget.amount:,.0f} {status.budget.currency} by {fc.period_end}, "
        f"P(breach) {status.probability_of_breach:.0%}", fontsize=10)
    ax.set_ylabel(f"cost per day ({status.budget.currency})")
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    ax.xaxis_date()
    fig.autofmt_xdate()
    return _save(fig, fmt)
