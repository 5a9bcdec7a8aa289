"""The judge's outputs on a few hundred generated cases equal the pinned ones (see _judge_regression_cases)."""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import numpy as np
import pytest
from _judge_regression_cases import FIXTURE, interval_inputs, run_all, run_intervals

from tollgate.release.judge.sequential import _log_lr_point

REL = 1e-9


@pytest.fixture(scope="module")
def pinned() -> dict[str, Any]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    return run_all()


def _close(old: Any, new: Any, path: str) -> None:
    """Equal structure, equal strings/ints/bools, floats within REL relative."""
    if isinstance(old, float) and isinstance(new, float):
        assert math.isclose(old, new, rel_tol=REL, abs_tol=1e-300), f"{path}: {old!r} != {new!r}"
    elif isinstance(old, list):
        assert isinstance(new, list) and len(old) == len(new), f"{path}: {old!r} != {new!r}"
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _close(a, b, f"{path}[{i}]")
    elif isinstance(old, dict):
        assert isinstance(new, dict) and old.keys() == new.keys(), f"{path}: keys differ"
        for key in old:
            _close(old[key], new[key], f"{path}.{key}")
    else:
        assert old == new, f"{path}: {old!r} != {new!r}"


def test_every_case_matches_the_pinned_judgement(pinned: dict[str, Any], current: dict[str, Any]) -> None:
    cases = {k: v for k, v in pinned.items() if not k.startswith("_")}
    assert len(cases) > 300
    assert {k for k in current if not k.startswith("_")} == set(cases)
    # The cases exercise every outcome, so a pinned verdict is not one trivial label.
    verdicts = {v["verdict"] for v in cases.values()}
    labels = {m["classification"] for v in cases.values() for m in v["metrics"]}
    assert verdicts == {"pass", "fail", "inconclusive"}
    assert {"Pass", "High", "Low", "Inconclusive"} <= labels
    for case_id, old in cases.items():
        _close(old, current[case_id], case_id)


def test_beta_binomial_intervals_stay_within_their_rounding_and_conservative(pinned: dict[str, Any]) -> None:
    """Interval ends may move by the documented ~1e-5 rounding, and always exclude only excluded p."""
    k, total, alphas = interval_inputs()
    now = run_intervals()
    assert now.keys() == pinned["_intervals"].keys()
    for alpha in alphas:
        old_lo, old_hi = (np.asarray(v) for v in pinned["_intervals"][repr(alpha)])
        lo, hi = (np.asarray(v) for v in now[repr(alpha)])
        np.testing.assert_allclose(lo, old_lo, rtol=0, atol=2e-5)
        np.testing.assert_allclose(hi, old_hi, rtol=0, atol=2e-5)
        threshold = math.log(1.0 / alpha)
        rows = total > 0
        # Outward rounding: just outside each end (where it is not 0 or 1) the LR is at the threshold or above.
        inner_lo = rows & (lo > 0)
        inner_hi = rows & (hi < 1)
        assert np.all(_log_lr_point(k[inner_lo], total[inner_lo], lo[inner_lo]) >= threshold - 1e-9)
        assert np.all(_log_lr_point(k[inner_hi], total[inner_hi], hi[inner_hi]) >= threshold - 1e-9)
        # ...and the interval holds the estimate.
        p_hat = k[rows] / total[rows]
        assert np.all((lo[rows] <= p_hat + 1e-12) & (p_hat - 1e-12 <= hi[rows]))


def test_fifth_percentile_matches_numpy_bit_for_bit() -> None:
    from tollgate.release.judge.sequential import _percentile_5

    rng = np.random.default_rng(5)
    for n in range(1, 41):
        for _ in range(20):
            x = rng.lognormal(0.0, 2.0, n)
            if n % 3 == 0:
                x = np.round(x) + 1.0  # ties
            assert _percentile_5(x) == float(np.percentile(x, 5))


def test_cached_layouts_cannot_be_changed_by_a_caller() -> None:
    from tollgate.release.judge.sequential import _counting, _refresh_layout, _scale_layout

    for arr in (_counting(50), *_refresh_layout(50, 10), *_scale_layout(50, 10)):
        with pytest.raises(ValueError):
            arr[0] = 7
    assert _counting(50)[0] == 1.0 and _counting(50)[-1] == 50.0
