"""Replay bench for the rightsizing strategies.

Each strategy recommends from a trace's first part (the training days); the recommendation is then
applied to the rest of the trace and scored: OOM kills (memory crossing above the memory limit, one per
crossing), CPU throttling (share of samples above the CPU limit, when one is set), CPU contention (share
of samples above the CPU request) and the CPU and memory requests saved against the original ones,
also priced in $/month with OpenCost's default prices. An ``ideal`` row (test-period p95 CPU and peak
memory, known only afterwards) shows what was there to save.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tollgate.cost.rightsize import recommend
from tollgate.cost.rightsize.common import FloatArray
from tollgate.cost.rightsize.traces import Trace
from tollgate.model.rightsize import ResourceValues

GIB = float(2**30)
CPU_HOURLY = 0.031611  # OpenCost default $/vCPU-hour
RAM_HOURLY = 0.004237  # OpenCost default $/GiB-hour
HOURS_PER_MONTH = 730.0

BASELINE = "krr-plain"
DEFAULT_RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    BASELINE: ("krr-simple", {"startup_grace_s": 0.0}),
    "krr-simple": ("krr-simple", {}),
    "vpa": ("vpa", {}),
    "safe": ("safe", {}),
}
"""Bench rows: label -> (strategy, settings). ``krr-plain`` is KRR's simple strategy as KRR runs it."""


@dataclass(frozen=True, slots=True)
class Replay:
    """One strategy on one trace."""

    strategy: str
    trace: str
    kind: str
    recommended: bool
    cpu_request: float
    memory_limit: float | None
    oom_kills: int
    throttled: float
    contention: float
    cpu_saved: float
    memory_saved: float


@dataclass(frozen=True, slots=True)
class Summary:
    """One strategy over all traces."""

    strategy: str
    traces: int
    no_recommendation: int
    cpu_saved_cores: float
    cpu_saved_pct: float
    memory_saved_gib: float
    memory_saved_pct: float
    monthly_saved: float
    oom_kills: int
    traces_with_oom: int
    throttled_pct: float
    contention_pct: float


def _crossings(values: FloatArray, limit: float | None, rearm: float = 0.9) -> int:
    """OOM kills: memory going above ``limit``; after a kill the container restarts, so the next one
    counts only once memory has been back below ``rearm`` x limit."""
    if limit is None:
        return 0
    kills = 0
    armed = True
    for value in values:
        if armed and value > limit:
            kills += 1
            armed = False
        elif not armed and value < rearm * limit:
            armed = True
    return kills


def replay(label: str, trace: Trace, values: ResourceValues | None) -> Replay:
    """Score ``values`` (None: no recommendation, keep the original) on the trace's test part."""
    applied = values if values is not None else trace.original
    cpu, memory = trace.test_part()
    cpu_request = applied.cpu_request if applied.cpu_request is not None else trace.original.cpu_request or 0.0
    memory_request = applied.memory_request or trace.original.memory_request or 0.0
    throttled = float(np.mean(cpu > applied.cpu_limit)) if applied.cpu_limit is not None else 0.0
    return Replay(
        strategy=label,
        trace=trace.name,
        kind=trace.kind,
        recommended=values is not None,
        cpu_request=cpu_request,
        memory_limit=applied.memory_limit,
        oom_kills=_crossings(memory, applied.memory_limit),
        throttled=throttled,
        contention=float(np.mean(cpu > cpu_request)),
        cpu_saved=(trace.original.cpu_request or 0.0) - cpu_request,
        memory_saved=(trace.original.memory_request or 0.0) - memory_request,
    )


def ideal(trace: Trace) -> ResourceValues:
    """Hindsight values: test-period p95 CPU, peak memory as request and limit."""
    cpu, memory = trace.test_part()
    peak = float(memory.max())
    return ResourceValues(float(np.quantile(cpu, 0.95)), None, peak, peak)


def summarize(label: str, replays: Sequence[Replay], traces: Sequence[Trace]) -> Summary:
    """Totals of one strategy's replays."""
    cpu_total = sum(t.original.cpu_request or 0.0 for t in traces)
    mem_total = sum(t.original.memory_request or 0.0 for t in traces)
    cpu_saved = sum(r.cpu_saved for r in replays)
    mem_saved = sum(r.memory_saved for r in replays)
    return Summary(
        strategy=label,
        traces=len(replays),
        no_recommendation=sum(1 for r in replays if not r.recommended),
        cpu_saved_cores=round(cpu_saved, 3),
        cpu_saved_pct=round(100 * cpu_saved / cpu_total, 2) if cpu_total else 0.0,
        memory_saved_gib=round(mem_saved / GIB, 3),
        memory_saved_pct=round(100 * mem_saved / mem_total, 2) if mem_total else 0.0,
        monthly_saved=round((cpu_saved * CPU_HOURLY + mem_saved / GIB * RAM_HOURLY) * HOURS_PER_MONTH, 2),
        oom_kills=sum(r.oom_kills for r in replays),
        traces_with_oom=sum(1 for r in replays if r.oom_kills),
        throttled_pct=round(100 * float(np.mean([r.throttled for r in replays])), 2) if replays else 0.0,
        contention_pct=round(100 * float(np.mean([r.contention for r in replays])), 2) if replays else 0.0,
    )


def run_bench(traces: Sequence[Trace], runs: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None,
              *, window: str = "14d", with_ideal: bool = True) -> dict[str, Any]:
    """Every run (label -> strategy, settings) on every trace: summaries, per-kind summaries, replays."""
    chosen = dict(runs or DEFAULT_RUNS)
    replays: dict[str, list[Replay]] = {}
    for label, (strategy, settings) in chosen.items():
        rows = []
        for trace in traces:
            rec = recommend(trace.train_usage(window), trace.original, strategy=strategy, settings=dict(settings))
            rows.append(replay(label, trace, rec.recommended))
        replays[label] = rows
    if with_ideal:
        replays["ideal"] = [replay("ideal", t, ideal(t)) for t in traces]
    kinds = sorted({t.kind for t in traces})
    return {
        "baseline": BASELINE if BASELINE in replays else next(iter(replays), None),
        "traces": len(traces),
        "summary": [asdict(summarize(label, rows, traces)) for label, rows in replays.items()],
        "by_kind": {
            kind: [asdict(summarize(label, [r for r in rows if r.kind == kind],
                                    [t for t in traces if t.kind == kind])) for label, rows in replays.items()]
            for kind in kinds
        },
        "replays": [asdict(r) for rows in replays.values() for r in rows],
    }
