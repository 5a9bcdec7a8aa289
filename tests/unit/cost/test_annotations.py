from __future__ import annotations

from typing import Any

import pytest

from tollgate.cost.annotations import Money, check_budgets, format_money, parse_money
from tollgate.cost.estimate import estimate_change_costs
from tollgate.cost.pricebook import default_pricebook
from tollgate.model.changes import ChangeKind, ResourceChange
from tollgate.model.config import Environment
from tollgate.model.findings import Severity
from tollgate.model.manifests import Manifest

from ._helpers import corpus_manifests, manifest

CPU, RAM = 0.031611, 0.004237
H = 730
BOOK = default_pricebook()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5000", Money(5000, None)),
        ("$5000", Money(5000, "USD")),
        ("5,000 USD", Money(5000, "USD")),
        ("€300", Money(300, "EUR")),
        ("USD 1.5k", Money(1500, "USD")),
        ("$2,500.50/month", Money(2500.5, "USD")),
        ("750 eur per month", Money(750, "EUR")),
        ("£40", Money(40, "GBP")),
    ],
)
def test_parse_money(text: str, expected: Money) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "$", "5000 USD EUR", "$5000 USD", "5.000,00", "-5"])
def test_parse_money_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_money(text)


def test_format_money() -> None:
    assert format_money(1234.5, "USD") == "$1,234.50"
    assert format_money(-3, "USD") == "-$3.00"
    assert format_money(300, "EUR") == "300.00 EUR"


def workload(replicas: int, annotations: dict[str, str], *, on_template: bool = False,
             containers: list[dict[str, Any]] | None = None, kind: str = "Deployment") -> Manifest:
    meta: dict[str, Any] = {"name": "api", "namespace": "shop"}
    template: dict[str, Any] = {"spec": {"containers": containers or [
        {"name": "api", "resources": {"requests": {"cpu": "1", "memory": "4Gi"}}}]}}
    if on_template:
        template["metadata"] = {"annotations": annotations}
    else:
        meta["annotations"] = annotations
    body = {"apiVersion": "apps/v1", "kind": kind, "metadata": meta,
            "spec": {"replicas": replicas, "template": template}}
    return manifest(body, file="apps/api.yaml", line=3)


def review(after: Manifest, *extra: Manifest, prefix: str = "tollgate.dev",
           environment: Environment | str | None = Environment.PRODUCTION) -> list[Any]:
    ch = ResourceChange(after.key, ChangeKind.ADDED, None, after)
    report = estimate_change_costs([ch], [], [after, *extra], BOOK)
    return check_budgets([ch], report, prefix, environment)


def test_over_budget_names_estimate_cap_and_concrete_fix() -> None:
    per_replica = (1 * CPU + 4 * RAM) * H  # 1 core, 4Gi
    estimate = 12 * per_replica
    (finding,) = review(workload(12, {"tollgate.dev/max-monthly-cost": "$250",
                                      "tollgate.dev/budget-owner": "team-shop"}))
    assert finding.rule_id == "TG-FINOPS-001" and finding.severity is Severity.HIGH
    assert finding.source == "finops" and finding.resource == "Deployment/shop/api"
    assert (finding.file, finding.line) == ("apps/api.yaml", 3)
    assert f"estimated {format_money(estimate, 'USD')}/month" in finding.message
    assert "$250.00" in finding.message and "budget owner: team-shop" in finding.message
    assert "blocks in production" in finding.message
    # 7 replicas cost 7 x 35.45 = 248.14 <= 250; 1 - 250/425.38 = 41.2% -> 42%
    assert finding.remediation == (
        f"reduce replicas from 12 to 7 ({format_money(7 * per_replica, 'USD')}), or cut CPU/memory requests by 42%"
    )


def test_under_budget_and_prefix_and_pod_template_annotation() -> None:
    assert review(workload(1, {"tollgate.dev/max-monthly-cost": "5000"})) == []
    found = review(workload(12, {"finops.acme.io/max-monthly-cost": "100"}, on_template=True),
                   prefix="finops.acme.io", environment="staging")
    assert [f.rule_id for f in found] == ["TG-FINOPS-001"]
    assert "blocks in production" not in found[0].message
    # another prefix's annotation is not ours
    assert review(workload(12, {"finops.acme.io/max-monthly-cost": "100"})) == []


def test_hpa_uses_normal_estimate_and_mentions_worst_case() -> None:
    per_replica = (1 * CPU + 4 * RAM) * H
    hpa = manifest({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": "api", "namespace": "shop"},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"},
                             "minReplicas": 4, "maxReplicas": 20}})
    # cap between min (4 x 35.45 = 141.8) and max (709): the normal estimate fits, so no finding
    assert review(workload(1, {"tollgate.dev/max-monthly-cost": "300"}), hpa) == []
    (finding,) = review(workload(1, {"tollgate.dev/max-monthly-cost": "100"}), hpa)
    assert f"worst case at HPA maxReplicas: {format_money(20 * per_replica, 'USD')}" in finding.message
    assert finding.remediation.startswith("reduce the HPA's minReplicas from 4 to 2")


def test_unparseable_and_foreign_currency_caps_are_medium_findings() -> None:
    (bad,) = review(workload(1, {"tollgate.dev/max-monthly-cost": "cheap please"}))
    assert bad.rule_id == "TG-FINOPS-002" and bad.severity is Severity.MEDIUM
    assert "tollgate.dev/max-monthly-cost" in bad.message
    (eur,) = review(workload(50, {"tollgate.dev/max-monthly-cost": "€300"}))
    assert eur.rule_id == "TG-FINOPS-002" and "EUR" in eur.message and "not converted" in eur.message


def test_daemonset_fix_is_a_request_cut_only() -> None:
    (finding,) = review(workload(1, {"tollgate.dev/max-monthly-cost": "50"}, kind="DaemonSet"))
    # 3 nodes x 35.45 = 106.34; 1 - 50/106.34 = 53.0% -> 53%
    assert finding.remediation == "cut CPU/memory requests by 53%"


def test_missing_requests_is_a_low_finding_on_real_argo_cd() -> None:
    server = next(m for m in corpus_manifests("argo-cd/manifests/install.yaml")
                  if m.kind == "Deployment" and m.name == "argocd-server")
    (finding,) = review(server)
    assert finding.rule_id == "TG-FINOPS-003" and finding.severity is Severity.LOW
    assert "argocd-server (cpu, memory)" in finding.message
    assert finding.file == "argo-cd/manifests/install.yaml"


def test_removed_workloads_are_not_checked() -> None:
    old = workload(12, {"tollgate.dev/max-monthly-cost": "1"})
    ch = ResourceChange(old.key, ChangeKind.REMOVED, old, None)
    report = estimate_change_costs([ch], [old], [], BOOK)
    assert check_budgets([ch], report, "tollgate.dev", None) == []
