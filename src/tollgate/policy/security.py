"""The shipped security packs and Terraform comment suppressions.

:func:`load_security_pack` is the built-in pack with ``rules/security-k8s.yaml`` and
``rules/security-terraform.yaml`` applied on top (what ``tollgate scan`` runs). Terraform has no
annotations, so a resource is waived with a comment on its block line or on the lines just above it::

    # tollgate:ignore=TG-TF-008 bastion host, only reachable through the VPN
    resource "aws_security_group" "bastion" {

The reason is mandatory: a comment without one suppresses nothing and is itself reported
(:data:`tollgate.policy.suppress.EMPTY_REASON_RULE`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import resources

from tollgate.model import Finding, Manifest, Severity
from tollgate.policy import suppress
from tollgate.policy.rulepack import RulePack, load_builtin_pack, merge_packs, parse_pack

#: Security pack files shipped in ``tollgate/policy/rules``, applied in this order.
SECURITY_PACK_FILES = ("security-k8s.yaml", "security-terraform.yaml")

_IGNORE = re.compile(r"(?:#|//)\s*tollgate:ignore=([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)([^#]*)")
_COMMENT = re.compile(r"^\s*(?:#|//|/\*|\*)")


@cache
def load_security_pack() -> RulePack:
    """The built-in pack plus the shipped Kubernetes and Terraform security packs."""
    root = resources.files("tollgate.policy").joinpath("rules")
    docs = [parse_pack(root.joinpath(name).read_text(encoding="utf-8"), source=name) for name in SECURITY_PACK_FILES]
    return merge_packs(load_builtin_pack(), *docs)


def terraform_ignores(text: str) -> dict[int, dict[str, str]]:
    """Ignore comments of a ``.tf`` file: 1-based line of the block they apply to -> rule id -> reason.

    A comment line applies to the first code line below it (comment lines may stack); a comment
    trailing code applies to its own line. An empty reason is kept as ``""``.
    """
    found: dict[int, dict[str, str]] = {}
    pending: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if _COMMENT.match(line) or not line.strip():
            for match in _IGNORE.finditer(line):
                pending[match.group(1)] = match.group(2).strip()
            continue
        marks = dict(pending)
        for match in _IGNORE.finditer(line):
            marks[match.group(1)] = match.group(2).strip()
        if marks:
            found.setdefault(number, {}).update(marks)
        pending = {}
    return found


def apply_terraform_ignores(
    findings: Iterable[Finding],
    manifests: Iterable[Manifest],
    ignores: Mapping[str, Mapping[int, Mapping[str, str]]],
) -> list[Finding]:
    """Mark findings waived by ignore comments; add one low finding per comment without a reason.

    ``ignores`` maps a file to :func:`terraform_ignores` of its text; a comment applies to the
    Terraform resource whose block starts on the line it names.
    """
    marks_by_resource: dict[tuple[str, str], Mapping[str, str]] = {}
    extra: list[Finding] = []
    for manifest in manifests:
        if not manifest.is_terraform or manifest.source.line is None:
            continue
        marks = ignores.get(manifest.source.file, {}).get(manifest.source.line)
        if marks:
            marks_by_resource[(str(manifest.key), manifest.source.file)] = marks
            extra.extend(_empty_reasons(manifest, marks))
    out: list[Finding] = []
    for finding in findings:
        marks = marks_by_resource.get((finding.resource, finding.file))
        out.extend(suppress.apply([finding], marks) if marks else [finding])
    return out + extra


def _empty_reasons(manifest: Manifest, marks: Mapping[str, str]) -> Iterator[Finding]:
    for rule_id, reason in sorted(marks.items()):
        if not reason:
            yield Finding(
                rule_id=suppress.EMPTY_REASON_RULE,
                severity=Severity.LOW,
                resource=str(manifest.key),
                file=manifest.source.file,
                line=manifest.source.line,
                message=f"comment tollgate:ignore={rule_id} gives no reason, so {rule_id} is not suppressed",
                remediation="Write why the rule does not apply after the rule id in the comment.",
                source="builtin",
            )
