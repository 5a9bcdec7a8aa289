"""``review --format json``: the fixed shape of DESIGN.md §3.2 (keys are added, never renamed)."""

from __future__ import annotations

import json
from typing import Any

from tollgate.model.changes import ResourceChange
from tollgate.model.cost import CostItem
from tollgate.model.findings import Finding
from tollgate.model.review import ReviewResult


def _money(value: float) -> float:
    return float(round(value, 2))


def change_to_dict(change: ResourceChange) -> dict[str, Any]:
    return {
        "kind": change.key.kind,
        "namespace": change.key.namespace,
        "name": change.key.name,
        "change": change.change.value,
        "file": change.file,
        "line": change.line,
        "app": change.app,
        "fields": list(change.fields),
    }


def cost_item_to_dict(item: CostItem) -> dict[str, Any]:
    return {
        "kind": item.key.kind,
        "namespace": item.key.namespace,
        "name": item.key.name,
        "monthly_before": _money(item.monthly_before),
        "monthly_after": _money(item.monthly_after),
        "monthly_delta": _money(item.monthly_delta),
        "monthly_after_max": None if item.monthly_after_max is None else _money(item.monthly_after_max),
        "price_source": item.price_source.value,
        "unknown": item.unknown,
        "note": item.note,
    }


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity.value,
        "resource": finding.resource,
        "file": finding.file,
        "line": finding.line if finding.line is not None else 0,
        "message": finding.message,
        "remediation": finding.remediation,
        "source": finding.source,
        "suppressed": finding.suppressed,
    }


def review_to_dict(result: ReviewResult) -> dict[str, Any]:
    """The review as plain JSON-ready data."""
    cs = result.change_set
    return {
        "decision": {
            "id": result.decision.id,
            "verdict": result.decision.verdict.value,
            "strategy": result.decision.strategy.value,
            "risk": round(result.decision.risk, 4),
            "reasons": list(result.decision.reasons),
            "environment": result.environment.value,
            "recorded": result.recorded,
        },
        "changes": [change_to_dict(c) for c in cs.changes],
        "cost": {
            "currency": result.cost.currency,
            "monthly_before": _money(result.cost.monthly_before),
            "monthly_after": _money(result.cost.monthly_after),
            "monthly_delta": _money(result.cost.monthly_delta),
            "items": [cost_item_to_dict(i) for i in result.cost.items],
        },
        "findings": [finding_to_dict(f) for f in result.findings],
        "risk": {
            "score": round(result.risk.score, 4),
            "strategy": result.risk.strategy.value,
            "reasons": list(result.risk.reasons),
            "features": {k: round(v, 4) for k, v in sorted(result.risk.features.items())},
        },
        "refs": {
            "repo": cs.repo,
            "base": cs.base_ref,
            "head": cs.head_ref,
            "base_commit": cs.base_commit,
            "head_commit": cs.head_commit,
        },
        "skipped": [
            {"kind": s.kind, "name": s.name, "file": s.file, "reason": s.reason} for s in cs.skipped
        ],
        "tollgate_version": result.tollgate_version,
    }


def review_to_json(result: ReviewResult) -> str:
    return json.dumps(review_to_dict(result), indent=2, sort_keys=False) + "\n"
