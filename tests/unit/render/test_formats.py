"""The output formats of a review: fixed JSON shape, SARIF 2.1.0, a stable Markdown comment."""

from __future__ import annotations

import json

import pytest

from tollgate.model import (
    ChangeKind,
    ChangeSet,
    CostItem,
    CostReport,
    Decision,
    Environment,
    Finding,
    Manifest,
    PriceSource,
    ResourceChange,
    ResourceKey,
    Risk,
    Severity,
    SourceLocation,
    Strategy,
    Verdict,
)
from tollgate.model.review import ReviewResult
from tollgate.render import FORMATTERS, review_to_dict
from tollgate.render.markdown import COMMENT_MARKER


def _manifest(replicas: int) -> Manifest:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": replicas}}
    return Manifest("apps/v1", "Deployment", "web", "shop", body, SourceLocation("apps/web.yaml", 3), app="shop")


@pytest.fixture
def result() -> ReviewResult:
    key = ResourceKey("Deployment", "shop", "web")
    change = ResourceChange(key, ChangeKind.MODIFIED, _manifest(2), _manifest(5), ("spec.replicas",))
    cs = ChangeSet(repo="/tmp/repo", base_ref="main", head_ref="pr", base_commit="a" * 40, head_commit="b" * 40,
                   base_tree="c" * 40, head_tree="d" * 40, changes=(change,))
    cost = CostReport("USD", (
        CostItem(key, 10.0, 25.0, PriceSource.DEFAULT, monthly_after_max=40.0),
        CostItem(ResourceKey("aws_instance", "", "db"), 0.0, 0.0, PriceSource.PRICEBOOK, unknown=True,
                 note="no price for x9.huge"),
    ))
    findings = (
        Finding("TG-K8S-003", Severity.HIGH, str(key), "apps/web.yaml", 12, "image uses :latest", "pin a tag"),
        Finding("TG-K8S-001", Severity.LOW, str(key), "apps/web.yaml", 3, "missing label cost-center",
                suppressed="legacy app, ticket OPS-12"),
    )
    risk = Risk(0.42, Strategy.CANARY, ("scaling change in production (+0.20)",), {"replicas": 1.0})
    decision = Decision("0193abcdef", Verdict.BLOCK, Strategy.CANARY, 0.42, ("1 high finding in production",))
    return ReviewResult(decision, cs, cost, findings, risk, Environment.PRODUCTION, "0.1.0", recorded=True)


def test_json_keeps_the_fixed_top_level_shape(result: ReviewResult) -> None:
    data = json.loads(FORMATTERS["json"](result))
    assert {"decision", "changes", "cost", "findings"} <= set(data)
    decision = data["decision"]
    assert (decision["id"], decision["verdict"], decision["strategy"], decision["risk"], decision["reasons"]) == (
        "0193abcdef", "block", "canary", 0.42, ["1 high finding in production"])
    change = data["changes"][0]
    assert (change["kind"], change["namespace"], change["name"], change["change"], change["file"],
            change["fields"]) == ("Deployment", "shop", "web", "modified", "apps/web.yaml", ["spec.replicas"])
    # Totals exclude the unknown item; the unknown item is flagged, not zero-priced silently.
    assert data["cost"]["monthly_before"] == 10.0
    assert data["cost"]["monthly_after"] == 25.0
    assert data["cost"]["monthly_delta"] == 15.0
    unknown = [i for i in data["cost"]["items"] if i["unknown"]]
    assert [i["name"] for i in unknown] == ["db"]
    assert {i["price_source"] for i in data["cost"]["items"]} <= {"default", "pricebook", "focus"}
    finding = data["findings"][0]
    assert set(finding) >= {"rule_id", "severity", "resource", "file", "line", "message"}
    assert finding["resource"] == "Deployment/shop/web"


def test_sarif_has_one_result_per_finding_and_marks_suppressions(result: ReviewResult) -> None:
    log = json.loads(FORMATTERS["sarif"](result))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "tollgate"
    assert len(run["results"]) == len(result.findings)
    first, second = run["results"]
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"]["region"]["startLine"] == 12
    assert second["suppressions"][0]["justification"] == "legacy app, ticket OPS-12"
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {"TG-K8S-003", "TG-K8S-001"}


def test_markdown_comment_is_stable_and_complete(result: ReviewResult) -> None:
    text = FORMATTERS["markdown"](result)
    assert text.startswith(COMMENT_MARKER)
    assert text == FORMATTERS["markdown"](result)
    assert "**block**" in text and "strategy **canary**" in text
    assert "| Deployment/shop/web | $10.00 | $25.00 (max $40.00) | +$15.00 | default |" in text
    assert "no price known: aws_instance/db (no price for x9.huge)" in text
    assert "`TG-K8S-003` Deployment/shop/web `apps/web.yaml:12`: image uses :latest _Fix:_ pin a tag" in text
    assert "Suppressed (1)" in text
    assert "decision `0193abcdef`" in text


def test_table_mentions_verdict_and_cost(result: ReviewResult) -> None:
    text = FORMATTERS["table"](result)
    assert "BLOCK" in text
    assert "+$15.00/month" in text
    assert "TG-K8S-003" in text


def test_dict_roundtrips_through_json(result: ReviewResult) -> None:
    data = review_to_dict(result)
    assert json.loads(json.dumps(data)) == data
