"""``tollgate bench focus`` end to end on a tiny data set, and the anomaly matching it reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from tollgate.cli.bench_focus import bench_focus, match_anomalies
from tollgate.cost.focus_synth import InjectedAnomaly


def _truth() -> list[InjectedAnomaly]:
    return [InjectedAnomaly("service", datetime(2025, 2, 3, 6), datetime(2025, 2, 5, 6),
                            {"provider": "AWS", "service": "EC2", "sub_account": "1"}, "sub_account", "1", 3.0, 500.0),
            InjectedAnomaly("application", datetime(2025, 2, 20), datetime(2025, 2, 21),
                            {"tag:application": "search"}, "tag:application", "search", 2.0, 300.0)]


def test_match_anomalies_scope_and_time() -> None:
    found = [
        SimpleNamespace(scope={"provider": "AWS"}, start=datetime(2025, 2, 5, tzinfo=UTC),
                        end=datetime(2025, 2, 5, tzinfo=UTC)),  # wider scope, last day of the window
        SimpleNamespace(scope={"provider": "Microsoft"}, start=datetime(2025, 2, 4), end=datetime(2025, 2, 4)),
        SimpleNamespace(scope={}, start=datetime(2025, 3, 1), end=datetime(2025, 3, 2)),  # a Saturday, no truth
    ]
    result = match_anomalies(_truth(), found)
    assert result["recovered"] == 1 and result["recall"] == 0.5
    assert result["extra_flags"] == 2 and result["extra_flags_starting_on_weekends"] == 1
    assert result["missed"][0]["kind"] == "application"


@pytest.mark.integration
def test_bench_focus_tiny_run(tmp_path: Path) -> None:
    result = bench_focus(30_000, 50, workdir=tmp_path, anomalies=4)
    assert result["rows"] > 25_000
    assert (tmp_path / "focus.csv").is_file() and (tmp_path / "focus.parquet").is_file()
    assert result["ingest"]["csv"]["rows"] == result["ingest"]["parquet"]["rows"] == result["rows"]
    assert result["ingest"]["csv"]["peak_rss_mb"] > 0
    assert result["pandas"]["read_csv"]["rows"] == result["rows"]
    assert result["append_day"]["rows"] > 0
    assert result["series_scan"]["scanner"] == "tollgate.detect.cost_anomaly.scan"
    assert result["anomalies"]["injected"] == 4
    assert 0.0 <= result["anomalies"]["recall"] <= 1.0
    assert set(result["targets"]) >= {"parquet_ingest_under_15s", "series_scan_under_2s", "append_day_under_1s",
                                      "csv_ingest_faster_than_pandas", "series_scan_10x_pandas"}


@pytest.mark.integration
def test_bench_focus_reuse_keeps_files_and_remakes_stores(tmp_path: Path) -> None:
    first = bench_focus(20_000, 40, workdir=tmp_path, anomalies=3, pandas=False, reuse=True)
    stamp = (tmp_path / "focus.csv").stat().st_mtime_ns
    second = bench_focus(20_000, 40, workdir=tmp_path, anomalies=3, pandas=False, reuse=True)
    assert first["generate_seconds"] is not None and second["generate_seconds"] is None
    assert (tmp_path / "focus.csv").stat().st_mtime_ns == stamp
    # the stores are rebuilt, so the second run ingests every row again instead of skipping a known digest
    assert second["ingest"]["csv"]["rows"] == second["ingest"]["parquet"]["rows"] == first["rows"]
    assert second["append_day"]["rows"] == first["append_day"]["rows"] > 0
    assert second["truth"] == first["truth"] and second["anomalies"]["injected"] == 3
    third = bench_focus(20_000, 40, workdir=tmp_path, seed=8, anomalies=3, pandas=False, reuse=True)
    assert third["generate_seconds"] is not None  # another seed: generated again
