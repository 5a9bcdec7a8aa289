"""Flagger webhooks: rollout (judge), confirm gates (approvals), rollback (inverted), event."""

from __future__ import annotations

import pytest
from tests.unit.api.conftest import AUTH, BASELINE, CANARY, WEBHOOK_TOKEN, Api, Scenario, now, series_answers

CHECKSUM = "6d8f7c9b5f"


def payload(phase: str = "Progressing", checksum: str = CHECKSUM, **metadata: str) -> dict[str, object]:
    return {"name": "checkout", "namespace": "shop", "phase": phase, "checksum": checksum,
            "metadata": {"token": WEBHOOK_TOKEN, **metadata}}


def rollout_meta(**extra: str) -> dict[str, str]:
    return {"config": "checkout", "baselineSelector": BASELINE, "canarySelector": CANARY, "lookback": "10m",
            "step": "5s", **extra}


def test_rollout_gate_passes_a_healthy_canary(api: Api) -> None:
    series_answers(api.source, Scenario(end=now()))
    response = api.client.post("/v1/flagger/rollout", json=payload(**rollout_meta()))
    assert response.status_code == 200
    data = response.json()
    assert data["verdict"] == "pass"
    record = api.ledger.get(data["decisionId"])
    assert (record.kind, record.app, record.subject["checksum"]) == ("judge", "shop/checkout", CHECKSUM)
    assert "token" not in str(record.subject) and WEBHOOK_TOKEN not in str(record.payload)


def test_rollout_gate_fails_the_check_on_a_fail_verdict(api: Api) -> None:
    series_answers(api.source, Scenario(end=now(), latency_factor=1.3))
    response = api.client.post("/v1/flagger/rollout", json=payload(**rollout_meta()))
    assert response.status_code == 412  # > 202: Flagger counts a failed check
    assert response.json()["verdict"] == "fail"


def test_rollout_gate_inconclusive_continues_unless_told_to_fail(api: Api) -> None:
    series_answers(api.source, Scenario(end=now(), samples=6))
    relaxed = api.client.post("/v1/flagger/rollout", json=payload(**rollout_meta()))
    strict = api.client.post("/v1/flagger/rollout", json=payload(**rollout_meta(onInconclusive="fail")))
    assert (relaxed.status_code, relaxed.json()["verdict"]) == (200, "inconclusive")
    assert (strict.status_code, strict.json()["verdict"]) == (412, "inconclusive")


def test_rollout_gate_defaults_to_flaggers_pod_names(api: Api) -> None:
    response = api.client.post("/v1/flagger/rollout", json=payload(config="checkout"))
    assert response.status_code == 200  # no data at all: inconclusive, continue
    queries = [q for q, *_ in api.source.calls]
    assert 'http_latency_ms{ namespace="shop",pod=~"checkout-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }' in queries
    assert 'http_latency_ms{ namespace="shop",pod=~"checkout-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }' in queries


def test_rollout_gate_without_config_fails_the_check(api: Api) -> None:
    response = api.client.post("/v1/flagger/rollout", json=payload())
    assert response.status_code == 400
    assert "metadata.config" in response.json()["error"]


def test_confirm_gates_wait_until_approved_for_that_revision(api: Api) -> None:
    for gate in ("confirm-rollout", "confirm-promotion"):
        assert api.client.post(f"/v1/flagger/{gate}", json=payload()).status_code == 403
    approval = api.client.post("/v1/approvals", headers=AUTH, json={
        "name": "checkout", "namespace": "shop", "checksum": CHECKSUM, "gate": "confirm-promotion",
        "approver": "alice", "note": "dashboards look fine"})
    assert approval.status_code == 201
    approval_id = approval.json()["approvalId"]
    opened = api.client.post("/v1/flagger/confirm-promotion", json=payload())
    assert opened.status_code == 200
    assert opened.json() == {"approved": True, "approvalId": approval_id, "approver": "alice"}
    # the approval names one gate and one revision only
    assert api.client.post("/v1/flagger/confirm-rollout", json=payload()).status_code == 403
    assert api.client.post("/v1/flagger/confirm-promotion", json=payload(checksum="other")).status_code == 403
    record = api.ledger.get(approval_id)
    assert (record.kind, record.verdict, record.actor) == ("approval", "approved", "alice")


