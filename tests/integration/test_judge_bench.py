"""The canary benchmark on the NAB development series (real data from the shared data folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.errors import InputError
from tollgate.release.judge.bench import CONTINUOUS_TYPES, COUNT_TYPES, bench_canary

pytestmark = pytest.mark.integration

NAB = (Path(__file__).resolve().parents[2] / "../shared/data/nab").resolve()


def test_small_bench_run_reports_both_judges() -> None:
    result = bench_canary(NAB, seed=3, cases_per_type=10, horizon=300)
    types = [*CONTINUOUS_TYPES, *COUNT_TYPES]
    assert result["cases"] == {"regressions": 10 * len(types), "nulls": 10 * len(types), "per_type": 10}
    seq, mw = result["sequential"], result["mannwhitney"]
    assert set(seq["power"]) == set(types) == set(mw["power"])
    # Large regressions are caught by both, and nulls rarely fail.
    assert seq["power"]["shift_20"] >= 0.6 and mw["power"]["shift_20"] >= 0.6
    assert seq["power"]["errors_x2"] >= 0.75
    assert seq["false_fail_rate"] <= 0.05
    # The sequential judge decides early; the fixed-horizon one always uses the whole window.
    assert 0 < seq["median_decision_fraction"] < 1.0 and mw["decision_fraction"] == 1.0
    for kind in types:
        total = seq["power"][kind] + seq["missed_as_pass"][kind] + seq["inconclusive"][kind]
        assert total == pytest.approx(1.0, abs=1e-3)


def test_bench_needs_the_nab_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="NAB category folder not found"):
        bench_canary(tmp_path)
