"""Generated canary-judge cases and a JSON snapshot of what the judge says about them.

Shared by ``test_judge_regression.py`` and the script that (re)writes its fixture::

    python3 tests/unit/judge/_judge_regression_cases.py   # writes data/judge_regression.json.gz

The fixture pins the sequential judge's outputs (verdicts, classifications, decision sample counts,
effects and their intervals, every test's decision and evidence), so that optimisations of the judge
can be checked for changing nothing. Regenerate it only on a deliberate change of the statistics.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tollgate.model.canary import JudgeResult, Series
from tollgate.release.judge import CanaryConfig, MetricConfig, judge
from tollgate.release.judge.config import ClassifierConfig, EffectSizeConfig, OutlierConfig

FIXTURE = Path(__file__).parent / "data" / "judge_regression.json.gz"
SEED = 20240605


def _metrics() -> list[MetricConfig]:
    """Metric settings the cases cycle through (directions, margins, critical, outliers, NaN strategy)."""
    return [
        MetricConfig(name="m", direction="increase"),
        MetricConfig(name="m", direction="either"),
        MetricConfig(name="m", direction="decrease"),
        MetricConfig(name="m", direction="increase", critical=True,
                     effectSize=EffectSizeConfig(allowedIncrease=1.05, criticalIncrease=1.2)),
        MetricConfig(name="m", direction="either",
                     effectSize=EffectSizeConfig(allowedIncrease=1.1, allowedDecrease=0.9)),
        MetricConfig(name="m", direction="increase", outliers=OutlierConfig(strategy="remove"), passMargin=0.05),
        MetricConfig(name="m", direction="either", nanStrategy="replace", minSamples=10),
        MetricConfig(name="m", direction="decrease", critical=True,
                     effectSize=EffectSizeConfig(allowedDecrease=0.95, criticalDecrease=0.8)),
    ]


def _count_metrics() -> list[MetricConfig]:
    return [
        MetricConfig(name="m", kind="count", direction="increase"),
        MetricConfig(name="m", kind="count", direction="either"),
        MetricConfig(name="m", kind="count", direction="increase", critical=True,
                     effectSize=EffectSizeConfig(allowedIncrease=1.2, criticalIncrease=2.0)),
        MetricConfig(name="m", kind="count", direction="decrease", passMargin=0.3),
    ]


def _continuous(rng: np.random.Generator, kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and canary of one continuous case of ``kind``."""
    shape = rng.choice(["normal", "lognormal", "ar1", "load"])
    level = float(rng.choice([0.5, 200.0, 1e4]))
    if shape == "normal":
        b = rng.normal(level, 0.05 * level, n)
        c = rng.normal(level, 0.05 * level, n)
    elif shape == "lognormal":
        b = level * rng.lognormal(0.0, 0.4, n)
        c = level * rng.lognormal(0.0, 0.4, n)
    elif shape == "ar1":
        def ar(size: int) -> np.ndarray:
            e = rng.normal(0.0, 0.05 * level, size)
            out = np.empty(size)
            out[0] = e[0]
            for i in range(1, size):
                out[i] = 0.6 * out[i - 1] + e[i]
            return level + out
        b, c = ar(n), ar(n)
    else:  # a shared load pattern, as two instance groups serving the same traffic see
        load = level * (1.0 + 0.3 * np.sin(np.arange(n) / 7.0))
        b = load * rng.lognormal(0.0, 0.1, n)
        c = load * rng.lognormal(0.0, 0.1, n)
    if kind.startswith("shift"):
        c = c + float(kind.removeprefix("shift")) / 100.0 * float(np.mean(b))
    elif kind == "variance":
        c = np.mean(c) + (c - np.mean(c)) * 2.0
    elif kind == "p99":
        hit = rng.random(n) < 0.04
        c = np.where(hit, np.max(b) * rng.uniform(1.05, 1.5, n), c)
    elif kind == "p5_low":
        hit = rng.random(n) < 0.05
        c = np.where(hit, np.min(b) * rng.uniform(0.3, 0.9, n), c)
    elif kind == "nan":
        b = np.where(rng.random(n) < 0.1, np.nan, b)
        c = np.where(rng.random(n) < 0.1, np.inf, c)
    elif kind == "negative":
        b, c = b - level, c - level + 0.02 * level
    elif kind == "discrete":
        b, c = np.round(b / level * 3.0), np.round(c / level * 3.0 + 0.3)
    return b, c


