"""Cost series as a columnar cube: one row per (time bucket, dimension values), numpy only.

A :class:`CostCube` is what the billing store hands to analyzers (anomaly scans, forecasts, budgets). It
holds pre-aggregated cost in long form:

* ``bucket``: ``datetime64[D]`` (``granularity="day"``) or ``datetime64[h]`` (``"hour"``), the start of the
  UTC bucket (FOCUS ``ChargePeriodStart`` truncated, or a share of a longer charge spread over buckets);
* ``dims``: dimension name -> array of ``str`` (object dtype), e.g. ``provider``, ``service``,
  ``sub_account``, ``region``, ``resource_id``, ``charge_category`` and tags as ``tag:<key>``; a missing
  value is the empty string;
* ``cost``: ``float64``, EffectiveCost (amortised, the default) or BilledCost (``metric="billed"``).

Series are dense: every bucket from the first to the last one of the cube appears, with 0.0 where there
was no cost, so a detector sees gaps as zero spend rather than missing time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_DIMS",
    "CostCube",
    "CostMetric",
    "Granularity",
    "GroupedSeries",
    "bucket_unit",
]

Granularity = Literal["hour", "day"]
CostMetric = Literal["effective", "billed", "list", "contracted"]

#: Dimensions a cube carries unless asked otherwise.
DEFAULT_DIMS: tuple[str, ...] = (
    "provider",
    "service",
    "sub_account",
    "region",
    "resource_id",
    "charge_category",
)

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.datetime64]
StrArray = npt.NDArray[np.object_]


def bucket_unit(granularity: Granularity) -> str:
    """numpy datetime64 unit of a granularity (``"h"`` or ``"D"``)."""
    if granularity == "hour":
        return "h"
    if granularity == "day":
        return "D"
    raise ValueError(f"granularity must be 'hour' or 'day', not {granularity!r}")


@dataclass(frozen=True, slots=True)
class GroupedSeries:
    """Dense series per value of one dimension: ``values[i]`` is the series of ``keys[i]`` over ``dates``.

    ``keys`` are ordered by total cost, largest first.
    """

    dimension: str
    dates: TimeArray
    keys: tuple[str, ...]
    values: FloatArray  # shape (len(keys), len(dates))

    def get(self, key: str) -> FloatArray:
        """The series of one key (zeros if the key is absent)."""
        try:
            return np.asarray(self.values[self.keys.index(key)], dtype=np.float64)
        except ValueError:
            return np.zeros(len(self.dates), dtype=np.float64)

    def totals(self) -> dict[str, float]:
        """Total cost per key over the whole range."""
        return {k: float(v) for k, v in zip(self.keys, self.values.sum(axis=1), strict=True)}


@dataclass(frozen=True, slots=True)
class CostCube:
    """Aggregated cost rows in columns; see the module docstring for the meaning of each field."""

    bucket: TimeArray
    dims: Mapping[str, StrArray]
    cost: FloatArray
    currency: str = "USD"
    granularity: Granularity = "day"
    metric: CostMetric = "effective"
    #: How many rows had another currency and were left out (a cube holds one currency).
    other_currency_rows: int = 0
    _unit: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unit = bucket_unit(self.granularity)
        object.__setattr__(self, "_unit", unit)
        n = len(self.cost)
        bucket = np.asarray(self.bucket).astype(f"datetime64[{unit}]")
        object.__setattr__(self, "bucket", bucket)
        object.__setattr__(self, "cost", np.asarray(self.cost, dtype=np.float64))
        if len(bucket) != n:
            raise ValueError(f"bucket has {len(bucket)} rows, cost has {n}")
        dims: dict[str, StrArray] = {}
        for name, values in self.dims.items():
            arr = np.asarray(values, dtype=object)
            if len(arr) != n:
                raise ValueError(f"dimension {name!r} has {len(arr)} rows, cost has {n}")
            dims[name] = arr
        object.__setattr__(self, "dims", dims)

    # -- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        granularity: Granularity = "day",
        dims: Sequence[str] = DEFAULT_DIMS,
        currency: str = "USD",
        metric: CostMetric = "effective",
    ) -> CostCube:
        """A cube from dicts with ``bucket`` (date/datetime/ISO string), ``cost`` and dimension keys.

        Handy for tests and fakes; missing dimension values become ``""``.
        """
        rows = list(records)
        unit = bucket_unit(granularity)
        bucket = np.array([r["bucket"] for r in rows], dtype=object).astype(f"datetime64[{unit}]")
        cost = np.array([float(r["cost"]) for r in rows], dtype=np.float64)
        columns = {d: np.array([str(r.get(d) or "") for r in rows], dtype=object) for d in dims}
        return cls(bucket, columns, cost, currency=currency, granularity=granularity, metric=metric)

    @classmethod
    def empty(cls, *, granularity: Granularity = "day", dims: Sequence[str] = DEFAULT_DIMS,
              currency: str = "USD", metric: CostMetric = "effective") -> CostCube:
        """A cube with no rows."""
        unit = bucket_unit(granularity)
        return cls(np.array([], dtype=f"datetime64[{unit}]"), {d: np.array([], dtype=object) for d in dims},
                   np.array([], dtype=np.float64), currency=currency, granularity=granularity, metric=metric)

    # -- basic views ----------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.cost)

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Dimension names, in cube order."""
        return tuple(self.dims)

    @property
    def total(self) -> float:
        """Total cost of the cube."""
        return float(self.cost.sum())

    def dates(self) -> TimeArray:
        """Every bucket from the first to the last (dense), empty for an empty cube."""
        if len(self.bucket) == 0:
            return np.array([], dtype=f"datetime64[{self._unit}]")
        lo, hi = self.bucket.min(), self.bucket.max()
        return np.arange(lo, hi + 1, dtype=f"datetime64[{self._unit}]")

    def values(self, dimension: str) -> tuple[str, ...]:
        """Distinct values of a dimension, sorted."""
        return tuple(sorted(set(self._dim(dimension).tolist())))

    # -- slicing --------------------------------------------------------------------------------------------

    def _dim(self, name: str) -> StrArray:
        try:
            return self.dims[name]
        except KeyError:
            raise KeyError(f"dimension {name!r} not in cube (has {', '.join(self.dims) or 'none'})") from None

    def _mask(self, filters: Mapping[str, str | Sequence[str]] | None) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(self.cost), dtype=bool)
        for name, wanted in (filters or {}).items():
            column = self._dim(name)
            if isinstance(wanted, str):
                mask &= column == wanted
            else:
                mask &= np.isin(column, np.asarray(list(wanted), dtype=object))
        return mask

    def _take(self, mask: npt.NDArray[np.bool_]) -> CostCube:
        return CostCube(self.bucket[mask], {k: v[mask] for k, v in self.dims.items()}, self.cost[mask],
                        currency=self.currency, granularity=self.granularity, metric=self.metric,
                        other_currency_rows=self.other_currency_rows)

    def filter(self, filters: Mapping[str, str | Sequence[str]] | None = None) -> CostCube:
        """Rows whose dimensions equal the given value (or one of the given values)."""
        return self._take(self._mask(filters))

    def window(self, start: np.datetime64 | str | None = None, end: np.datetime64 | str | None = None) -> CostCube:
        """Rows with ``start <= bucket < end`` (either bound optional)."""
        mask = np.ones(len(self.cost), dtype=bool)
        if start is not None:
            mask &= self.bucket >= np.asarray(start).astype(f"datetime64[{self._unit}]")
        if end is not None:
            mask &= self.bucket < np.asarray(end).astype(f"datetime64[{self._unit}]")
        return self._take(mask)

    # -- series ---------------------------------------------------------------------------------------------

    def _dense(self, mask: npt.NDArray[np.bool_] | None, dates: TimeArray) -> FloatArray:
        if len(dates) == 0:
            return np.zeros(0, dtype=np.float64)
        bucket = self.bucket if mask is None else self.bucket[mask]
        cost = self.cost if mask is None else self.cost[mask]
        index = (bucket - dates[0]).astype(np.int64)
        return np.bincount(index, weights=cost, minlength=len(dates)).astype(np.float64)

    def total_series(self) -> tuple[TimeArray, FloatArray]:
        """(dates, cost per bucket) over the whole cube, dense."""
        dates = self.dates()
        return dates, self._dense(None, dates)

    def series(self, filters: Mapping[str, str | Sequence[str]] | None = None) -> tuple[TimeArray, FloatArray]:
        """(dates, cost per bucket) of the rows matching ``filters``, over the cube's full date range."""
        dates = self.dates()
        return dates, self._dense(self._mask(filters), dates)

    def group_by(self, dimension: str, *, top: int | None = None) -> GroupedSeries:
        """One dense series per value of ``dimension`` (largest total first; ``top`` keeps the first n)."""
        dates = self.dates()
        column = self._dim(dimension)
        if len(column) == 0:
            return GroupedSeries(dimension, dates, (), np.zeros((0, len(dates)), dtype=np.float64))
        keys, inverse = np.unique(column.astype(str), return_inverse=True)
        t = (self.bucket - dates[0]).astype(np.int64)
        flat = inverse.astype(np.int64) * len(dates) + t
        matrix = np.bincount(flat, weights=self.cost, minlength=len(keys) * len(dates)).reshape(len(keys), -1)
        order = np.argsort(-matrix.sum(axis=1), kind="stable")
        if top is not None:
            order = order[:top]
        return GroupedSeries(dimension, dates, tuple(str(keys[i]) for i in order), matrix[order].astype(np.float64))

    def totals_by(self, dimension: str) -> dict[str, float]:
        """Total cost per value of ``dimension``, largest first."""
        return self.group_by(dimension).totals()

    def to_day(self) -> CostCube:
        """This cube re-bucketed to days (a no-op for a daily cube)."""
        if self.granularity == "day":
            return self
        return CostCube(self.bucket.astype("datetime64[D]"), self.dims, self.cost, currency=self.currency,
                        granularity="day", metric=self.metric, other_currency_rows=self.other_currency_rows)
