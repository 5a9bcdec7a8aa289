"""Kayenta-compatible fixed-horizon Mann-Whitney: statistic, interval, effect sizes and rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tollgate.release.judge.mannwhitney import (
    MannWhitneyResult,
    cles,
    constant_noise,
    mann_whitney,
    mean_ratio,
    significance,
)


def test_p_value_matches_scipys_asymptotic_test_with_ties() -> None:
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(10.5, 2, 80))  # rounding makes ties
    y = np.round(rng.normal(10.0, 2, 90))
    ours = mann_whitney(x, y)
    ref = stats.mannwhitneyu(x, y, alternative="two-sided", use_continuity=True, method="asymptotic")
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_estimate_is_the_median_of_pairwise_differences_and_the_interval_inverts_the_test() -> None:
    rng = np.random.default_rng(2)
    x = rng.exponential(3.0, 60) + 1.0
    y = rng.exponential(3.0, 70)
    result = mann_whitney(x, y, confidence=0.98)
    assert result.estimate == pytest.approx(float(np.median(np.subtract.outer(x, y))))
    assert result.lower < result.estimate < result.upper
    # Shifts inside the interval are not rejected at 2 %, shifts clearly outside are.
    for shift, rejected in ((result.lower + 1e-6, False), (result.upper - 1e-6, False),
                            (result.lower - 0.3, True), (result.upper + 0.3, True)):
        p = stats.mannwhitneyu(x - shift, y, alternative="two-sided", method="asymptotic").pvalue
        assert bool(p < 0.02) is rejected, (shift, p)


def test_effect_sizes() -> None:
    x = np.array([2.0, 4.0, 6.0])
    y = np.array([1.0, 2.0, 3.0])
    assert mean_ratio(x, y) == pytest.approx(2.0)
    assert math.isnan(mean_ratio(x, np.zeros(3)))
    # Pairs x > y: 2>1, 4>1,2,3, 6>1,2,3 = 7 wins, one tie (2,2) -> (7 + 0.5) / 9
    assert cles(x, y) == pytest.approx(7.5 / 9)


def test_kayenta_rule_needs_the_interval_to_clear_a_quarter_of_the_estimate() -> None:
    clear = MannWhitneyResult(estimate=10.0, lower=3.0, upper=15.0, p_value=0.001, confidence=0.98)
    near = MannWhitneyResult(estimate=10.0, lower=2.0, upper=15.0, p_value=0.01, confidence=0.98)
    gates = {"allowed_increase": 1.0, "allowed_decrease": 1.0}
    assert significance(clear, 1.2, direction="either", **gates) == "High"
    assert significance(near, 1.2, direction="either", **gates) == "Pass"  # 2.0 < 0.25 * 10
    assert significance(clear, 1.2, direction="decrease", **gates) == "Pass"
    assert significance(clear, 1.05, direction="increase", allowed_increase=1.1, allowed_decrease=1.0) == "Pass"
    assert significance(clear, math.nan, direction="increase", allowed_increase=1.1, allowed_decrease=1.0) == "High"
    low = MannWhitneyResult(estimate=-10.0, lower=-15.0, upper=-3.0, p_value=0.001, confidence=0.98)
    assert significance(low, 0.8, direction="either", **gates) == "Low"


def test_constant_samples_get_tiny_reproducible_noise() -> None:
    x, y = np.full(20, 5.0), np.full(20, 4.0)
    nx, ny = constant_noise(x, y)
    assert np.all(np.abs(nx - 5.0) < 5.0 * 1e-5 * 6) and len(np.unique(nx)) == 20
    again = constant_noise(x, y)
    assert np.array_equal(again[0], nx) and np.array_equal(again[1], ny)
    result = mann_whitney(nx, ny)
    assert result.lower > 0.99 and result.estimate == pytest.approx(1.0, abs=1e-3)


def test_all_ties_and_empty_samples_raise() -> None:
    with pytest.raises(ValueError, match="tied"):
        mann_whitney(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney(np.ones(5), np.ones(0))