def _count(rng: np.random.Generator, kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    rate = float(rng.choice([0.3, 3.0, 40.0]))
    traffic = 1.0 + 0.5 * np.sin(np.arange(n) / 5.0)
    b = rng.poisson(rate * traffic).astype(np.float64)
    factor = {"null": 1.0, "x2": 2.0, "half": 0.5, "x1.3": 1.3}.get(kind, 1.0)
    c = rng.poisson(rate * traffic * factor).astype(np.float64)
    if kind == "burst":
        start = int(rng.integers(0, max(n - n // 6, 1)))
        c[start:start + n // 6] += rng.poisson(rate * 7.0, len(c[start:start + n // 6]))
    if kind == "overdispersed":
        b = rng.poisson(rate * traffic * rng.gamma(0.5, 2.0, n)).astype(np.float64)
        c = rng.poisson(rate * traffic * rng.gamma(0.5, 2.0, n)).astype(np.float64)
    return b, c


def cases() -> Iterator[tuple[str, CanaryConfig, dict[str, Series], dict[str, Series]]]:
    """Every case: an id, a one-or-two-metric config and the baseline/canary series."""
    rng = np.random.default_rng(SEED)
    metrics, counts = _metrics(), _count_metrics()
    kinds = ["null", "null", "null", "shift5", "shift10", "shift20", "shift50", "shift-10", "shift-30",
             "variance", "p99", "p5_low", "nan", "negative", "discrete"]
    lengths = [5, 12, 20, 25, 40, 60, 120, 200, 400]
    i = 0
    for kind in kinds:
        for _ in range(16):
            n = int(rng.choice(lengths))
            b, c = _continuous(rng, kind, n)
            metric = metrics[i % len(metrics)]
            i += 1
            yield f"cont-{i}-{kind}-{n}", CanaryConfig(metrics=(metric,)), *_pair(b, c)
    for kind in ["null", "null", "x2", "half", "x1.3", "burst", "overdispersed"]:
        for _ in range(10):
            n = int(rng.choice(lengths))
            b, c = _count(rng, kind, n)
            metric = counts[i % len(counts)]
            i += 1
            yield f"count-{i}-{kind}-{n}", CanaryConfig(metrics=(metric,)), *_pair(b, c)
    # The load benchmark's shape: two metrics of 120 samples, weighted groups.
    for factor in (1.0, 1.0, 1.3, 1.1, 1.05, 0.8):
        config = CanaryConfig(
            metrics=(MetricConfig(name="latency", direction="increase", groups=("latency",)),
                     MetricConfig(name="cpu", groups=("saturation",))),
            classifier=ClassifierConfig(groupWeights={"latency": 70, "saturation": 30}),
        )
        base, can = {}, {}
        for name, mean, sd in (("latency", 200.0, 10.0), ("cpu", 0.5, 0.05)):
            f = factor if name == "latency" else 1.0
            base[name] = Series(tuple(float(v) for v in rng.normal(mean, sd, 120)))
            can[name] = Series(tuple(float(v) for v in rng.normal(mean * f, sd * f, 120)))
        i += 1
        yield f"argo-{i}-{factor}", config, base, can
    # Edge cases: constant, identical, tiny, all-NaN sides.
    flat = np.full(40, 3.0)
    same = rng.normal(10.0, 1.0, 40)
    for name, b, c in (("constant", flat, flat), ("identical", same, same.copy()),
                       ("constant-vs-noise", flat, flat + rng.normal(0, 0.01, 40)),
                       ("one", np.array([1.0]), np.array([2.0])), ("allnan", np.full(30, np.nan), same[:30]),
                       ("zeros-vs-ones", np.zeros(40), np.ones(40))):
        i += 1
        yield f"edge-{i}-{name}", CanaryConfig(metrics=(MetricConfig(name="m", minSamples=1),)), *_pair(b, c)


def _pair(b: np.ndarray, c: np.ndarray) -> tuple[dict[str, Series], dict[str, Series]]:
    return {"m": Series(tuple(float(v) for v in b))}, {"m": Series(tuple(float(v) for v in c))}  # type: ignore[return-value]


def _num(value: float | None) -> float | str | None:
    """JSON-safe float (infinities and NaN as strings)."""
    if value is None:
        return None
    if math.isnan(value) or math.isinf(value):
        return repr(value)
    return value


def _effect(effect: Any) -> list[Any] | None:
    if effect is None:
        return None
    return [effect.measure, _num(effect.estimate), _num(effect.lower), _num(effect.upper), effect.confidence]


def snapshot(result: JudgeResult) -> dict[str, Any]:
    """The judge's result as plain JSON values."""
    return {
        "verdict": result.verdict.value,
        "score": result.score,
        "reason": result.reason,
        "metrics": [
            {
                "classification": m.classification.value,
                "reason": m.reason,
                "critical": m.critical,
                "samples": m.samples,
                "effect": _effect(m.effect),
                "mean_ratio": _num(m.mean_ratio),
                "stats": [None if s is None else [s.count, *(_num(v) for v in (s.mean, s.median, s.min, s.max,
                                                                               s.std, s.p95, s.p99))]
                          for s in (m.baseline, m.canary)],
                "tests": [[t.name, t.decision.value, _effect(t.effect), t.samples, _num(t.evidence), t.detail]
                          for t in m.tests],
            }
            for m in result.metrics
        ],
    }


def interval_inputs() -> tuple[np.ndarray, np.ndarray, list[float]]:
    """``(k, total)`` rows (integer and fractional, edges 0 and total) and the alphas to test them at."""
    rng = np.random.default_rng(SEED + 1)
    total = np.concatenate([np.arange(1.0, 41.0), rng.uniform(0.2, 3000.0, 160), [0.0, 1e-3, 0.5]])
    share = rng.uniform(0.0, 1.0, len(total))
    share[:40:4], share[1:40:4] = 0.0, 1.0
    k = np.round(share * total)
    k[200:] = share[200:] * total[200:]  # fractional counts, as over-dispersion division gives
    k[40:80] = share[40:80] * total[40:80]
    return k, total, [0.02, 0.05, 0.02 / 2 / 5, 0.01 / 2 / 3, 0.3]


def run_intervals() -> dict[str, Any]:
    """beta_binomial_intervals of :func:`interval_inputs`, per alpha."""
    from tollgate.release.judge.sequential import beta_binomial_intervals

    k, total, alphas = interval_inputs()
    out: dict[str, Any] = {}
    for alpha in alphas:
        lo, hi = beta_binomial_intervals(k, total, alpha)
        out[repr(alpha)] = [lo.tolist(), hi.tolist()]
    return out


def run_all() -> dict[str, Any]:
    """Snapshot of every case, by id, and of the beta-binomial intervals (under ``_intervals``)."""
    out: dict[str, Any] = {case_id: snapshot(judge(config, base, can)) for case_id, config, base, can in cases()}
    out["_intervals"] = run_intervals()
    return out


if __name__ == "__main__":
    FIXTURE.parent.mkdir(exist_ok=True)
    with gzip.open(FIXTURE, "wt", encoding="utf-8") as handle:
        json.dump(run_all(), handle, sort_keys=True)
