"""Per-metric classification: Pass / High / Low / NodataFailMetric / Nodata / Error / Inconclusive.

Order of the rules, for both modes:

1. values are cleaned (infinities count as NaN; ``nanStrategy`` removes or zeroes them) and, with
   ``outliers.strategy: remove``, Kayenta's IQR fences drop outliers;
2. a side without samples -> ``NodataFailMetric`` when ``mustHaveData`` (and not critical), else
   ``Nodata``; a critical metric without data is marked critical. Unlike Kayenta, ``nanStrategy:
   replace`` does not turn an empty side into a pass;
3. fewer than ``minSamples`` samples -> ``Inconclusive`` (never a pass);
4. identical samples, or one value everywhere on both sides -> ``Pass`` (Kayenta's short-circuits);
5. the mode's test: ``sequential`` (location + tail tests, or the count test) or ``mannwhitney``
   (Kayenta's fixed-horizon rule). A sequential test still undecided at the end -> ``Inconclusive``.

Any exception while classifying one metric gives ``Error`` for that metric (the others still run).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np

from tollgate.model.canary import (
    Decision,
    Effect,
    MetricClassification,
    MetricResult,
    Series,
    StatResult,
)
from tollgate.release.judge.config import MetricConfig
from tollgate.release.judge.mannwhitney import (
    cles,
    constant_noise,
    mann_whitney,
    mean_ratio,
    significance,
)
from tollgate.release.judge.preprocess import FloatArray, clean, clean_pair, iqr_keep_mask, stats, to_array
from tollgate.release.judge.sequential import (
    DEFAULT_MIXTURE_G,
    SequentialOutcome,
    ShiftTest,
    TailOutcome,
    TailSpec,
    count_path,
    location_path,
    tail_paths,
)

__all__ = ["Mode", "classify_metric", "sequential_outcomes"]

Mode = Literal["sequential", "mannwhitney"]
C = MetricClassification
TAIL_QUANTILES = (0.95, 0.99)
GUARD_SHARE = 0.5


def _num(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.4g}"


def _pct(value: float) -> str:
    if math.isinf(value):
        return "+∞%" if value > 0 else "-∞%"
    return f"{value * 100:+.1f}%" if abs(value) < 0.1 else f"{value * 100:+.0f}%"


def _base(metric: MetricConfig, **fields: object) -> MetricResult:
    return MetricResult(name=metric.name, groups=metric.groups, muted=metric.muted, **fields)  # type: ignore[arg-type]


def _margins(metric: MetricConfig) -> tuple[float, float, float | None, float | None]:
    """Fail and critical margins of the relative shift from the effect-size gates (meanRatio)."""
    es = metric.effectSize
    if es.measure != "meanRatio":
        return 0.0, 0.0, (0.0 if metric.critical else None), (0.0 if metric.critical else None)
    inc = max(es.gate("allowedIncrease") - 1.0, 0.0)
    dec = max(1.0 - es.gate("allowedDecrease"), 0.0)
    c_inc = max(es.gate("criticalIncrease") - 1.0, 0.0) if metric.critical else None
    c_dec = max(1.0 - es.gate("criticalDecrease"), 0.0) if metric.critical else None
    return inc, dec, c_inc, c_dec


def sequential_outcomes(
    metric: MetricConfig, baseline: FloatArray, canary: FloatArray, *, confidence: float,
    g: float = DEFAULT_MIXTURE_G,
) -> tuple[SequentialOutcome, tuple[TailOutcome, ...]]:
    """Run the metric's sequential tests on aligned, cleaned pairs (no short-circuits)."""
    alpha = 1.0 - confidence
    if metric.kind == "count":
        es = metric.effectSize
        ratio = es.measure == "meanRatio"
        outcome = count_path(
            baseline, canary, alpha=alpha, direction=metric.direction,
            fail_increase=es.gate("allowedIncrease") if ratio else 1.0,
            fail_decrease=es.gate("allowedDecrease") if ratio else 1.0,
            pass_margin=metric.pass_margin,
            critical_increase=(es.gate("criticalIncrease") if ratio else 1.0) if metric.critical else None,
            critical_decrease=(es.gate("criticalDecrease") if ratio else 1.0) if metric.critical else None,
            min_samples=metric.minSamples, confidence=confidence,
        )
        return outcome, ()
    inc, dec, c_inc, c_dec = _margins(metric)
    sides = [s for s, on in (("up", metric.direction != "decrease"), ("down", metric.direction != "increase")) if on]
    n_tests = len(sides) * len(TAIL_QUANTILES) + 1
    specs = [TailSpec(q, upper=(side == "up")) for side in sides for q in TAIL_QUANTILES]
    specs.append(TailSpec(0.5, spread=True))
    tails = tail_paths(baseline, canary, specs, alpha=alpha / 2.0 / n_tests, confidence=confidence)
    # A pass waits while a tail test is more than halfway (on the log scale) to failing.
    guard = np.ones(min(len(baseline), len(canary)), bool)
    for t in tails:
        guard &= t.log_e <= GUARD_SHARE * math.log(2.0 * n_tests / alpha)
    outcome = location_path(
        baseline, canary, alpha=alpha, direction=metric.direction, fail_increase=inc, fail_decrease=dec,
        pass_margin=metric.pass_margin, critical_increase=c_inc, critical_decrease=c_dec,
        min_samples=metric.minSamples, g=g, confidence=confidence, pass_guard=guard,
    )
    return outcome, tails


