"""Fixtures of the API tests: the app in process with a fake metric source and the in-memory ledger."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tollgate.api import create_app
from tollgate.ledger import InMemoryLedger
from tollgate.model.canary import Series
from tollgate.settings import ApiSettings, Settings
from tollgate.sources.metrics import FakeMetricSource, LabeledSeries, render_query

TOKEN = "s3cret-api-token"
WEBHOOK_TOKEN = "flagger-webhook-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

CONFIG_YAML = """
name: checkout
metrics:
  - name: latency
    query: 'http_latency_ms{ {{selector}} }'
    direction: increase
    groups: [latency]
  - name: cpu
    query: 'sum(rate(cpu_seconds_total{ {{selector}} }[1m]))'
    groups: [saturation]
classifier:
  groupWeights: {latency: 70, saturation: 30}
  scoreThresholds: {pass: 95, marginal: 75}
"""

BASELINE = 'track="baseline"'
CANARY = 'track="canary"'


@dataclass
class Scenario:
    """Series served by the fake metric source for one baseline/canary selector pair."""

    samples: int = 120
    latency_factor: float = 1.0  # canary latency = baseline-like noise x factor
    end: float = 0.0
    step: float = 5.0


def series_answers(source: FakeMetricSource, scenario: Scenario, *, baseline: str = BASELINE,
                   canary: str = CANARY, seed: int = 3) -> None:
    """Fill ``source`` with latency and CPU series for both sides, timestamps ending at ``scenario.end``."""
    rng = np.random.default_rng(seed)
    n = scenario.samples
    stamps = tuple(scenario.end - (n - 1 - i) * scenario.step for i in range(n))
    sides = {
        baseline: (rng.normal(200.0, 10.0, n), rng.normal(0.5, 0.05, n)),
        canary: (rng.normal(200.0, 10.0, n) * scenario.latency_factor, rng.normal(0.5, 0.05, n)),
    }
    for selector, (latency, cpu) in sides.items():
        for template, values in (("http_latency_ms{ {{selector}} }", latency),
                                 ("sum(rate(cpu_seconds_total{ {{selector}} }[1m]))", cpu)):
            query = render_query(template, selector)
            source.answers[query] = [LabeledSeries({"track": selector}, Series(tuple(map(float, values)), stamps))]


@dataclass
class Api:
    client: TestClient
    ledger: InMemoryLedger
    source: FakeMetricSource
    canary_dir: Path


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(*, token: str | None = TOKEN, webhook_token: str | None = WEBHOOK_TOKEN,
             canary_dir: bool = True) -> Api:
        directory = tmp_path / "canaries"
        directory.mkdir(exist_ok=True)
        (directory / "checkout.yaml").write_text(CONFIG_YAML, encoding="utf-8")
        settings = Settings(api=ApiSettings(
            token=token, webhook_token=webhook_token, canary_dir=directory if canary_dir else None,
        ))
        ledger = InMemoryLedger()
        source = FakeMetricSource()
        client = TestClient(create_app(settings, ledger_factory=lambda: ledger, metric_source=source))
        client.__enter__()
        clients.append(client)
        return Api(client, ledger, source, directory)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


def now() -> float:
    return time.time()
