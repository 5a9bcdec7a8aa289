"""Seeded usage traces with known truth for the rightsizing bench.

Six shapes: ``steady``, ``diurnal`` (daily cycle, quieter weekends), ``bursty`` (random CPU bursts and
memory spikes), ``leak`` (memory growing every day, sometimes reset by a deploy), ``jvm`` (heap sawtooth
under a fixed ceiling, GC CPU spikes) and ``startup`` (deploys every one to three days, each with a CPU
and memory peak in its first minutes). Each trace carries the original (over-provisioned) requests and
limits and the container start times. Same seed, same traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tollgate.cost.rightsize.common import DAY, MIB, FloatArray
from tollgate.model.rightsize import ContainerUsage, PodUsage, ResourceValues, WorkloadContainer

KINDS = ("steady", "diurnal", "bursty", "leak", "jvm", "startup")
T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Trace:
    """One container's usage over train + test days, with its original requests/limits."""

    name: str
    kind: str
    times: FloatArray
    cpu: FloatArray
    memory: FloatArray
    starts: tuple[float, ...]
    original: ResourceValues
    split: float  # first timestamp of the replay (test) part

    def train_usage(self, window: str = "14d") -> ContainerUsage:
        """The history a strategy sees: the samples before ``split``, as one pod."""
        keep = self.times < self.split
        t = tuple(float(x) for x in self.times[keep])
        starts = tuple(s for s in self.starts if float(self.times[0]) < s < self.split)
        pod = PodUsage(f"{self.name}-0", tuple(float(x) for x in self.cpu[keep]), t,
                       tuple(float(x) for x in self.memory[keep]), t, starts)
        step = float(self.times[1] - self.times[0]) if self.times.size > 1 else 60.0
        target = WorkloadContainer("Deployment", "bench", self.name, "main")
        return ContainerUsage(target, (pod,), step=step, window=window, start=float(self.times[0]),
                              end=self.split, replicas=1)

    def test_part(self) -> tuple[FloatArray, FloatArray]:
        """CPU and memory samples of the replay part."""
        keep = self.times >= self.split
        return self.cpu[keep], self.memory[keep]


def _starts(rng: np.random.Generator, t: FloatArray, every_days: tuple[float, float]) -> list[float]:
    out = []
    at = float(t[0]) + rng.uniform(*every_days) * DAY
    while at < t[-1]:
        out.append(at)
        at += rng.uniform(*every_days) * DAY
    return out


def _since_start(t: FloatArray, starts: Sequence[float]) -> FloatArray:
    """Seconds since the latest container start (inf before the first one)."""
    since = np.full(t.shape, np.inf)
    for s in starts:
        after = t >= s
        since[after] = t[after] - s
    return since


