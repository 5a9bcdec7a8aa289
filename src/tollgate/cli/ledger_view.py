"""Human and JSON views of ledger records for ``tollgate explain``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tollgate.model.ledger import DecisionRecord


def record_to_dict(record: DecisionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "seq": record.seq,
        "kind": record.kind,
        "app": record.app,
        "environment": record.environment,
        "verdict": record.verdict,
        "subject": dict(record.subject),
        "inputs_digest": record.inputs_digest,
        "payload": dict(record.payload),
        "tool_version": record.tool_version,
        "created_at": record.created_at.isoformat(),
        "actor": record.actor,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def explain_text(record: DecisionRecord, approvals: Sequence[DecisionRecord]) -> str:
    p: dict[str, Any] = dict(record.payload)
    lines = [
        f"decision {record.id} (#{record.seq}, {record.kind})",
        f"  verdict      {record.verdict}",
        f"  environment  {record.environment}",
        f"  app          {record.app or '-'}",
        "  subject      " + ", ".join(f"{k}={v}" for k, v in sorted(record.subject.items())),
        f"  recorded     {record.created_at.isoformat()} by tollgate {record.tool_version}",
        f"  inputs       sha256:{record.inputs_digest}",
        f"  hash         {record.hash} (prev {record.prev_hash[:16]}…)",
    ]
    decision = p.get("decision") or {}
    if decision:
        lines.append(f"  strategy     {decision.get('strategy')}  risk {decision.get('risk')}")
        for reason in decision.get("reasons", []):
            lines.append(f"    - {reason}")
    cost = p.get("cost") or {}
    if cost:
        lines.append(
            f"  cost         {cost.get('monthly_before')} -> {cost.get('monthly_after')} "
            f"{cost.get('currency', '')}/month (delta {cost.get('monthly_delta')})"
        )
        for item in cost.get("items", []):
            price = "unknown price" if item.get("unknown") else f"{item.get('price_source')} prices"
            lines.append(
                f"    {item.get('kind')}/{item.get('namespace')}/{item.get('name')}: "
                f"{item.get('monthly_before')} -> {item.get('monthly_after')} ({price})"
            )
    findings = p.get("findings") or []
    lines.append(f"  findings     {len(findings)}")
    for f in findings:
        where = f"{f.get('file')}:{f.get('line')}" if f.get("line") else f.get("file")
        lines.append(f"    [{f.get('severity')}] {f.get('rule_id')} {f.get('resource')} ({where}): {f.get('message')}")
    risk = p.get("risk") or {}
    for reason in risk.get("reasons", []):
        lines.append(f"    risk: {reason}")
    changes = p.get("changes") or []
    lines.append(f"  changes      {len(changes)}")
    for c in changes:
        lines.append(f"    {c.get('change')} {c.get('kind')}/{c.get('namespace')}/{c.get('name')} "
                     f"{', '.join(c.get('fields', [])[:5])}")
    if approvals:
        for a in approvals:
            lines.append(f"  approved by  {a.payload.get('approver')} at {a.created_at.isoformat()} "
                         f"({a.payload.get('note') or 'no note'})")
    else:
        lines.append("  approved by  nobody yet")
    return "\n".join(lines) + "\n"
