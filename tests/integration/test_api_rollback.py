"""Rollback in Git from the service: a failed canary verdict proposes the revert of the rollout's commit.

Real Git repos in tmp_path; the app in process with a fake metric source and the in-memory ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.integration.gitutil import commit_files, git
from tests.unit.api.conftest import (
    AUTH,
    BASELINE,
    CANARY,
    CONFIG_YAML,
    TOKEN,
    WEBHOOK_TOKEN,
    Scenario,
    series_answers,
)

from tollgate.api import create_app
from tollgate.ledger import InMemoryLedger
from tollgate.settings import ApiSettings, RollbackSettings, Settings
from tollgate.sources.metrics import FakeMetricSource

pytestmark = pytest.mark.integration
END = 1_700_000_000.0
GOOD = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: checkout}\nspec:\n  replicas: 2\n  template: {spec: {containers: [{name: app, image: 'shop/checkout:1.4.0'}]}}\n"  # noqa: E501
BAD = GOOD.replace("1.4.0", "1.5.0")


@dataclass
class Setup:
    client: TestClient
    ledger: InMemoryLedger
    source: FakeMetricSource
    repo: Path
    bad_commit: str


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "gitops"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_files(repo, {"apps/checkout.yaml": GOOD}, "checkout 1.4.0")
    bad = commit_files(repo, {"apps/checkout.yaml": BAD}, "checkout 1.5.0")
    return repo, bad


@pytest.fixture
def setup(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Setup]:
    mode = getattr(request, "param", "branch")
    repo, bad = _repo(tmp_path)
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    (canaries / "checkout.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    settings = Settings(api=ApiSettings(token=TOKEN, webhook_token=WEBHOOK_TOKEN, canary_dir=canaries),
                        rollback=RollbackSettings(mode=mode, repo=repo))
    ledger = InMemoryLedger()
    source = FakeMetricSource()
    with TestClient(create_app(settings, ledger_factory=lambda: ledger, metric_source=source)) as client:
        yield Setup(client, ledger, source, repo, bad)


def argo_body(**extra: object) -> dict[str, object]:
    return {"config": "checkout", "baselineSelector": BASELINE, "canarySelector": CANARY, "lookback": "10m",
            "step": "5s", "end": END, "rollout": "checkout", "namespace": "shop", **extra}


def test_argo_fail_with_a_commit_proposes_the_revert_on_a_branch_once(setup: Setup) -> None:
    series_answers(setup.source, Scenario(end=END, latency_factor=1.3))
    first = setup.client.post("/v1/judge/argo", json=argo_body(gitCommit=setup.bad_commit[:12]), headers=AUTH)
    assert first.status_code == 200
    data = first.json()
    assert data["verdict"] == "fail"
    rollback = data["rollback"]
    assert rollback["status"] == "created" and rollback["mode"] == "branch"
    assert rollback["branch"] == f"tollgate/rollback/{data['decisionId']}"
    assert rollback["reverts"] == setup.bad_commit
    # The branch holds a real revert: the file is back at 1.4.0, the evidence and trailers in the message.
    assert git(setup.repo, "show", f"{rollback['branch']}:apps/checkout.yaml") == GOOD.strip()
    message = git(setup.repo, "log", "-1", "--format=%B", rollback["branch"])
    assert f"Tollgate-Decision: {data['decisionId']}" in message
    assert "latency" in message and "verdict fail" in message
    assert git(setup.repo, "rev-parse", "main") == setup.bad_commit  # main untouched in branch mode
    # The proposal is a ledger record linked to the failing decision.
    record = setup.ledger.get(rollback["ledgerId"])
    assert record.kind == "rollback-proposal"
    assert record.subject["decision"] == data["decisionId"] and record.payload["branch"] == rollback["branch"]

    # Argo measures again: a new failing decision, but the same proposal (no second branch, no new record).
    again = setup.client.post("/v1/judge/argo", json=argo_body(commit=setup.bad_commit), headers=AUTH).json()
    assert again["verdict"] == "fail" and again["decisionId"] != data["decisionId"]
    assert again["rollback"]["status"] == "exists"
    assert again["rollback"]["branch"] == rollback["branch"]
    branches = git(setup.repo, "branch", "--list", "tollgate/rollback/*").split()
    assert branches == [rollback["branch"]]
    assert len(setup.ledger.list(kind="rollback-proposal")) == 1


def test_argo_pass_or_no_commit_proposes_nothing(setup: Setup) -> None:
    series_answers(setup.source, Scenario(end=END))
    passed = setup.client.post("/v1/judge/argo", json=argo_body(commit=setup.bad_commit), headers=AUTH).json()
    assert passed["verdict"] == "pass" and "rollback" not in passed
    series_answers(setup.source, Scenario(end=END, latency_factor=1.3))
    failed = setup.client.post("/v1/judge/argo", json=argo_body(), headers=AUTH).json()
    assert failed["verdict"] == "fail" and "rollback" not in failed
    assert git(setup.repo, "branch", "--list", "tollgate/rollback/*") == ""


def test_argo_rejects_a_commit_that_is_not_a_sha(setup: Setup) -> None:
    response = setup.client.post("/v1/judge/argo", json=argo_body(commit="main; rm -rf /"), headers=AUTH)
    assert response.status_code == 400
    assert "commit" in response.text


def test_unknown_commit_is_reported_and_the_verdict_stands(setup: Setup) -> None:
    series_answers(setup.source, Scenario(end=END, latency_factor=1.3))
    data = setup.client.post("/v1/judge/argo", json=argo_body(commit="deadbeef" * 5), headers=AUTH).json()
    assert data["verdict"] == "fail"
    assert data["rollback"]["status"] == "error" and "deadbeef" in data["rollback"]["reason"]
    assert setup.ledger.list(kind="rollback-proposal") == []


@pytest.mark.parametrize("setup", ["commit"], indirect=True)
def test_flagger_failed_analysis_then_rollback_gate_commit_mode(setup: Setup) -> None:
    series_answers(setup.source, Scenario(end=time.time(), latency_factor=1.3),
                   baseline='namespace="shop",pod=~"checkout-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"',
                   canary='namespace="shop",pod=~"checkout-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"')
    payload = {"name": "checkout", "namespace": "shop", "phase": "Progressing", "checksum": "abc123",
               "metadata": {"config": "checkout", "commit": setup.bad_commit, "token": WEBHOOK_TOKEN}}
    # Flagger's rollout hook cannot pass an end time: the fake source answers any window.
    rollout = setup.client.post("/v1/flagger/rollout", json=payload)
    assert rollout.status_code == 412
    judged = rollout.json()
    assert judged["verdict"] == "fail" and judged["rollback"]["status"] == "created"
    head = git(setup.repo, "rev-parse", "HEAD")
    assert judged["rollback"]["mode"] == "commit" and judged["rollback"]["commit"] == head
    assert git(setup.repo, "show", "HEAD:apps/checkout.yaml") == GOOD.strip()

    gate = setup.client.post("/v1/flagger/rollback", json=payload)
    assert gate.status_code == 200  # inverted: roll back now
    answer = gate.json()
    assert answer["rollback"] is True and judged["decisionId"] in answer["reason"]
    assert answer["proposal"]["status"] == "exists" and answer["proposal"]["commit"] == head
    assert git(setup.repo, "rev-parse", "HEAD") == head  # idempotent: no second revert


def test_rollback_on_without_a_repo_is_reported_not_raised(tmp_path: Path) -> None:
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    (canaries / "checkout.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    settings = Settings(api=ApiSettings(token=TOKEN, canary_dir=canaries), rollback=RollbackSettings(mode="branch"))
    source = FakeMetricSource()
    series_answers(source, Scenario(end=END, latency_factor=1.3))
    ledger = InMemoryLedger()
    with TestClient(create_app(settings, ledger_factory=lambda: ledger, metric_source=source)) as client:
        data = client.post("/v1/judge/argo", json=argo_body(commit="abcdef1"), headers=AUTH).json()
    assert data["verdict"] == "fail"
    assert data["rollback"]["status"] == "error" and "TOLLGATE_ROLLBACK__REPO" in data["rollback"]["reason"]
    assert ledger.list(kind="rollback-proposal") == []
