"""Suppression annotations: ``<prefix>/ignore-<RULE_ID>: "<reason>"`` on the object's metadata.

A suppressed finding is still reported, with ``suppressed=<reason>``, so reviews show what was waived
and why. An annotation with an empty reason suppresses nothing and is itself reported
(:data:`EMPTY_REASON_RULE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from tollgate.model import Finding, Manifest, Severity

#: Rule id of the finding that reports a suppression annotation without a reason.
EMPTY_REASON_RULE = "TG-SUPPRESS-001"


def suppressions(manifest: Manifest, prefix: str) -> dict[str, str]:
    """Rule id -> reason (possibly empty) for every ignore annotation of the manifest."""
    annotations = manifest.annotations
    if not annotations:
        return {}
    marker = f"{prefix}/ignore-"
    out: dict[str, str] = {}
    for key, value in annotations.items():
        if isinstance(key, str) and key.startswith(marker):
            out[key[len(marker):]] = "" if value is None else str(value).strip()
    return out


def empty_reason_findings(manifest: Manifest, marks: Mapping[str, str], prefix: str) -> Iterator[Finding]:
    """One low finding per ignore annotation that gives no reason."""
    for rule_id, reason in sorted(marks.items()):
        if not reason:
            yield Finding(
                rule_id=EMPTY_REASON_RULE,
                severity=Severity.LOW,
                resource=str(manifest.key),
                file=manifest.source.file,
                line=manifest.source.line,
                message=(
                    f"annotation {prefix}/ignore-{rule_id} gives no reason, so {rule_id} is not suppressed"
                ),
                remediation="Write why the rule does not apply as the annotation's value.",
                source="builtin",
            )


def apply(findings: Iterable[Finding], marks: Mapping[str, str]) -> Iterator[Finding]:
    """The findings, with ``suppressed`` set where an annotation with a reason names their rule."""
    for finding in findings:
        reason = marks.get(finding.rule_id)
        if reason:
            yield replace(finding, suppressed=reason)
        else:
            yield finding
