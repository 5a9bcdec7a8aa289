"""Change-risk model: features, bands, strategy rules and explanations."""

from __future__ import annotations

import math

import pytest

from tollgate.errors import ConfigError
from tollgate.model import (
    ChangeKind,
    ChangeSet,
    CostItem,
    CostReport,
    Environment,
    Finding,
    Manifest,
    PriceSource,
    ResourceChange,
    Severity,
    SourceLocation,
    Strategy,
)
from tollgate.model.manifests import TERRAFORM_API_VERSION
from tollgate.release.risk import (
    FEATURES,
    RiskHistory,
    assess,
    contributions,
    default_model,
    extract_features,
    parse_model,
)

IMAGE = "spec.template.spec.containers[name=app].image"
CPU = "spec.template.spec.containers[name=app].resources.requests.cpu"
MEMORY = "spec.template.spec.containers[name=app].resources.limits.memory"


def obj(kind: str = "Deployment", name: str = "web", namespace: str = "shop", app: str = "shop",
        api_version: str = "apps/v1") -> Manifest:
    return Manifest(api_version, kind, name, namespace, {"metadata": {"name": name}},
                    SourceLocation(f"{app}/{name}.yaml", 1), app)


def modified(m: Manifest, *fields: str) -> ResourceChange:
    return ResourceChange(m.key, ChangeKind.MODIFIED, m, m, tuple(sorted(fields)))


def change_set(*changes: ResourceChange, files: tuple[str, ...] = ()) -> ChangeSet:
    return ChangeSet("repo", "main", "feature", "b" * 40, "h" * 40, "t1", "t2", tuple(changes),
                     changed_files=files)


def cost(delta: float) -> CostReport:
    return CostReport("USD", (CostItem(obj().key, 100.0, 100.0 + delta, PriceSource.DEFAULT),))


def finding(severity: Severity, suppressed: str | None = None) -> Finding:
    return Finding("TG-X", severity, "Deployment/shop/web", "f.yaml", 1, "m", suppressed=suppressed)


def image_bump() -> ChangeSet:
    return change_set(modified(obj(), IMAGE))


def big_production_change() -> ChangeSet:
    changes = [modified(obj(name=f"{app}-{part}", namespace=app, app=app), CPU, MEMORY)
               for app in ("shop", "cart", "payments") for part in ("api", "worker")]
    return change_set(*changes)


def test_image_bump_in_dev_is_low_risk_and_rolling() -> None:
    risk = assess(image_bump(), [], cost(0), Environment.DEV, RiskHistory(0, 0))
    assert risk.score < default_model().bands.canary
    assert risk.strategy is Strategy.ROLLING
    assert risk.reasons[0].startswith(f"risk {risk.score:.2f} (low) -> rolling")
    assert any(r.startswith("image_bump: change type image bump (+") for r in risk.reasons)


def test_multi_app_production_resource_change_with_failures_is_high_and_blue_green() -> None:
    risk = assess(big_production_change(), [finding(Severity.HIGH)], cost(850.0), Environment.PRODUCTION,
                  RiskHistory(recent_decisions=10, recent_failures=3))
    assert risk.score >= default_model().bands.blue_green
    assert risk.strategy is Strategy.BLUE_GREEN
    named = {r.split(":")[0] for r in risk.reasons[1:]}
    assert {"env_production", "apps", "namespaces", "resources", "failure_rate", "recent_failures",
            "cost_delta", "high_findings", "changed_resources"} <= named


def test_reasons_are_deterministic_ordered_by_contribution_and_add_up() -> None:
    args = (big_production_change(), [finding(Severity.HIGH)], cost(-400.0), Environment.STAGING,
            RiskHistory(4, 1))
    first, second = assess(*args), assess(*args)
    assert first == second and first.reasons == second.reasons and first.features == second.features
    amounts = [float(r.rsplit("(", 1)[1].rstrip(")")) for r in first.reasons[1:]]
    assert [abs(a) for a in amounts] == sorted((abs(a) for a in amounts), reverse=True)
    model = default_model()
    logit = model.intercept + sum(p.contribution for p in contributions(extract_features(*args), model))
    assert first.score == pytest.approx(1 / (1 + math.exp(-logit)), abs=1e-4)
    assert first.features["logit"] == pytest.approx(logit)


def test_score_grows_with_environment_exposure() -> None:
    scores = [assess(image_bump(), [], None, env).score
              for env in (Environment.DEV, Environment.STAGING, Environment.PRODUCTION)]
    assert scores == sorted(scores) and len(set(scores)) == 3


