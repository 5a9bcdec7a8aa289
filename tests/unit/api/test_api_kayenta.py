"""POST /v1/kayenta/judge: Kayenta's RemoteJudge request in, a CanaryJudgeResult out."""

from __future__ import annotations

import numpy as np
from tests.unit.api.conftest import AUTH, Api

KAYENTA_CONFIG = {
    "name": "checkout-canary",
    "configVersion": "1",
    "applications": ["checkout"],
    "judge": {"name": "RemoteJudge-v1.0", "judgeConfigurations": {}},
    "metrics": [
        {"name": "latency", "query": {"type": "prometheus", "metricName": "http_latency_ms"},
         "groups": ["latency"], "analysisConfigurations": {"canary": {"direction": "increase"}},
         "scopeName": "default"},
        {"name": "cpu", "query": {"type": "prometheus", "metricName": "cpu_seconds"},
         "groups": ["saturation"], "analysisConfigurations": {"canary": {"direction": "either"}},
         "scopeName": "default"},
    ],
    "classifier": {"groupWeights": {"latency": 70, "saturation": 30}},
}


def pairs(latency_factor: float, n: int = 120) -> list[dict[str, object]]:
    rng = np.random.default_rng(11)
    scope = {"startTimeIso": "2024-01-01T00:00:00Z", "startTimeMillis": 1704067200000, "stepMillis": 5000}
    return [
        {"name": "latency", "id": "m1", "tags": {"pod": "x"}, "attributes": {},
         "values": {"control": list(rng.normal(200, 10, n)),
                    "experiment": list(rng.normal(200, 10, n) * latency_factor)},
         "scopes": {"control": scope, "experiment": scope}},
        {"name": "cpu", "id": "m2", "tags": {},
         "values": {"control": [*rng.normal(0.5, 0.05, n - 1), "NaN"],
                    "experiment": [None, *rng.normal(0.5, 0.05, n - 1)]},
         "scopes": {"control": scope, "experiment": scope}},
    ]


def test_regressed_canary_gets_a_failing_canary_judge_result(api: Api) -> None:
    request = {"canaryConfig": KAYENTA_CONFIG, "scoreThresholds": {"pass": 95, "marginal": 75},
               "metricSetPairList": pairs(1.3)}
    response = api.client.post("/v1/kayenta/judge", json=request, headers=AUTH)
    assert response.status_code == 200
    result = response.json()
    assert result["judgeName"]
    assert result["score"]["classification"] == "Fail"
    by_name = {r["name"]: r for r in result["results"]}
    assert by_name["latency"]["classification"] == "High"
    assert by_name["cpu"]["classification"] == "Pass"
    assert by_name["latency"]["controlMetadata"]["stats"]["count"] == 120
    # "NaN" (control, last) and null (experiment, first) are missing values: both aligned pairs drop out
    assert by_name["cpu"]["controlMetadata"]["stats"]["count"] == 118
    assert {g["name"] for g in result["groupScores"]} == {"latency", "saturation"}
    record = api.ledger.get(response.headers["X-Tollgate-Decision-Id"])
    assert (record.kind, record.verdict, record.actor) == ("judge", "fail", "kayenta")


def test_request_thresholds_override_the_config(api: Api) -> None:
    # all metrics pass: score 100 passes at any threshold; a regressed one scores 30 (saturation only)
    lenient = {"canaryConfig": KAYENTA_CONFIG, "scoreThresholds": {"pass": 25, "marginal": 10},
               "metricSetPairList": pairs(1.3)}
    result = api.client.post("/v1/kayenta/judge", json=lenient, headers=AUTH).json()
    assert result["score"]["score"] == 30.0
    assert result["score"]["classification"] == "Pass"


def test_mannwhitney_mode_is_selectable(api: Api) -> None:
    request = {"canaryConfig": KAYENTA_CONFIG, "metricSetPairList": pairs(1.0)}
    response = api.client.post("/v1/kayenta/judge?mode=mannwhitney", json=request, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["score"]["classification"] == "Pass"
    assert api.ledger.get(response.headers["X-Tollgate-Decision-Id"]).subject["mode"] == "mannwhitney"


def test_bad_values_and_thresholds_are_400(api: Api) -> None:
    bad_pairs = pairs(1.0)
    bad_pairs[1]["values"]["control"][3] = "lots"  # type: ignore[index]
    response = api.client.post("/v1/kayenta/judge", headers=AUTH,
                               json={"canaryConfig": KAYENTA_CONFIG, "metricSetPairList": bad_pairs})
    assert response.status_code == 400
    assert "metricSetPairList[1].values.control[3]" in response.json()["error"]
    response = api.client.post("/v1/kayenta/judge", headers=AUTH, json={
        "canaryConfig": KAYENTA_CONFIG, "scoreThresholds": {"pass": 50, "marginal": 80},
        "metricSetPairList": pairs(1.0)})
    assert response.status_code == 400
    assert "scoreThresholds" in response.json()["error"]
    response = api.client.post("/v1/kayenta/judge", headers=AUTH, json={"canaryConfig": KAYENTA_CONFIG})
    assert response.status_code == 400
    assert "metricSetPairList" in response.json()["error"]
    assert len(api.ledger.rows()) == 0
