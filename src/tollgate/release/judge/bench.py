"""Canary-judge benchmark on real metric behaviour (NAB series) with injected regressions.

Each case takes a window of ``2 × horizon`` consecutive points of one NAB series and splits it into
``horizon`` adjacent pairs; a coin flip per pair sends one point to the baseline and the other to the
canary. Both sides so see the same load pattern with their own noise, as two instance groups serving
the same traffic do, and a null case is a canary that is "another sample of the same behaviour".
Regressions are injected into the canary side:

* ``shift_5`` / ``shift_10`` / ``shift_20``: + 5/10/20 % of the baseline mean;
* ``variance_x2``: deviations from the canary mean scaled by √2;
* ``p99``: 3 % of canary samples moved above the baseline p99;
* ``errors_x2`` / ``error_burst`` (count metric): errors drawn as Poisson counts at 1 % of a traffic
  volume that follows the series; the canary rate is doubled throughout, or ×8 during a random 15 %
  of the window.

There are as many null cases as regression cases (continuous and count nulls in the same
proportion as the regressions). The sequential judge is read as a rollout controller would: it
stops at the first pass or fail; the fixed-horizon Mann-Whitney judge (Kayenta's rule) sees the whole
window once. The NAB data are read from ``data_dir``; nothing of them ships in the package.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tollgate.errors import InputError
from tollgate.model.canary import Decision
from tollgate.release.judge.classify import sequential_outcomes
from tollgate.release.judge.config import MetricConfig
from tollgate.release.judge.mannwhitney import constant_noise, mann_whitney, mean_ratio, significance
from tollgate.release.judge.preprocess import FloatArray

__all__ = ["CONTINUOUS_TYPES", "COUNT_TYPES", "bench_canary"]

CONTINUOUS_TYPES = ("shift_5", "shift_10", "shift_20", "variance_x2", "p99")
COUNT_TYPES = ("errors_x2", "error_burst")
DEFAULT_CATEGORIES = ("realAWSCloudwatch", "realAdExchange")
TARGETS = {"false_fail_rate_max": 0.01, "shift_10_power_min": 0.95, "median_decision_fraction_max": 0.5}


@dataclass(frozen=True)
class _Case:
    kind: str  # regression type or "null"
    metric_kind: str  # continuous | count
    baseline: FloatArray
    canary: FloatArray


def _read_values(path: Path) -> FloatArray:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    values = [float(r[1]) for r in rows[1:] if len(r) >= 2 and r[1].strip()]
    return np.asarray(values, dtype=np.float64)


def _load(data_dir: Path, categories: Sequence[str], min_len: int) -> list[tuple[str, FloatArray]]:
    out = []
    for category in categories:
        folder = data_dir / category
        if not folder.is_dir():
            raise InputError(f"{folder}: NAB category folder not found (pass the NAB data directory)")
        for path in sorted(folder.glob("*.csv")):
            values = _read_values(path)
            if len(values) >= min_len:
                out.append((f"{category}/{path.name}", values))
    if not out:
        raise InputError(f"{data_dir}: no NAB series with at least {min_len} rows in {', '.join(categories)}")
    return out


def _window(rng: np.random.Generator, series: list[tuple[str, FloatArray]], horizon: int) -> tuple[FloatArray,
                                                                                                    FloatArray]:
    """Baseline and canary from one window: adjacent points paired, sides chosen by a coin per pair."""
    for _ in range(1000):
        _, values = series[int(rng.integers(len(series)))]
        start = int(rng.integers(0, len(values) - 2 * horizon + 1))
        w = values[start : start + 2 * horizon]
        if np.std(w) > 0 and np.mean(w) > 0 and len(np.unique(w)) > 10:
            pairs = w.reshape(horizon, 2)
            flip = rng.random(horizon) < 0.5
            b = np.where(flip, pairs[:, 1], pairs[:, 0])
            c = np.where(flip, pairs[:, 0], pairs[:, 1])
            return b, c
    raise InputError("could not find a usable NAB window (all flat)")


def _inject(kind: str, b: FloatArray, c: FloatArray, rng: np.random.Generator) -> FloatArray:
    mean_b = float(np.mean(b))
    if kind.startswith("shift_"):
        return c + int(kind.removeprefix("shift_")) / 100.0 * mean_b
    if kind == "variance_x2":
        mc = float(np.mean(c))
        widened: FloatArray = mc + np.sqrt(2.0) * (c - mc)
        return widened
    if kind == "p99":
        q99, med, sd = np.percentile(b, 99), np.median(b), np.std(b)
        spread = max(float(q99 - med), float(sd), 1e-9)
        hit = rng.random(len(c)) < 0.03
        return np.where(hit, q99 + rng.uniform(0.2, 1.0, len(c)) * spread, c)
    raise ValueError(kind)


def _counts(kind: str, b: FloatArray, c: FloatArray, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Error counts: Poisson at 1 % of a traffic volume shaped like the series (mean 200 per interval).

    Both sides get the same traffic per interval (an even split), and 2 % of intervals carry a
    shared upstream incident (×5 errors on both sides), so nulls are bursty too.
    """
    volume = (b + c) / 2.0
    scale = 200.0 / max(float(np.mean(volume)), 1e-12)
    rate = 0.01 * np.maximum(volume, 0) * scale
    rate = rate * np.where(rng.random(len(rate)) < 0.02, 5.0, 1.0)
    factor = np.ones(len(c))
    if kind == "errors_x2":
        factor[:] = 2.0
    elif kind == "error_burst":
        width = max(1, int(0.15 * len(c)))
        start = int(rng.integers(0, len(c) - width + 1))
        factor[start : start + width] = 8.0
    return rng.poisson(rate).astype(np.float64), rng.poisson(rate * factor).astype(np.float64)


