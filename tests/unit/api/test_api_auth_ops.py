"""Bearer tokens on every mutating or approving endpoint; /healthz and /metrics open."""

from __future__ import annotations

import re

import pytest
from tests.unit.api.conftest import AUTH, TOKEN, WEBHOOK_TOKEN, Api

FLAGGER = {"name": "checkout", "namespace": "shop", "phase": "Progressing", "checksum": "c1", "metadata": {}}
APPROVAL = {"name": "checkout", "namespace": "shop", "checksum": "c1", "approver": "alice"}
PROTECTED = [
    ("/v1/judge/argo", {"config": "checkout", "baselineSelector": "a", "canarySelector": "b"}),
    ("/v1/approvals", APPROVAL),
    ("/v1/rollbacks", {"name": "checkout", "namespace": "shop", "checksum": "c1", "requester": "x"}),
    ("/v1/kayenta/judge", {"canaryConfig": {"metrics": [{"name": "m"}]}, "metricSetPairList": []}),
]


@pytest.mark.parametrize(("path", "body"), PROTECTED)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}])
def test_protected_endpoints_refuse_without_the_api_token(api: Api, path: str, body: dict[str, object],
                                                          headers: dict[str, str]) -> None:
    response = api.client.post(path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert len(api.ledger.rows()) == 0


def test_without_a_configured_token_mutations_are_refused(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(token=None, webhook_token=None)
    response = api.client.post("/v1/approvals", json=APPROVAL, headers=AUTH)
    assert response.status_code == 503
    assert "TOLLGATE_API__TOKEN" in response.json()["error"]
    assert api.client.post("/v1/flagger/event", json=FLAGGER).status_code == 503


@pytest.mark.parametrize("gate", ["rollout", "confirm-rollout", "confirm-promotion", "rollback", "event"])
def test_flagger_webhooks_need_a_token_in_metadata_or_header(api: Api, gate: str) -> None:
    assert api.client.post(f"/v1/flagger/{gate}", json=FLAGGER).status_code == 401
    wrong = {**FLAGGER, "metadata": {"token": "guess"}}
    assert api.client.post(f"/v1/flagger/{gate}", json=wrong).status_code == 401


def test_flagger_accepts_either_token_either_way(api: Api) -> None:
    for metadata, headers in (({"token": WEBHOOK_TOKEN}, {}), ({"token": TOKEN}, {}),
                              ({}, {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}), ({}, AUTH)):
        response = api.client.post("/v1/flagger/event", json={**FLAGGER, "metadata": metadata}, headers=headers)
        assert response.status_code == 202


def test_the_webhook_token_cannot_approve(api: Api) -> None:
    response = api.client.post("/v1/approvals", json=APPROVAL, headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert response.status_code == 401


def test_healthz_is_open(api: Api) -> None:
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


def test_metrics_count_requests_by_route_template_and_status(api: Api) -> None:
    api.client.post("/v1/flagger/confirm-rollout", json={**FLAGGER, "metadata": {"token": WEBHOOK_TOKEN}})
    api.client.post("/v1/flagger/confirm-rollout", json={**FLAGGER, "metadata": {"token": WEBHOOK_TOKEN}})
    api.client.post("/v1/approvals", json=APPROVAL)
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _sample(text, "tollgate_http_requests_total", route="/v1/flagger/{gate}", status="403") == 2
    assert _sample(text, "tollgate_http_requests_total", route="/v1/approvals", status="401") == 1
    assert _sample(text, "tollgate_flagger_gate_answers_total", gate="confirm-rollout", status="403") == 2
    assert _sample(text, "tollgate_http_request_duration_seconds_count", route="/v1/flagger/{gate}") == 2


def test_metrics_speak_openmetrics_when_asked(api: Api) -> None:
    api.client.get("/healthz")
    response = api.client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert re.search(r'tollgate_http_requests_total\{method="GET",route="/healthz",status="200"\} 1', response.text)