def make_trace(kind: str, seed: int, *, train_days: float = 14.0, test_days: float = 7.0,
               step: float = 300.0) -> Trace:
    """One trace of ``kind`` (see :data:`KINDS`); deterministic in ``seed``."""
    if kind not in KINDS:
        raise ValueError(f"unknown trace kind {kind!r}; choose one of {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    n = int(round((train_days + test_days) * DAY / step))
    t: FloatArray = T0 + np.arange(n, dtype=np.float64) * step
    day = (t - T0) / DAY
    cpu_level = float(rng.uniform(0.05, 1.5))
    mem_level = float(rng.uniform(150, 2000)) * MIB
    starts: list[float] = []
    noise = rng.standard_normal(n)
    if kind == "steady":
        cpu = cpu_level * (1 + 0.1 * noise)
        memory = mem_level * (1 + 0.01 * rng.standard_normal(n))
    elif kind == "diurnal":
        weekend = ((day // 1) % 7 >= 5).astype(float)
        cycle = 0.5 + 0.5 * np.sin(2 * np.pi * (day - 0.3))
        scale = 1 - 0.4 * weekend
        cpu = cpu_level * (0.2 + 1.0 * cycle * scale) * (1 + 0.15 * noise)
        memory = mem_level * (0.85 + 0.15 * cycle * scale) * (1 + 0.01 * rng.standard_normal(n))
    elif kind == "bursty":
        cpu = cpu_level * 0.4 * (1 + 0.2 * noise)
        memory = mem_level * (1 + 0.02 * rng.standard_normal(n))
        for _ in range(int(rng.integers(10, 40)) * int((train_days + test_days) // 7)):
            at = int(rng.integers(0, n))
            length = int(rng.integers(2, 12))
            cpu[at:at + length] += cpu_level * rng.uniform(1.0, 4.0)
            if rng.random() < 0.1:
                memory[at:at + length] *= 1 + rng.uniform(0.05, 0.6)
    elif kind == "leak":
        cpu = cpu_level * (1 + 0.1 * noise)
        rate = rng.uniform(0.01, 0.08)  # of the base per day
        starts = _starts(rng, t, (8.0, 12.0)) if rng.random() < 0.5 else []
        since = _since_start(t, starts)
        age = np.where(np.isfinite(since), since / DAY, day + rng.uniform(0, 3))
        memory = mem_level * (1 + rate * age) * (1 + 0.01 * rng.standard_normal(n))
    elif kind == "jvm":
        cpu = cpu_level * 0.5 * (1 + 0.1 * noise)
        gc = rng.random(n) < 0.02
        cpu[gc] += cpu_level * rng.uniform(0.5, 2.0, int(gc.sum()))
        period = rng.uniform(0.5, 3.0) * 3600  # heap fills and is collected
        phase = ((t - T0) % period) / period
        heap = mem_level * 0.7 * (0.45 + 0.5 * phase)
        memory = mem_level * 0.3 + heap + 0.005 * mem_level * rng.standard_normal(n)
    else:  # startup
        cpu = cpu_level * (1 + 0.1 * noise)
        memory = mem_level * (1 + 0.01 * rng.standard_normal(n))
        starts = _starts(rng, t, (1.0, 3.0))
        since = _since_start(t, starts)
        hot = since < 600
        cpu[hot] *= rng.uniform(3.0, 8.0)
        warm = since < 1800
        memory[warm] *= 1.2
    cpu = np.clip(cpu, 0.001, None)
    memory = np.clip(memory, 10 * MIB, None)
    split = T0 + train_days * DAY
    train = t < split
    original = ResourceValues(
        cpu_request=round(float(np.quantile(cpu[train], 0.95)) * rng.uniform(1.5, 4.0), 3),
        cpu_limit=None,
        memory_request=float(np.ceil(float(memory[train].max()) * rng.uniform(1.3, 3.0) / MIB) * MIB),
    )
    original = ResourceValues(original.cpu_request, (original.cpu_request or 0) * 2, original.memory_request,
                              original.memory_request)
    return Trace(f"{kind}-{seed}", kind, t, np.asarray(cpu, dtype=np.float64),
                 np.asarray(memory, dtype=np.float64), tuple(starts), original, split)


def make_traces(seed: int = 7, per_kind: int = 5, *, train_days: float = 14.0, test_days: float = 7.0,
                step: float = 300.0, kinds: Sequence[str] = KINDS) -> list[Trace]:
    """``per_kind`` traces of every kind, seeded from ``seed``."""
    return [make_trace(kind, seed * 1000 + i, train_days=train_days, test_days=test_days, step=step)
            for kind in kinds for i in range(per_kind)]


def trace_from_samples(name: str, times: Sequence[float] | FloatArray, cpu: Sequence[float] | FloatArray,
                       memory: Sequence[float] | FloatArray,
                       original: ResourceValues, *, train_days: float = 14.0, kind: str = "real") -> Trace:
    """A trace from recorded samples (e.g. a VM trace): the first ``train_days`` train, the rest replays.

    Raises ValueError when the samples do not reach past the training days.
    """
    t = np.asarray(times, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t = t[order]
    c = np.clip(np.nan_to_num(np.asarray(cpu, dtype=np.float64)[order]), 0.0, None)
    m = np.clip(np.nan_to_num(np.asarray(memory, dtype=np.float64)[order]), 0.0, None)
    if t.size < 2:
        raise ValueError(f"{name}: fewer than two samples")
    split = float(t[0]) + train_days * DAY
    if not (t >= split).any():
        raise ValueError(f"{name}: {(t[-1] - t[0]) / DAY:.1f} days of samples, need more than {train_days:g}")
    return Trace(name, kind, t, c, m, (), original, split)
