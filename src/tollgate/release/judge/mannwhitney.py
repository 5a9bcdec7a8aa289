"""Fixed-horizon Mann-Whitney judging, following Kayenta's NetflixACAJudge rules for compatibility.

The two-sided Wilcoxon rank-sum test on the shift ``canary - baseline`` with the Hodges-Lehmann
estimate and a confidence interval from the normal approximation (tie and continuity corrected,
roots by Brent's method); a shift is significant when the interval clears ``±tolerance·|estimate|``
(Kayenta: tolerance 0.25 at 98% confidence) and the effect size passes its gate.

This test is meant to be run once on a fixed window. Re-running it as data arrive ("peeking")
inflates false alarms; the sequential tests in :mod:`tollgate.release.judge.sequential` do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize, stats  # type: ignore[import-untyped]

from tollgate.release.judge.preprocess import FloatArray

__all__ = [
    "KAYENTA_CONFIDENCE",
    "KAYENTA_TOLERANCE",
    "MannWhitneyResult",
    "cles",
    "constant_noise",
    "mann_whitney",
    "mean_ratio",
    "significance",
]

KAYENTA_TOLERANCE = 0.25
KAYENTA_CONFIDENCE = 0.98
_MAX_PAIRWISE = 4_000_000  # above this many pairs the estimate is found as a root instead


@dataclass(frozen=True, slots=True)
class MannWhitneyResult:
    """Hodges-Lehmann shift (canary - baseline) with its interval and the test's two-sided p-value."""

    estimate: float
    lower: float
    upper: float
    p_value: float
    confidence: float


def _standardised(experiment: FloatArray, control: FloatArray, shift: float, zq: float) -> float:
    """Normal-approximation statistic of the rank sum of ``experiment - shift`` minus ``zq``."""
    nx, ny = len(experiment), len(control)
    combined = np.concatenate((experiment - shift, control))
    ranks = stats.rankdata(combined)
    dz = float(np.sum(ranks[:nx])) - nx * (nx + 1) / 2.0 - nx * ny / 2.0
    _, counts = np.unique(combined, return_counts=True)
    total = nx + ny
    tie_term = float(np.sum(counts.astype(np.float64) ** 3 - counts)) / (total * (total - 1))
    sigma = math.sqrt(nx * ny / 12.0 * ((total + 1) - tie_term))
    if sigma == 0:
        raise ValueError("cannot compute a confidence interval when all observations are tied")
    correction = math.copysign(0.5, dz) if dz != 0 else 0.0
    return (dz - correction) / sigma - zq


def _root(experiment: FloatArray, control: FloatArray, zq: float, low: float, high: float) -> float:
    def f(shift: float) -> float:
        return _standardised(experiment, control, shift, zq)

    f_low, f_high = f(low), f(high)
    if f_low <= 0:
        return low
    if f_high >= 0:
        return high
    return float(optimize.brentq(f, low, high, xtol=1e-10 * max(1.0, abs(high - low)), maxiter=200))


def mann_whitney(
    experiment: FloatArray, control: FloatArray, *, confidence: float = KAYENTA_CONFIDENCE
) -> MannWhitneyResult:
    """Two-sided rank-sum test with the Hodges-Lehmann estimate and a normal-approximation interval.

    Raises ValueError for an empty side or when every observation is tied.
    """
    if len(experiment) == 0 or len(control) == 0:
        raise ValueError("both samples need at least one value")
    low = float(np.min(experiment) - np.max(control))
    high = float(np.max(experiment) - np.min(control))
    z = float(stats.norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    p_value = 2.0 * float(stats.norm.sf(abs(_standardised(experiment, control, 0.0, 0.0))))
    if len(experiment) * len(control) <= _MAX_PAIRWISE:
        estimate = float(np.median(np.subtract.outer(experiment, control)))
    else:
        estimate = _root(experiment, control, 0.0, low, high)
    lower = _root(experiment, control, z, low, high)
    upper = _root(experiment, control, -z, low, high)
    return MannWhitneyResult(estimate, lower, upper, min(p_value, 1.0), confidence)


def mean_ratio(experiment: FloatArray, control: FloatArray) -> float:
    """mean(canary) / mean(baseline); NaN when either mean is 0 or a side is empty."""
    if len(experiment) == 0 or len(control) == 0:
        return math.nan
    me, mc = float(experiment.mean()), float(control.mean())
    if me == 0 or mc == 0:
        return math.nan
    return me / mc


def cles(experiment: FloatArray, control: FloatArray) -> float:
    """Vargha-Delaney A: P(canary > baseline) + P(tie)/2 (0.5 means no effect)."""
    nx, ny = len(experiment), len(control)
    if nx == 0 or ny == 0:
        return math.nan
    ranks = stats.rankdata(np.concatenate((experiment, control)))
    r1 = float(np.sum(ranks[:nx]))
    return (r1 / nx - (nx + 1) / 2.0) / ny


def constant_noise(
    experiment: FloatArray, control: FloatArray, *, seed: int = 0
) -> tuple[FloatArray, FloatArray]:
    """Kayenta's trick for two constant samples: add Gaussian noise of σ = 1e-5 × value to each.

    Deterministic (seeded), so a judgement can be reproduced.
    """
    rng = np.random.default_rng(seed)

    def jitter(values: FloatArray) -> FloatArray:
        scale = abs(float(values[0])) * 1e-5
        return values + rng.normal(0.0, scale, len(values)) if scale > 0 else values

    return jitter(experiment), jitter(control)


def significance(
    result: MannWhitneyResult,
    effect_size: float,
    *,
    direction: Literal["increase", "decrease", "either"],
    allowed_increase: float,
    allowed_decrease: float,
    tolerance: float = KAYENTA_TOLERANCE,
) -> Literal["High", "Low", "Pass"]:
    """Kayenta's rule: the interval must clear ±tolerance·|estimate| and the effect size its gate.

    The effect-size check is skipped when the effect size is NaN.
    """
    bound = tolerance * abs(result.estimate)
    unknown = math.isnan(effect_size)
    if direction in ("increase", "either") and result.lower > bound and (unknown or effect_size >= allowed_increase):
        return "High"
    if direction in ("decrease", "either") and result.upper < -bound and (unknown or effect_size <= allowed_decrease):
        return "Low"
    return "Pass"
