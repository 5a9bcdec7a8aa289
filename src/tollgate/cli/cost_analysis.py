"""``tollgate cost anomalies`` / ``cost feedback`` / ``cost forecast``: thin commands over :mod:`tollgate.finops`.

The functions are plain Typer command callbacks; the ``cost`` group registers them. JSON of
``cost anomalies``: ``{"anomalies": [{"id", "start", "end", "scope", "expected", "actual", "impact",
"impact_pct", "severity", "root_causes": [...], "likely_changes": [...]}]}``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tollgate.cli.output import emit, err_console
from tollgate.finops import (
    AnomalyQuery,
    anomaly_to_dict,
    budget_to_dict,
    run_anomalies,
    run_feedback,
    run_forecast,
    scope_forecast_to_dict,
)
from tollgate.model.finops import CostAnomaly
from tollgate.settings import Settings

if TYPE_CHECKING:  # matplotlib is imported only when a plot is asked for, not at CLI start-up
    from tollgate.render.plots import PlotFormat

__all__ = [
    "anomalies_to_json",
    "anomalies_to_table",
    "cost_anomalies_command",
    "cost_feedback_command",
    "cost_forecast_command",
]


class CostFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class FeedbackWord(StrEnum):
    YES = "yes"
    NO = "no"
    PLANNED = "planned"


def anomalies_to_json(anomalies: list[CostAnomaly], *, with_feedback: bool = False) -> str:
    return json.dumps({"anomalies": [anomaly_to_dict(a, with_feedback=with_feedback) for a in anomalies]},
                      indent=2) + "\n"


def _render(table: Table) -> str:
    console = Console(width=180, record=True, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def anomalies_to_table(anomalies: list[CostAnomaly]) -> str:
    """A plain-text table, biggest impact first."""
    table = Table(title=f"{len(anomalies)} cost anomal{'y' if len(anomalies) == 1 else 'ies'}", title_justify="left")
    for col in ("id", "start", "end", "scope", "expected", "actual", "impact", "%", "severity", "root cause",
                "likely change"):
        table.add_column(col, overflow="fold")
    for a in anomalies:
        d = anomaly_to_dict(a)
        causes = d["root_causes"]
        cause = next((c for c in causes if c["dimension"] == "resource_id"), causes[-1] if causes else None)
        change = d["likely_changes"][0] if d["likely_changes"] else None
        table.add_row(
            d["id"], d["start"], d["end"], ", ".join(f"{k}={v}" for k, v in d["scope"].items()) or "(all)",
            f"{d['expected']:,.2f}", f"{d['actual']:,.2f}", f"{d['impact']:+,.2f}",
            "new" if d["impact_pct"] is None else f"{d['impact_pct']:+.1f}", d["severity"],
            "" if cause is None else f"{cause['dimension']}={cause['value']}",
            "" if change is None else f"{change['app'] or ''} {(change['commit'] or '')[:8]} {change['at']}".strip(),
        )
    return _render(table)


def _write_plots(plot_dir: Path, items: list[tuple[str, bytes]]) -> None:
    plot_dir.mkdir(parents=True, exist_ok=True)
    for name, data in items:
        (plot_dir / name).write_bytes(data)
    err_console.print(f"wrote {len(items)} plot(s) to {plot_dir}")


StoreOpt = Annotated[Path | None, typer.Option("--store", help="DuckDB billing store (default: configured).")]
FormatOpt = Annotated[CostFormat, typer.Option("--format", "-f", help="table or json.")]
PlotDirOpt = Annotated[Path | None, typer.Option("--plot-dir", help="Write one plot per item into this directory.")]
PlotFmtOpt = Annotated[str, typer.Option("--plot-format", help="svg or png.")]


def cost_anomalies_command(
    store: StoreOpt = None,
    since: Annotated[str | None, typer.Option("--since", help="Only anomalies ending on or after this date.")] = None,
    min_impact: Annotated[float, typer.Option("--min-impact", help="Alert only from this absolute impact (USD).")]
    = 100.0,
    min_pct: Annotated[float, typer.Option("--min-pct", help="... and from this impact in percent.")] = 10.0,
    fmt: FormatOpt = CostFormat.TABLE,
    plot_dir: PlotDirOpt = None,
    plot_format: PlotFmtOpt = "svg",
    hourly: Annotated[bool, typer.Option("--hourly", help="Scan hourly instead of daily series.")] = False,
    lookback_hours: Annotated[int, typer.Option("--lookback-hours", help="Ledger window before an onset.")] = 72,
    include_muted: Annotated[bool, typer.Option("--include-muted",
                                                help="Also list anomalies muted by no/planned feedback.")] = False,
    no_ledger: Annotated[bool, typer.Option("--no-ledger", help="Do not look up likely changes.")] = False,
) -> None:
    """Cost anomalies per scope with root causes and the ledger changes made just before them."""
    query = AnomalyQuery(since=since, min_impact=min_impact, min_pct=min_pct,
                         granularity="hour" if hourly else "day", lookback=timedelta(hours=lookback_hours),
                         include_muted=include_muted)
    anomalies = run_anomalies(Settings(), query, store=store, use_ledger=not no_ledger)
    if plot_dir is not None:
        from tollgate.render.plots import plot_anomaly

        kind: PlotFormat = "png" if plot_format == "png" else "svg"
        _write_plots(plot_dir, [(f"anomaly-{a.id}.{kind}", plot_anomaly(a, kind)) for a in anomalies])
    if fmt is CostFormat.JSON:
        emit(anomalies_to_json(anomalies, with_feedback=include_muted))
    else:
        emit(anomalies_to_table(anomalies))


def cost_feedback_command(
    anomaly_id: Annotated[str, typer.Argument(help="Anomaly id (from cost anomalies).")],
    feedback: Annotated[FeedbackWord, typer.Argument(help="yes (real), no (not an anomaly) or planned.")],
    store: StoreOpt = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who gives the feedback.")] = None,
) -> None:
    """Record feedback on an anomaly; no/planned mute it and its repeats in the same scope."""
    record = run_feedback(Settings(), anomaly_id, feedback.value, store=store, actor=actor)
    emit(f"feedback {feedback.value} on {anomaly_id} recorded as ledger decision {record.id}\n")


def _forecast_table(rows: list[dict[str, Any]]) -> str:
    table = Table(title="cost forecast", title_justify="left")
    for col in ("name", "period end", "to date", "forecast", "interval", "budget", "P(breach)", "breach day"):
        table.add_column(col, overflow="fold")
    for r in rows:
        fc = r["forecast"]
        table.add_row(
            str(r["name"]), str(fc["end"]), f"{fc['actual_to_date']:,.2f}", f"{fc['forecast']:,.2f}",
            f"{fc['lower']:,.2f} .. {fc['upper']:,.2f}",
            "" if r["amount"] is None else f"{r['amount']:,.2f} {r['currency']}",
            "" if r["probability_of_breach"] is None else f"{r['probability_of_breach']:.0%}",
            str(r["expected_breach_day"] or ""),
        )
    return _render(table)


def cost_forecast_command(
    store: StoreOpt = None,
    budgets: Annotated[Path | None, typer.Option("--budgets", help="Budgets YAML file.")] = None,
    fmt: FormatOpt = CostFormat.TABLE,
    plot_dir: PlotDirOpt = None,
    plot_format: PlotFmtOpt = "svg",
    level: Annotated[float, typer.Option("--level", help="Prediction interval coverage.")] = 0.9,
) -> None:
    """Month- and quarter-end forecasts per budget (or for the whole bill), breach odds and day."""
    statuses, scopes = run_forecast(Settings(), budgets_file=budgets, store=store, level=level)
    rows = [budget_to_dict(s) for s in statuses] + [scope_forecast_to_dict(f) for f in scopes]
    if plot_dir is not None and statuses:
        from tollgate.render.plots import plot_budget

        kind: PlotFormat = "png" if plot_format == "png" else "svg"
        _write_plots(plot_dir, [(f"budget-{_slug(s.budget.name)}.{kind}", plot_budget(s, kind)) for s in statuses])
    if fmt is CostFormat.JSON:
        emit(json.dumps({"forecasts": rows}, indent=2) + "\n")
    else:
        emit(_forecast_table(rows))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "budget"