def _stat(name: str, outcome: SequentialOutcome) -> StatResult:
    return StatResult(name, outcome.decision, outcome.effect, outcome.samples, outcome.evidence)


def _shift_stat(t: ShiftTest) -> StatResult:
    decision = Decision.FAIL if t.fail_at is not None else Decision.CONTINUE
    where = "above" if t.side == "high" else "below"
    detail = f"canary {where} baseline in {t.above} pairs, the other way in {t.below}"
    return StatResult(f"shift_{t.name}_{t.side}", decision, None, t.fail_at or 0, t.evidence, detail)


def _tail_stat(t: TailOutcome) -> StatResult:
    detail = f"canary beyond the running quantile {t.canary_exceed}×, baseline {t.baseline_exceed}×"
    return StatResult(t.name, t.decision, t.effect, t.samples, t.evidence, detail)


def _continuous_reason(metric: MetricConfig, b_mean: float, c_mean: float, eff: Effect | None, n: int) -> str:
    head = f"{metric.name}: canary mean {_num(c_mean)} vs baseline {_num(b_mean)}"
    if eff is None:
        return f"{head} after {n} pairs"
    conf = f"{eff.confidence * 100:g}%"
    return f"{head} ({_pct(eff.estimate)}, {conf} CI {_pct(eff.lower)}..{_pct(eff.upper)}, {n} pairs)"


