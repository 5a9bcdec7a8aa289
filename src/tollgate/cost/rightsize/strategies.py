"""The rightsizing strategies: ``krr-simple``, ``vpa`` and tollgate's own ``safe``.

Each strategy turns a container's usage history into raw requests/limits (before minimums and
rounding, which :func:`tollgate.cost.rightsize.recommend` applies) plus notes for the reason text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import Field

from tollgate.cost.rightsize.common import (
    DAY,
    MIB,
    CommonSettings,
    FloatArray,
    cpu_samples,
    daily_peaks,
    decay_weights,
    history_days,
    memory_samples,
    per_pod_cpu_percentile,
    weighted_quantile,
)
from tollgate.model.rightsize import ContainerUsage, ResourceValues


@dataclass(frozen=True, slots=True)
class RawValues:
    """What a strategy proposes before minimums and rounding, with notes for the reason."""

    values: ResourceValues
    notes: tuple[str, ...] = ()


class Strategy(Protocol):
    """A rightsizing strategy plugin: a name, a pydantic settings model and the computation."""

    name: str
    description: str
    settings_model: type[CommonSettings]

    def propose(self, usage: ContainerUsage, current: ResourceValues, settings: CommonSettings) -> RawValues:
        """Raw values from usage with enough samples (the caller checks sample counts)."""
        ...


def _oom_floor(usage: ContainerUsage, current: ResourceValues, observed_max: float, bump: float,
               min_bump: float = 0.0) -> float | None:
    """Memory that the OOM history asks for: the limit at the OOM kill times ``bump`` (None if no kill)."""
    if usage.oom_kills <= 0:
        return None
    base = usage.oom_memory_limit or current.memory_limit or (usage.observed.memory_limit if usage.observed
                                                              else None) or observed_max
    return max(base * bump, base + min_bump)


# --------------------------------------------------------------------------------------------- krr-simple


class KrrSimpleSettings(CommonSettings):
    """KRR's ``simple`` strategy defaults."""

    cpu_percentile: float = Field(default=95.0, gt=0, le=100, description="CPU request percentile (per pod, "
                                  "maximum across pods).")
    memory_buffer: float = Field(default=0.15, ge=0, description="Memory request = limit = max x (1 + buffer).")
    use_oomkill_data: bool = Field(default=True, description="Raise memory to the OOM-kill limit x oom_bump.")
    oom_bump: float = Field(default=1.25, ge=1, description="Factor on the memory limit at an OOM kill.")


class KrrSimple:
    """CPU request = p95 (no CPU limit); memory request = limit = max working set x 1.15; OOM bump x1.25."""

    name: str = "krr-simple"
    description: str = "KRR simple: CPU p95 request, no CPU limit, memory max x 1.15"
    settings_model: type[CommonSettings] = KrrSimpleSettings

    def propose(self, usage: ContainerUsage, current: ResourceValues, settings: CommonSettings) -> RawValues:
        s = settings if isinstance(settings, KrrSimpleSettings) else KrrSimpleSettings()
        cpu = per_pod_cpu_percentile(usage, s.cpu_percentile / 100.0, s.startup_grace_s)
        mem = memory_samples(usage)
        peak = float(mem.values.max())
        memory = peak * (1.0 + s.memory_buffer)
        notes = [f"CPU p{s.cpu_percentile:g} per pod, memory max x {1 + s.memory_buffer:.2f}"]
        if s.use_oomkill_data:
            floor = _oom_floor(usage, current, peak, s.oom_bump)
            if floor is not None and floor > memory:
                memory = floor
                notes.append(f"{usage.oom_kills} OOM kill(s): memory raised to the OOM limit x {s.oom_bump:g}")
        return RawValues(ResourceValues(cpu_request=cpu, cpu_limit=None, memory_request=memory,
                                        memory_limit=memory), tuple(notes))


# ----------------------------------------------------------------------------------------------------- vpa


class VpaSettings(CommonSettings):
    """The VPA recommender's defaults (decaying histograms)."""

    cpu_min: float = Field(default=0.025, ge=0, description="Smallest CPU request (VPA pod minimum).")
    memory_min: float = Field(default=250e6, ge=0, description="Smallest memory (VPA pod minimum, bytes).")
    target_percentile: float = Field(default=0.9, gt=0, le=1, description="Target percentile (CPU, memory).")
    upper_percentile: float = Field(default=0.95, gt=0, le=1, description="Upper-bound percentile.")
    margin: float = Field(default=0.15, ge=0, description="Safety margin on every estimate.")
    half_life_s: float = Field(default=DAY, gt=0, description="Half-life of sample weights (seconds).")
    memory_history_days: float = Field(default=8.0, gt=0, description="Daily memory peaks kept (VPA: 8).")
    bucket_growth: float = Field(default=0.05, gt=0, description="Histogram bucket growth.")
    cpu_first_bucket: float = Field(default=0.001, gt=0, description="First CPU bucket size (cores).")
    memory_first_bucket: float = Field(default=1e7, gt=0, description="First memory bucket size (bytes).")
    oom_bump: float = Field(default=1.2, ge=1, description="OOM sample = memory limit at the kill x bump ...")
    oom_min_bump: float = Field(default=100e6, ge=0, description="... and at least this much more (bytes).")
    limits: Literal["proportional", "none"] = Field(
        default="proportional", description="Limits keep the current limit/request ratio (VPA) or are dropped."
    )


