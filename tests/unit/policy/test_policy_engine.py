"""Evaluation: suppression annotations, ordering, determinism and speed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from policy_helpers import CORPUS, container, load_yaml

from tollgate.model import Manifest, Severity
from tollgate.policy.engine import api_group, bench_builtin, compile_pack, evaluate
from tollgate.policy.params import PolicyParams
from tollgate.policy.rulepack import load_builtin_pack
from tollgate.policy.suppress import EMPTY_REASON_RULE

Make = Callable[..., Manifest]


def test_suppression_with_a_reason_marks_the_finding(make: Make) -> None:
    manifest = make(
        labels={"cost-center": "x"},
        annotations={"tollgate.dev/ignore-TG-K8S-005": "node agent needs host access (SEC-42)"},
        containers=[container(securityContext={"privileged": True})],
    )
    (finding,) = evaluate([manifest])
    assert finding.rule_id == "TG-K8S-005"
    assert finding.suppressed == "node agent needs host access (SEC-42)"
    assert finding.severity is Severity.CRITICAL


def test_suppression_without_a_reason_does_not_suppress_and_is_reported(make: Make) -> None:
    manifest = make(
        labels={"cost-center": "x"},
        annotations={"tollgate.dev/ignore-TG-K8S-004": "  "},
        containers=[container(image="nginx:latest")],
    )
    findings = evaluate([manifest])
    assert [(f.rule_id, f.suppressed) for f in findings] == [("TG-K8S-004", None), (EMPTY_REASON_RULE, None)]
    assert "tollgate.dev/ignore-TG-K8S-004" in findings[1].message
    assert findings[1].severity is Severity.LOW


def test_suppression_of_one_rule_leaves_the_others(make: Make) -> None:
    manifest = make(annotations={"tollgate.dev/ignore-TG-K8S-001": "labels come from the namespace"},
                    containers=[container(image="nginx")])
    found = {(f.rule_id, f.suppressed) for f in evaluate([manifest])}
    assert found == {("TG-K8S-001", "labels come from the namespace"), ("TG-K8S-004", None)}


def test_annotation_prefix_is_configurable(make: Make) -> None:
    manifest = make(labels={"cost-center": "x"}, containers=[container(image="nginx")],
                    annotations={"policy.acme.io/ignore-TG-K8S-004": "built by skaffold"})
    assert evaluate([manifest])[0].suppressed is None
    params = PolicyParams(annotation_prefix="policy.acme.io")
    assert evaluate([manifest], params=params)[0].suppressed == "built by skaffold"


def test_api_group() -> None:
    assert [api_group(v) for v in ("apps/v1", "v1", "argoproj.io/v1alpha1", "terraform")] == [
        "apps", "", "argoproj.io", "terraform"]


def test_disabled_and_inactive_rules_are_not_compiled() -> None:
    compiled = compile_pack(load_builtin_pack(), PolicyParams(required_labels=()))
    active = {c.rule.id for rules in compiled.by_kind.values() for c in rules}
    assert "TG-K8S-001" not in active and "TG-TF-001" not in active
    assert compiled.rule_count == 4


@pytest.fixture(scope="module")
def corpus() -> list[Manifest]:
    paths = [CORPUS / "k8s/argo-cd/manifests/install.yaml",
             *sorted((CORPUS / "k8s/kube-prometheus/manifests").glob("*Deployment*.yaml")),
             *sorted((CORPUS / "k8s/microservices-demo/kubernetes-manifests").glob("*.yaml"))]
    return [m for p in paths for m in load_yaml(p)]


def test_findings_are_deterministic_and_in_manifest_order(corpus: list[Manifest]) -> None:
    first, second = evaluate(corpus), evaluate(list(corpus))
    assert first == second
    order = {str(m.key): i for i, m in enumerate(corpus)}
    positions = [order[f.resource] for f in first]
    assert positions == sorted(positions)


def test_builtin_pack_is_fast_enough(corpus: list[Manifest]) -> None:
    rate = bench_builtin(corpus, min_seconds=0.3)
    assert rate >= 5_000, f"{rate:.0f} resources/s"
