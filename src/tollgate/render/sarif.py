"""SARIF 2.1.0 output: one result per finding, for code-scanning UIs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tollgate.model.findings import Finding, Severity
from tollgate.model.review import ReviewResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads a numeric "security-severity" to rank results.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def _result(f: Finding) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": f.file or "."}}
    if f.line:
        physical["region"] = {"startLine": f.line}
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "level": _LEVEL[f.severity],
        "message": {"text": f"{f.resource}: {f.message}"},
        "locations": [{"physicalLocation": physical}],
        "properties": {"severity": f.severity.value, "resource": f.resource, "source": f.source},
    }
    if f.suppressed is not None:
        result["suppressions"] = [{"kind": "inSource", "justification": f.suppressed}]
    return result


def findings_to_sarif(findings: Sequence[Finding], version: str) -> dict[str, Any]:
    """A SARIF log with one run of tollgate over the given findings."""
    rules: dict[str, dict[str, Any]] = {}
    for f in findings:
        if f.rule_id in rules:
            continue
        rules[f.rule_id] = {
            "id": f.rule_id,
            "shortDescription": {"text": f.message.split(":")[0][:120] or f.rule_id},
            "help": {"text": f.remediation or f.message},
            "defaultConfiguration": {"level": _LEVEL[f.severity]},
            "properties": {"security-severity": _SECURITY_SEVERITY[f.severity], "tags": [f.source]},
        }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tollgate",
                        "version": version,
                        "informationUri": "https://tollgate.dev",
                        "rules": list(rules.values()),
                    }
                },
                "results": [_result(f) for f in findings],
            }
        ],
    }


def review_to_sarif(result: ReviewResult) -> str:
    log = findings_to_sarif(result.findings, result.tollgate_version)
    run = log["runs"][0]
    run["properties"] = {
        "decision": result.decision.id,
        "verdict": result.decision.verdict.value,
        "monthlyCostDelta": round(result.cost.monthly_delta, 2),
    }
    run["versionControlProvenance"] = [
        {"repositoryUri": result.change_set.repo, "revisionId": result.change_set.head_commit}
    ]
    return json.dumps(log, indent=2) + "\n"
