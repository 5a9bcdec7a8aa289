"""Security findings in a review: weigh what a change introduces, not what it inherits.

A review evaluates the resources a change adds or modifies. When a change only scales a Deployment,
the Deployment's long-standing hardening gaps are not news and should not block or warn again and
again. :func:`review_security_findings` evaluates the security pack on both versions of each
modified resource; a security finding the base version already had is kept, reported as ``info``
with a note, and so counts towards no verdict. Findings the change introduces, and every finding on
an added resource, keep their severity. Built-in (non-security) rules and suppressed findings are
left as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from functools import cache

from tollgate.model import ChangeKind, Finding, ResourceChange, Severity
from tollgate.policy.engine import CompiledPack, compile_pack, evaluate
from tollgate.policy.params import PolicyParams
from tollgate.policy.rulepack import RulePack, load_builtin_pack
from tollgate.policy.security import load_security_pack

#: Appended to the message of a finding the base version already had.
PRE_EXISTING_NOTE = "already present before this change, not counted"


@cache
def security_rule_ids() -> frozenset[str]:
    """Ids of the rules the shipped security packs add to the built-in pack."""
    builtin = {rule.id for rule in load_builtin_pack().rules}
    return frozenset(rule.id for rule in load_security_pack().rules if rule.id not in builtin)


def _key(finding: Finding) -> tuple[str, str, str]:
    return finding.rule_id, finding.resource, finding.message


def downgrade_pre_existing(
    findings: Iterable[Finding], before: Iterable[Finding], rule_ids: Collection[str]
) -> list[Finding]:
    """``findings`` with those of ``rule_ids`` that ``before`` already held lowered to ``info``.

    Two findings are the same when rule, resource and message match (the message names the
    container and the offending value). Suppressed findings are not touched.
    """
    seen = {_key(f) for f in before if f.rule_id in rule_ids}
    out: list[Finding] = []
    for finding in findings:
        if finding.suppressed is None and finding.severity is not Severity.INFO and _key(finding) in seen:
            finding = replace(
                finding,
                severity=Severity.INFO,
                message=f"{finding.message} ({PRE_EXISTING_NOTE}; was {finding.severity.value})",
            )
        out.append(finding)
    return out


def review_security_findings(
    changes: Sequence[ResourceChange],
    pack: RulePack | CompiledPack,
    params: PolicyParams | None = None,
    rule_ids: Collection[str] | None = None,
) -> list[Finding]:
    """Findings of ``pack`` on the added and modified resources of ``changes``, calibrated for a review.

    ``rule_ids`` are the rules whose inherited findings are lowered (default: the security packs').
    """
    compiled = pack if isinstance(pack, CompiledPack) else compile_pack(pack, params)
    after = [c.after for c in changes if c.after is not None and c.change is not ChangeKind.REMOVED]
    found = evaluate(after, compiled)
    before = [c.before for c in changes if c.before is not None and c.change is ChangeKind.MODIFIED]
    if not before:
        return found
    ids = security_rule_ids() if rule_ids is None else rule_ids
    return downgrade_pre_existing(found, evaluate(before, compiled), ids)
