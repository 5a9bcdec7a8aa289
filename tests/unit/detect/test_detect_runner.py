"""NAB runner and file readers on small hand-made NAB folders in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tollgate.detect.detectors import EnsembleDetector, NullDetector
from tollgate.detect.nab_runner import run_detector, score_results, score_results_detail, score_series
from tollgate.errors import InputError, ParseError
from tollgate.sources.nab import epoch_seconds, read_result_file, read_series, read_windows


def stamp(i: int) -> str:
    return f"2014-04-{1 + i // 288:02d} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00"


def write_data(root: Path, n: int = 400, spike: int = 300) -> None:
    (root / "cat").mkdir(parents=True)
    lines = ["timestamp,value"]
    for i in range(n):
        lines.append(f"{stamp(i)},{(100.0 if i == spike else 1.0 + (i % 7) / 10)}")
    (root / "cat" / "spiky.csv").write_text("\n".join(lines))  # no trailing newline, like some NAB files
    (root / "labels").mkdir()
    windows = {"cat/spiky.csv": [[stamp(spike - 10) + ".000000", stamp(spike + 10) + ".000000"]]}
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))


def test_run_writes_nab_layout_one_row_per_input_row(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    write_data(data)
    summary = run_detector(data, out, "tg", EnsembleDetector)
    path = out / "tg" / "cat" / "tg_spiky.csv"
    assert summary.files == 1 and summary.rows == 400 and summary.results_dir == out / "tg"
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score"
    assert len(lines) == 401
    series = read_series(data / "cat" / "spiky.csv")
    written = read_result_file(path)
    assert written.timestamps == series.timestamps
    # Full precision: the scores read back are exactly what a fresh detector produces.
    detector = EnsembleDetector()
    from datetime import UTC, datetime

    again = [
        detector.update(datetime.fromisoformat(t).replace(tzinfo=UTC).timestamp(), v)
        for t, v in zip(series.timestamps, series.values, strict=True)
    ]
    assert list(written.scores) == again
    assert again == score_series(epoch_seconds(series, data / "cat" / "spiky.csv"), series.values, EnsembleDetector)


def test_score_results_rewards_the_detected_spike(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    write_data(data)
    labels = data / "labels" / "combined_windows.json"
    run_detector(data, out, "tg", EnsembleDetector)
    run_detector(data, out, "null", NullDetector)
    scores = score_results(out, "tg", labels)
    assert set(scores) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert scores["standard"] > 80.0  # the spike is the only surprising point and sits mid-window
    assert score_results(out, "null", labels) == {
        "standard": 0.0,
        "reward_low_FP_rate": 0.0,
        "reward_low_FN_rate": 0.0,
    }
    detail = score_results_detail(out, "tg", labels)
    assert detail["standard"].windows == 1 and detail["standard"].tp >= 1


def test_name_with_underscore_is_refused(tmp_path: Path) -> None:
    write_data(tmp_path / "data")
    with pytest.raises(InputError, match="no '_'"):
        run_detector(tmp_path / "data", tmp_path / "out", "my_det", EnsembleDetector)


def test_malformed_csv_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "data" / "cat").mkdir(parents=True)
    bad = tmp_path / "data" / "cat" / "bad.csv"
    bad.write_text("timestamp,value\n2014-04-01 00:00:00,1.0\n2014-04-01 00:05:00,abc\n")
    with pytest.raises(ParseError, match=r"bad\.csv:3: value 'abc' is not a number") as info:
        run_detector(tmp_path / "data", tmp_path / "out", "tg", EnsembleDetector)
    assert info.value.line == 3


def test_bad_timestamp_and_missing_column_are_parse_errors(tmp_path: Path) -> None:
    (tmp_path / "data" / "cat").mkdir(parents=True)
    f = tmp_path / "data" / "cat" / "x.csv"
    f.write_text("timestamp,value\nyesterday,1.0\n")
    with pytest.raises(ParseError, match=r"x\.csv:2: timestamp 'yesterday'"):
        run_detector(tmp_path / "data", tmp_path / "out", "tg", EnsembleDetector)
    f.write_text("time,value\n2014-04-01 00:00:00,1.0\n")
    with pytest.raises(ParseError, match=r"x\.csv:1: header lacks column\(s\) timestamp"):
        read_series(f)


def test_missing_results_for_a_labelled_file_is_an_input_error(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    write_data(data)
    run_detector(data, out, "tg", EnsembleDetector)
    labels = tmp_path / "more.json"
    labels.write_text(json.dumps({"cat/spiky.csv": [], "cat/other.csv": []}))
    with pytest.raises(InputError, match="cat/other.csv"):
        score_results(out, "tg", labels)


def test_labels_json_errors_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "w.json"
    p.write_text("{not json")
    with pytest.raises(ParseError, match=r"w\.json:1"):
        read_windows(p)
    p.write_text(json.dumps({"a/b.csv": [["only-one"]]}))
    with pytest.raises(ParseError, match="start, end"):
        read_windows(p)


def test_out_of_order_timestamp_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "data" / "cat").mkdir(parents=True)
    f = tmp_path / "data" / "cat" / "late.csv"
    f.write_text("timestamp,value\n2014-04-01 00:05:00,1.0\n2014-04-01 00:00:00,2.0\n")
    series = read_series(f)
    with pytest.raises(ParseError, match=r"late\.csv:3: timestamp 2014-04-01 00:00:00 is earlier"):
        epoch_seconds(series, f)
    with pytest.raises(ParseError, match=r"late\.csv:3"):
        run_detector(tmp_path / "data", tmp_path / "out", "tg", EnsembleDetector)


def test_epoch_seconds_reads_naive_stamps_as_utc() -> None:
    from tollgate.sources.nab import Series

    series = Series(("2014-04-01 00:00:00", "2014-04-01 00:05:00", "2014-04-01 01:05:00+01:00"), (1.0, 2.0, 3.0))
    assert epoch_seconds(series, Path("x.csv")) == [1_396_310_400.0, 1_396_310_700.0, 1_396_310_700.0]


def test_a_detector_scoring_outside_the_unit_interval_is_refused() -> None:
    class Loud:
        def update(self, timestamp: float, value: float) -> float:
            return value

    with pytest.raises(InputError, match=r"s\.csv:3: detector returned 2\.0, outside \[0, 1\]"):
        score_series([0.0, 1.0], [0.5, 2.0], Loud, "s.csv")
