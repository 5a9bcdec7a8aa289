"""Root cause of a cost jump: which dimension values account for the dollars (pure, numpy).

The drill-down follows AWS Cost Anomaly Detection's root causes (service, account, region, usage type), but
runs across providers on FOCUS dimensions: provider -> service -> sub_account -> region -> resource_id. At
each level the cost of every value over the anomaly window is compared with its own baseline (per bucket,
the median of the same bucket one to ``cycles`` seasonal periods earlier: a weekly pattern is no cause), and
the difference is that value's contribution to the jump. The values carrying at least ``min_share`` of the
jump are reported; the drill continues inside the largest one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from tollgate.model.finops import RootCause
from tollgate.model.series import CostCube

__all__ = ["DRILL_DIMENSIONS", "contributions", "root_causes"]

#: Drill-down order.
DRILL_DIMENSIONS: tuple[str, ...] = ("provider", "service", "sub_account", "region", "resource_id")

FloatArray = npt.NDArray[np.float64]


def _baseline(matrix: FloatArray, period: int, cycles: int) -> FloatArray:
    """Per row and bucket, the median of the values 1..cycles periods earlier (NaN when none)."""
    rows, cols = matrix.shape
    lags = np.full((cycles, rows, cols), np.nan)
    for k in range(1, cycles + 1):
        lag = k * period
        if lag < cols:
            lags[k - 1, :, lag:] = matrix[:, : cols - lag]
    available = np.count_nonzero(~np.isnan(lags), axis=0)
    ordered = np.sort(lags, axis=0)
    lo = np.take_along_axis(ordered, np.clip((available - 1) // 2, 0, cycles - 1)[None], axis=0)[0]
    hi = np.take_along_axis(ordered, np.clip(available // 2, 0, cycles - 1)[None], axis=0)[0]
    base: FloatArray = np.where(available == 0, 0.0, (lo + hi) / 2.0)
    return base


def _index(cube: CostCube, when: datetime | np.datetime64, dates: npt.NDArray[np.datetime64]) -> int:
    unit = "h" if cube.granularity == "hour" else "D"
    text = when.replace(tzinfo=None).isoformat() if isinstance(when, datetime) else str(when)
    value = np.datetime64(text, "s").astype(f"datetime64[{unit}]")
    return int((value - dates[0]).astype(np.int64))


def contributions(
    cube: CostCube,
    dimension: str,
    start: datetime | np.datetime64,
    end: datetime | np.datetime64,
    *,
    cycles: int = 4,
) -> dict[str, float]:
    """Each value of ``dimension``: cost over buckets ``start..end`` (inclusive) minus its baseline."""
    grouped = cube.group_by(dimension)
    if not grouped.keys:
        return {}
    period = 168 if cube.granularity == "hour" else 7
    base = _baseline(grouped.values, period, cycles)
    a = max(0, _index(cube, start, grouped.dates))
    b = min(len(grouped.dates) - 1, _index(cube, end, grouped.dates))
    if b < a:
        return {}
    delta = (grouped.values[:, a:b + 1] - base[:, a:b + 1]).sum(axis=1)
    return {k: float(v) for k, v in zip(grouped.keys, delta, strict=True)}


def root_causes(
    cube: CostCube,
    scope: Mapping[str, str],
    start: datetime | np.datetime64,
    end: datetime | np.datetime64,
    *,
    dimensions: Sequence[str] = DRILL_DIMENSIONS,
    min_share: float = 0.1,
    per_dimension: int = 3,
    cycles: int = 4,
) -> list[RootCause]:
    """Dimension values ranked by their dollar contribution to the jump in ``scope`` over ``start..end``.

    Dimensions fixed by ``scope`` or absent from the cube are skipped. The sign of the total jump decides
    the direction: for a rise, values that rose; for a drop, values that fell. Empty when nothing moved.
    """
    path = dict(scope)
    sub = cube.filter(path) if path else cube
    out: list[RootCause] = []
    for dim in dimensions:
        if dim in path or dim not in cube.dims:
            continue
        contrib = contributions(sub, dim, start, end, cycles=cycles)
        total = sum(contrib.values())
        if not contrib or total == 0:
            break
        sign = 1.0 if total > 0 else -1.0
        ranked = sorted(((sign * v, k) for k, v in contrib.items() if sign * v > 0), reverse=True)
        if not ranked:
            break
        chosen = [(v, k) for v, k in ranked[:per_dimension] if v >= min_share * abs(total)] or ranked[:1]
        out.extend(RootCause(dimension=dim, value=k, impact=round(sign * v, 2)) for v, k in chosen)
        path[dim] = chosen[0][1]
        sub = sub.filter({dim: chosen[0][1]})
    out.sort(key=lambda r: -abs(r.impact))
    return out
