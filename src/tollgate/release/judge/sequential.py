"""Anytime-valid sequential tests for canary metrics.

All three tests read baseline and canary as *aligned pairs* (sample i of each side was taken at the
same time, as a Prometheus ``query_range`` over one window and step gives) and may be checked after
every pair without inflating false alarms: each is built on a nonnegative (super)martingale under the
null, so by Ville's inequality the chance that it *ever* crosses ``1/alpha`` is at most ``alpha``.

* :func:`location_path` -- the shift of the canary level. It *fails* through :func:`shift_tests`: three
  robust paired tests (Huber-clipped differences, signs of the differences, log ratios) whose scores
  have mean zero when the canary is no worse than the margin, each tested with the scale-invariant
  Gaussian-mixture Bayes factor of the one-sample t-test (normal prior ``N(0, g)`` on the standardised
  effect, right-Haar prior on the scale; Lai 1976, Pérez-Ortiz et al. 2022) at an even share of the
  failing alpha (Bonferroni). It *passes*, and reports its effect, with the same t-mixture confidence
  sequence for the mean of the raw paired differences ``d = canary - baseline``. Pairing removes the
  load both sides share at each instant; the robust scores keep one spike from swamping the evidence
  (the raw-mean test alone caught 78 % of 10 % shifts on the benchmark, the robust ones 97 %). Serial
  correlation is allowed for by an AR(1) variance inflation (a heuristic: it shrinks the effective
  sample size by ``(1 - r1) / (1 + r1)``).
* :func:`tail_path` -- tail exceedance (p95/p99). Each pair is compared with the pooled quantile of all
  *earlier* pairs; among pairs where exactly one side exceeds it, the canary side is, under the null
  that a pair's two labels are exchangeable, a fair coin. A one-sided binomial mixture likelihood ratio
  (uniform prior on ``p`` in [1/2, 1]) tests it. Exact under that null whatever the series look like
  (autocorrelated, heavy-tailed, non-stationary). The pooled quantile includes canary samples, so a
  canary with more than ~1 % outliers lifts the pooled p99 into its own tail: the p95 test catches those.
* :func:`count_path` -- event counts (errors). Given the total count of a pair, the canary's share is
  binomial with ``p = 1/2`` when both sides have the same rate and exposure (Poisson). A beta-mixture
  confidence sequence for ``p`` gives the rate ratio ``p / (1 - p)``; counts are divided by an
  estimated over-dispersion factor (Pearson chi-square / df, at least 1) so bursty data does not
  pass for evidence.

Each path function returns the decisions over time; :class:`SequentialOutcome` holds when the first
fail/pass happened and the effect with its interval at that moment.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import special  # type: ignore[import-untyped]

from tollgate.model.canary import Decision, Effect
from tollgate.release.judge.preprocess import FloatArray

__all__ = [
    "DEFAULT_MIXTURE_G",
    "SequentialOutcome",
    "ShiftTest",
    "TailOutcome",
    "beta_binomial_interval",
    "beta_binomial_intervals",
    "count_path",
    "location_path",
    "shift_tests",
    "t_mixture_log_bf",
    "t_mixture_log_bf_rows",
    "t_mixture_critical",
    "TailSpec",
    "tail_path",
    "tail_paths",
]

Direction = Literal["increase", "decrease", "either"]

#: Prior variance of the standardised effect in the t-mixture; tuned on the canary benchmark (a
#: smaller g is tighter for small effects late, a larger one for large effects early).
DEFAULT_MIXTURE_G = 0.05
#: The robust location tests, in reporting order; ``alpha`` is split evenly between them.
ROBUST_TESTS = ("huber", "sign", "log")
#: Huber clipping point, in robust scales (about 95 % efficiency for normal noise).
HUBER_K = 1.5
#: Pairs before the Huber scale is first estimated (and its refresh step).
SCALE_WARMUP = 10
#: A pass waits while a robust test's log Bayes factor is above this share of its failing threshold.
ROBUST_GUARD_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class SequentialOutcome:
    """A sequential test's decision over the data it saw.

    ``decision`` is the first of fail/pass reached at or after ``min_samples`` pairs (fail wins a
    tie), else ``continue``; ``samples`` is the pair count at that moment (all pairs when undecided);
    ``effect`` is the estimate and confidence-sequence interval at that moment. ``fail_at`` and
    ``pass_at`` are the first pair counts where each condition held (None if never), ``critical`` is
    true when the failure also exceeded the critical effect size. ``evidence`` is an e-value (the
    largest the test reached), where defined.
    """

    decision: Decision
    samples: int
    effect: Effect | None
    fail_at: int | None
    pass_at: int | None
    critical: bool = False
    evidence: float | None = None
    side: Literal["high", "low"] | None = None
    tests: tuple[ShiftTest, ...] = ()
    rejected_by: str | None = None


@dataclass(frozen=True, slots=True)
class TailOutcome:
    """A tail test: ``fail_at`` the first pair count where it rejected, counts of exceedances."""

    name: str
    decision: Decision
    samples: int
    fail_at: int | None
    canary_exceed: int
    baseline_exceed: int
    effect: Effect | None
    evidence: float
    log_e: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)


def _first(mask: NDArray[np.bool_], start: int) -> int | None:
    """1-based pair count of the first True at or after ``start`` pairs."""
    idx = np.flatnonzero(mask[max(start, 1) - 1 :])
    return int(idx[0]) + max(start, 1) if len(idx) else None


def t_mixture_critical(n: FloatArray, alpha: float, g: float = DEFAULT_MIXTURE_G) -> FloatArray:
    """Critical |t| of the t-mixture test at (effective) sample sizes ``n``: inf where it cannot reject.

    Solves ``BF(t) = 1/alpha`` for ``BF = (1+ng)^(-1/2) [(1 + t²/ν) / (1 + t²/(ν(1+ng)))]^((ν+1)/2)``,
    ``ν = n - 1``, in closed form.
    """
    n = np.asarray(n, dtype=np.float64)
    nu = np.maximum(n - 1.0, 1e-9)
    big = 1.0 + n * g
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        k = np.exp((2.0 / (nu + 1.0)) * (math.log(1.0 / alpha) + 0.5 * np.log(big)))
        u = (k - 1.0) / (1.0 - k / big)
        crit = np.sqrt(u * nu)
    result: FloatArray = np.where((k < big) & (n >= 2), crit, np.inf)
    return result


def _directions(direction: Direction) -> tuple[bool, bool]:
    return direction in ("increase", "either"), direction in ("decrease", "either")


@functools.lru_cache(maxsize=64)
def _counting(n: int) -> FloatArray:
    """1.0, 2.0, ..., n (read-only, cached per length)."""
    counts = np.arange(1, n + 1, dtype=np.float64)
    counts.flags.writeable = False
    return counts


def _running_moments(x: FloatArray, n: FloatArray | None = None) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Running mean (centred on ``x[0]``), variance and AR(1) variance inflation of ``x``; and the centre.

    ``n`` is ``1..len(x)`` if the caller has it.
    """
    if n is None:
        n = _counting(len(x))
    shift = float(x[0])
    dc = x - shift  # centred on the first value to keep precision for large values
    s1 = np.cumsum(dc)
    s2 = np.cumsum(dc * dc)
    mean_c = s1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(s2 - n * mean_c * mean_c, 0.0) / np.maximum(n - 1.0, 1.0)
        # Lag-1 autocorrelation of x around the running mean.
        lag = np.zeros(len(x))
        np.cumsum(dc[1:] * dc[:-1], out=lag[1:])
        prev_sum = np.zeros(len(x))  # sum of x_1..x_{t-1}
        prev_sum[1:] = s1[:-1]
        next_sum = s1 - dc[0]  # sum of x_2..x_t
        n1 = n - 1.0
        cross = lag - mean_c * (prev_sum + next_sum) + n1 * mean_c * mean_c
        r1 = np.where(var > 0, cross / np.maximum(var * n1, 1e-300), 0.0)
    r1 = np.minimum(np.fmax(r1, 0.0), 0.9)  # NaN counts as 0
    inflation: FloatArray = (1.0 + r1) / (1.0 - r1)
    return mean_c, var, inflation, shift


