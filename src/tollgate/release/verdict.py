"""The review verdict from findings: pass, warn or block.

Rules, applied to unsuppressed findings only (a suppressed finding never blocks):

* any **critical** finding -> block;
* any **high** finding -> block in production, warn elsewhere;
* any **medium** or **low** finding -> warn;
* only **info** findings, or none -> pass.

Reasons name the counts and the rule ids and resources behind the verdict (at most
``max_examples`` of each), in a stable order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tollgate.model import Environment, Finding, Risk, Severity, Strategy, Verdict


def _examples(findings: Sequence[Finding], limit: int) -> str:
    keys = sorted({(f.rule_id, f.resource) for f in findings})
    shown = ", ".join(f"{rule} on {resource}" for rule, resource in keys[:limit])
    more = len(keys) - limit
    return f"{shown} and {more} more" if more > 0 else shown


_RANK = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.BLOCK: 2}


def _plural(n: int, word: str, verb: str) -> str:
    """``1 high finding blocks`` / ``2 high findings block``."""
    return f"{n} {word} finding{'s' if n != 1 else ''} {verb + 's' if n == 1 else verb}"


def decide_verdict(
    findings: Sequence[Finding],
    environment: Environment,
    *,
    block_high_outside_production: bool = False,
    max_examples: int = 3,
    risk: Risk | None = None,
) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict for ``findings`` in ``environment`` and the reasons for it.

    With ``risk``, a production change whose risk calls for blue-green is at least ``warn``: it is
    above the autonomy tollgate takes in production, so a human approves it (``tollgate ledger approve``).
    """
    active = [f for f in findings if f.suppressed is None]
    suppressed = len(findings) - len(active)
    by_severity: dict[Severity, list[Finding]] = {s: [] for s in Severity}
    for finding in active:
        by_severity[finding.severity].append(finding)
    critical, high = by_severity[Severity.CRITICAL], by_severity[Severity.HIGH]
    minor = by_severity[Severity.MEDIUM] + by_severity[Severity.LOW]
    reasons: list[str] = []
    verdict = Verdict.PASS
    if critical:
        verdict = Verdict.BLOCK
        reasons.append(f"{_plural(len(critical), 'critical', 'block')} in any environment: "
                       f"{_examples(critical, max_examples)}")
    if high:
        blocks = environment is Environment.PRODUCTION or block_high_outside_production
        if blocks:
            verdict = Verdict.BLOCK
            reasons.append(f"{_plural(len(high), 'high', 'block')} in {environment.value}: "
                           f"{_examples(high, max_examples)}")
        else:
            verdict = max(verdict, Verdict.WARN, key=_RANK.__getitem__)
            reasons.append(f"{_plural(len(high), 'high', 'warn')} in {environment.value} "
                           f"(they would block in production): {_examples(high, max_examples)}")
    if minor:
        verdict = max(verdict, Verdict.WARN, key=_RANK.__getitem__)
        counts = ", ".join(f"{len(by_severity[s])} {s.value}" for s in (Severity.MEDIUM, Severity.LOW)
                           if by_severity[s])
        reasons.append(f"{counts} finding(s) to review: {_examples(minor, max_examples)}")
    if (risk is not None and environment is Environment.PRODUCTION
            and risk.strategy is Strategy.BLUE_GREEN and verdict is Verdict.PASS):
        verdict = Verdict.WARN
        reasons.append(f"change risk {risk.score:.2f} calls for blue-green in production: "
                       "a human approves before it ships")
    if verdict is Verdict.PASS:
        infos = len(by_severity[Severity.INFO])
        reasons.append(f"no blocking or warning findings ({infos} info)" if infos else "no findings")
    if suppressed:
        reasons.append(f"{suppressed} suppressed finding(s) not counted")
    return verdict, tuple(reasons)



def decide_verdict_per_environment(
    findings: Sequence[Finding],
    environment_of: Mapping[str, Environment],
    default: Environment,
    *,
    risk: Risk | None = None,
) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict of a change that spans environments: each finding weighs in its resource's own environment.

    ``environment_of`` maps ``Finding.resource`` to the environment its app deploys to; findings on
    resources it does not name count in ``default``. A high finding on a staging copy therefore warns
    even when the same change also touches production. The risk rule applies with ``default`` (the
    most exposed environment of the change).
    """
    groups: dict[Environment, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(environment_of.get(finding.resource, default), []).append(finding)
    # Each environment's findings on their own, then the risk rule alone in the change's environment.
    parts = [decide_verdict(group, env) for env, group in sorted(groups.items(), key=lambda kv: kv[0].value)]
    parts.append(decide_verdict([], default, risk=risk))
    verdict = max((v for v, _ in parts), key=_RANK.__getitem__)
    reasons: list[str] = []
    for v, part_reasons in parts:
        if v is Verdict.PASS and verdict is not Verdict.PASS:
            continue
        reasons.extend(r for r in part_reasons if r not in reasons)
    if len(reasons) > 1 and "no findings" in reasons:
        reasons.remove("no findings")
    return verdict, tuple(reasons)