def _classify_sequential(metric: MetricConfig, b: FloatArray, c: FloatArray, confidence: float,
                         described: dict[str, object]) -> MetricResult:
    """The sequential tests' classification; ``described`` holds the sides' stats and mean ratio."""
    outcome, tails = sequential_outcomes(metric, b, c, confidence=confidence)
    tests = (_stat("count" if metric.kind == "count" else "location", outcome), *map(_shift_stat, outcome.tests),
             *map(_tail_stat, tails))
    common = {**described, "tests": tests}
    fail_times = [(outcome.fail_at, "main")] if outcome.decision is Decision.FAIL else []
    fail_times += [(t.fail_at, t.name) for t in tails if t.fail_at is not None]
    first_fail = min(fail_times, key=lambda ft: ft[0] or 0) if fail_times else None
    if metric.kind == "count":
        eff = outcome.effect
        used = outcome.samples
        head = (f"{metric.name}: canary {_num(float(c[:used].sum()))} events vs baseline "
                f"{_num(float(b[:used].sum()))}")
        detail = head + (
            f" (rate ×{_num(eff.estimate)}, {eff.confidence * 100:g}% CI ×{_num(eff.lower)}..×{_num(eff.upper)}, "
            f"{outcome.samples} intervals)" if eff is not None else f" over {outcome.samples} intervals"
        )
    else:
        detail = _continuous_reason(metric, float(b[: outcome.samples].mean()),
                                    float(c[: outcome.samples].mean()), outcome.effect, outcome.samples)
    if first_fail is not None and first_fail[1] == "main":
        label = C.HIGH if outcome.side == "high" else C.LOW
        where = "above the allowed increase" if label is C.HIGH else "below the allowed decrease"
        test = next((t for t in outcome.tests if t.name == outcome.rejected_by and t.fail_at == outcome.fail_at),
                    None)
        if test is not None:
            word = "higher" if label is C.HIGH else "lower"
            where += (f": the paired {test.name} test rejected 'no change beyond the margin' (canary {word} "
                      f"in {test.above} of {test.above + test.below} differing pairs, e-value {_num(test.evidence)})")
        return _base(metric, classification=label, reason=f"{detail}, {where}", critical=outcome.critical,
                     effect=outcome.effect, samples=outcome.samples, **common)
    if first_fail is not None:
        tail = next(t for t in tails if t.name == first_fail[1])
        label = C.LOW if tail.name.endswith("_low") else C.HIGH
        if tail.name == "spread":
            reason = (
                f"{metric.name}: the canary sample was farther from the running median than the baseline "
                f"sample in {tail.canary_exceed} pairs vs {tail.baseline_exceed} the other way after "
                f"{tail.samples} pairs: a wider spread on the canary"
            )
        else:
            quant = tail.name.removeprefix("tail_").removesuffix("_low")
            side = "below the running low" if label is C.LOW else "above the running"
            reason = (
                f"{metric.name}: {tail.canary_exceed} canary samples vs {tail.baseline_exceed} baseline samples "
                f"{side} {quant} after {tail.samples} pairs: a {'lower' if label is C.LOW else 'heavier upper'} "
                "tail on the canary"
            )
        neutral = metric.effectSize.gate("criticalIncrease" if label is C.HIGH else "criticalDecrease") in (0.5, 1.0)
        return _base(metric, classification=label, reason=reason, critical=metric.critical and neutral,
                     effect=tail.effect, samples=tail.samples, **common)
    if outcome.decision is Decision.PASS:
        margin = metric.pass_margin
        bound = f"within ×{_num(1 + margin)}" if metric.kind == "count" else f"within ±{margin * 100:g}%"
        return _base(metric, classification=C.PASS, reason=f"{detail}, {bound}", effect=outcome.effect,
                     samples=outcome.samples, **common)
    return _base(
        metric, classification=C.INCONCLUSIVE,
        reason=f"{detail}: not enough evidence to pass or fail yet; extend the canary or accept manually",
        effect=outcome.effect, samples=outcome.samples, **common,
    )


def _classify_mannwhitney(metric: MetricConfig, b: FloatArray, c: FloatArray, confidence: float,
                          described: dict[str, object]) -> MetricResult:
    """Kayenta's fixed-horizon classification; ``described`` holds the sides' stats and mean ratio."""
    ratio = mean_ratio(c, b)
    es = metric.effectSize
    effect_size = ratio if es.measure == "meanRatio" else cles(c, b)
    x, y = c, b
    if len(np.unique(c)) == 1 and len(np.unique(b)) == 1:
        x, y = constant_noise(c, b)
    mw = mann_whitney(x, y, confidence=confidence)
    label = significance(
        mw, effect_size, direction=metric.direction,
        allowed_increase=es.gate("allowedIncrease"), allowed_decrease=es.gate("allowedDecrease"),
    )
    critical = False
    if metric.critical and label == "High":
        critical = math.isnan(effect_size) or effect_size >= es.gate("criticalIncrease")
    elif metric.critical and label == "Low":
        critical = math.isnan(effect_size) or effect_size <= es.gate("criticalDecrease")
    b_mean = float(np.mean(b))
    ref = abs(b_mean) if b_mean != 0 else 1.0
    effect = Effect("shift", mw.estimate, mw.lower, mw.upper, mw.confidence)
    rel = Effect("relative", mw.estimate / ref, mw.lower / ref, mw.upper / ref, mw.confidence)
    size = f"mean ratio {_num(ratio)}" if es.measure == "meanRatio" else f"CLES {_num(effect_size)}"
    reason = (
        f"{metric.name}: canary mean {_num(float(np.mean(c)))} vs baseline {_num(b_mean)} ({size}; "
        f"shift {_num(mw.estimate)}, {mw.confidence * 100:g}% CI {_num(mw.lower)}..{_num(mw.upper)}, "
        f"{len(c)}/{len(b)} samples)"
    )
    reason += {
        "High": ", a significant increase",
        "Low": ", a significant decrease",
        "Pass": ", no significant change in the failing direction",
    }[label]
    test = StatResult("mann_whitney", Decision.FAIL if label != "Pass" else Decision.PASS, effect,
                      min(len(b), len(c)), mw.p_value)
    return _base(
        metric, classification=C(label), reason=reason, critical=critical, effect=rel, tests=(test,),
        samples=min(len(b), len(c)), **described,
    )


