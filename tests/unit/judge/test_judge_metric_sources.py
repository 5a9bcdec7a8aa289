"""Metric files (CSV/JSON) and the Prometheus client's error handling (HTTP faked at the transport)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest

from tollgate.errors import DependencyError, InputError, ParseError
from tollgate.model.canary import Series
from tollgate.sources.metrics import (
    FakeMetricSource,
    LabeledSeries,
    PrometheusClient,
    fetch_pair,
    parse_timestamp,
    read_metric_file,
    render_query,
)


def test_csv_file_with_unix_and_iso_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "canary.csv"
    path.write_text(
        "metric,timestamp,value\n"
        "latency,1700000060,250\n"
        "latency,2023-11-14T22:13:20Z,240\n"
        "errors,1700000000,NaN\n"
        "\n"
        "errors,2023-11-14 22:14:20,+Inf\n",
        encoding="utf-8",
    )
    series = read_metric_file(path)
    assert series["latency"] == Series((240.0, 250.0), (1700000000.0, 1700000060.0))
    assert math.isnan(series["errors"].values[0]) and math.isinf(series["errors"].values[1])
    assert series["errors"].timestamps == (1700000000.0, 1700000060.0)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("metric,timestamp,value\nlat,1,2\nlat,yesterday,3\n", 3, "timestamp 'yesterday'"),
        ("metric,timestamp,value\nlat,1,fast\n", 2, "value 'fast'"),
        ("metric,timestamp,value\nlat,1\n", 2, "expected 3 fields"),
        ("metric,time,value\n", 1, "timestamp"),
        ("metric,timestamp,value\n,1,2\n", 2, "empty metric name"),
    ],
)
def test_bad_csv_rows_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        read_metric_file(path)
    assert caught.value.line == line and caught.value.file == str(path)
    assert message in str(caught.value)


def test_json_shapes(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"metric": "cpu", "timestamp": 20, "value": 2},
                                {"metric": "cpu", "timestamp": 10, "value": 1}]))
    assert read_metric_file(rows)["cpu"].values == (1.0, 2.0)
    grouped = tmp_path / "grouped.json"
    grouped.write_text(json.dumps({"cpu": [[10, 1.5], {"timestamp": "1970-01-01T00:00:20+00:00", "value": 2.5}]}))
    assert read_metric_file(grouped)["cpu"] == Series((1.5, 2.5), (10.0, 20.0))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cpu": [[10, "x"]]}))
    with pytest.raises(ParseError, match=r"'cpu'\[0\]: value 'x'"):
        read_metric_file(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "cpu": [\n')
    with pytest.raises(ParseError) as caught:
        read_metric_file(broken)
    assert caught.value.line == 3


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        read_metric_file(tmp_path / "nope.csv")


def test_parse_timestamp() -> None:
    assert parse_timestamp("1700000000.5") == 1700000000.5
    assert parse_timestamp("2024-01-01T01:00:00+01:00") == parse_timestamp("2024-01-01T00:00:00Z")
    with pytest.raises(ValueError):
        parse_timestamp(True)


def test_render_query_and_fetch_pair_with_the_fake_source() -> None:
    template = 'sum(rate(errors{ {{selector}} }[1m]))'
    assert render_query(template, 'track="canary"') == 'sum(rate(errors{ track="canary" }[1m]))'
    assert render_query("x{ {{canary_selector}} }", "a") == "x{ a }"
    fake = FakeMetricSource({
        render_query(template, 'track="baseline"'): [LabeledSeries({}, Series((1.0, 2.0, 3.0), (0.0, 60.0, 120.0)))],
    })
    b, c = fetch_pair(fake, template, baseline_selector='track="baseline"', canary_selector='track="canary"',
                      start=60, end=120, step=60)
    assert b == Series((2.0, 3.0), (60.0, 120.0))
    assert c == Series(())
    assert [call[0] for call in fake.calls] == [render_query(template, 'track="baseline"'),
                                                render_query(template, 'track="canary"')]


def _client(handler, **kwargs) -> PrometheusClient:
    return PrometheusClient("http://prom.example:9090/", transport=httpx.MockTransport(handler),
                            sleep=lambda _s: None, **kwargs)


def test_client_retries_5xx_then_succeeds_and_sends_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(503, json={"status": "error", "errorType": "unavailable", "error": "busy"})
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"track": "canary"}, "values": [[100, "1.5"], [160, "NaN"]]}]}})

    with _client(handler, bearer_token="s3cret", retries=3) as client:
        found = client.query_range("up", 100, 160, 60)
    assert len(seen) == 3
    assert seen[-1].headers["Authorization"] == "Bearer s3cret"
    assert seen[-1].url.path == "/api/v1/query_range" and seen[-1].url.params["step"] == "60"
    assert found[0].labels == {"track": "canary"}
    assert found[0].series.values[0] == 1.5 and math.isnan(found[0].series.values[1])


def test_client_gives_up_with_a_dependency_error_naming_the_url() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    with _client(handler, retries=2) as client, pytest.raises(DependencyError) as caught:
        client.query_range("up", 0, 60, 60)
    assert calls == 3
    assert "http://prom.example:9090/api/v1/query_range" in str(caught.value)


def test_client_passes_prometheus_errors_on_as_input_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "errorType": "bad_data",
                                         "error": "1:5: parse error: unexpected end of input"})

    with _client(handler) as client, pytest.raises(InputError) as caught:
        client.query_range("sum(", 0, 60, 60)
    assert "bad_data: 1:5: parse error" in str(caught.value)
    with _client(handler) as client, pytest.raises(InputError, match="step > 0"):
        client.query_range("up", 0, 60, 0)