class DecayingHistogram:
    """VPA-style histogram: exponential buckets (each ``growth`` wider), weighted samples."""

    def __init__(self, first_bucket: float, growth: float) -> None:
        self.first = first_bucket
        self.growth = growth
        self.weights: dict[int, float] = {}

    def _index(self, value: float) -> int:
        if value < self.first:
            return 0
        return int(math.floor(math.log(1.0 + value * self.growth / self.first) / math.log(1.0 + self.growth)))

    def bucket_start(self, index: int) -> float:
        """Lower edge of bucket ``index``."""
        return self.first * ((1.0 + self.growth) ** index - 1.0) / self.growth

    def add(self, values: FloatArray, weights: FloatArray) -> None:
        """Add samples with their weights."""
        if values.size == 0:
            return
        scaled = np.log1p(np.maximum(values, 0.0) * self.growth / self.first) / math.log1p(self.growth)
        idx = np.floor(scaled).astype(np.int64)
        idx[values < self.first] = 0
        sums = np.bincount(idx, weights=weights)
        for i in np.nonzero(sums)[0]:
            self.weights[int(i)] = self.weights.get(int(i), 0.0) + float(sums[i])

    def percentile(self, q: float) -> float:
        """Upper edge of the bucket where the cumulative weight reaches ``q`` (0 if empty)."""
        if not self.weights:
            return 0.0
        total = sum(self.weights.values())
        running = 0.0
        for index in sorted(self.weights):
            running += self.weights[index]
            if running >= q * total:
                return self.bucket_start(index + 1)
        return self.bucket_start(max(self.weights) + 1)


def _ratio(limit: float | None, request: float | None) -> float | None:
    if limit is None or request is None or request <= 0:
        return None
    return limit / request


class Vpa:
    """VPA recommender: decaying histograms (half-life 24 h), p90 target + 15% margin, memory from daily
    peaks over 8 days, OOM samples, limits kept in proportion; the memory limit is never below the upper
    bound widened by VPA's confidence multiplier (1 + 1/history-days)."""

    name: str = "vpa"
    description: str = "VPA: decaying histograms, p90 + 15%, confidence-widened upper bound"
    settings_model: type[CommonSettings] = VpaSettings

    def propose(self, usage: ContainerUsage, current: ResourceValues, settings: CommonSettings) -> RawValues:
        s = settings if isinstance(settings, VpaSettings) else VpaSettings()
        cpu = cpu_samples(usage, s.startup_grace_s)
        mem = memory_samples(usage)
        end = float(max(cpu.times.max(initial=0.0), mem.times.max(initial=0.0)))
        cpu_hist = DecayingHistogram(s.cpu_first_bucket, s.bucket_growth)
        cpu_hist.add(cpu.values, decay_weights(cpu.times, end, s.half_life_s))
        mem_hist = DecayingHistogram(s.memory_first_bucket, s.bucket_growth)
        for pod in usage.pods:
            one = memory_samples(ContainerUsage(usage.target, (pod,)))
            times, peaks = daily_peaks(one, days=s.memory_history_days)
            mem_hist.add(peaks, decay_weights(times, end, s.half_life_s))
        notes = [f"VPA histograms: p{s.target_percentile * 100:g} + {s.margin * 100:g}% margin"]
        peak = float(mem.values.max())
        oom = _oom_floor(usage, current, peak, s.oom_bump, s.oom_min_bump)
        if oom is not None:
            mem_hist.add(np.array([oom]), np.array([1.0]))
            notes.append(f"{usage.oom_kills} OOM kill(s) added as a {oom / MIB:.0f}Mi sample")
        factor = 1.0 + s.margin
        cpu_target = cpu_hist.percentile(s.target_percentile) * factor
        mem_target = mem_hist.percentile(s.target_percentile) * factor
        days = max(history_days(cpu), history_days(mem))
        widen = math.inf if days <= 0 else 1.0 + 1.0 / days
        mem_upper = mem_hist.percentile(s.upper_percentile) * factor * widen
        cpu_limit = mem_limit = None
        if s.limits == "proportional":
            ratio = _ratio(current.cpu_limit, current.cpu_request)
            cpu_limit = cpu_target * ratio if ratio is not None else None
            ratio = _ratio(current.memory_limit, current.memory_request)
            if ratio is not None or current.memory_limit is not None:
                mem_limit = max(mem_target * (ratio or 1.0), mem_upper)
                notes.append(f"memory limit >= upper bound x {widen:.2f} for {days:.1f} days of history")
        return RawValues(ResourceValues(cpu_target, cpu_limit, mem_target, mem_limit), tuple(notes))