def t_mixture_log_bf(x: FloatArray, g: float = DEFAULT_MIXTURE_G) -> tuple[FloatArray, FloatArray]:
    """Running log Bayes factor of the t-mixture against "mean of ``x`` is 0", and the running mean.

    ``BF = (1+ng)^(-1/2) [(1 + t²/ν) / (1 + t²/(ν(1+ng)))]^((ν+1)/2)`` with the AR(1)-deflated sample
    size ``n`` and ``ν = n - 1``; ``-inf`` where the variance is still zero or fewer than two samples.
    Under a zero mean the chance that it ever exceeds ``log(1/alpha)`` is at most ``alpha`` (either sign).
    """
    n = _counting(len(x))
    mean_c, var, inflation, centre = _running_moments(x, n)
    mean: FloatArray = mean_c + centre
    n_eff = n / inflation
    nu = np.maximum(n_eff - 1.0, 1e-9)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t2 = mean * mean / (var * inflation / n)
        big = 1.0 + n_eff * g
        log_bf = -0.5 * np.log(big) + 0.5 * (nu + 1.0) * (np.log1p(t2 / nu) - np.log1p(t2 / (nu * big)))
    ok = (var > 0) & (n_eff >= 2) & np.isfinite(log_bf)
    result: FloatArray = np.where(ok, log_bf, -np.inf)
    return result, mean


