"""A Rich rendering of a review for terminals."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from tollgate.model.decisions import Verdict
from tollgate.model.findings import Severity
from tollgate.model.review import ReviewResult
from tollgate.render.markdown import money

_STYLE = {Verdict.PASS: "bold green", Verdict.WARN: "bold yellow", Verdict.BLOCK: "bold red"}
_SEV_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def review_renderable(result: ReviewResult) -> Group:
    d, cs, cost = result.decision, result.change_set, result.cost
    head = Text()
    head.append(f"{d.verdict.value.upper()}", style=_STYLE[d.verdict])
    head.append(
        f"  strategy {d.strategy.value}  risk {d.risk:.2f}  env {result.environment.value}  "
        f"{cs.base_ref}→{cs.head_ref}  cost {money(cost.monthly_delta, cost.currency, signed=True)}/month"
    )
    if result.recorded:
        head.append(f"  decision {d.id}", style="dim")
    parts: list[Table | Text] = [head]
    for reason in d.reasons:
        parts.append(Text(f"  • {reason}"))

    costs = Table(title=f"Cost ({cost.currency}/month)", title_justify="left")
    for col, justify in (("resource", "left"), ("before", "right"), ("after", "right"), ("delta", "right"),
                         ("price", "left")):
        costs.add_column(col, justify=justify)  # type: ignore[arg-type]
    for item in cost.items:
        if item.unknown:
            costs.add_row(str(item.key), "?", "?", "unknown", item.note or "no price")
        else:
            costs.add_row(str(item.key), money(item.monthly_before, cost.currency),
                          money(item.monthly_after, cost.currency),
                          money(item.monthly_delta, cost.currency, signed=True), item.price_source.value)
    if cost.items:
        parts.append(costs)

    if result.findings:
        findings = Table(title="Findings", title_justify="left")
        for col in ("severity", "rule", "resource", "where", "message"):
            findings.add_column(col)
        for f in sorted(result.findings, key=lambda f: (-f.severity.rank, f.rule_id, f.resource)):
            sev = f.severity.value + (" (suppressed)" if f.suppressed is not None else "")
            findings.add_row(Text(sev, style=_SEV_STYLE[f.severity]), f.rule_id, f.resource,
                             f"{f.file}:{f.line}" if f.line else f.file, f.message)
        parts.append(findings)
    risk = Text(f"Risk {result.risk.score:.2f} → {result.risk.strategy.value}\n", style="bold")
    for reason in result.risk.reasons:
        risk.append(f"  • {reason}\n")
    parts.append(risk)
    return Group(*parts)


def review_to_table(result: ReviewResult) -> str:
    console = Console(width=140, record=True, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(review_renderable(result))
    return capture.get()
