"""End to end over a real socket: uvicorn serving the app, a real Prometheus, a SQLite ledger file.

Requests use the payload shapes Argo Rollouts' ``web`` provider and Flagger's webhooks send.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from prometheus_fixture import running_prometheus

from tollgate.api import create_app
from tollgate.ledger import Ledger
from tollgate.settings import ApiSettings, Settings

pytestmark = pytest.mark.integration

TOKEN = "e2e-token"
WEBHOOK_TOKEN = "e2e-webhook-token"
N, STEP = 120, 5.0
CONFIG = """
name: checkout
metrics:
  - name: latency
    query: 'http_latency_ms{ {{selector}} }'
    direction: increase
    groups: [latency]
classifier:
  groupWeights: {latency: 100}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    """Latency of a healthy canary ("good") and a regressed one ("bad"), ending a few seconds ago."""
    rng = np.random.default_rng(5)
    end = float(int(time.time()) - 15)
    stamps = [end - (N - 1 - i) * STEP for i in range(N)]
    series = {}
    for track, factor in (("primary", 1.0), ("good", 1.0), ("bad", 1.35)):
        values = rng.normal(200.0, 10.0, N) * factor
        series[("http_latency_ms", (("track", track),))] = list(zip(stamps, values, strict=True))
    with running_prometheus(tmp_path_factory.mktemp("prom"), series) as server:
        yield server.url, end


@pytest.fixture
def service(tmp_path: Path, prometheus: tuple[str, float]) -> Iterator[tuple[str, Path]]:
    prom_url, _ = prometheus
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    (canaries / "checkout.yaml").write_text(CONFIG, encoding="utf-8")
    db = tmp_path / "ledger.db"
    settings = Settings(ledger_url=f"sqlite:///{db}", api=ApiSettings(
        token=TOKEN, webhook_token=WEBHOOK_TOKEN, canary_dir=canaries, prometheus_url=prom_url))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", db
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_argo_and_flagger_over_a_socket(service: tuple[str, Path], prometheus: tuple[str, float]) -> None:
    base, db = service
    _, end = prometheus
    with httpx.Client(base_url=base, timeout=20) as client:
        assert client.get("/healthz").json()["status"] == "ok"

        # Argo Rollouts `web` provider: POST jsonBody, headers from the AnalysisTemplate
        argo_headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        argo_body = {"config": "checkout", "baselineSelector": 'track="primary"', "canarySelector": 'track="good"',
                     "lookback": "10m", "step": "5s", "end": end, "rollout": "checkout", "namespace": "shop"}
        good = client.post("/v1/judge/argo", json=argo_body, headers=argo_headers)
        bad = client.post("/v1/judge/argo", json={**argo_body, "canarySelector": 'track="bad"'},
                          headers=argo_headers)
        assert (good.status_code, good.json()["verdict"]) == (200, "pass")
        assert (bad.status_code, bad.json()["verdict"]) == (200, "fail")
        assert set(good.json()) >= {"verdict", "score", "reason", "decisionId"}

        # Flagger: CanaryWebhookPayload, no headers; the token rides in metadata
        def flagger(gate: str, **metadata: str) -> httpx.Response:
            return client.post(f"/v1/flagger/{gate}", json={
                "name": "checkout", "namespace": "shop", "phase": "Progressing", "checksum": "7b6c9f8d4",
                "metadata": {"token": WEBHOOK_TOKEN, **metadata}})

        assert flagger("confirm-rollout").status_code == 403
        approved = client.post("/v1/approvals", headers={"Authorization": f"Bearer {TOKEN}"},
                               json={"name": "checkout", "namespace": "shop", "approver": "alice"})
        assert approved.status_code == 201 and approved.json()["checksum"] == "7b6c9f8d4"
        assert flagger("confirm-rollout").status_code == 200
        judged = flagger("rollout", config="checkout", baselineSelector='track="primary"',
                         canarySelector='track="bad"', lookback="15m", step="5s")
        assert judged.status_code == 412 and judged.json()["verdict"] == "fail"
        assert flagger("rollback").status_code == 200
        assert flagger("event", eventMessage="Halt advancement", eventType="Warning").status_code == 202

        metrics = client.get("/metrics").text
        assert 'tollgate_judge_verdicts_total{endpoint="argo",verdict="fail"} 1.0' in metrics

    # everything the service decided is in the ledger file, chained and verifiable
    with Ledger(f"sqlite:///{db}") as ledger:
        kinds = [r.kind for r in reversed(ledger.list(limit=20))]
        assert kinds == ["judge", "judge", "approval", "judge", "event"]
        assert ledger.verify().count == 5


def test_serve_command_reads_settings_from_the_environment(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    port = _free_port()
    env = {**os.environ, "TOLLGATE_API__TOKEN": "env-token", "TOLLGATE_LEDGER_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    code = f"from tollgate.cli.serve import serve_command; serve_command(host='127.0.0.1', port={port})"
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
            assert time.monotonic() < deadline, "tollgate serve did not start"
            time.sleep(0.1)
        body = {"name": "web", "namespace": "prod", "checksum": "abc", "approver": "dana"}
        url = f"http://127.0.0.1:{port}/v1/approvals"
        assert httpx.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        accepted = httpx.post(url, json=body, headers={"Authorization": "Bearer env-token"})
        assert accepted.status_code == 201
    finally:
        process.terminate()
        process.wait(timeout=20)
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        assert ledger.get(accepted.json()["approvalId"]).actor == "dana"
