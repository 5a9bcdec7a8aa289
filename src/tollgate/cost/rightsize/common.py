"""Shared pieces of the rightsizing strategies: sample extraction, weighted quantiles, minimums,
rounding, KRR severity bands, HPA handling and the no-data / idle checks. Pure functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from tollgate.model.rightsize import (
    ContainerUsage,
    PodUsage,
    ResourceValues,
    RightsizeSeverity,
)

MIB = float(2**20)
DAY = 86400.0

FloatArray = NDArray[np.float64]


class CommonSettings(BaseModel):
    """Settings every strategy shares (minimums, rounding, data requirements, HPA and idle handling)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_min: float = Field(default=0.010, ge=0, description="Smallest CPU request recommended (cores).")
    memory_min: float = Field(default=100 * MIB, ge=0, description="Smallest memory recommended (bytes).")
    cpu_round: float = Field(default=0.001, gt=0, description="CPU values are rounded up to this (cores).")
    memory_round: float = Field(default=MIB, gt=0, description="Memory values are rounded up to this (bytes).")
    min_samples: int = Field(default=100, ge=1, description="Fewer CPU or memory samples: no recommendation.")
    startup_grace_s: float = Field(
        default=300.0, ge=0, description="CPU samples this long after a container start are left out of CPU "
        "percentiles (start-up peaks); memory maxima keep them."
    )
    hpa: Literal["skip", "adjust"] = Field(
        default="skip", description="A resource an HPA scales on: leave it as is (skip) or recommend it and "
        "say how to move the HPA target with it (adjust)."
    )
    idle_cpu: float = Field(default=0.005, ge=0, description="CPU p99 (cores) at or below which a container "
                            "counts as idle for the whole window.")


@dataclass(frozen=True, slots=True)
class Samples:
    """Flattened samples of one container over all its pods: values and their timestamps."""

    values: FloatArray
    times: FloatArray

    def __len__(self) -> int:
        return int(self.values.size)