def _prepare(metric: MetricConfig, baseline: Series | None, canary: Series | None, mode: Mode
             ) -> tuple[FloatArray, FloatArray]:
    b_raw, c_raw = to_array(baseline), to_array(canary)
    factor = metric.outliers.outlierFactor
    if mode == "sequential":
        b, c = clean_pair(b_raw, c_raw, metric.nanStrategy)
        if metric.outliers.strategy == "remove" and len(b):
            keep = iqr_keep_mask(b, factor) & iqr_keep_mask(c, factor)
            b, c = b[keep], c[keep]
        return b, c
    b, c = clean(b_raw, metric.nanStrategy), clean(c_raw, metric.nanStrategy)
    if metric.outliers.strategy == "remove":
        b, c = b[iqr_keep_mask(b, factor)], c[iqr_keep_mask(c, factor)]
    return b, c


def classify_metric(
    metric: MetricConfig,
    baseline: Series | None,
    canary: Series | None,
    *,
    mode: Mode = "sequential",
    confidence: float = 0.98,
) -> MetricResult:
    """Classify one metric (see the module docstring for the rules). Never raises for bad data."""
    try:
        b, c = _prepare(metric, baseline, canary, mode)
        if len(b) == 0 or len(c) == 0:
            empty = " and ".join(side for side, arr in (("baseline", b), ("canary", c)) if len(arr) == 0)
            if metric.mustHaveData and not metric.critical:
                return _base(metric, classification=C.NODATA_FAIL,
                             reason=f"{metric.name}: no data for the {empty}, and the metric must have data",
                             baseline=stats(b), canary=stats(c))
            return _base(metric, classification=C.NODATA, critical=metric.critical,
                         reason=f"{metric.name}: no data for the {empty}", baseline=stats(b), canary=stats(c))
        ratio = mean_ratio(c, b)
        common: dict[str, object] = {
            "baseline": stats(b), "canary": stats(c), "mean_ratio": None if math.isnan(ratio) else ratio,
        }
        n = min(len(b), len(c))
        unit = "pairs" if mode == "sequential" else "samples per side"
        if n < metric.minSamples:
            return _base(metric, classification=C.INCONCLUSIVE, samples=n,
                         reason=f"{metric.name}: only {n} {unit}, fewer than minSamples={metric.minSamples}",
                         **common)
        if np.array_equal(np.sort(b), np.sort(c)) or (np.all(b == b[0]) and np.all(c == b[0])):
            return _base(metric, classification=C.PASS, samples=n,
                         reason=f"{metric.name}: canary and baseline samples are identical", **common)
        run: Callable[[MetricConfig, FloatArray, FloatArray, float, dict[str, object]], MetricResult] = (
            _classify_sequential if mode == "sequential" else _classify_mannwhitney
        )
        return run(metric, b, c, confidence, common)
    except Exception as exc:  # one bad metric must not stop the judgement of the others
        return _base(metric, classification=C.ERROR, critical=metric.critical,
                     reason=f"{metric.name}: metric classification failed: {type(exc).__name__}: {exc}")
