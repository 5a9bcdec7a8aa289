"""``review --format markdown``: a pull-request comment.

The comment starts with a fixed HTML marker (:data:`COMMENT_MARKER`) so a bot can find and update its own
comment, and its content is deterministic for a given review (no clocks, stable ordering).
"""

from __future__ import annotations

from collections.abc import Iterable

from tollgate.model.decisions import Verdict
from tollgate.model.findings import Finding, Severity
from tollgate.model.review import ReviewResult

COMMENT_MARKER = "<!-- tollgate:review -->"

_VERDICT_ICON = {Verdict.PASS: "✅", Verdict.WARN: "⚠️", Verdict.BLOCK: "⛔"}
_MAX_FIELDS = 4


def money(value: float, currency: str = "USD", *, signed: bool = False) -> str:
    """``1234.5`` -> ``$1,234.50`` (``+$…``/``-$…`` when signed)."""
    symbol = "$" if currency == "USD" else f"{currency} "
    sign = ""
    if signed:
        sign = "+" if value > 0.004 else ("-" if value < -0.004 else "±")
    elif value < 0:
        sign = "-"
    return f"{sign}{symbol}{abs(value):,.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _where(file: str, line: int | None) -> str:
    if not file:
        return ""
    return f"`{file}:{line}`" if line else f"`{file}`"


def _findings_section(findings: Iterable[Finding]) -> list[str]:
    active = [f for f in findings if f.suppressed is None]
    suppressed = [f for f in findings if f.suppressed is not None]
    lines = [f"#### Findings ({len(active)})", ""]
    if not active:
        lines.extend(["No findings.", ""])
    for severity in sorted(Severity, key=lambda s: -s.rank):
        group = [f for f in active if f.severity is severity]
        if not group:
            continue
        lines.append(f"**{severity.value}** ({len(group)})")
        lines.append("")
        for f in sorted(group, key=lambda f: (f.rule_id, f.resource, f.file, f.line or 0)):
            where = _where(f.file, f.line)
            entry = f"- `{f.rule_id}` {f.resource}{' ' + where if where else ''}: {f.message}"
            if f.remediation:
                entry += f" _Fix:_ {f.remediation}"
            lines.append(entry)
        lines.append("")
    if suppressed:
        lines.append(f"<details><summary>Suppressed ({len(suppressed)})</summary>")
        lines.append("")
        for f in sorted(suppressed, key=lambda f: (f.rule_id, f.resource)):
            lines.append(f"- `{f.rule_id}` {f.resource}: {f.message} (suppressed: {f.suppressed})")
        lines.append("")
        lines.append("</details>")
        lines.append("")
    return lines


def review_to_markdown(result: ReviewResult) -> str:
    d, cs, cost = result.decision, result.change_set, result.cost
    out: list[str] = [COMMENT_MARKER]
    out.append(
        f"### {_VERDICT_ICON[d.verdict]} tollgate: **{d.verdict.value}** · strategy **{d.strategy.value}**"
        f" · risk {d.risk:.2f}"
    )
    out.append("")
    out.append(
        f"`{cs.base_ref}` ({cs.base_commit[:8]}) → `{cs.head_ref}` ({cs.head_commit[:8]}) · "
        f"environment **{result.environment.value}** · {len(cs.changes)} changed resource(s) · "
        f"monthly cost {money(cost.monthly_delta, cost.currency, signed=True)}"
        + (f" · decision `{d.id}`" if result.recorded else "")
    )
    out.append("")
    if d.reasons:
        out.append("**Why**")
        out.append("")
        out.extend(f"- {r}" for r in d.reasons)
        out.append("")

    out.append(f"#### Cost ({cost.currency} per month)")
    out.append("")
    priced = [i for i in cost.items if not i.unknown]
    unknown = [i for i in cost.items if i.unknown]
    if priced:
        out.append("| Resource | Before | After | Delta | Price |")
        out.append("|---|---:|---:|---:|---|")
        for item in sorted(priced, key=lambda i: (-abs(i.monthly_delta), str(i.key))):
            after = money(item.monthly_after, cost.currency)
            if item.monthly_after_max is not None and item.monthly_after_max > item.monthly_after + 0.004:
                after += f" (max {money(item.monthly_after_max, cost.currency)})"
            out.append(
                f"| {_cell(str(item.key))} | {money(item.monthly_before, cost.currency)} | {after} | "
                f"{money(item.monthly_delta, cost.currency, signed=True)} | {item.price_source.value} |"
            )
        out.append(
            f"| **Total** | **{money(cost.monthly_before, cost.currency)}** | "
            f"**{money(cost.monthly_after, cost.currency)}** | "
            f"**{money(cost.monthly_delta, cost.currency, signed=True)}** | |"
        )
    else:
        out.append("No costed resource changed.")
    if unknown:
        out.append("")
        out.append("Not in the totals, no price known: " + ", ".join(
            f"{i.key}{' (' + i.note + ')' if i.note else ''}" for i in sorted(unknown, key=lambda i: str(i.key))
        ))
    out.append("")

    out.extend(_findings_section(result.findings))

    out.append(f"#### Risk {result.risk.score:.2f} → {result.risk.strategy.value}")
    out.append("")
    out.extend(f"- {r}" for r in result.risk.reasons)
    out.append("")

    out.append(f"<details><summary>Changes ({len(cs.changes)})</summary>")
    out.append("")
    if cs.changes:
        out.append("| Resource | Change | Fields | Source |")
        out.append("|---|---|---|---|")
        for c in cs.changes:
            fields = ", ".join(f"`{f}`" for f in c.fields[:_MAX_FIELDS])
            if len(c.fields) > _MAX_FIELDS:
                fields += f" (+{len(c.fields) - _MAX_FIELDS} more)"
            out.append(f"| {_cell(str(c.key))} | {c.change.value} | {_cell(fields)} | {_where(c.file, c.line)} |")
    if cs.skipped:
        out.append("")
        out.append(f"Skipped ({len(cs.skipped)}): " + ", ".join(
            f"{s.kind}/{s.name} ({s.reason})" for s in cs.skipped[:20]
        ) + (" …" if len(cs.skipped) > 20 else ""))
    out.append("")
    out.append("</details>")
    out.append("")
    out.append(f"<sub>tollgate {result.tollgate_version}</sub>")
    return "\n".join(out) + "\n"