def _clean(values: Sequence[float], times: Sequence[float]) -> tuple[FloatArray, FloatArray]:
    v = np.asarray(values, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    keep = np.isfinite(v) & (v >= 0)
    return v[keep], t[keep]


def _startup_mask(pod: PodUsage, times: FloatArray, grace: float) -> NDArray[np.bool_]:
    mask = np.zeros(times.shape, dtype=bool)
    if grace <= 0:
        return mask
    for start in pod.started_at:
        mask |= (times >= start) & (times < start + grace)
    return mask


def cpu_samples(usage: ContainerUsage, grace: float = 0.0) -> Samples:
    """All CPU samples (cores) of all pods, without those inside ``grace`` seconds of a container start."""
    vals: list[FloatArray] = []
    times: list[FloatArray] = []
    for pod in usage.pods:
        v, t = _clean(pod.cpu, pod.cpu_timestamps)
        if grace > 0 and pod.started_at:
            keep = ~_startup_mask(pod, t, grace)
            v, t = v[keep], t[keep]
        vals.append(v)
        times.append(t)
    if not vals:
        return Samples(np.zeros(0), np.zeros(0))
    return Samples(np.concatenate(vals), np.concatenate(times))


def memory_samples(usage: ContainerUsage) -> Samples:
    """All memory working-set samples (bytes) of all pods."""
    vals: list[FloatArray] = []
    times: list[FloatArray] = []
    for pod in usage.pods:
        v, t = _clean(pod.memory, pod.memory_timestamps)
        vals.append(v)
        times.append(t)
    if not vals:
        return Samples(np.zeros(0), np.zeros(0))
    return Samples(np.concatenate(vals), np.concatenate(times))


def per_pod_cpu_percentile(usage: ContainerUsage, q: float, grace: float = 0.0) -> float | None:
    """KRR's CPU figure: the ``q``-quantile (0..1) per pod, then the maximum across pods."""
    best: float | None = None
    for pod in usage.pods:
        v, t = _clean(pod.cpu, pod.cpu_timestamps)
        if grace > 0 and pod.started_at:
            v = v[~_startup_mask(pod, t, grace)]
        if v.size:
            value = float(np.quantile(v, q))
            best = value if best is None else max(best, value)
    return best


def weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """The smallest value whose cumulative weight reaches ``q`` of the total (``q`` in 0..1)."""
    if values.size == 0:
        raise ValueError("no values")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    idx = int(np.searchsorted(cum, q * cum[-1], side="left"))
    return float(values[order][min(idx, values.size - 1)])


def decay_weights(times: FloatArray, reference: float, half_life_s: float) -> FloatArray:
    """Exponential decay: weight 1 at ``reference``, halving every ``half_life_s`` seconds before it."""
    if half_life_s <= 0:
        return np.ones(times.shape)
    weights: FloatArray = np.exp2((times - reference) / half_life_s)
    return weights


def round_up(value: float, unit: float) -> float:
    """Round ``value`` up to a whole number of ``unit`` (tolerating float noise)."""
    steps = math.ceil(value / unit - 1e-9)
    return steps * unit


def finish(value: float | None, minimum: float, unit: float) -> float | None:
    """Apply the minimum and round up; ``None`` stays ``None``."""
    if value is None:
        return None
    return round_up(max(value, minimum), unit)


def _band(current: float | None, recommended: float | None, critical: float, warning: float, ok: float
          ) -> RightsizeSeverity:
    if current is None and recommended is None:
        return RightsizeSeverity.GOOD
    if current is None or recommended is None:
        return RightsizeSeverity.WARNING
    diff = abs(current - recommended)
    if diff >= critical:
        return RightsizeSeverity.CRITICAL
    if diff >= warning:
        return RightsizeSeverity.WARNING
    if diff >= ok:
        return RightsizeSeverity.OK
    return RightsizeSeverity.GOOD


_ORDER = [RightsizeSeverity.GOOD, RightsizeSeverity.OK, RightsizeSeverity.WARNING, RightsizeSeverity.CRITICAL]


def cpu_severity(current: float | None, recommended: float | None) -> RightsizeSeverity:
    """KRR's CPU bands on the absolute difference: 0.5 core critical, 0.25 warning, 0.1 ok."""
    return _band(current, recommended, 0.5, 0.25, 0.1)


def memory_severity(current: float | None, recommended: float | None) -> RightsizeSeverity:
    """KRR's memory bands on the absolute difference: 500 MiB critical, 250 MiB warning, 100 MiB ok."""
    return _band(current, recommended, 500 * MIB, 250 * MIB, 100 * MIB)


def severity(current: ResourceValues, recommended: ResourceValues) -> RightsizeSeverity:
    """Worst band over CPU request, memory request and memory limit (a CPU limit is not scored)."""
    bands = [
        cpu_severity(current.cpu_request, recommended.cpu_request),
        memory_severity(current.memory_request, recommended.memory_request),
        memory_severity(current.memory_limit, recommended.memory_limit),
    ]
    return max(bands, key=_ORDER.index)


def history_days(samples: Samples) -> float:
    """Span of the samples in days (0 when fewer than two)."""
    if len(samples) < 2:
        return 0.0
    return float(samples.times.max() - samples.times.min()) / DAY


def daily_peaks(samples: Samples, *, days: float | None = None) -> tuple[FloatArray, FloatArray]:
    """Maximum per 24 h interval (counted back from the last sample): (interval end times, peaks).

    ``days`` keeps only that many most recent intervals.
    """
    if len(samples) == 0:
        return np.zeros(0), np.zeros(0)
    end = float(samples.times.max())
    index = np.floor((end - samples.times) / DAY).astype(np.int64)
    count = int(index.max()) + 1
    if days is not None:
        count = min(count, max(1, math.ceil(days)))
    peaks = np.full(count, -np.inf)
    keep = index < count
    np.maximum.at(peaks, index[keep], samples.values[keep])
    filled = np.isfinite(peaks)
    ends = end - np.arange(count) * DAY
    # oldest first
    return ends[filled][::-1].copy(), peaks[filled][::-1].copy()
