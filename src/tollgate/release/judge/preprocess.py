"""Turning raw series into clean samples: NaN/Inf handling, Kayenta's IQR outlier fences, statistics."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from tollgate.model.canary import Series, SeriesStats

FloatArray = NDArray[np.float64]

__all__ = ["FloatArray", "clean", "clean_pair", "iqr_keep_mask", "stats", "to_array"]


def to_array(series: Series | None) -> FloatArray:
    """Values as float64, infinities turned into NaN (both are 'no usable value')."""
    if series is None:
        return np.empty(0, dtype=np.float64)
    values = np.asarray(series.values, dtype=np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def clean(values: FloatArray, nan_strategy: Literal["remove", "replace"]) -> FloatArray:
    """Kayenta's NaN strategies: drop NaN samples, or replace them with 0.0."""
    if nan_strategy == "replace":
        return np.nan_to_num(values, nan=0.0)
    return values[~np.isnan(values)]


def clean_pair(
    baseline: FloatArray, canary: FloatArray, nan_strategy: Literal["remove", "replace"]
) -> tuple[FloatArray, FloatArray]:
    """Aligned pairs for the sequential tests: sample i of each side, truncated to the shorter side.

    With ``remove`` a pair is dropped when either of its values is missing, so pairs stay aligned.
    """
    n = min(len(baseline), len(canary))
    b, c = baseline[:n], canary[:n]
    if nan_strategy == "replace":
        return np.nan_to_num(b, nan=0.0), np.nan_to_num(c, nan=0.0)
    keep = ~(np.isnan(b) | np.isnan(c))
    return b[keep], c[keep]


def iqr_keep_mask(values: FloatArray, factor: float) -> NDArray[np.bool_]:
    """Samples inside Kayenta's reduced-sensitivity IQR fences.

    Lower fence min(P1, Q1 - f·IQR), upper fence max(P99, Q3 + f·IQR): the 1st and 99th percentiles
    are always kept.
    """
    if len(values) == 0:
        return np.ones(0, dtype=bool)
    p1, q1, q3, p99 = np.percentile(values, [1, 25, 75, 99])
    iqr = q3 - q1
    low = min(p1, q1 - factor * iqr)
    high = max(p99, q3 + factor * iqr)
    result: NDArray[np.bool_] = (values >= low) & (values <= high)
    return result


def stats(values: FloatArray) -> SeriesStats | None:
    """Descriptive statistics, or None for an empty sample."""
    if len(values) == 0:
        return None
    ordered = np.sort(values)
    n = len(ordered)
    # Linear interpolation between order statistics (numpy's default percentile method).
    pos = _STAT_QUANTILES * (n - 1)
    low = pos.astype(np.int64)  # floor: pos >= 0
    high = np.minimum(low + 1, n - 1)
    lows = ordered[low]
    p50, p95, p99 = (lows + (ordered[high] - lows) * (pos - low)).tolist()
    mean = float(ordered.mean())
    if n > 1:
        dev = ordered - mean
        std = math.sqrt(float((dev * dev).sum()) / (n - 1))
    else:
        std = 0.0
    return SeriesStats(count=n, mean=mean, median=p50, min=float(ordered[0]), max=float(ordered[-1]), std=std,
                       p95=p95, p99=p99)


_STAT_QUANTILES = np.array([0.50, 0.95, 0.99])
