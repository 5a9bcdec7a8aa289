"""``tollgate rightsize --repo PATH --prometheus URL [--namespace NS] [--strategy krr-simple|vpa]
[--format table|json] [--propose branch|commit] [--per workload|run] [--base REF]``.

Thin command: build settings, call :func:`tollgate.rightsize.run_rightsize`, render. Errors propagate as
TollgateError (the entry point maps them: 2 bad input or refused proposal, 3 Prometheus/git unreachable).
"""

from __future__ import annotations

import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tollgate.cli.output import emit
from tollgate.errors import InputError
from tollgate.ledger.store import Ledger
from tollgate.model.proposals import ProposeMode
from tollgate.rightsize import (
    RightsizeReport,
    fix_cost,
    recommendation_to_dict,
    report_to_dict,
    run_rightsize,
)
from tollgate.settings import Settings
from tollgate.sources.usage import PrometheusUsageSource

__all__ = ["render_table", "rightsize_command"]


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


class Propose(StrEnum):
    BRANCH = "branch"
    COMMIT = "commit"


class Per(StrEnum):
    WORKLOAD = "workload"
    RUN = "run"


def _pair(now: str | None, new: str | None) -> str:
    if now == new or new is None:
        return now or "-"
    return f"{now or '-'} -> {new}"


def render_table(report: RightsizeReport) -> str:
    """Human-readable table of the recommendations and the proposals written."""
    table = Table(title=f"rightsize ({report.strategy}, window {report.window}, base {report.base})")
    for column in ("workload", "container", "cpu req", "cpu limit", "mem req", "mem limit", "severity",
                   f"{report.currency}/month", "set in", "note"):
        table.add_column(column)
    for item in report.items:
        d = recommendation_to_dict(item.recommendation)
        cur, rec = d["current"], d["recommended"] or {"requests": {}, "limits": {}}
        delta = d["monthly_delta"]
        table.add_row(
            f"{d['kind']}/{d['namespace']}/{d['name']}", d["container"],
            _pair(cur["requests"]["cpu"], rec["requests"].get("cpu")),
            _pair(cur["limits"]["cpu"], rec["limits"].get("cpu")),
            _pair(cur["requests"]["memory"], rec["requests"].get("memory")),
            _pair(cur["limits"]["memory"], rec["limits"].get("memory")),
            d["severity"], "?" if delta is None else f"{delta:+.2f}",
            f"{d['file']}:{d['path']}" if d["file"] else "-", d["reason"] or "",
        )
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, highlight=False)
    console.print(table)
    for p in report.proposals:
        console.print(f"{p.proposal.status}: {p.proposal.branch} {p.proposal.commit[:12]} "
                      f"({', '.join(p.proposal.files)})")
    return buffer.getvalue()


def rightsize_command(
    repo: Annotated[Path, typer.Option("--repo", help="Path of the GitOps repository.")] = Path("."),
    prometheus: Annotated[str | None, typer.Option("--prometheus", help="Prometheus base URL (default: "
                                                   "TOLLGATE_RIGHTSIZE__PROMETHEUS_URL).")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="Only workloads in this namespace.")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="krr-simple (default) or vpa.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
    propose: Annotated[Propose | None, typer.Option("--propose", help="Write proposals: branch or commit.")] = None,
    per: Annotated[Per | None, typer.Option("--per", help="One proposal per workload (default) or per run.")] = None,
    base: Annotated[str, typer.Option("--base", help="Ref to render and to branch proposals from.")] = "HEAD",
    window: Annotated[str | None, typer.Option("--window", help="Usage history window (default 14d).")] = None,
    no_record: Annotated[bool, typer.Option("--no-record", help="Do not write ledger decisions.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result to this file.")] = None,
    fix_cost_id: Annotated[str | None, typer.Option("--fix-cost", help="Propose the fix of the max-monthly-cost "
                                                    "breach found by this review decision (no Prometheus needed).")]
    = None,
) -> None:
    """Recommend requests/limits from usage history; optionally propose them as Git commits."""
    settings = Settings()
    if fix_cost_id:
        ledger = Ledger(settings.resolved_ledger_url())
        try:
            proposals = fix_cost(repo, fix_cost_id, ledger, settings=settings,
                                 base=None if base == "HEAD" else base,
                                 propose=ProposeMode(propose.value) if propose else ProposeMode.BRANCH)
        finally:
            ledger.close()
        report = RightsizeReport(str(repo), base, "", "fix-cost", "", "", (), tuple(proposals))
        if fmt is Format.JSON:
            emit(json.dumps(report_to_dict(report), indent=2) + "\n", output)
        else:
            emit("".join(f"{p.proposal.status}: {p.proposal.branch} {p.proposal.commit[:12]} "
                         f"({', '.join(p.proposal.files)}), {p.monthly_delta:+.2f}/month\n"
                         if p.monthly_delta is not None else f"{p.proposal.status}: {p.proposal.branch}\n"
                         for p in proposals) or "nothing to fix\n", output)
        return
    if window:
        settings = settings.model_copy(update={"rightsize": settings.rightsize.model_copy(update={"history": window})})
    url = prometheus or settings.rightsize.prometheus_url
    if not url:
        raise InputError("--prometheus: no Prometheus URL given", hint="pass --prometheus URL or set "
                         "TOLLGATE_RIGHTSIZE__PROMETHEUS_URL")
    source = PrometheusUsageSource(url)
    try:
        report = run_rightsize(
            repo, source, settings=settings, base=base, namespace=namespace, strategy=strategy,
            propose=ProposeMode(propose.value) if propose else ProposeMode.OFF,
            per=per.value if per else None,
            ledger_factory=None if no_record else (lambda: Ledger(settings.resolved_ledger_url())),
        )
    finally:
        source.close()
    if fmt is Format.JSON:
        emit(json.dumps(report_to_dict(report), indent=2) + "\n", output)
    else:
        emit(render_table(report), output)