# ---------------------------------------------------------------------------------------------------- safe


class SafeSettings(CommonSettings):
    """tollgate's ``safe`` strategy."""

    cpu_percentile: float = Field(default=95.0, gt=0, le=100, description="CPU request percentile.")
    cpu_half_life_s: float = Field(default=14 * DAY, gt=0, description="Half-life of CPU sample weights.")
    memory_min_buffer: float = Field(default=0.10, ge=0, description="Smallest buffer on the memory peak.")
    memory_max_buffer: float = Field(default=0.40, ge=0, description="Largest buffer on the memory peak.")
    memory_base_margin: float = Field(default=0.05, ge=0, description="Added to the worst exceedance seen in "
                                      "the backtest.")
    horizon_days: float = Field(default=7.0, gt=0, description="How long the values must hold (backtest "
                                "horizon; a rising memory trend is projected this far).")
    backtest_min_days: float = Field(default=7.0, gt=0, description="History before the first backtest split.")
    trend_min_r2: float = Field(default=0.6, ge=0, le=1, description="Fit quality a memory trend needs.")
    oom_bump: float = Field(default=1.25, ge=1, description="Factor on the memory limit at an OOM kill.")


def backtest_exceedance(peaks: FloatArray, horizon: int, first: int) -> float | None:
    """Worst relative rise of the next ``horizon`` daily peaks over all earlier ones, over every split
    from day ``first`` on; ``None`` when the history is too short for one split."""
    worst: float | None = None
    for split in range(first, peaks.size):
        before = float(peaks[:split].max())
        after = float(peaks[split:split + horizon].max())
        if before > 0:
            rise = after / before - 1.0
            worst = rise if worst is None else max(worst, rise)
    return worst


class Safe:
    """tollgate ``safe``: CPU request = p95 with recent days weighted more (half-life 7 d, start-up minutes
    left out), no CPU limit; memory request = limit = peak x a buffer learnt by backtesting the history
    (how far the peaks of the following days rose above every earlier peak, plus a margin), a rising
    trend projected over the horizon, OOM kills bumping the limit x1.25."""

    name: str = "safe"
    description: str = "tollgate safe: recency-weighted CPU p95, backtested memory buffer, leak projection"
    settings_model: type[CommonSettings] = SafeSettings

    def propose(self, usage: ContainerUsage, current: ResourceValues, settings: CommonSettings) -> RawValues:
        s = settings if isinstance(settings, SafeSettings) else SafeSettings()
        cpu = cpu_samples(usage, s.startup_grace_s)
        if len(cpu) == 0:  # only start-up samples: keep them rather than guess
            cpu = cpu_samples(usage)
        weights = decay_weights(cpu.times, float(cpu.times.max()), s.cpu_half_life_s)
        cpu_request = weighted_quantile(cpu.values, weights, s.cpu_percentile / 100.0)
        notes = [f"CPU p{s.cpu_percentile:g}, half-life {s.cpu_half_life_s / DAY:g} days"]

        mem = memory_samples(usage)
        peak = float(mem.values.max())
        day_times, peaks = daily_peaks(mem)
        horizon = max(1, math.ceil(s.horizon_days))
        rise = backtest_exceedance(peaks, horizon, max(1, math.ceil(s.backtest_min_days)))
        if rise is None:
            buffer = s.memory_max_buffer
            notes.append(f"memory: max x {1 + buffer:.2f} (history too short to backtest)")
        else:
            buffer = min(s.memory_max_buffer, max(s.memory_min_buffer, rise + s.memory_base_margin))
            notes.append(f"memory: max x {1 + buffer:.2f} (peaks rose up to {max(rise, 0) * 100:.1f}% in backtest)")
        memory = peak * (1.0 + buffer)
        if peaks.size >= 4:
            x = (day_times - day_times[-1]) / DAY
            slope, intercept = np.polyfit(x, peaks, 1)
            fitted = slope * x + intercept
            ss_tot = float(np.sum((peaks - peaks.mean()) ** 2))
            r2 = 1.0 - float(np.sum((peaks - fitted) ** 2)) / ss_tot if ss_tot > 0 else 0.0
            projected = float(intercept + slope * s.horizon_days) * (1.0 + s.memory_base_margin)
            if slope > 0 and r2 >= s.trend_min_r2 and projected > memory:
                memory = projected
                notes.append(f"memory grows {slope / MIB:.1f}Mi/day (r2 {r2:.2f}): projected {s.horizon_days:g} days")
        floor = _oom_floor(usage, current, peak, s.oom_bump)
        if floor is not None and floor > memory:
            memory = floor
            notes.append(f"{usage.oom_kills} OOM kill(s): memory raised to the OOM limit x {s.oom_bump:g}")
        return RawValues(ResourceValues(cpu_request, None, memory, memory), tuple(notes))


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (KrrSimple(), Vpa(), Safe())}
"""The registry: strategy name -> plugin. Add a plugin by adding it here."""
