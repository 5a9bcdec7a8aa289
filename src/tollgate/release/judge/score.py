"""Kayenta's weighted-group scoring, our verdict rules, and Kayenta's CanaryJudgeResult shape.

Score (Kayenta's ``WeightedSumScorer``, muted metrics left out):

* group score = 100 × Pass / counted, counted = Pass + High + Low + NodataFailMetric + **Error**;
  a group with nothing counted scores 100 (flagged ``no_data``);
* summary = Σ group score × weight / 100; groups without an explicit weight share
  ``100 - Σ explicit`` equally; rounded to 2 decimals;
* the score is 0 when a critical metric is not Pass, or when ``Nodata`` results are at least half.

Deliberate difference: Kayenta leaves ``Error`` out of the denominator, so a group whose metrics all
error scores 100. Here an error counts as a failure: a judge that cannot compute a metric has not
shown it is fine.

Verdict (ours; Kayenta only has the score):

* **fail** -- a critical metric is High/Low/Error, or the score is below ``marginal`` even if every
  undecided metric turned out to pass;
* **inconclusive** -- some metric is ``Inconclusive``, ``NodataFailMetric`` or a critical ``Nodata``;
  ``Nodata`` is at least half of the metrics; or ``marginal <= score < pass``;
* **pass** -- otherwise (score at or above ``pass``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tollgate.model.canary import (
    CanaryVerdict,
    GroupScore,
    JudgeResult,
    MetricClassification,
    MetricResult,
    SeriesStats,
)

__all__ = ["DEFAULT_GROUP", "NODATA_THRESHOLD", "group_scores", "summary_score", "to_kayenta_result", "verdict"]

C = MetricClassification
DEFAULT_GROUP = "default"
NODATA_THRESHOLD = 50.0  # percent of results
_COUNTED = {C.PASS, C.HIGH, C.LOW, C.NODATA_FAIL, C.ERROR}
_UNDECIDED = {C.INCONCLUSIVE, C.NODATA_FAIL}


def _groups_of(result: MetricResult) -> tuple[str, ...]:
    return result.groups or (DEFAULT_GROUP,)


def group_scores(
    results: Sequence[MetricResult], weights: Mapping[str, float], *, optimistic: bool = False
) -> tuple[GroupScore, ...]:
    """Per-group scores in first-seen order. ``optimistic`` counts undecided metrics as passes."""
    names: list[str] = []
    for r in results:
        if r.muted:
            continue
        for g in _groups_of(r):
            if g not in names:
                names.append(g)
    explicit = {g: w for g, w in weights.items() if g in names}
    unweighted = [g for g in names if g not in explicit]
    share = max(100.0 - sum(weights.values()), 0.0) / len(unweighted) if unweighted else 0.0
    out = []
    for g in names:
        members = [r for r in results if g in _groups_of(r) and not r.muted]
        passed = counted = 0
        for r in members:
            label = C.PASS if optimistic and r.classification in _UNDECIDED else r.classification
            if label in _COUNTED:
                counted += 1
                passed += label is C.PASS
        score = 100.0 * passed / counted if counted else 100.0
        out.append(GroupScore(g, score, explicit.get(g, share), counted, passed, no_data=counted == 0))
    return tuple(out)


def summary_score(groups: Sequence[GroupScore]) -> float:
    return round(sum(g.score * g.weight / 100.0 for g in groups), 2)


def _hard_fail(active: Sequence[MetricResult]) -> tuple[MetricResult | None, bool]:
    critical = next((r for r in active if r.critical and r.classification is not C.PASS), None)
    nodata = sum(r.classification is C.NODATA for r in active)
    return critical, bool(active) and 100.0 * nodata / len(active) >= NODATA_THRESHOLD


def verdict(
    results: Sequence[MetricResult],
    weights: Mapping[str, float],
    *,
    pass_threshold: float,
    marginal_threshold: float,
    mode: str,
) -> JudgeResult:
    """Score the metric results and decide pass / fail / inconclusive (see the module docstring)."""
    active = [r for r in results if not r.muted]
    groups = group_scores(results, weights)
    score = summary_score(groups)
    critical, mostly_nodata = _hard_fail(active)
    notes: list[str] = []
    total_weight = sum(g.weight for g in groups)
    if groups and abs(total_weight - 100.0) > 1e-6:
        notes.append(f"group weights of the scored groups add up to {total_weight:g}, not 100")
    if critical is not None or mostly_nodata:
        score = 0.0

    def done(v: CanaryVerdict, reason: str) -> JudgeResult:
        return JudgeResult(v, score, reason, tuple(results), groups, mode, pass_threshold, marginal_threshold,
                           notes=tuple(notes))

    if not active:
        return done(CanaryVerdict.INCONCLUSIVE, "every metric is muted: nothing to judge")
    if critical is not None and critical.classification in (C.HIGH, C.LOW, C.ERROR):
        return done(CanaryVerdict.FAIL, f"critical metric failed: {critical.reason}")
    undecided = [r for r in active if r.classification in _UNDECIDED or (r.critical and r.classification is C.NODATA)]
    if mostly_nodata:
        n = sum(r.classification is C.NODATA for r in active)
        return done(CanaryVerdict.INCONCLUSIVE, f"{n} of {len(active)} metrics have no data; score set to 0")
    if undecided:
        best = summary_score(group_scores(results, weights, optimistic=True))
        if critical is None and best < marginal_threshold:
            return done(CanaryVerdict.FAIL, f"score {best:g} < marginal {marginal_threshold:g} even if the "
                        f"{len(undecided)} undecided metric(s) pass; {_worst(active)}")
        first = undecided[0]
        more = f" (and {len(undecided) - 1} more undecided)" if len(undecided) > 1 else ""
        return done(CanaryVerdict.INCONCLUSIVE, f"{first.reason}{more}")
    if score >= pass_threshold:
        return done(CanaryVerdict.PASS, f"score {score:g} >= pass {pass_threshold:g}; {_worst(active)}")
    if score >= marginal_threshold:
        return done(CanaryVerdict.INCONCLUSIVE, f"marginal score {score:g} (pass {pass_threshold:g}); "
                    f"{_worst(active)}")
    return done(CanaryVerdict.FAIL, f"score {score:g} < marginal {marginal_threshold:g}; {_worst(active)}")


def _worst(active: Sequence[MetricResult]) -> str:
    failed = [r for r in active if r.classification in (C.HIGH, C.LOW, C.ERROR, C.NODATA_FAIL)]
    if not failed:
        return f"all {len(active)} metric(s) passed"
    more = f" (+{len(failed) - 1} more failing)" if len(failed) > 1 else ""
    return f"{failed[0].reason}{more}"


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


def _stats(s: SeriesStats | None) -> dict[str, Any]:
    if s is None:
        return {"count": 0}
    return {"count": s.count, "mean": _finite(s.mean), "median": _finite(s.median), "min": _finite(s.min),
            "max": _finite(s.max), "std": _finite(s.std), "p95": _finite(s.p95), "p99": _finite(s.p99)}


_SCORE_LABEL = {CanaryVerdict.PASS: "Pass", CanaryVerdict.INCONCLUSIVE: "Marginal", CanaryVerdict.FAIL: "Fail"}


def to_kayenta_result(result: JudgeResult) -> dict[str, Any]:
    """Kayenta's CanaryJudgeResult shape (JSON-ready: no NaN or infinities).

    Our ``Inconclusive`` metric label, unknown to Kayenta, is reported as ``Nodata`` with our reason;
    the verdict maps to the score classification Pass / Marginal (inconclusive) / Fail.
    """
    results = []
    for i, m in enumerate(result.metrics):
        label = "Nodata" if m.classification is C.INCONCLUSIVE else m.classification.value
        entry: dict[str, Any] = {
            "name": m.name,
            "id": str(i),
            "tags": {},
            "classification": label,
            "classificationReason": m.reason,
            "groups": list(_groups_of(m)),
            "experimentMetadata": {"stats": _stats(m.canary)},
            "controlMetadata": {"stats": _stats(m.baseline)},
            "resultMetadata": {"ratio": _finite(m.mean_ratio)},
            "critical": m.critical,
            "muted": m.muted,
        }
        if m.effect is not None:
            entry["resultMetadata"]["effect"] = {
                "measure": m.effect.measure, "estimate": _finite(m.effect.estimate),
                "lower": _finite(m.effect.lower), "upper": _finite(m.effect.upper),
                "confidence": m.effect.confidence,
            }
        results.append(entry)
    return {
        "judgeName": result.judge_name,
        "score": {
            "score": result.score,
            "classification": _SCORE_LABEL[result.verdict],
            "classificationReason": result.reason,
        },
        "results": results,
        "groupScores": [
            {"name": g.name, "score": g.score, "noData": g.no_data, "weight": g.weight,
             "labelCounts": {"counted": g.counted, "pass": g.passed}}
            for g in result.groups
        ],
    }