def _cases(rng: np.random.Generator, series: list[tuple[str, FloatArray]], horizon: int, per_type: int) -> list[_Case]:
    cases: list[_Case] = []
    for kind in CONTINUOUS_TYPES:
        for _ in range(per_type):
            b, c = _window(rng, series, horizon)
            cases.append(_Case(kind, "continuous", b, _inject(kind, b, c, rng)))
    for kind in COUNT_TYPES:
        for _ in range(per_type):
            b, c = _window(rng, series, horizon)
            eb, ec = _counts(kind, b, c, rng)
            cases.append(_Case(kind, "count", eb, ec))
    for _ in range(per_type * len(CONTINUOUS_TYPES)):
        b, c = _window(rng, series, horizon)
        cases.append(_Case("null", "continuous", b, c))
    for _ in range(per_type * len(COUNT_TYPES)):
        b, c = _window(rng, series, horizon)
        eb, ec = _counts("null", b, c, rng)
        cases.append(_Case("null", "count", eb, ec))
    return cases


def _sequential(case: _Case, metric: MetricConfig, confidence: float) -> tuple[str, int]:
    """The controller's view: verdict and pairs used at the first pass or fail (or the end)."""
    outcome, tails = sequential_outcomes(metric, case.baseline, case.canary, confidence=confidence)
    events: list[tuple[int, int, str]] = []  # (time, fail-first tie order, verdict)
    if outcome.fail_at is not None and outcome.decision is Decision.FAIL:
        events.append((outcome.fail_at, 0, "fail"))
    if outcome.pass_at is not None and outcome.decision is Decision.PASS:
        events.append((outcome.pass_at, 1, "pass"))
    events += [(t.fail_at, 0, "fail") for t in tails if t.fail_at is not None]
    if not events:
        return "inconclusive", len(case.baseline)
    at, _, verdict = min(events)
    return verdict, at


def _mannwhitney(case: _Case, metric: MetricConfig, confidence: float) -> str:
    b, c = case.baseline, case.canary
    if np.array_equal(np.sort(b), np.sort(c)) or (np.all(b == b[0]) and np.all(c == b[0])):
        return "pass"
    x, y = (constant_noise(c, b) if len(np.unique(c)) == 1 and len(np.unique(b)) == 1 else (c, b))
    result = mann_whitney(x, y, confidence=confidence)
    label = significance(result, mean_ratio(c, b), direction="increase",
                         allowed_increase=metric.effectSize.gate("allowedIncrease"),
                         allowed_decrease=metric.effectSize.gate("allowedDecrease"))
    return "fail" if label == "High" else "pass"


