"""Anytime-valid sequential tests: error control under continuous monitoring, power, intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tollgate.model.canary import Decision
from tollgate.release.judge.sequential import (
    TailSpec,
    beta_binomial_interval,
    beta_binomial_intervals,
    count_path,
    location_path,
    shift_tests,
    t_mixture_critical,
    tail_path,
    tail_paths,
)


def _bayes_factor(t: float, n: float, g: float) -> float:
    nu = n - 1
    return (1 + n * g) ** -0.5 * ((1 + t * t / nu) / (1 + t * t / (nu * (1 + n * g)))) ** ((nu + 1) / 2)


@pytest.mark.parametrize("n", [20, 100, 1000])
def test_critical_t_is_where_the_bayes_factor_reaches_one_over_alpha(n: int) -> None:
    crit = float(t_mixture_critical(np.array([float(n)]), 0.02, 0.05)[0])
    assert math.isfinite(crit)
    assert _bayes_factor(crit, n, 0.05) == pytest.approx(50.0, rel=1e-6)
    assert _bayes_factor(crit * 0.99, n, 0.05) < 50.0


def test_tiny_samples_cannot_reject() -> None:
    crit = t_mixture_critical(np.array([2.0, 5.0]), 0.02, 0.05)
    assert np.all(np.isinf(crit))


def test_location_false_fails_stay_below_alpha_when_checked_after_every_pair() -> None:
    rng = np.random.default_rng(11)
    fails = 0
    runs = 300
    for _ in range(runs):
        b = rng.normal(100, 20, 400)
        c = rng.normal(100, 20, 400)
        outcome = location_path(b, c, alpha=0.05, direction="either", pass_margin=1e-9, min_samples=2)
        fails += outcome.fail_at is not None  # any crossing, at any of the 400 looks
    assert fails / runs <= 0.05


def test_location_detects_a_ten_percent_shift_and_reports_it() -> None:
    rng = np.random.default_rng(3)
    b = rng.normal(200, 20, 500)
    c = rng.normal(220, 20, 500)
    outcome = location_path(b, c, alpha=0.02, direction="increase", min_samples=20)
    assert outcome.decision is Decision.FAIL and outcome.side == "high"
    assert outcome.samples < 500
    assert outcome.effect is not None
    # The raw-mean interval reported with the failure covers the true +10 %; a robust test decided.
    assert outcome.effect.estimate > 0 and outcome.effect.lower <= 0.10 <= outcome.effect.upper
    assert outcome.rejected_by in {"huber", "sign", "log"}


def test_location_passes_equal_sides_once_the_interval_is_within_the_margin() -> None:
    rng = np.random.default_rng(4)
    b = rng.normal(200, 10, 600)
    c = rng.normal(200, 10, 600)
    outcome = location_path(b, c, alpha=0.02, direction="increase", pass_margin=0.05, min_samples=20)
    assert outcome.decision is Decision.PASS
    assert outcome.effect is not None and outcome.effect.upper < 0.05
    guard = np.zeros(600, bool)
    held = location_path(b, c, alpha=0.02, direction="increase", pass_margin=0.05, pass_guard=guard)
    assert held.decision is Decision.CONTINUE and held.samples == 600


def test_location_respects_direction_and_allowed_increase() -> None:
    rng = np.random.default_rng(5)
    b = rng.normal(100, 5, 300)
    c = rng.normal(80, 5, 300)  # a 20 % drop
    assert location_path(b, c, alpha=0.02, direction="increase").decision is not Decision.FAIL
    low = location_path(b, c, alpha=0.02, direction="decrease")
    assert low.decision is Decision.FAIL and low.side == "low"
    up = location_path(c, b, alpha=0.02, direction="increase", fail_increase=0.5)  # +25 %, 50 % allowed
    assert up.decision is not Decision.FAIL


def test_tail_test_is_exact_under_label_swaps_even_for_autocorrelated_heavy_tails() -> None:
    rng = np.random.default_rng(6)
    fails = 0
    runs = 200
    for _ in range(runs):
        noise = rng.standard_t(2, 1200)
        level = np.cumsum(rng.normal(0, 0.3, 1200))  # a random walk: strongly autocorrelated
        x = (level + noise).reshape(600, 2)
        swap = rng.random(600) < 0.5
        b, c = np.where(swap, x[:, 1], x[:, 0]), np.where(swap, x[:, 0], x[:, 1])
        fails += tail_path(b, c, quantile=0.95, upper=True, alpha=0.05).fail_at is not None
    assert fails / runs <= 0.05


def test_tail_test_catches_a_heavier_canary_tail() -> None:
    rng = np.random.default_rng(8)
    b = rng.normal(100, 10, 600)
    c = rng.normal(100, 10, 600)
    hit = rng.random(600) < 0.06
    c[hit] += rng.uniform(30, 60, hit.sum())
    # 6 % outliers fill the pooled p99 themselves; the p95 test sees them.
    outcome = tail_path(b, c, quantile=0.95, upper=True, alpha=0.005)
    assert outcome.decision is Decision.FAIL
    assert outcome.canary_exceed > 2 * outcome.baseline_exceed
    wider = tail_path(b, 100 + (rng.normal(100, 10, 600) - 100) * 2.0, quantile=0.5, upper=True,
                      alpha=0.005, spread=True)
    assert wider.decision is Decision.FAIL and wider.name == "spread"


def test_count_test_compares_rates() -> None:
    rng = np.random.default_rng(9)
    b = rng.poisson(4.0, 300).astype(float)
    doubled = count_path(b, rng.poisson(8.0, 300).astype(float), alpha=0.02, direction="increase")
    assert doubled.decision is Decision.FAIL
    assert doubled.effect is not None and doubled.effect.lower > 1.0 and doubled.effect.estimate == pytest.approx(
        2.0, rel=0.35)
    same = count_path(b, rng.poisson(4.0, 300).astype(float), alpha=0.02, direction="increase")
    assert same.decision is Decision.PASS
    none = count_path(np.zeros(50), np.zeros(50), alpha=0.02, direction="increase")
    assert none.decision is Decision.CONTINUE and none.effect is None


def test_count_false_fails_stay_below_alpha() -> None:
    rng = np.random.default_rng(10)
    fails = sum(
        count_path(rng.poisson(2.0, 300).astype(float), rng.poisson(2.0, 300).astype(float), alpha=0.05,
                   direction="either", min_samples=1).fail_at is not None
        for _ in range(300)
    )
    assert fails / 300 <= 0.05


def test_beta_binomial_interval_covers_and_shrinks() -> None:
    lo, hi = beta_binomial_interval(50, 100, 0.05)
    assert lo < 0.5 < hi
    lo2, hi2 = beta_binomial_interval(500, 1000, 0.05)
    assert lo < lo2 < 0.5 < hi2 < hi
    assert beta_binomial_interval(0, 0, 0.05) == (0.0, 1.0)
    lo0, hi0 = beta_binomial_interval(0, 40, 0.05)
    assert lo0 == 0.0 and 0 < hi0 < 0.3


def test_robust_shift_tests_keep_their_error_rate_under_spiky_autocorrelated_nulls() -> None:
    """Exchangeable pairs from a spiky AR(1) series: any rejection of any robust test, at any look."""
    rng = np.random.default_rng(11)
    runs, fails = 200, 0
    for _ in range(runs):
        level = np.empty(600)
        level[0] = 0.0
        for i in range(1, 600):
            level[i] = 0.8 * level[i - 1] + rng.normal()
        series = 50 + 5 * level + np.where(rng.random(600) < 0.02, rng.exponential(200, 600), 0.0)
        pairs = series.reshape(300, 2)
        flip = rng.random(300) < 0.5
        b, c = np.where(flip, pairs[:, 0], pairs[:, 1]), np.where(flip, pairs[:, 1], pairs[:, 0])
        tests = shift_tests(b, c, alpha=0.05, direction="either", min_samples=2)
        fails += any(t.fail_at is not None for t in tests)
    assert fails / runs <= 0.05


def test_robust_shift_tests_see_a_ten_percent_shift_through_spikes_the_raw_mean_misses() -> None:
    rng = np.random.default_rng(12)
    base = 100 + rng.normal(0, 5, 300)
    spikes = np.where(rng.random(300) < 0.03, rng.exponential(2000, 300), 0.0)
    b = base + rng.normal(0, 5, 300)
    c = base + rng.normal(0, 5, 300) + 10.0 + spikes  # +10 % with rare huge spikes on the canary only
    tests = {t.name: t for t in shift_tests(b, c, alpha=0.01, direction="increase", min_samples=20)}
    assert set(tests) == {"huber", "sign", "log"}
    assert tests["huber"].fail_at is not None and tests["sign"].fail_at is not None
    assert tests["sign"].above > tests["sign"].below
    raw = location_path(b - 0.0, c, alpha=0.02, direction="increase", min_samples=20)
    assert raw.decision is Decision.FAIL and raw.side == "high" and raw.samples < 300


def test_log_test_is_skipped_for_signed_metrics_and_margins_shift_the_null() -> None:
    rng = np.random.default_rng(13)
    b = rng.normal(0, 1, 200)
    c = rng.normal(0.5, 1, 200)
    names = {t.name for t in shift_tests(b, c, alpha=0.01, direction="increase")}
    assert names == {"huber", "sign"}
    b2 = rng.normal(100, 2, 300)
    c2 = b2 * 1.05 + rng.normal(0, 1, 300)  # +5 %: fails with no margin, not with 10 % allowed
    assert any(t.fail_at for t in shift_tests(b2, c2, alpha=0.01, direction="increase"))
    assert not any(t.fail_at for t in shift_tests(b2, c2, alpha=0.01, direction="increase", fail_increase=0.10))


def _reference_tail_counts(b: np.ndarray, c: np.ndarray, quantile: float, warmup: int = 10) -> tuple[int, int]:
    """Straightforward running-quantile exceedance counts (pool of all earlier pairs, upper tail)."""
    pool: list[float] = []
    k = total = 0
    for bi, ci in zip(b, c, strict=True):
        if len(pool) >= 2 * warmup:
            ordered = sorted(pool)
            h = ordered[min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1)]
            a_c, a_b = ci >= h, bi >= h
            if a_c != a_b:
                total += 1
                k += int(a_c)
        pool += [bi, ci]
    return k, total


def test_vectorised_tail_thresholds_match_a_running_quantile_and_batching_changes_nothing() -> None:
    rng = np.random.default_rng(21)
    b = rng.lognormal(3, 0.5, 150)
    c = rng.lognormal(3, 0.5, 150) * np.where(rng.random(150) < 0.1, 3.0, 1.0)
    for q in (0.95, 0.99):
        single = tail_path(b, c, quantile=q, upper=True, alpha=0.01)
        at = single.samples  # the decision, or all pairs
        k, total = _reference_tail_counts(b[:at], c[:at], q)
        assert single.effect is not None and total > 0
        # the reported exceedance ratio is (k + 1/2) / (total - k + 1/2) at that moment
        assert single.effect.estimate == pytest.approx((k + 0.5) / (total - k + 0.5))
    specs = [TailSpec(0.95), TailSpec(0.99), TailSpec(0.95, upper=False), TailSpec(0.5, spread=True)]
    together = tail_paths(b, c, specs, alpha=0.01)
    for spec, joint in zip(specs, together, strict=True):
        alone = tail_path(b, c, quantile=spec.quantile, upper=spec.upper, spread=spec.spread, alpha=0.01)
        assert joint.name == alone.name == spec.name
        assert (joint.fail_at, joint.canary_exceed, joint.baseline_exceed) == (
            alone.fail_at, alone.canary_exceed, alone.baseline_exceed)
        np.testing.assert_allclose(joint.log_e, alone.log_e)


def test_interval_batch_matches_single_calls_and_errs_wide() -> None:
    ks = np.array([0.0, 3.0, 50.0, 40.0, 12.5])
    ts = np.array([0.0, 40.0, 100.0, 40.0, 30.2])
    lo, hi = beta_binomial_intervals(ks, ts, 0.05)
    assert (lo[0], hi[0]) == (0.0, 1.0)
    for i in range(1, len(ks)):
        assert (lo[i], hi[i]) == beta_binomial_interval(float(ks[i]), float(ts[i]), 0.05)
        p_hat = ks[i] / ts[i]
        assert lo[i] <= p_hat <= hi[i]
    assert hi[3] == 1.0  # 40 of 40: the interval reaches 1
    # Symmetric counts give a symmetric interval around 1/2, a little wider than the exact 0.3446..0.6554.
    assert lo[2] <= 0.3446 and hi[2] >= 0.6554 and lo[2] == pytest.approx(1 - hi[2], abs=1e-9)
