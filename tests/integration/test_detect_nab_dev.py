"""The detector and scorer end to end on the real NAB dev split (../shared/data/nab)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tollgate.detect import bench_nab, get_detector, run_detector, score_results
from tollgate.sources.nab import read_series

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "nab"
LABELS = DATA / "labels" / "combined_windows.json"

pytestmark = pytest.mark.integration


def test_null_detector_scores_zero_on_every_profile(tmp_path: Path) -> None:
    summary = run_detector(DATA, tmp_path, "null", get_detector("null"))
    assert summary.files == 34
    assert summary.rows == 121_702  # the README's row count of the dev split
    assert score_results(tmp_path, "null", LABELS) == {
        "standard": 0.0,
        "reward_low_FP_rate": 0.0,
        "reward_low_FN_rate": 0.0,
    }


def test_ensemble_on_dev_split_writes_layout_and_beats_simple_baselines(tmp_path: Path) -> None:
    scores = bench_nab(DATA, tmp_path, name="tollgate")
    out = tmp_path / "tollgate" / "realAdExchange" / "tollgate_exchange-2_cpc_results.csv"
    with out.open() as handle:
        rows = list(csv.reader(handle))
    source = read_series(DATA / "realAdExchange" / "exchange-2_cpc_results.csv")
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert [r[0] for r in rows[1:]] == list(source.timestamps)
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows[1:])
    # Published dev-split baselines (reference §6): windowedGaussian 35.02 / 16.66 / 43.35,
    # relativeEntropy 46.35 / 39.24 / 50.23, knncad 60.96 / 51.05 / 65.97. The ensemble reaches
    # 75.56 / 69.41 / 79.71 on this split (floors just below; the targets are 75 / 69 / 78).
    assert scores["standard"].score > 75.3
    assert scores["reward_low_FP_rate"].score > 69.1
    assert scores["reward_low_FN_rate"].score > 79.4
    assert scores["standard"].windows == 50


@pytest.fixture(scope="module")
def current_scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default ensemble's dev-split scores, computed once for the comparisons below."""
    return dict(bench_nab(DATA, tmp_path_factory.mktemp("nab-current"), name="tollgate"))


# Each earlier version, the scores it published (still what it scores), and what changed after it.
EARLIER = [
    ("ensemble-v1", [59.56, 47.89, 65.71], "first version"),
    ("ensemble-v2", [71.53, 61.48, 77.02], "before the drift view"),
    ("ensemble-v3", [73.28, 66.01, 78.19], "before sequence novelty needed corroboration"),
    ("ensemble-v4", [74.71, 67.43, 79.14], "before range breaks were graded by the seasonal envelope"),
    ("ensemble-v5", [75.24, 68.73, 79.49], "before sequence-only alarms were weighed by the series' track record"),
]


@pytest.mark.parametrize(("version", "published", "_what"), EARLIER, ids=[e[0] for e in EARLIER])
def test_ensemble_improves_on_each_earlier_version_on_every_profile(
        tmp_path: Path, current_scores: dict[str, Any], version: str, published: list[float], _what: str) -> None:
    old = bench_nab(DATA, tmp_path, name=version.replace("-", ""), detector_factory=get_detector(version))
    for profile, score in current_scores.items():
        assert score.score > old[profile].score, profile
    assert [round(s.score, 2) for s in old.values()] == published