def test_approval_without_checksum_binds_to_the_latest_revision_seen(api: Api) -> None:
    missing = api.client.post("/v1/approvals", headers=AUTH,
                              json={"name": "checkout", "namespace": "shop", "approver": "bob"})
    assert missing.status_code == 400
    assert "checksum" in missing.json()["error"]
    assert api.client.post("/v1/flagger/confirm-rollout", json=payload(checksum="rev-1")).status_code == 403
    assert api.client.post("/v1/flagger/confirm-rollout", json=payload(checksum="rev-2")).status_code == 403
    approval = api.client.post("/v1/approvals", headers=AUTH,
                               json={"name": "checkout", "namespace": "shop", "approver": "bob"})
    assert approval.json()["checksum"] == "rev-2"
    assert approval.json()["gate"] == "any"
    assert api.client.post("/v1/flagger/confirm-rollout", json=payload(checksum="rev-2")).status_code == 200
    assert api.client.post("/v1/flagger/confirm-promotion", json=payload(checksum="rev-2")).status_code == 200
    assert api.client.post("/v1/flagger/confirm-rollout", json=payload(checksum="rev-1")).status_code == 403


def test_latest_checksum_is_found_in_the_ledger_by_a_fresh_process(make_api) -> None:  # type: ignore[no-untyped-def]
    first = make_api()
    assert first.client.post("/v1/flagger/event", json=payload(checksum="rev-9", eventMessage="x")).status_code == 202
    from fastapi.testclient import TestClient

    from tollgate.api import create_app

    # a second replica sharing the ledger has seen nothing itself
    with TestClient(create_app(first.client.app.state.service.settings,  # type: ignore[attr-defined]
                               ledger_factory=lambda: first.ledger)) as other:
        approval = other.post("/v1/approvals", headers=AUTH,
                              json={"name": "checkout", "namespace": "shop", "approver": "carol"})
    assert approval.status_code == 201
    assert approval.json()["checksum"] == "rev-9"


def test_rollback_gate_is_inverted(api: Api) -> None:
    assert api.client.post("/v1/flagger/rollback", json=payload()).status_code == 409  # keep going
    series_answers(api.source, Scenario(end=now(), latency_factor=1.3))
    api.client.post("/v1/flagger/rollout", json=payload(**rollout_meta()))
    response = api.client.post("/v1/flagger/rollback", json=payload())
    assert response.status_code == 200  # roll back now
    assert "verdict is fail" in response.json()["reason"]
    # another revision of the same canary is not affected by this verdict
    assert api.client.post("/v1/flagger/rollback", json=payload(checksum="next")).status_code == 409


def test_rollback_gate_follows_the_latest_verdict(api: Api) -> None:
    series_answers(api.source, Scenario(end=now(), latency_factor=1.3))
    api.client.post("/v1/flagger/rollout", json=payload(**rollout_meta()))
    series_answers(api.source, Scenario(end=now()))
    api.client.post("/v1/flagger/rollout", json=payload(**rollout_meta()))
    assert api.client.post("/v1/flagger/rollback", json=payload()).status_code == 409


def test_operator_rollback_request_triggers_the_gate(api: Api) -> None:
    request = api.client.post("/v1/rollbacks", headers=AUTH, json={
        "name": "checkout", "namespace": "shop", "checksum": CHECKSUM, "requester": "oncall",
        "reason": "customer reports"})
    assert request.status_code == 201
    response = api.client.post("/v1/flagger/rollback", json=payload())
    assert response.status_code == 200
    assert "oncall" in response.json()["reason"] and "customer reports" in response.json()["reason"]


def test_event_is_recorded_without_the_token(api: Api) -> None:
    response = api.client.post("/v1/flagger/event", json=payload(
        phase="Progressing", eventMessage="Advance checkout.shop canary weight 10", eventType="Normal",
        timestamp="1700000000000"))
    assert response.status_code == 202
    record = api.ledger.get(response.json()["recorded"])
    assert record.kind == "event"
    assert record.payload["metadata"]["eventMessage"] == "Advance checkout.shop canary weight 10"
    assert "token" not in record.payload["metadata"]


def test_unknown_gate_is_404(api: Api) -> None:
    response = api.client.post("/v1/flagger/post-whatever", json=payload())
    assert response.status_code == 404
    assert "confirm-promotion" in response.json()["error"]


@pytest.mark.parametrize("bad", [{"namespace": "shop"}, {"name": "", "namespace": "shop"},
                                 {"name": "a", "namespace": "shop", "metadata": {"k": ["not", "a", "string"]}}])
def test_malformed_flagger_payload_is_400(api: Api, bad: dict[str, object]) -> None:
    response = api.client.post("/v1/flagger/confirm-rollout", json=bad, headers=AUTH)
    assert response.status_code == 400
    assert "invalid request" in response.json()["error"]
