"""The metric source and the judge against a real Prometheus server with backfilled series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prometheus_fixture import running_prometheus

from tollgate.errors import DependencyError, InputError
from tollgate.model.canary import CanaryVerdict, MetricClassification
from tollgate.release.judge import judge, parse_config_text
from tollgate.sources.metrics import PrometheusClient, fetch_pair, single_series

pytestmark = pytest.mark.integration

T0 = 1_700_000_000.0
STEP = 60.0
N = 240


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory):
    rng = np.random.default_rng(7)
    base = rng.normal(230.0, 20.0, N)
    canary = rng.normal(230.0, 20.0, N) * 1.3  # a 30 % latency regression
    cpu_b, cpu_c = rng.normal(0.5, 0.05, N), rng.normal(0.5, 0.05, N)
    stamps = [T0 + i * STEP for i in range(N)]
    series = {
        ("http_latency_ms", (("track", "baseline"),)): list(zip(stamps, base, strict=True)),
        ("http_latency_ms", (("track", "canary"),)): list(zip(stamps, canary, strict=True)),
        ("cpu_cores", (("track", "baseline"),)): list(zip(stamps, cpu_b, strict=True)),
        ("cpu_cores", (("track", "canary"),)): list(zip(stamps, cpu_c, strict=True)),
    }
    workdir: Path = tmp_path_factory.mktemp("prom")
    with running_prometheus(workdir, series) as server:
        yield server, series


def test_query_range_returns_the_backfilled_samples(prometheus) -> None:
    server, series = prometheus
    with PrometheusClient(server.url, timeout=10) as client:
        found = client.query_range('http_latency_ms{track="canary"}', T0, T0 + (N - 1) * STEP, STEP)
    assert len(found) == 1
    assert found[0].labels["track"] == "canary"
    expected = [v for _, v in series[("http_latency_ms", (("track", "canary"),))]]
    assert found[0].series.timestamps[0] == T0
    assert np.allclose(found[0].series.values, expected)


def test_judge_fails_the_regressed_canary_from_prometheus(prometheus) -> None:
    server, _ = prometheus
    config = parse_config_text(
        """
metrics:
  - name: latency
    query: 'http_latency_ms{ {{selector}} }'
    direction: increase
    groups: [latency]
  - name: cpu
    query: 'sum(cpu_cores{ {{selector}} })'
    groups: [saturation]
"""
    )
    baseline, canary = {}, {}
    with PrometheusClient(server.url) as client:
        for metric in config.metrics:
            b, c = fetch_pair(client, metric.query, baseline_selector='track="baseline"',
                              canary_selector='track="canary"', start=T0, end=T0 + (N - 1) * STEP, step=STEP)
            baseline[metric.name], canary[metric.name] = b, c
    assert len(baseline["latency"]) == N and len(canary["cpu"]) == N
    result = judge(config, baseline, canary)
    by_name = {m.name: m for m in result.metrics}
    assert by_name["latency"].classification is MetricClassification.HIGH
    assert by_name["latency"].effect is not None and by_name["latency"].effect.lower > 0.1
    assert by_name["cpu"].classification is MetricClassification.PASS
    assert result.verdict is CanaryVerdict.FAIL
    assert "latency" in result.reason


def test_bad_promql_is_an_input_error_with_prometheus_message(prometheus) -> None:
    server, _ = prometheus
    with PrometheusClient(server.url) as client, pytest.raises(InputError) as caught:
        client.query_range("sum(http_latency_ms{", T0, T0 + 600, STEP)
    assert "parse error" in str(caught.value)
    assert not isinstance(caught.value, DependencyError)


def test_several_series_must_be_aggregated(prometheus) -> None:
    server, _ = prometheus
    with PrometheusClient(server.url) as client:
        found = client.query_range("http_latency_ms", T0, T0 + 600, STEP)
    assert {ls.labels["track"] for ls in found} == {"baseline", "canary"}
    with pytest.raises(InputError, match="returned 2 series"):
        single_series(found, "http_latency_ms")


def test_unreachable_prometheus_is_a_dependency_error_naming_the_url() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    slept: list[float] = []
    with PrometheusClient(url, retries=2, backoff=0.1, sleep=slept.append) as client:
        with pytest.raises(DependencyError) as caught:
            client.query_range("up", T0, T0 + 60, STEP)
    assert url in str(caught.value)
    assert caught.value.exit_code == 3
    assert slept == [0.1, 0.2]
