"""Cost anomalies per scope from a :class:`~tollgate.model.series.CostCube` (pure, numpy-vectorised).

Model (the same for every series, all series of a level computed at once as one matrix):

* **expected** cost of bucket ``t`` uses only buckets before ``t`` (no look-ahead): the median, over the last
  ``cycles`` seasonal periods (7 days for daily data, 168 hours for hourly), of the value one, two, ...
  periods ago, each moved forward along the recent trend. The trend is the change of the rolling
  one-period median (seasonality-neutral) between the newest and the oldest period, as a growth factor
  per period. So a weekly
  pattern is predicted, not flagged, and steady growth moves the expectation along with it.
* **band**: ``expected ± z * scale`` with ``scale`` the robust spread (1.4826 × median absolute residual,
  relative to the level, as cost noise grows with cost) of the previous ``spread_cycles`` periods' residuals,
  floored at ``rel_floor`` of the expectation and ``abs_floor``.
* **episodes**: a run opens at a bucket whose residual exceeds ``z_open`` scales (upwards; cost drops with
  ``direction="both"``) and lasts while it exceeds ``z_close`` (hysteresis). Its onset is the first bucket of
  the run, its end the last. Totals over the run give ``expected``, ``actual``, ``impact`` and ``impact_pct``.
* **alerting** follows AWS Cost Anomaly Detection: an episode is reported only when its absolute impact is at
  least ``min_impact`` **and** its percentage at least ``min_pct``.

Scopes are scanned on several levels (by default the total, each provider, each provider+service). An anomaly
whose impact is mostly (``explain_share``) explained by an overlapping anomaly of a narrower scope is dropped
in favour of the narrower one, so one cause gives one anomaly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from tollgate.errors import InputError
from tollgate.model.finops import CostAnomaly, SeriesTrace
from tollgate.model.series import CostCube

__all__ = [
    "DEFAULT_LEVELS",
    "AnomalySettings",
    "Band",
    "Episode",
    "expected_band",
    "find_episodes",
    "level_matrix",
    "scan",
    "scan_matrix",
    "severity_of",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Scope levels scanned by default: all providers together, each provider, each provider and service.
_MAX_SAMPLES = 64

DEFAULT_LEVELS: tuple[tuple[str, ...], ...] = ((), ("provider",), ("provider", "service"))


@dataclass(frozen=True, slots=True)
class AnomalySettings:
    """Knobs of the cost anomaly model (see the module docstring)."""

    cycles: int = 4
    min_cycles: int = 2
    z_open: float = 4.0
    z_close: float = 2.0
    rel_floor: float = 0.03
    abs_floor: float = 0.01
    band_z: float = 3.0
    direction: Literal["up", "both"] = "up"
    explain_share: float = 0.5
    max_growth: float = 1.5
    spread_cycles: int = 8


@dataclass(frozen=True, slots=True)
class Band:
    """Expected value, spread and standardised residual per series and bucket (NaN during warm-up)."""

    expected: FloatArray
    scale: FloatArray
    z: FloatArray


@dataclass(frozen=True, slots=True)
class Episode:
    """A run of anomalous buckets in row ``series`` of a matrix: ``start``..``end`` inclusive indices."""

    series: int
    start: int
    end: int
    expected: float
    actual: float
    score: float


def _period(granularity: str) -> int:
    if granularity in ("day", "daily"):
        return 7
    if granularity in ("hour", "hourly"):
        return 168
    raise InputError(f"granularity {granularity!r}: use 'day' or 'hour'")


def _shift(y: FloatArray, lag: int) -> FloatArray:
    """``y`` moved ``lag`` buckets later along the last axis, NaN-filled at the front."""
    out = np.full_like(y, np.nan)
    if lag < y.shape[-1]:
        out[..., lag:] = y[..., : y.shape[-1] - lag]
    return out


def _rolling_median(y: FloatArray, window: int, upto: int | None = None) -> FloatArray:
    """Median of the ``window`` buckets ending at each index (inclusive); NaN before a full window or where
    the window holds a NaN. Long (hourly) windows use a strided sample, the stride coprime with 24 hours.
    With ``upto``, only windows ending before that index are computed (the rest stay NaN)."""
    out = np.full_like(y, np.nan)
    end = y.shape[-1] if upto is None else min(upto, y.shape[-1])
    if end < window:
        return out
    view = np.lib.stride_tricks.sliding_window_view(y[..., :end], window, axis=-1)
    if window > _MAX_SAMPLES:
        stride = window // _MAX_SAMPLES
        while math.gcd(stride, 24) != 1:
            stride += 1
        view = view[..., ::-1][..., ::stride]  # the newest bucket is always sampled
    out[..., window - 1:end] = np.median(view, axis=-1)
    return out


def _nan_median(stack: FloatArray) -> FloatArray:
    """Median over axis 0 ignoring NaN (NaN where all are NaN), without ``nanmedian``'s per-slice cost."""
    n = stack.shape[0]
    available = np.count_nonzero(~np.isnan(stack), axis=0)
    ordered = np.sort(stack, axis=0)  # NaN sort last
    lo = np.take_along_axis(ordered, np.clip((available - 1) // 2, 0, n - 1)[None], axis=0)[0]
    hi = np.take_along_axis(ordered, np.clip(available // 2, 0, n - 1)[None], axis=0)[0]
    out: FloatArray = np.where(available > 0, (lo + hi) / 2.0, np.nan)
    return out


def expected_band(values: FloatArray, period: int, settings: AnomalySettings | None = None) -> Band:
    """Expected cost, robust scale and z-score of every bucket of every row of ``values`` (rows × buckets).

    Bucket ``t`` is predicted from buckets ``< t`` only. Needs ``min_cycles`` periods of history; earlier
    buckets are NaN.
    """
    s = settings or AnomalySettings()
    y = np.asarray(values, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    # Rolling one-period median ending at t-1 (the level of the last period, seasonality-neutral). Growth per
    # period is the median of the period-on-period level ratios, so one odd week does not bend the trend.
    level = _shift(_rolling_median(y, period), 1)
    ratios = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(1, s.cycles):
            newer, older = _shift(level, (j - 1) * period), _shift(level, j * period)
            ratios.append(np.where(older > 0, newer / older, np.nan))
        span = s.cycles - 1
        oldest = _shift(level, span * period)
        overall = np.where(oldest > 0, level / oldest, np.nan) ** (1.0 / span)
    robust = _nan_median(np.stack(ratios)) if ratios else np.ones_like(y)
    # The geometric growth over the whole span is the least noisy; the median of the period-on-period ratios
    # takes over when one odd period moves the span's growth away from it.
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(np.abs(np.log(overall / robust)) < 0.05, overall, robust)
    growth = np.where(np.isnan(growth), robust, growth)
    growth = np.clip(np.nan_to_num(growth, nan=1.0), 1.0 / s.max_growth, s.max_growth)
    lags = np.stack([_shift(y, k * period) * growth**k for k in range(1, s.cycles + 1)])
    available = np.count_nonzero(~np.isnan(lags), axis=0)
    expected = _nan_median(lags)
    expected[available < s.min_cycles] = np.nan
    expected = np.maximum(expected, 0.0) if np.all(y[~np.isnan(y)] >= 0) else expected

    # Cost noise grows with the level (a quiet weekend varies less than a busy Monday): the spread is
    # measured relative to a reference level and scaled back to each bucket's expectation.
    ref = np.maximum(np.maximum(np.abs(expected), 0.5 * np.abs(level)), s.abs_floor)
    rel = np.abs(y - expected) / ref
    # The longest filled window wins; shorter ones (early in a series) are widened for their sampling error.
    spread = _rolling_median(rel, s.spread_cycles * period)
    for cycles, widen in ((4, 1.15), (2, 1.35)):
        if cycles < s.spread_cycles:
            missing = np.isnan(spread)
            upto = int(np.flatnonzero(missing.any(axis=0))[-1]) + 1 if missing.any() else 0
            early = _rolling_median(rel, cycles * period, upto=upto) * widen
            spread = np.where(missing, early, spread)
    spread = _shift(spread, 1) * 1.4826 * ref
    floor = np.maximum(s.rel_floor * np.abs(np.nan_to_num(expected)), s.abs_floor)
    scale = np.where(np.isnan(spread), np.nan, np.maximum(spread, floor))
    z = (y - expected) / scale
    return Band(expected=expected, scale=scale, z=z)


def find_episodes(values: FloatArray, band: Band, settings: AnomalySettings | None = None) -> list[Episode]:
    """Anomalous runs in every row (hysteresis between ``z_open`` and ``z_close``), in row then time order."""
    s = settings or AnomalySettings()
    z = np.nan_to_num(band.z, nan=0.0)
    if s.direction == "both":
        z = np.abs(z)
    rows, cols = z.shape
    # A trailing False column keeps runs from crossing rows once flattened.
    keep = np.zeros((rows, cols + 1), dtype=bool)
    keep[:, :cols] = z > s.z_close
    opened = np.zeros((rows, cols + 1), dtype=bool)
    opened[:, :cols] = z > s.z_open
    flat_keep, flat_open = keep.ravel(), opened.ravel()
    starts = flat_keep & ~np.concatenate(([False], flat_keep[:-1]))
    run_id = np.cumsum(starts) * flat_keep
    hit = np.unique(run_id[flat_open & flat_keep])
    hit = hit[hit > 0]
    if len(hit) == 0:
        return []
    start_pos = np.flatnonzero(starts)[hit - 1]
    ends = flat_keep & ~np.concatenate((flat_keep[1:], [False]))
    end_pos = np.flatnonzero(ends)[hit - 1]
    y = np.asarray(values, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    episodes: list[Episode] = []
    for a, b in zip(start_pos.tolist(), end_pos.tolist(), strict=True):
        row, c0 = divmod(a, cols + 1)
        c1 = b - row * (cols + 1)
        exp = band.expected[row, c0:c1 + 1]
        episodes.append(Episode(series=row, start=c0, end=c1, expected=float(np.sum(exp)),
                                actual=float(np.sum(y[row, c0:c1 + 1])), score=float(np.max(z[row, c0:c1 + 1]))))
    return episodes


def severity_of(impact_pct: float | None, score: float) -> str:
    """``low`` / ``medium`` / ``high`` / ``critical`` from the relative jump (new spend counts as critical).

    Below +30 % (or a residual under 6 scales) an anomaly is ``low``; +30 % ``medium``; +100 % ``high``;
    +300 % or spend where none was expected ``critical``.
    """
    pct = float("inf") if impact_pct is None else abs(impact_pct)
    if pct >= 300:
        return "critical"
    if pct >= 100:
        return "high"
    if pct >= 30 and score >= 6:
        return "medium"
    return "low"


def level_matrix(
    cube: CostCube,
    dims: Sequence[str],
    codes: dict[str, tuple[npt.NDArray[np.str_], npt.NDArray[np.intp]]] | None = None,
) -> tuple[list[dict[str, str]], FloatArray]:
    """Dense series (rows × the cube's dates) per distinct combination of ``dims``, with each row's scope.

    ``codes`` caches each dimension's distinct values and row codes between calls on the same cube."""
    dates = cube.dates()
    n_t = len(dates)
    if len(cube) == 0 or n_t == 0:
        return [], np.zeros((0, n_t), dtype=np.float64)
    t = (cube.bucket - dates[0]).astype(np.int64)
    code = np.zeros(len(cube), dtype=np.int64)
    uniques: list[npt.NDArray[np.str_]] = []
    for d in dims:
        if d not in cube.dims:
            raise InputError(f"scope dimension {d!r} is not in the billing cube (has {', '.join(cube.dims)})")
        if codes is not None and d in codes:
            keys, inverse = codes[d]
        else:
            keys, inverse = np.unique(cube.dims[d].astype(str), return_inverse=True)
            if codes is not None:
                codes[d] = (keys, inverse)
        uniques.append(keys)
        code = code * len(keys) + inverse.astype(np.int64)
    present, row = np.unique(code, return_inverse=True)
    matrix = np.bincount(row.astype(np.int64) * n_t + t, weights=cube.cost,
                         minlength=len(present) * n_t).reshape(len(present), n_t)
    scopes: list[dict[str, str]] = []
    for c in present.tolist():
        parts: list[str] = []
        for keys in reversed(uniques):
            c, i = divmod(c, len(keys))
            parts.append(str(keys[i]))
        scopes.append(dict(zip(dims, reversed(parts), strict=True)))
    return scopes, matrix.astype(np.float64)


def _bucket_datetime(value: np.datetime64) -> datetime:
    ts = value.astype("datetime64[s]").astype(np.int64)
    return datetime.fromtimestamp(int(ts), tz=UTC)


def scan_matrix(
    scopes: Sequence[Mapping[str, str]],
    values: FloatArray,
    dates: npt.NDArray[np.datetime64],
    *,
    granularity: str = "day",
    currency: str = "USD",
    since: np.datetime64 | None = None,
    min_impact: float = 0.0,
    min_pct: float = 0.0,
    settings: AnomalySettings | None = None,
) -> list[CostAnomaly]:
    """Anomalies of the series in ``values`` (one row per scope) that pass both alert thresholds."""
    s = settings or AnomalySettings()
    if len(scopes) == 0:
        return []
    band = expected_band(values, _period(granularity), s)
    label = "hourly" if granularity in ("hour", "hourly") else "daily"
    out: list[CostAnomaly] = []
    last = values.shape[1] - 1
    sd = s.band_z
    for ep in find_episodes(values, band, s):
        if since is not None and dates[ep.end] < since:
            continue
        impact = ep.actual - ep.expected
        pct = impact / ep.expected * 100.0 if ep.expected > 0 else None
        if abs(impact) < min_impact or (pct is not None and abs(pct) < min_pct):
            continue
        lo_i = max(0, ep.start - 4 * _period(granularity))
        hi_i = min(last, ep.end + 7) + 1
        exp = band.expected[ep.series, lo_i:hi_i]
        sc = band.scale[ep.series, lo_i:hi_i]
        trace = SeriesTrace(
            buckets=tuple(_bucket_datetime(d) for d in dates[lo_i:hi_i]),
            actual=tuple(float(v) for v in values[ep.series, lo_i:hi_i]),
            expected=tuple(float(v) for v in exp),
            lower=tuple(float(v) for v in np.maximum(exp - sd * sc, 0.0)),
            upper=tuple(float(v) for v in exp + sd * sc),
        )
        out.append(CostAnomaly(
            scope=dict(scopes[ep.series]), start=_bucket_datetime(dates[ep.start]),
            end=_bucket_datetime(dates[ep.end]), expected=round(ep.expected, 6), actual=round(ep.actual, 6),
            impact=round(impact, 6), impact_pct=None if pct is None else round(pct, 3),
            severity=severity_of(pct, ep.score), score=round(ep.score, 3), granularity=label,
            currency=currency, ongoing=ep.end == last, trace=trace,
        ))
    return out


def _overlaps(a: CostAnomaly, b: CostAnomaly) -> bool:
    return a.start <= b.end and b.start <= a.end


def _narrower(inner: Mapping[str, str], outer: Mapping[str, str]) -> bool:
    return len(inner) > len(outer) and all(inner.get(k) == v for k, v in outer.items())


def _collapse(anomalies: list[CostAnomaly], share: float) -> list[CostAnomaly]:
    """Drop an anomaly when an overlapping anomaly of a narrower scope explains ``share`` of its impact."""
    kept: list[CostAnomaly] = []
    for a in anomalies:
        explained = any(
            _narrower(b.scope, a.scope) and _overlaps(a, b) and abs(b.impact) >= share * abs(a.impact)
            for b in anomalies
        )
        if not explained:
            kept.append(a)
    return kept


def _as_day(value: date | datetime | str | np.datetime64 | None, unit: str) -> np.datetime64 | None:
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        value = str(value)
    if isinstance(value, datetime):
        value = value.replace(tzinfo=None).isoformat()
    elif isinstance(value, date):
        value = value.isoformat()
    try:
        out: np.datetime64 = np.datetime64(value, "s").astype(f"datetime64[{unit}]")
    except ValueError as exc:
        raise InputError(f"since: {value!r} is not a date (use YYYY-MM-DD)") from exc
    return out


def scan(
    cube: CostCube,
    *,
    since: date | datetime | str | np.datetime64 | None = None,
    min_impact: float = 100.0,
    min_pct: float = 10.0,
    levels: Sequence[Sequence[str]] = DEFAULT_LEVELS,
    settings: AnomalySettings | None = None,
    collapse: bool = True,
) -> list[CostAnomaly]:
    """Cost anomalies in ``cube`` at every scope level, biggest impact first.

    ``since`` keeps anomalies that end on or after it (the history before it still trains the model).
    ``min_impact`` (currency units) and ``min_pct`` (percent) must both be met, as in AWS Cost Anomaly
    Detection. ``collapse=False`` keeps anomalies a narrower scope explains. Levels whose dimensions the
    cube lacks raise :class:`InputError`.
    """
    s = settings or AnomalySettings()
    dates = cube.dates()
    unit = "h" if cube.granularity == "hour" else "D"
    since_at = _as_day(since, unit)
    found: list[CostAnomaly] = []
    codes: dict[str, tuple[npt.NDArray[np.str_], npt.NDArray[np.intp]]] = {}
    for dims in levels:
        scopes, matrix = level_matrix(cube, tuple(dims), codes)
        found.extend(scan_matrix(scopes, matrix, dates, granularity=cube.granularity, currency=cube.currency,
                                 since=since_at, min_impact=min_impact, min_pct=min_pct, settings=s))
    result = _collapse(found, s.explain_share) if collapse else found
    result.sort(key=lambda a: (-abs(a.impact), a.start, sorted(a.scope.items())))
    return result
