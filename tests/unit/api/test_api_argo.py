"""POST /v1/judge/argo: the Argo Rollouts `web` provider contract (always 200 once a verdict exists)."""

from __future__ import annotations

import pytest
from tests.unit.api.conftest import AUTH, BASELINE, CANARY, CONFIG_YAML, Api, Scenario, series_answers

END = 1_700_000_000.0


def body(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"config": "checkout", "baselineSelector": BASELINE, "canarySelector": CANARY,
                               "lookback": "10m", "step": "5s", "end": END, "rollout": "checkout",
                               "namespace": "shop"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_healthy_canary_passes_and_is_recorded(api: Api) -> None:
    series_answers(api.source, Scenario(end=END))
    response = api.client.post("/v1/judge/argo", json=body(), headers=AUTH)
    assert response.status_code == 200
    data = response.json()
    assert data["verdict"] == "pass"
    assert data["score"] == pytest.approx(100.0)
    record = api.ledger.get(data["decisionId"])
    assert record.kind == "judge"
    assert record.verdict == "pass"
    assert record.actor == "argo-rollouts"
    assert record.subject["rollout"] == "checkout"
    assert record.payload["window"] == {"start": END - 600.0, "end": END, "step": 5.0}
    # both sides of both metrics were asked for over the requested window and step
    asked = {(q, start, end, step) for q, start, end, step in api.source.calls}
    assert ('http_latency_ms{ track="canary" }', END - 600.0, END, 5.0) in asked
    assert len(api.source.calls) == 4


def test_regressed_canary_fails_with_200_and_a_reason(api: Api) -> None:
    series_answers(api.source, Scenario(end=END, latency_factor=1.3))
    response = api.client.post("/v1/judge/argo", json=body(), headers=AUTH)
    assert response.status_code == 200  # a fail is an answer, not an error: Argo's failureCondition reads it
    data = response.json()
    assert data["verdict"] == "fail"
    assert data["score"] < 75
    assert "latency" in data["reason"]
    assert {m["name"]: m["classification"] for m in data["metrics"]}["latency"] == "High"
    assert api.ledger.get(data["decisionId"]).verdict == "fail"


def test_too_few_samples_is_inconclusive_not_pass(api: Api) -> None:
    series_answers(api.source, Scenario(end=END, samples=6))
    data = api.client.post("/v1/judge/argo", json=body(), headers=AUTH).json()
    assert data["verdict"] == "inconclusive"
    assert "minSamples" in data["reason"]


def test_window_excludes_samples_outside_lookback(api: Api) -> None:
    # 120 samples 5 s apart span 595 s; a 60 s lookback keeps 13 per side: fewer than minSamples (20)
    series_answers(api.source, Scenario(end=END))
    data = api.client.post("/v1/judge/argo", json=body(lookback=60), headers=AUTH).json()
    assert data["verdict"] == "inconclusive"


def test_inline_config_is_accepted(api: Api) -> None:
    import yaml

    series_answers(api.source, Scenario(end=END, latency_factor=1.3))
    inline = yaml.safe_load(CONFIG_YAML)
    response = api.client.post("/v1/judge/argo", json=body(config=None, canaryConfig=inline), headers=AUTH)
    assert response.status_code == 200
    assert response.json()["verdict"] == "fail"
    assert api.ledger.get(response.json()["decisionId"]).subject["config"] == "inline:checkout"


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"config": "checkout", "canarySelector": CANARY}, "baselineSelector"),
        ({"config": "checkout", "canaryConfig": {"metrics": []}, "baselineSelector": "a", "canarySelector": "b"},
         "exactly one"),
        ({"baselineSelector": "a", "canarySelector": "b"}, "exactly one"),
        ({"config": "../etc/passwd", "baselineSelector": "a", "canarySelector": "b"}, "config"),
        ({"config": "checkout", "baselineSelector": "a", "canarySelector": "b", "lookback": "ten minutes"},
         "lookback"),
        ({"config": "checkout", "baselineSelector": "a", "canarySelector": "b", "lookback": "-5m"}, "lookback"),
        ({"config": "checkout", "baselineSelector": "a", "canarySelector": "b", "mode": "magic"}, "mode"),
        ({"config": "checkout", "baselineSelector": "a", "canarySelector": "b", "surprise": 1}, "surprise"),
        ([1, 2, 3], "body"),
    ],
)
def test_malformed_payload_is_400_naming_the_field(api: Api, payload: object, needle: str) -> None:
    response = api.client.post("/v1/judge/argo", json=payload, headers=AUTH)
    assert response.status_code == 400
    assert needle in response.json()["error"]
    assert len(api.ledger.rows()) == 0  # nothing judged, nothing recorded


def test_invalid_json_is_400(api: Api) -> None:
    response = api.client.post("/v1/judge/argo", content=b"{not json", headers={**AUTH,
                                                                                 "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_invalid_inline_config_is_400_naming_the_field(api: Api) -> None:
    bad = {"metrics": [{"name": "latency", "query": "x{ {{selector}} }", "direction": "upward"}]}
    response = api.client.post("/v1/judge/argo", json=body(config=None, canaryConfig=bad), headers=AUTH)
    assert response.status_code == 400
    assert "metrics[0].direction" in response.json()["error"]


def test_unknown_named_config_is_404(api: Api) -> None:
    response = api.client.post("/v1/judge/argo", json=body(config="nope"), headers=AUTH)
    assert response.status_code == 404
    assert "'nope' not found" in response.json()["error"]


def test_query_without_selector_placeholder_is_refused(api: Api) -> None:
    bad = {"metrics": [{"name": "latency", "query": "http_latency_ms"}]}
    response = api.client.post("/v1/judge/argo", json=body(config=None, canaryConfig=bad), headers=AUTH)
    assert response.status_code == 400
    assert "placeholder" in response.json()["error"]


def test_named_config_is_reloaded_when_the_file_changes(api: Api) -> None:
    series_answers(api.source, Scenario(end=END))
    assert api.client.post("/v1/judge/argo", json=body(), headers=AUTH).json()["verdict"] == "pass"
    (api.canary_dir / "checkout.yaml").write_text("metrics: not-a-list\n", encoding="utf-8")
    response = api.client.post("/v1/judge/argo", json=body(), headers=AUTH)
    assert response.status_code == 400
    assert "checkout.yaml" in response.json()["error"]


def test_metric_source_down_is_503_not_a_verdict(api: Api) -> None:
    from tollgate.errors import DependencyError

    def down(*_args: object) -> list[object]:
        raise DependencyError("Prometheus at http://prom:9090 is unreachable")

    api.source.query_range = down  # type: ignore[method-assign]
    response = api.client.post("/v1/judge/argo", json=body(), headers=AUTH)
    assert response.status_code == 503
    assert "unreachable" in response.json()["error"]
    assert len(api.ledger.rows()) == 0


def test_no_prometheus_configured_is_503(make_api) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from tollgate.api import create_app
    from tollgate.ledger import InMemoryLedger
    from tollgate.settings import ApiSettings, Settings

    api = make_api()
    settings = Settings(api=ApiSettings(token="t", canary_dir=api.canary_dir))
    with TestClient(create_app(settings, ledger_factory=InMemoryLedger)) as client:
        response = client.post("/v1/judge/argo", json=body(), headers={"Authorization": "Bearer t"})
    assert response.status_code == 503
    assert "TOLLGATE_API__PROMETHEUS_URL" in response.json()["hint"]
