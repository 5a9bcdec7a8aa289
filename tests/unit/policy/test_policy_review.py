"""Security findings in a review: severity calibration and inherited findings lowered to info."""

from __future__ import annotations

from typing import Any

from policy_helpers import to_manifest, workload

from tollgate.model import ChangeKind, Finding, Manifest, ResourceChange, Severity
from tollgate.model.config import Environment
from tollgate.policy.engine import evaluate
from tollgate.policy.review import (
    PRE_EXISTING_NOTE,
    downgrade_pre_existing,
    review_security_findings,
    security_rule_ids,
)
from tollgate.policy.security import load_security_pack
from tollgate.release.verdict import decide_verdict

HARDENED: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def deploy(replicas: int = 2, security: dict[str, Any] | None = None, **pod: Any) -> Manifest:
    container: dict[str, Any] = {
        "name": "web", "image": "ghcr.io/acme/web:1.0",
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "64Mi"}},
    }
    if security is not None:
        container["securityContext"] = security
    doc = workload(containers=[container], labels={"cost-center": "cc"}, **pod)
    doc["spec"]["replicas"] = replicas
    return to_manifest(doc)


def severities(findings: list[Finding], rule_id: str) -> set[Severity]:
    return {f.severity for f in findings if f.rule_id == rule_id}


def test_unset_hardening_fields_are_hygiene_and_explicit_bad_values_are_dangers() -> None:
    pack = load_security_pack()
    unset = evaluate([deploy()], pack)
    assert severities(unset, "TG-K8S-006") == {Severity.MEDIUM}
    assert severities(unset, "TG-K8S-017") == {Severity.LOW}
    assert severities(unset, "TG-K8S-016") == {Severity.LOW}
    explicit = evaluate([deploy(security={"allowPrivilegeEscalation": True}, hostNetwork=True)], pack)
    assert severities(explicit, "TG-K8S-006") == {Severity.HIGH}
    assert severities(explicit, "TG-K8S-009") == {Severity.HIGH}
    # Unset hygiene alone warns in production; the explicit danger blocks.
    assert decide_verdict(unset, Environment.PRODUCTION)[0].value == "warn"
    assert decide_verdict(explicit, Environment.PRODUCTION)[0].value == "block"


def test_terraform_missing_attribute_is_medium_explicit_false_is_high() -> None:
    def volume(body: dict[str, Any]) -> Manifest:
        return Manifest(api_version="terraform", kind="aws_ebs_volume", name="data", namespace="", body=body,
                        source=to_manifest({"kind": "x"}).source)

    pack = load_security_pack()
    assert severities(evaluate([volume({"size": 10})], pack), "TG-TF-004") == {Severity.MEDIUM}
    assert severities(evaluate([volume({"size": 10, "encrypted": False})], pack), "TG-TF-004") == {Severity.HIGH}


def test_security_rule_ids_are_the_packs_not_the_builtin_rules() -> None:
    ids = security_rule_ids()
    assert "TG-K8S-006" in ids and "TG-TF-008" in ids
    assert "TG-K8S-004" not in ids and "TG-K8S-001" not in ids


def test_scaling_a_deployment_lowers_its_inherited_findings_to_info() -> None:
    before, after = deploy(2), deploy(5)
    change = ResourceChange(after.key, ChangeKind.MODIFIED, before, after, ("spec.replicas",))
    found = review_security_findings([change], load_security_pack())
    security = [f for f in found if f.rule_id in security_rule_ids()]
    assert security and all(f.severity is Severity.INFO and PRE_EXISTING_NOTE in f.message for f in security)
    assert "was medium" in next(f.message for f in security if f.rule_id == "TG-K8S-006")
    assert decide_verdict(found, Environment.PRODUCTION)[0].value == "pass"


def test_a_change_that_introduces_a_danger_keeps_its_severity() -> None:
    before = deploy(2, security=HARDENED)
    after = deploy(2, security={**HARDENED, "allowPrivilegeEscalation": True})
    change = ResourceChange(after.key, ChangeKind.MODIFIED, before, after, ("x",))
    found = review_security_findings([change], load_security_pack())
    assert severities(found, "TG-K8S-006") == {Severity.HIGH}


def test_added_resources_keep_every_severity() -> None:
    after = deploy(2)
    change = ResourceChange(after.key, ChangeKind.ADDED, None, after)
    found = review_security_findings([change], load_security_pack())
    assert Severity.INFO not in {f.severity for f in found}
    assert severities(found, "TG-K8S-006") == {Severity.MEDIUM}


def test_removed_resources_are_not_evaluated() -> None:
    before = deploy(2, hostPID=True)
    change = ResourceChange(before.key, ChangeKind.REMOVED, before, None)
    assert review_security_findings([change], load_security_pack()) == []


def test_downgrade_leaves_suppressed_and_other_rules_alone() -> None:
    base = Finding("TG-K8S-006", Severity.MEDIUM, "Deployment/shop/web", "f.yaml", 1, "m")
    waived = Finding("TG-K8S-017", Severity.LOW, "Deployment/shop/web", "f.yaml", 1, "s", suppressed="why")
    builtin = Finding("TG-K8S-001", Severity.MEDIUM, "Deployment/shop/web", "f.yaml", 1, "label")
    out = downgrade_pre_existing([base, waived, builtin], [base, waived, builtin], {"TG-K8S-006", "TG-K8S-017"})
    assert [f.severity for f in out] == [Severity.INFO, Severity.LOW, Severity.MEDIUM]
    assert out[1] is waived and out[2] is builtin