@functools.lru_cache(maxsize=64)
def _scale_layout(n: int, warmup: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Refresh points of the predictable scale, where each prefix starts in the flattened membership
    list, and how many pairs each refreshed value covers (cached per length)."""
    points = [warmup]
    while points[-1] < n:
        points.append(points[-1] + max(SCALE_WARMUP, points[-1] // 20))
    js = np.asarray(points[:-1], dtype=np.int64)
    starts = np.cumsum(js) - js
    spans = np.asarray([*points[1:-1], n], dtype=np.int64) - js
    for arr in (js, starts, spans):
        arr.flags.writeable = False
    return js, starts, spans


def _predictable_scale(d: FloatArray, warmup: int = SCALE_WARMUP) -> FloatArray:
    """Robust scale of ``d`` from earlier pairs only: median |d| / 0.6745, refreshed every few pairs.

    Measured about 0 (not the median) so a pure shift does not shrink it; nan before ``warmup`` pairs.
    """
    n = len(d)
    scale = np.full(n, np.nan)
    if n <= warmup:
        return scale
    js, starts, spans = _scale_layout(n, warmup)
    # Lower median of |d| over each prefix d[:j], from one sort (as in _pooled_order): the sorted
    # positions of each prefix's members, prefix after prefix.
    mags = np.abs(d)
    order = np.argsort(mags, kind="stable")
    members = np.flatnonzero(order[None, :] < js[:, None])
    pos = members[starts + (js + 1) // 2 - 1] - np.arange(len(js)) * n
    med = mags[order[pos]] / 0.6745
    csum = np.cumsum(d * d)
    rms = np.sqrt(csum[js - 1] / js)
    s = np.where(med > 0, med, rms)
    s = np.where(s > 0, s, np.nan)
    scale[warmup:] = np.repeat(s, spans)
    return scale


@dataclass(frozen=True, slots=True)
class ShiftTest:
    """One robust paired test of a location shift (``huber``, ``sign`` or ``log``) and one side.

    ``fail_at`` is the first pair count where it rejected "no shift beyond the margin" (None if
    never); ``evidence`` its Bayes factor when it failed (else the largest it reached); ``log_e`` the
    running log Bayes factor in the failing direction (0 where the estimate leans the other way);
    ``above``/``below`` the pairs where the canary was above / below the baseline (after the margin) up
    to its decision.
    """

    name: str
    side: Literal["high", "low"]
    fail_at: int | None
    evidence: float
    above: int
    below: int
    log_e: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)


def _percentile_5(x: FloatArray) -> float:
    """``np.percentile(x, 5)`` (linear interpolation, numpy's arithmetic) of a short nonempty array."""
    ordered = np.sort(x)
    virtual = (len(ordered) - 1) * 0.05
    i = math.floor(virtual)
    t = virtual - i
    a, b = float(ordered[i]), float(ordered[min(i + 1, len(ordered) - 1)])
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


def _log_offset(b: FloatArray, c: FloatArray) -> float | None:
    """ε of the ``log`` scores (5th percentile of the positive early samples); None if they do not apply."""
    if (b < 0).any() or (c < 0).any():
        return None
    head = np.concatenate([b[: 2 * SCALE_WARMUP], c[: 2 * SCALE_WARMUP]])
    positive = head[head > 0]
    if len(positive) == 0:
        return None
    return _percentile_5(positive)


def _side_scores(b: FloatArray, c: FloatArray, margin: float, side: str, ref: FloatArray, eps: float | None
                 ) -> list[tuple[str, FloatArray]]:
    """Per-pair scores of each robust test (in ``ROBUST_TESTS`` order) whose mean is 0 under "shift
    equals the margin": positive means canary worse."""
    sign = 1.0 if side == "high" else -1.0
    d = c - b - sign * margin * ref
    scale = _predictable_scale(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        huber: FloatArray = np.minimum(np.maximum(d / scale, -HUBER_K), HUBER_K)  # NaN (no scale yet) stays
    out = [("huber", huber), ("sign", np.sign(d))]
    if eps is not None and not (side == "low" and margin >= 1.0):
        bound = math.log1p(margin) if side == "high" else math.log1p(-margin)
        out.append(("log", np.log(c + eps) - np.log(b + eps) - bound))
    return out


def shift_tests(
    baseline: FloatArray,
    canary: FloatArray,
    *,
    alpha: float,
    direction: Direction,
    fail_increase: float = 0.0,
    fail_decrease: float = 0.0,
    min_samples: int = 20,
    g: float = DEFAULT_MIXTURE_G,
) -> tuple[ShiftTest, ...]:
    """Robust paired tests that the canary's level moved beyond the allowed margin.

    Three transforms of the aligned pairs, each tested with the t-mixture Bayes factor (with its AR(1)
    allowance) and ``alpha`` split evenly between them and the tested sides:

    * ``huber``: ``d = canary - baseline - margin·ref`` clipped at ±1.5 robust scales of earlier pairs
      (efficient for near-normal noise, unmoved by spikes);
    * ``sign``: the sign of ``d`` (holds for any noise shape, discrete values, heavy tails);
    * ``log``: ``log(canary + ε) - log(baseline + ε) - log(1 + margin)`` for nonnegative metrics
      (ratio effects on skewed, multiplicative metrics).

    ``ref`` is the running mean of |baseline|, so margins are fractions of the baseline level.
    """
    n_pairs = min(len(baseline), len(canary))
    if n_pairs < 2:
        return ()
    b = baseline[:n_pairs]
    running_ref = np.abs(np.cumsum(b) / _counting(n_pairs))
    return _shift_tests(b, canary[:n_pairs], running_ref, alpha=alpha, direction=direction,
                        fail_increase=fail_increase, fail_decrease=fail_decrease, min_samples=min_samples, g=g)


def _shift_tests(
    b: FloatArray,
    c: FloatArray,
    running_ref: FloatArray,
    *,
    alpha: float,
    direction: Direction,
    fail_increase: float,
    fail_decrease: float,
    min_samples: int,
    g: float,
) -> tuple[ShiftTest, ...]:
    """:func:`shift_tests` of aligned pairs (at least two) with the running mean of |baseline| given."""
    n_pairs = len(b)
    up, down = _directions(direction)
    sides = [s for s, on in (("high", up), ("low", down)) if on]
    threshold = math.log(1.0 / (alpha / (len(ROBUST_TESTS) * len(sides))))
    ref = np.empty(n_pairs)
    ref[0] = running_ref[0]
    ref[1:] = running_ref[:-1]  # earlier pairs only
    eps = _log_offset(b, c)
    # With equal margins both sides share one score row (the Bayes factor is two-sided).
    shared = len(sides) == 2 and fail_increase == fail_decrease == 0.0
    names: list[str] = []
    scores: list[FloatArray] = []
    out_row: list[int] = []
    out_side: list[str] = []
    for side in sides[:1] if shared else sides:
        margin = fail_increase if side == "high" else fail_decrease
        for name, row in _side_scores(b, c, margin, side, ref, eps):
            for row_side in sides if shared else (side,):
                out_row.append(len(names))
                out_side.append(row_side)
            names.append(name)
            scores.append(row)
    rows = np.stack(scores)
    log_bf, mean = t_mixture_log_bf_rows(rows, g)
    # One line per (row, side) reported: the failing direction's evidence and counts.
    sel = np.asarray(out_row)
    signs = np.asarray([1.0 if s == "high" else -1.0 for s in out_side])[:, None]
    lbf = log_bf[sel]
    leaning = signs * mean[sel] > 0
    log_e = np.where(leaning, np.maximum(lbf, 0.0), 0.0)
    hits = (lbf >= threshold) & leaning
    hits[:, : max(min_samples, 1) - 1] = False
    at = np.arange(len(sel))
    first = hits.argmax(axis=1)
    failed = hits[at, first]
    upto = np.where(failed, first + 1, n_pairs)
    top = np.where(failed, log_e[at, first], log_e.max(axis=1))
    dd = signs * rows[sel]
    before = np.arange(n_pairs)[None, :] < upto[:, None]
    above = ((dd > 0) & before).sum(axis=1)
    below = ((dd < 0) & before).sum(axis=1)
    return tuple(
        ShiftTest(names[r], "high" if s == "high" else "low", int(upto[j]) if failed[j] else None,
                  math.exp(min(float(top[j]), 700.0)), int(above[j]), int(below[j]), log_e[j])
        for j, (r, s) in enumerate(zip(out_row, out_side, strict=True))
    )


def t_mixture_log_bf_rows(x: FloatArray, g: float = DEFAULT_MIXTURE_G) -> tuple[FloatArray, FloatArray]:
    """:func:`t_mixture_log_bf` of every row of ``x`` at once; NaN marks samples not yet available.

    NaNs may only form a prefix of a row (a score that needs a warm-up); the statistics of a row
    start at its first finite value. For bounded scores (no centring needed).
    """
    valid = np.isfinite(x)
    xv = np.where(valid, x, 0.0)
    cnt = valid.cumsum(axis=1, dtype=np.float64)
    s1 = np.cumsum(xv, axis=1)
    s2 = np.cumsum(xv * xv, axis=1)
    first = xv[np.arange(len(x)), valid.argmax(axis=1)][:, None]
    lag = np.zeros(x.shape)
    np.cumsum(xv[:, 1:] * xv[:, :-1], axis=1, out=lag[:, 1:])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = s1 / cnt
        cnt1 = cnt - 1.0
        var = np.maximum(s2 - cnt * mean * mean, 0.0) / np.maximum(cnt1, 1.0)
        cross = lag - mean * ((s1 - xv) + (s1 - first)) + cnt1 * mean * mean
        r1 = np.where(var > 0, cross / np.maximum(var * cnt1, 1e-300), 0.0)
        r1 = np.minimum(np.fmax(r1, 0.0), 0.9)  # NaN counts as 0
        inflation = (1.0 + r1) / (1.0 - r1)
        n_eff = cnt / inflation
        nu = np.maximum(n_eff - 1.0, 1e-9)
        t2 = mean * mean / (var * inflation / cnt)
        big = 1.0 + n_eff * g
        log_bf = -0.5 * np.log(big) + 0.5 * (nu + 1.0) * (np.log1p(t2 / nu) - np.log1p(t2 / (nu * big)))
    ok = (var > 0) & (n_eff >= 2) & np.isfinite(log_bf) & valid
    result: FloatArray = np.where(ok, log_bf, -np.inf)
    mean_out: FloatArray = np.where(valid, mean, 0.0)  # finite wherever valid (bounded scores)
    return result, mean_out


def location_path(
    baseline: FloatArray,
    canary: FloatArray,
    *,
    alpha: float,
    direction: Direction,
    fail_increase: float = 0.0,
    fail_decrease: float = 0.0,
    pass_margin: float = 0.10,
    critical_increase: float | None = None,
    critical_decrease: float | None = None,
    min_samples: int = 20,
    g: float = DEFAULT_MIXTURE_G,
    confidence: float | None = None,
    pass_guard: NDArray[np.bool_] | None = None,
) -> SequentialOutcome:
    """Sequential test of the canary's mean shift, relative to the baseline mean.

    Margins are fractions of the baseline mean: it fails High once a robust shift test
    (:func:`shift_tests`, at ``alpha / 2``) rejects "at most ``+fail_increase``" (Low: "at least
    ``-fail_decrease``"), and passes once the harmful side of the raw mean's interval is within
    ``pass_margin`` (at least the fail margin) and no robust test is halfway to failing. A failure is
    critical when the point estimate reaches ``critical_*`` (Kayenta's rule). ``alpha`` is the two-sided
    error of the confidence sequence.
    ``pass_guard`` (one flag per pair) allows a pass only where it is true: other tests use it to hold
    a pass back while they lean towards failing.
    """
    n_pairs = min(len(baseline), len(canary))
    b = baseline[:n_pairs]
    d = canary[:n_pairs] - b
    if n_pairs < 2:
        return SequentialOutcome(Decision.CONTINUE, n_pairs, None, None, None)
    n = _counting(n_pairs)
    mean_c, var, inflation, shift = _running_moments(d, n)
    n_eff = n / inflation
    crit = t_mixture_critical(n_eff, alpha, g)
    with np.errstate(invalid="ignore"):
        radius = crit * np.sqrt(var * inflation / n)
    radius = np.where(var > 0, radius, np.inf)
    mean = mean_c + shift
    low_end, high_end = mean - radius, mean + radius
    lower = np.maximum.accumulate(np.where(np.isnan(low_end), -np.inf, low_end))
    upper = np.minimum.accumulate(np.where(np.isnan(high_end), np.inf, high_end))

    running_ref = np.abs(np.cumsum(b) / n)
    pooled_sd = np.sqrt(var)
    ref = np.where(running_ref > 0, running_ref, np.where(pooled_sd > 0, pooled_sd, 1.0))

    up, down = _directions(direction)
    # Failing is the robust tests' job (alpha/2: the failing half of the two-sided budget); the
    # t-mixture interval of the raw mean gives the pass and the reported effect.
    tests = _shift_tests(b, canary[:n_pairs], running_ref, alpha=alpha / 2.0, direction=direction,
                         fail_increase=fail_increase, fail_decrease=fail_decrease, min_samples=min_samples, g=g)
    ok = np.ones(n_pairs, bool)
    if up:
        ok &= upper < max(pass_margin, fail_increase) * ref
    if down:
        ok &= lower > -max(pass_margin, fail_decrease) * ref
    if pass_guard is not None:
        ok &= pass_guard[:n_pairs]
    if tests:
        # A pass waits while a robust test is more than halfway (log scale) to failing.
        limit = ROBUST_GUARD_SHARE * math.log(2.0 * len(tests) / alpha)
        for test in tests:
            ok &= test.log_e <= limit
    t_pass = _first(ok, min_samples)
    failed = [t for t in tests if t.fail_at is not None]
    first = min(failed, key=lambda t: t.fail_at or 0) if failed else None
    t_fail = first.fail_at if first is not None else None

    if t_fail is not None and (t_pass is None or t_fail <= t_pass):
        decision, at = Decision.FAIL, t_fail
    elif t_pass is not None:
        decision, at = Decision.PASS, t_pass
    else:
        decision, at = Decision.CONTINUE, n_pairs
    i = at - 1
    side: Literal["high", "low"] | None = None
    critical = False
    estimate = float(mean[i] / ref[i])
    if decision is Decision.FAIL and first is not None:
        side = first.side
        # Kayenta's rule: the point effect against the critical effect size.
        if side == "high" and critical_increase is not None:
            critical = estimate >= critical_increase
        if side == "low" and critical_decrease is not None:
            critical = estimate <= -critical_decrease
    conf = confidence if confidence is not None else 1.0 - alpha
    effect = Effect(
        measure="relative",
        estimate=estimate,
        lower=float(lower[i] / ref[i]),
        upper=float(upper[i] / ref[i]),
        confidence=conf,
    )
    return SequentialOutcome(decision, at, effect, t_fail, t_pass, critical, side=side, tests=tests,
                             rejected_by=first.name if decision is Decision.FAIL and first else None)


#: Largest number of pool refreshes in a tail test; longer series refresh every few pairs.
MAX_REFRESHES = 200


@functools.lru_cache(maxsize=64)
def _refresh_layout(n: int, warmup: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Refresh points of the pooled order for ``n`` pairs, where each refresh's members start in the
    flattened membership list, and for every pair the refresh it is judged against (cached per length)."""
    step = max(1, math.ceil((n - warmup) / MAX_REFRESHES))
    pairs = np.arange(warmup, n, step, dtype=np.int64)
    sizes = 2 * pairs
    starts = np.cumsum(sizes) - sizes
    which = np.maximum(np.searchsorted(pairs, np.arange(n), side="right") - 1, 0)
    for arr in (pairs, starts, which):
        arr.flags.writeable = False
    return pairs, starts, which


def _pooled_order(b: FloatArray, c: FloatArray, warmup: int) -> tuple[NDArray[np.int64], FloatArray,
                                                                         NDArray[np.int64], NDArray[np.int64]]:
    """Running order statistics of the pooled samples of earlier pairs, at each refresh.

    Returns the refresh points (pair counts ``j``: the pool holds pairs ``0..j-1``; every pair from
    ``warmup`` on while there are at most ``MAX_REFRESHES``), the pooled values sorted, and the flat
    positions in a (refreshes × 2n) membership table of each refresh's pool members, refresh after
    refresh, with where each refresh starts in them: the ``r``-th smallest pooled value at refresh ``i``
    is ``sorted[members[starts[i] + r - 1] - 2n·i]``.
    Uses only earlier pairs, so a threshold drawn from it is predictable and the label-swap argument
    stays exact.
    """
    n = len(b)
    if n <= warmup:
        empty = np.zeros(0, np.int64)
        return empty, np.zeros(0), empty, empty
    pairs, starts, _ = _refresh_layout(n, warmup)
    values = np.empty(2 * n)
    values[0::2] = b
    values[1::2] = c
    order = np.argsort(values, kind="stable")
    arrival = order >> 1  # value i came from pair i // 2
    # Flat positions of the members, row after row: made relative to their row.
    members: NDArray[np.int64] = np.flatnonzero(arrival[None, :] < pairs[:, None])
    return pairs, values[order], members, starts


#: Below this log likelihood ratio the tail tests keep the cheap upper bound instead of the exact value.
EXACT_FROM_LOG_LR = 1.0
_LOG2 = math.log(2.0)


def _log_mixture_lr_upper(k: FloatArray, total: FloatArray) -> FloatArray:
    """log of the binomial mixture LR against p = 1/2 with a uniform prior on p in [1/2, 1].

    Exact wherever it could matter (at least ``EXACT_FROM_LOG_LR``); below that the maximum-likelihood
    ratio over ``p >= 1/2`` stands in, which is never smaller -- so a crossing is never missed and a
    pass held back by it is held at least as long.
    """
    # Counts change rarely (k only when total does): evaluate where total changes, carry forward.
    if len(total) == 0:
        return np.zeros(0)
    changed = np.empty(len(total), bool)
    changed[0] = True  # (a drop between flattened rows counts as a change too)
    np.not_equal(total[1:], total[:-1], out=changed[1:])
    change = np.flatnonzero(changed)
    ku, tu = k[change], total[change]
    p_hat = np.where(tu > 0, ku / np.maximum(tu, 1.0), 0.5)
    upper_p = np.maximum(p_hat, 0.5)
    bound = (tu * _LOG2 + special.xlogy(ku, upper_p) + special.xlog1py(tu - ku, -upper_p))
    exact = np.flatnonzero(bound >= EXACT_FROM_LOG_LR)
    if len(exact):
        a = ku[exact] + 1.0
        bb = tu[exact] - ku[exact] + 1.0
        tail = special.betaincc(a, bb, 0.5)
        with np.errstate(divide="ignore"):
            bound[exact] = ((tu[exact] + 1.0) * _LOG2 + special.betaln(a, bb)
                            + np.log(np.maximum(tail, 1e-300)))
    owner = np.cumsum(changed) - 1
    result: FloatArray = bound[owner]
    return result


@dataclass(frozen=True, slots=True)
class TailSpec:
    """One tail test: the pooled ``quantile``, its side (``upper``), or the ``spread`` variant."""

    quantile: float
    upper: bool = True
    spread: bool = False

    @property
    def name(self) -> str:
        if self.spread:
            return "spread"
        if self.upper:
            return f"tail_p{round(self.quantile * 100)}"
        return f"tail_p{round((1 - self.quantile) * 100)}_low"


def tail_path(
    baseline: FloatArray,
    canary: FloatArray,
    *,
    quantile: float,
    upper: bool,
    alpha: float,
    warmup: int = 10,
    confidence: float = 0.95,
    spread: bool = False,
) -> TailOutcome:
    """Do canary samples land beyond the pooled ``quantile`` of earlier samples more often than baseline ones?

    ``upper`` tests the upper tail (values above the quantile); otherwise the lower tail (below the
    ``1 - quantile`` quantile). With ``spread`` it asks instead whether the canary sample of a pair is
    farther from the pooled running median than the baseline sample more often than not (a wider
    spread; ``quantile`` and ``upper`` are ignored). Only fails, never passes.
    """
    spec = TailSpec(quantile, upper, spread)
    return tail_paths(baseline, canary, (spec,), alpha=alpha, warmup=warmup, confidence=confidence)[0]


def _tail_ranks(specs: Sequence[TailSpec], size: NDArray[np.int64]) -> NDArray[np.int64]:
    """Rank (1-based) of each spec's pooled threshold at each refresh, for pools of ``size`` values."""
    ranks = np.empty((len(specs), len(size)), np.int64)
    for j, sp in enumerate(specs):
        if sp.spread:
            rank = size // 2 + 1
        elif sp.upper:
            rank = np.minimum(size, np.ceil(sp.quantile * size).astype(np.int64))
        else:
            rank = np.floor((1 - sp.quantile) * size).astype(np.int64) + 1
        ranks[j] = np.minimum(np.maximum(rank, 1), size)
    return ranks


def tail_paths(
    baseline: FloatArray,
    canary: FloatArray,
    specs: Sequence[TailSpec],
    *,
    alpha: float,
    warmup: int = 10,
    confidence: float = 0.95,
) -> tuple[TailOutcome, ...]:
    """:func:`tail_path` for several tails of the same pairs at once (one pooled order, each at ``alpha``)."""
    n_pairs = min(len(baseline), len(canary))
    if n_pairs == 0 or not specs:
        return tuple(TailOutcome(sp.name, Decision.CONTINUE, 0, None, 0, 0, None, 1.0) for sp in specs)
    b = np.asarray(baseline[:n_pairs], dtype=np.float64)
    c = np.asarray(canary[:n_pairs], dtype=np.float64)
    pairs, sorted_pool, members, starts = _pooled_order(b, c, warmup)
    m = len(specs)
    c_exceed = b_exceed = np.zeros(m, np.int64)
    if len(pairs):
        rank_m = _tail_ranks(specs, 2 * pairs)  # pool size at each refresh: every sample of the earlier pairs
        row_start = np.arange(len(pairs)) * (2 * n_pairs)
        h_at = sorted_pool[members[starts + rank_m - 1] - row_start]  # (m, refreshes)
        # Pair i (0-based) is judged against the pool as of the latest refresh at or before it.
        h = h_at[:, _refresh_layout(n_pairs, warmup)[2]]  # (m, n)
        a_c = np.empty((m, n_pairs), bool)
        a_b = np.empty((m, n_pairs), bool)
        for j, sp in enumerate(specs):
            hj = h[j]
            if sp.spread:
                dist_c, dist_b = np.abs(c - hj), np.abs(b - hj)
                np.greater(dist_c, dist_b, out=a_c[j])
                np.greater(dist_b, dist_c, out=a_b[j])
            elif sp.upper:
                np.greater_equal(c, hj, out=a_c[j])
                np.greater_equal(b, hj, out=a_b[j])
            else:
                np.less_equal(c, hj, out=a_c[j])
                np.less_equal(b, hj, out=a_b[j])
        a_c[:, : pairs[0]] = False  # pairs before the first refresh are not judged
        a_b[:, : pairs[0]] = False
        c_exceed, b_exceed = a_c.sum(axis=1), a_b.sum(axis=1)
        differ = a_c != a_b
        total = differ.cumsum(axis=1, dtype=np.float64)
        k = (differ & a_c).cumsum(axis=1, dtype=np.float64)
    else:
        k = np.zeros((m, n_pairs))
        total = np.zeros((m, n_pairs))
    log_lr = _log_mixture_lr_upper(k.ravel(), total.ravel()).reshape(m, n_pairs)
    hit = log_lr >= math.log(1.0 / alpha)
    first = hit.argmax(axis=1)
    failed = hit[np.arange(m), first]
    ats = np.where(failed, first + 1, n_pairs)
    kd = k[np.arange(m), ats - 1]
    td = total[np.arange(m), ats - 1]
    los, his = beta_binomial_intervals(kd, td, 1.0 - confidence)
    evidence = [math.exp(min(top, 700.0)) for top in log_lr.max(axis=1).tolist()]
    out = []
    for j, sp in enumerate(specs):
        at = int(ats[j])
        fail_at = at if failed[j] else None
        effect = None
        if td[j] > 0:
            kj, tj = float(kd[j]), float(td[j])
            estimate = (kj + 0.5) / (tj - kj + 0.5)  # continuity-corrected: finite with no baseline exceedance
            effect = Effect("exceedance_ratio", estimate, _ratio(float(los[j])), _ratio(float(his[j])), confidence)
        out.append(TailOutcome(
            sp.name,
            Decision.FAIL if fail_at is not None else Decision.CONTINUE,
            at,
            fail_at,
            int(c_exceed[j]),
            int(b_exceed[j]),
            effect,
            evidence[j],
            log_lr[j],
        ))
    return tuple(out)


def _ratio(p: float) -> float:
    return math.inf if p >= 1.0 else p / (1.0 - p)


def _log_lr_point(k: FloatArray | float, total: FloatArray | float, p: FloatArray | float) -> FloatArray:
    """log of the uniform-mixture binomial LR against the point ``p`` (convex in p, least at k/n)."""
    k_arr = np.asarray(k, dtype=np.float64)
    t_arr = np.asarray(total, dtype=np.float64)
    loglik = special.xlogy(k_arr, p) + special.xlog1py(t_arr - k_arr, -p)
    result: FloatArray = special.betaln(k_arr + 1.0, t_arr - k_arr + 1.0) - loglik
    return result


_EPS = 1e-12
#: The coarse grid of p for the intervals, its logs (as scipy's xlogy/xlog1py take them), the fine steps.
_GRID = np.linspace(_EPS, 1 - _EPS, 401)
_LOG_GRID = special.xlogy(1.0, _GRID)
_LOG1M_GRID = special.xlog1py(1.0, -_GRID)
_STEPS = np.linspace(0.0, 1.0, 201)
for _arr in (_GRID, _LOG_GRID, _LOG1M_GRID, _STEPS):
    _arr.flags.writeable = False


def beta_binomial_intervals(k: FloatArray, total: FloatArray, alpha: float) -> tuple[FloatArray, FloatArray]:
    """:func:`beta_binomial_interval` for many ``(k, total)`` at once (rows with ``total <= 0`` give 0..1).

    The LR is convex in ``p`` with its least value at ``p_hat``: the included set is found on a coarse
    grid, then each end is refined on a fine grid inside its bracket and rounded outwards (to about 1e-5).
    """
    k = np.asarray(k, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    lo = np.zeros(len(k))
    hi = np.ones(len(k))
    rows = np.flatnonzero(total > 0)
    if len(rows) == 0:
        return lo, hi
    kr, tr = k[rows], total[rows]
    fr = tr - kr
    p_hat = np.minimum(np.maximum(kr / tr, 0.0), 1.0)
    base = special.betaln(kr + 1.0, fr + 1.0)[:, None]
    kc, fc = kr[:, None], fr[:, None]
    threshold = math.log(1.0 / alpha)
    last_i = len(_GRID) - 1
    inside = base - (kc * _LOG_GRID + fc * _LOG1M_GRID) < threshold
    anywhere = inside.any(axis=1)
    centre = np.minimum(np.searchsorted(_GRID, p_hat), last_i)
    first = np.where(anywhere, inside.argmax(axis=1), centre)
    last = np.where(anywhere, last_i - inside[:, ::-1].argmax(axis=1), centre)
    at = np.arange(len(rows))
    # Lower end: between the last excluded coarse point and p_hat.
    a = _GRID[np.maximum(first - 1, 0)]
    fine = a[:, None] + (np.minimum(p_hat, _GRID[first]) - a)[:, None] * _STEPS
    np.maximum(fine, _EPS, out=fine)
    ok = base - (special.xlogy(kc, fine) + special.xlog1py(fc, -fine)) < threshold
    # The outer neighbour of each crossing, so the interval errs on the wide side.
    lower = np.where(ok.any(axis=1), fine[at, np.maximum(ok.argmax(axis=1) - 1, 0)], p_hat)
    lower[(first == 0) & anywhere] = 0.0
    # Upper end: between p_hat and the first excluded coarse point after the included set.
    z = _GRID[np.minimum(last + 1, last_i)]
    start_hi = np.maximum(p_hat, _GRID[last])
    fine = start_hi[:, None] + (z - start_hi)[:, None] * _STEPS
    np.minimum(fine, 1 - _EPS, out=fine)
    ok = base - (special.xlogy(kc, fine) + special.xlog1py(fc, -fine)) < threshold
    last_ok = _STEPS.size - 1 - ok[:, ::-1].argmax(axis=1)
    upper = np.where(ok.any(axis=1), fine[at, np.minimum(last_ok + 1, _STEPS.size - 1)], p_hat)
    upper[(last == last_i) & anywhere] = 1.0
    lo[rows] = lower
    hi[rows] = upper
    return lo, hi


def beta_binomial_interval(k: float, total: float, alpha: float) -> tuple[float, float]:
    """Confidence-sequence interval for a binomial ``p`` after ``k`` successes in ``total`` trials.

    The set of ``p`` whose uniform-mixture likelihood ratio is below ``1/alpha`` (valid at any stopping
    time). Accepts fractional counts.
    """
    lo, hi = beta_binomial_intervals(np.array([k]), np.array([total]), alpha)
    return float(lo[0]), float(hi[0])


def count_path(
    baseline: FloatArray,
    canary: FloatArray,
    *,
    alpha: float,
    direction: Direction,
    fail_increase: float = 1.0,
    fail_decrease: float = 1.0,
    pass_margin: float = 0.5,
    critical_increase: float | None = None,
    critical_decrease: float | None = None,
    min_samples: int = 20,
    confidence: float | None = None,
) -> SequentialOutcome:
    """Sequential comparison of event rates (counts per interval, equal exposure on both sides).

    Thresholds are rate ratios (canary / baseline): fails High once the interval's lower end exceeds
    ``max(fail_increase, 1)``, Low once its upper end is below ``min(fail_decrease, 1)``; passes once the
    harmful end is within ``1 + pass_margin`` (or ``1 / (1 + pass_margin)`` for decreases).
    """
    n_pairs = min(len(baseline), len(canary))
    if n_pairs == 0:
        return SequentialOutcome(Decision.CONTINUE, 0, None, None, None)
    b = np.maximum(baseline[:n_pairs], 0.0)
    c = np.maximum(canary[:n_pairs], 0.0)
    tot = b + c
    k_raw = np.cumsum(c)
    n_raw = np.cumsum(tot)
    # Over-dispersion: Pearson chi-square of the per-pair canary shares around the pooled share.
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.cumsum(np.where(tot > 0, c * c / np.where(tot > 0, tot, 1.0), 0.0))
        m = np.cumsum(tot > 0)
        p_hat = np.where(n_raw > 0, k_raw / np.maximum(n_raw, 1e-300), 0.5)
        chi2 = (sq - k_raw * k_raw / np.maximum(n_raw, 1e-300)) / np.maximum(p_hat * (1 - p_hat), 1e-12)
        phi = np.where(m > 20, chi2 / np.maximum(m - 1, 1), 1.0)
    phi = np.maximum(np.nan_to_num(phi, nan=1.0), 1.0)
    k = k_raw / phi
    n = n_raw / phi
    threshold = math.log(1.0 / alpha)
    up, down = _directions(direction)

    def excluded_below(p0: float) -> NDArray[np.bool_]:
        """Interval lies wholly above p0."""
        result: NDArray[np.bool_] = (n > 0) & (p_hat > p0) & (_log_lr_point(k, n, p0) >= threshold)
        return result

    def excluded_above(p0: float) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = (n > 0) & (p_hat < p0) & (_log_lr_point(k, n, p0) >= threshold)
        return result

    def share(ratio: float) -> float:
        return ratio / (1.0 + ratio)

    r_hi = max(fail_increase, 1.0)
    r_lo = min(fail_decrease, 1.0)
    zeros = np.zeros(n_pairs, bool)
    fail_hi = excluded_below(share(r_hi)) if up else zeros
    fail_lo = excluded_above(share(r_lo)) if down else zeros
    ok = np.ones(n_pairs, bool)
    if up:
        ok &= excluded_above(share(max(1.0 + pass_margin, r_hi)))
    if down:
        ok &= excluded_below(share(min(1.0 / (1.0 + pass_margin), r_lo)))
    t_hi, t_lo, t_pass = _first(fail_hi, min_samples), _first(fail_lo, min_samples), _first(ok, min_samples)
    fails = [t for t in (t_hi, t_lo) if t is not None]
    t_fail = min(fails) if fails else None
    if t_fail is not None and (t_pass is None or t_fail <= t_pass):
        decision, at = Decision.FAIL, t_fail
    elif t_pass is not None:
        decision, at = Decision.PASS, t_pass
    else:
        decision, at = Decision.CONTINUE, n_pairs
    i = at - 1
    conf = confidence if confidence is not None else 1.0 - alpha
    effect = None
    if n[i] > 0:
        lo, hi = beta_binomial_interval(float(k[i]), float(n[i]), alpha)
        effect = Effect("rate_ratio", _ratio(float(p_hat[i])), _ratio(lo), _ratio(hi), conf)
    side: Literal["high", "low"] | None = None
    critical = False
    if decision is Decision.FAIL:
        side = "high" if t_hi == t_fail else "low"
        if side == "high" and critical_increase is not None:
            critical = bool(excluded_below(share(max(critical_increase, 1.0)))[i])
        if side == "low" and critical_decrease is not None:
            critical = bool(excluded_above(share(min(critical_decrease, 1.0)))[i])
    evidence = float(np.exp(min(float(np.max(_log_lr_point(k, n, 0.5))), 700.0))) if n[-1] > 0 else 1.0
    return SequentialOutcome(decision, at, effect, t_fail, t_pass, critical, evidence, side)
