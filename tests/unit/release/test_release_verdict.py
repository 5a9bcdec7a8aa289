"""Verdict rules: critical blocks, high blocks in production only, suppressed never blocks."""

from __future__ import annotations

import pytest

from tollgate.model import Environment, Finding, Severity, Verdict
from tollgate.release.verdict import decide_verdict


def f(severity: Severity, rule: str = "TG-K8S-004", resource: str = "Deployment/shop/web",
      suppressed: str | None = None) -> Finding:
    return Finding(rule, severity, resource, "app.yaml", 3, "msg", suppressed=suppressed)


@pytest.mark.parametrize(
    ("severities", "environment", "expected"),
    [
        ([], Environment.PRODUCTION, Verdict.PASS),
        ([Severity.INFO, Severity.INFO], Environment.PRODUCTION, Verdict.PASS),
        ([Severity.LOW], Environment.DEV, Verdict.WARN),
        ([Severity.MEDIUM, Severity.INFO], Environment.PRODUCTION, Verdict.WARN),
        ([Severity.HIGH], Environment.DEV, Verdict.WARN),
        ([Severity.HIGH], Environment.STAGING, Verdict.WARN),
        ([Severity.HIGH], Environment.PRODUCTION, Verdict.BLOCK),
        ([Severity.CRITICAL], Environment.DEV, Verdict.BLOCK),
        ([Severity.LOW, Severity.CRITICAL], Environment.STAGING, Verdict.BLOCK),
    ],
)
def test_verdict_table(severities: list[Severity], environment: Environment, expected: Verdict) -> None:
    verdict, reasons = decide_verdict([f(s) for s in severities], environment)
    assert verdict is expected
    assert reasons


def test_suppressed_findings_never_block_and_are_counted() -> None:
    findings = [f(Severity.CRITICAL, suppressed="approved by SEC-7"), f(Severity.HIGH, suppressed="known")]
    verdict, reasons = decide_verdict(findings, Environment.PRODUCTION)
    assert verdict is Verdict.PASS
    assert reasons == ("no findings", "2 suppressed finding(s) not counted")


def test_reasons_name_rules_and_resources() -> None:
    findings = [f(Severity.HIGH, "TG-TF-001", "aws_instance/web"), f(Severity.CRITICAL, "TG-K8S-005"),
                f(Severity.MEDIUM, "TG-K8S-002")]
    verdict, reasons = decide_verdict(findings, Environment.PRODUCTION)
    assert verdict is Verdict.BLOCK
    assert reasons == (
        "1 critical finding blocks in any environment: TG-K8S-005 on Deployment/shop/web",
        "1 high finding blocks in production: TG-TF-001 on aws_instance/web",
        "1 medium finding(s) to review: TG-K8S-002 on Deployment/shop/web",
    )


def test_high_outside_production_explains_it_would_block_there() -> None:
    verdict, reasons = decide_verdict([f(Severity.HIGH)], Environment.STAGING)
    assert verdict is Verdict.WARN and "would block in production" in reasons[0]
    strict, _ = decide_verdict([f(Severity.HIGH)], Environment.STAGING, block_high_outside_production=True)
    assert strict is Verdict.BLOCK


def test_examples_are_capped_and_sorted() -> None:
    findings = [f(Severity.CRITICAL, resource=f"Deployment/shop/w{i}") for i in (5, 1, 3, 2, 4)]
    _, reasons = decide_verdict(findings, Environment.DEV, max_examples=2)
    assert reasons[0] == ("5 critical findings block in any environment: TG-K8S-004 on Deployment/shop/w1, "
                          "TG-K8S-004 on Deployment/shop/w2 and 3 more")


def test_high_risk_production_change_without_findings_needs_a_human() -> None:
    from tollgate.model import Risk, Strategy

    risky = Risk(0.8, Strategy.BLUE_GREEN, ("infra change",))
    verdict, reasons = decide_verdict([], Environment.PRODUCTION, risk=risky)
    assert verdict is Verdict.WARN
    assert any("blue-green in production" in r for r in reasons)
    # The same risk outside production, or a lower risk in production, passes.
    assert decide_verdict([], Environment.STAGING, risk=risky)[0] is Verdict.PASS
    calm = Risk(0.2, Strategy.ROLLING, ())
    assert decide_verdict([], Environment.PRODUCTION, risk=calm)[0] is Verdict.PASS


def test_each_finding_counts_in_its_own_environment() -> None:
    from tollgate.release.verdict import decide_verdict_per_environment

    staging = Finding("TG-FINOPS-001", Severity.HIGH, "Deployment/shop-staging/api", "a.yaml", 1, "over budget")
    prod = Finding("TG-FINOPS-001", Severity.HIGH, "Deployment/shop/api", "a.yaml", 1, "over budget")
    envs = {"Deployment/shop-staging/api": Environment.STAGING, "Deployment/shop/api": Environment.PRODUCTION}
    verdict, reasons = decide_verdict_per_environment([staging], envs, Environment.PRODUCTION)
    assert verdict is Verdict.WARN and any("staging" in r for r in reasons)
    verdict, reasons = decide_verdict_per_environment([staging, prod], envs, Environment.PRODUCTION)
    assert verdict is Verdict.BLOCK
    assert any("block in production" in r for r in reasons) and any("staging" in r for r in reasons)
    assert decide_verdict_per_environment([], envs, Environment.PRODUCTION) == (Verdict.PASS, ("no findings",))
