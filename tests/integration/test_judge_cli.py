"""`tollgate judge` through the CLI: metric files and a real Prometheus, exit codes, ledger decision."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_fixture import running_prometheus

from tollgate.cli.main import main

pytestmark = pytest.mark.integration

T0, STEP, N = 1_700_000_000.0, 60.0, 240

CONFIG = """
metrics:
  - name: latency
    query: 'http_latency_ms{ {{selector}} }'
    direction: increase
    mustHaveData: true
classifier:
  scoreThresholds: {pass: 95, marginal: 75}
"""


def write_metrics(path: Path, values: np.ndarray) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["metric", "timestamp", "value"])
        for i, v in enumerate(values):
            writer.writerow(["latency", int(T0 + i * STEP), f"{v:.6f}"])
    return path


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOLLGATE_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    path = tmp_path / "canary.yaml"
    path.write_text(CONFIG)
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    rc = main(["judge", *args, "--format", "json"])
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else {}


def test_regressed_canary_fails_with_exit_1_and_is_recorded(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    base = write_metrics(tmp_path / "b.csv", rng.normal(230, 20, N))
    bad = write_metrics(tmp_path / "c.csv", rng.normal(230, 20, N) * 1.3)
    rc, data = run(["--config", str(config), "--baseline", str(base), "--canary", str(bad)], capsys)
    assert rc == 1 and data["verdict"] == "fail"
    metric = data["metrics"][0]
    assert metric["name"] == "latency" and metric["classification"] == "High" and metric["reason"]
    assert data["decisionId"]
    assert main(["explain", str(data["decisionId"])]) == 0
    assert "judge" in capsys.readouterr().out


def test_healthy_canary_passes_and_missing_data_is_inconclusive(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(4)
    base = write_metrics(tmp_path / "b.csv", rng.normal(230, 20, N))
    same = write_metrics(tmp_path / "c.csv", rng.normal(230, 20, N))
    rc, data = run(["--config", str(config), "--baseline", str(base), "--canary", str(same)], capsys)
    assert (rc, data["verdict"]) == (0, "pass")
    empty = tmp_path / "empty.csv"
    empty.write_text("metric,timestamp,value\n")
    rc, data = run(["--config", str(config), "--baseline", str(base), "--canary", str(empty)], capsys)
    assert (rc, data["verdict"]) == (4, "inconclusive")


def test_bad_metric_file_exits_2_naming_the_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("metric,timestamp,value\nlatency,1700000000,12\nlatency,not-a-time,13\n")
    rc = main(["judge", "--config", str(config), "--baseline", str(bad), "--canary", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.csv:3" in err


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    rng = np.random.default_rng(7)
    stamps = [T0 + i * STEP for i in range(N)]
    series = {
        ("http_latency_ms", (("track", "baseline"),)): list(zip(stamps, rng.normal(230, 20, N), strict=True)),
        ("http_latency_ms", (("track", "canary"),)): list(zip(stamps, rng.normal(230, 20, N) * 1.3, strict=True)),
    }
    with running_prometheus(tmp_path_factory.mktemp("prom"), series) as server:
        yield server.url


def test_judge_through_promql_against_a_real_prometheus(
    prometheus: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, data = run(["--config", str(config), "--baseline", f"prom:{prometheus}", "--canary", f"prom:{prometheus}",
                    "--baseline-selector", 'track="baseline"', "--canary-selector", 'track="canary"',
                    "--end", str(T0 + (N - 1) * STEP), "--lookback", str((N - 1) * STEP), "--step", str(STEP)],
                   capsys)
    assert rc == 1 and data["verdict"] == "fail"
    rc = main(["judge", "--config", str(config), "--baseline", "prom:http://127.0.0.1:9", "--canary",
               "prom:http://127.0.0.1:9", "--baseline-selector", "a", "--canary-selector", "b", "--no-record"])
    assert rc == 3