def test_suppressed_findings_do_not_raise_risk() -> None:
    base = assess(image_bump(), [], None, Environment.DEV)
    waived = assess(image_bump(), [finding(Severity.CRITICAL, suppressed="accepted")], None, Environment.DEV)
    live = assess(image_bump(), [finding(Severity.CRITICAL)], None, Environment.DEV)
    assert waived.score == base.score < live.score


def test_change_types_are_detected_from_kinds_and_fields() -> None:
    cm, role, hpa = obj("ConfigMap", "cfg"), obj("ClusterRole", "r", namespace=""), obj("HorizontalPodAutoscaler")
    tf = Manifest(TERRAFORM_API_VERSION, "aws_instance", "web", "", {}, SourceLocation("infra/main.tf"))
    sts = obj("StatefulSet", "db")
    cs = change_set(
        modified(cm, "data.key"),
        modified(role, "rules"),
        modified(hpa, "spec.maxReplicas"),
        modified(tf, "instance_type"),
        ResourceChange(sts.key, ChangeKind.ADDED, None, sts),
        ResourceChange(obj(name="old").key, ChangeKind.REMOVED, obj(name="old"), None),
        modified(obj(name="env"), "spec.template.spec.containers[name=app].env[name=MODE].value"),
    )
    raw = extract_features(cs, [], None, Environment.DEV)
    flags = {k for k in ("image_bump", "config", "resources", "scaling", "infra", "policy_rbac", "new_workload",
                         "removal", "stateful") if raw[k]}
    assert flags == {"config", "resources", "scaling", "infra", "policy_rbac", "new_workload", "removal",
                     "stateful"}
    assert raw["changed_resources"] == 7 and raw["kinds"] == 6
    assert raw["namespaces"] == 1  # cluster-scoped and Terraform objects have none


def test_changed_files_prefer_the_change_sets_own_list() -> None:
    cs = change_set(modified(obj(), IMAGE), files=("a.yaml", "b.yaml", "values.yaml"))
    assert extract_features(cs, [], None, Environment.DEV)["changed_files"] == 3


@pytest.mark.parametrize("kind", ["statefulset", "removal"])
def test_stateful_or_removal_never_takes_the_canary_path(kind: str) -> None:
    if kind == "statefulset":
        sts = obj("StatefulSet", "db")
        cs = change_set(modified(sts, "spec.template.spec.containers[name=db].image"))
    else:
        old = obj(name="legacy")
        cs = change_set(ResourceChange(old.key, ChangeKind.REMOVED, old, None))
    risk = assess(cs, [], None, Environment.PRODUCTION)
    assert default_model().bands.canary <= risk.score < default_model().bands.blue_green  # medium band
    assert risk.strategy is Strategy.BLUE_GREEN
    assert any("never takes the canary path" in r for r in risk.reasons)


def test_same_change_without_state_gets_canary_in_production() -> None:
    risk = assess(change_set(modified(obj(), "spec.template.spec.containers[name=app].image")), [], None,
                  Environment.PRODUCTION)
    assert risk.strategy is Strategy.CANARY


def test_no_history_is_neutral_and_a_clean_record_lowers_risk() -> None:
    none = assess(image_bump(), [], None, Environment.DEV, RiskHistory(0, 0))
    clean = assess(image_bump(), [], None, Environment.DEV, RiskHistory(20, 0))
    assert "failure_rate" not in " ".join(none.reasons)
    assert clean.score < none.score


def test_model_file_must_cover_every_feature() -> None:
    text = "intercept: -3\nweights: {changed_resources: 1}\ncost_scale: 100\n" \
           "history_prior: {rate: 0.1, weight: 5}\nbands: {canary: 0.3, blue_green: 0.6}\n"
    with pytest.raises(ConfigError, match=r"^m\.yaml: field '\(document\)'|^m\.yaml: field .*missing"):
        parse_model(text, source="m.yaml")
    weights = ", ".join(f"{name}: 0" for name in FEATURES)
    bad_bands = f"intercept: 0\nweights: {{{weights}}}\ncost_scale: 1\nhistory_prior: {{rate: 0.1, weight: 1}}\n" \
                "bands: {canary: 0.7, blue_green: 0.6}\n"
    with pytest.raises(ConfigError, match=r"m\.yaml: field 'bands'"):
        parse_model(bad_bands, source="m.yaml")