def _rate(items: Sequence[str], value: str) -> float:
    return round(sum(i == value for i in items) / len(items), 4) if items else 0.0


def bench_canary(
    data_dir: Path,
    seed: int = 0,
    *,
    horizon: int = 300,
    cases_per_type: int = 60,
    confidence: float = 0.98,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
) -> dict[str, object]:
    """Run the benchmark; returns rates per judge and regression type, and whether the targets are met.

    ``data_dir`` is the NAB data directory (holding ``realAWSCloudwatch/`` etc.). Rates are fractions
    of cases; ``decision_fraction`` is pairs used at the sequential decision / ``horizon`` (undecided
    cases count as 1.0).
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    series = _load(Path(data_dir), categories, 2 * horizon)
    cases = _cases(rng, series, horizon, cases_per_type)
    metrics = {
        "continuous": MetricConfig(name="bench_continuous", direction="increase", kind="continuous"),
        "count": MetricConfig(name="bench_count", direction="increase", kind="count"),
    }
    seq: dict[str, list[str]] = {}
    frac: dict[str, list[float]] = {}
    mw: dict[str, list[str]] = {}
    for case in cases:
        metric = metrics[case.metric_kind]
        key = case.kind if case.kind != "null" else f"null_{case.metric_kind}"
        verdict, at = _sequential(case, metric, confidence)
        seq.setdefault(key, []).append(verdict)
        frac.setdefault(key, []).append(at / horizon if verdict != "inconclusive" else 1.0)
        mw.setdefault(key, []).append(_mannwhitney(case, metric, confidence))

    nulls = [*seq.get("null_continuous", []), *seq.get("null_count", [])]
    mw_nulls = [*mw.get("null_continuous", []), *mw.get("null_count", [])]
    all_fracs = [f for values in frac.values() for f in values]
    types = [*CONTINUOUS_TYPES, *COUNT_TYPES]
    false_fail = _rate(nulls, "fail")
    power = {t: _rate(seq[t], "fail") for t in types}
    median_fraction = round(statistics.median(all_fracs), 4)
    sequential = {
        "false_fail_rate": false_fail,
        "null_pass_rate": _rate(nulls, "pass"),
        "null_inconclusive_rate": _rate(nulls, "inconclusive"),
        "power": power,
        "missed_as_pass": {t: _rate(seq[t], "pass") for t in types},
        "inconclusive": {t: _rate(seq[t], "inconclusive") for t in types},
        "median_decision_fraction": median_fraction,
        "median_decision_fraction_by_type": {k: round(statistics.median(v), 4) for k, v in sorted(frac.items())},
        "by_null_kind": {
            k: {"fail": _rate(seq[k], "fail"), "pass": _rate(seq[k], "pass"),
                "inconclusive": _rate(seq[k], "inconclusive")}
            for k in ("null_continuous", "null_count")
        },
    }
    mannwhitney = {
        "false_fail_rate": _rate(mw_nulls, "fail"),
        "power": {t: _rate(mw[t], "fail") for t in types},
        "decision_fraction": 1.0,
        "by_null_kind": {k: _rate(mw[k], "fail") for k in ("null_continuous", "null_count")},
    }
    return {
        "seed": seed,
        "horizon": horizon,
        "confidence": confidence,
        "series": len(series),
        "cases": {"regressions": cases_per_type * len(types), "nulls": len(nulls), "per_type": cases_per_type},
        "sequential": sequential,
        "mannwhitney": mannwhitney,
        "targets": TARGETS,
        "targets_met": {
            "false_fail_rate": false_fail <= TARGETS["false_fail_rate_max"],
            "shift_10_power": power["shift_10"] >= TARGETS["shift_10_power_min"],
            "median_decision_fraction": median_fraction <= TARGETS["median_decision_fraction_max"],
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
