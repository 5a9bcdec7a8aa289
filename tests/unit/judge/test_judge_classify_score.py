"""Per-metric classification, Kayenta scoring, verdicts and the CanaryJudgeResult shape."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tollgate.errors import InputError
from tollgate.model.canary import CanaryVerdict, MetricClassification, MetricResult, Series
from tollgate.release.judge import judge, parse_config_text, to_kayenta_result
from tollgate.release.judge.classify import classify_metric
from tollgate.release.judge.config import MetricConfig
from tollgate.release.judge.score import group_scores, summary_score, verdict

C = MetricClassification
RNG = np.random.default_rng(42)


def _series(values: np.ndarray | list[float]) -> Series:
    return Series(tuple(float(v) for v in values))


def _normal(mean: float, sd: float, n: int = 400) -> Series:
    return _series(RNG.normal(mean, sd, n))


@pytest.mark.parametrize("mode", ["sequential", "mannwhitney"])
def test_empty_and_all_nan_series_never_crash(mode: str) -> None:
    metric = MetricConfig(name="m")
    nan = _series([math.nan, math.inf, -math.inf] * 10)
    for b, c in ((None, _normal(1, 0.1)), (_normal(1, 0.1), Series(())), (nan, nan), (_normal(1, 0.1), nan)):
        result = classify_metric(metric, b, c, mode=mode)  # type: ignore[arg-type]
        assert result.classification is C.NODATA
        assert "no data" in result.reason
    must = classify_metric(MetricConfig(name="m", mustHaveData=True), None, None, mode=mode)  # type: ignore[arg-type]
    assert must.classification is C.NODATA_FAIL
    critical = classify_metric(MetricConfig(name="m", critical=True, mustHaveData=True), None, None)
    assert critical.classification is C.NODATA and critical.critical


def test_nan_replace_turns_missing_values_into_zeros() -> None:
    metric = MetricConfig(name="m", nanStrategy="replace", minSamples=3)
    result = classify_metric(metric, _series([math.nan] * 30), _series([0.0] * 30))
    assert result.classification is C.PASS and "identical" in result.reason


def test_too_few_samples_is_inconclusive_not_pass() -> None:
    result = classify_metric(MetricConfig(name="lat", minSamples=50), _normal(1, 0.1, 30), _normal(1, 0.1, 30))
    assert result.classification is C.INCONCLUSIVE
    assert "minSamples=50" in result.reason


def test_undecided_sequential_test_is_inconclusive() -> None:
    # Very noisy, short: neither a pass within ±10 % nor a failure can be shown.
    result = classify_metric(MetricConfig(name="lat"), _normal(100, 100, 40), _normal(100, 100, 40))
    assert result.classification is C.INCONCLUSIVE
    assert "not enough evidence" in result.reason


def test_regression_reason_is_checkable_by_a_human() -> None:
    b, c = _normal(230, 20), _normal(300, 20)
    result = classify_metric(MetricConfig(name="p99_latency", direction="increase"), b, c)
    assert result.classification is C.HIGH
    assert result.effect is not None and 0 < result.effect.lower <= 70 / 230 <= result.effect.upper
    assert result.reason.startswith("p99_latency: canary mean ")
    assert "98% CI +" in result.reason and "above the allowed increase" in result.reason
    assert result.samples < 400  # decided before the data ran out
    assert result.mean_ratio == pytest.approx(np.mean(c.values) / np.mean(b.values))


def test_count_metric_reports_rate_ratio() -> None:
    b = _series(RNG.poisson(3, 300))
    c = _series(RNG.poisson(9, 300))
    result = classify_metric(MetricConfig(name="errors", kind="count", direction="increase"), b, c)
    assert result.classification is C.HIGH
    assert "rate ×" in result.reason and result.effect is not None and result.effect.measure == "rate_ratio"


def test_mannwhitney_mode_follows_kayenta() -> None:
    b, c = _normal(100, 10, 200), _normal(110, 10, 200)
    up = classify_metric(MetricConfig(name="m", direction="increase"), b, c, mode="mannwhitney")
    assert up.classification is C.HIGH and up.tests[0].name == "mann_whitney"
    gated = MetricConfig.model_validate({"name": "m", "effectSize": {"allowedIncrease": 1.5}})
    assert classify_metric(gated, b, c, mode="mannwhitney").classification is C.PASS
    crit = MetricConfig.model_validate({"name": "m", "critical": True, "effectSize": {"criticalIncrease": 1.05}})
    assert classify_metric(crit, b, c, mode="mannwhitney").critical


def test_outlier_removal_uses_kayenta_fences() -> None:
    values = [10.0] * 50 + [11.0] * 50 + [1000.0]
    metric = MetricConfig.model_validate({"name": "m", "outliers": {"strategy": "remove"}})
    result = classify_metric(metric, _series(values), _series(values[:-1] + [10.5]), mode="mannwhitney")
    assert result.baseline is not None and result.baseline.max < 1000.0


def _result(name: str, label: C, groups: tuple[str, ...] = (), critical: bool = False,
            muted: bool = False) -> MetricResult:
    return MetricResult(name=name, classification=label, reason=f"{name} is {label.value}", groups=groups,
                        critical=critical, muted=muted)


def test_group_scores_follow_kayenta_with_errors_counted() -> None:
    results = [
        _result("a", C.PASS, ("lat",)), _result("b", C.HIGH, ("lat",)),
        _result("c", C.PASS, ("err",)), _result("d", C.ERROR, ("err",)),
        _result("e", C.NODATA, ("sat",)), _result("f", C.HIGH, ("muted",), muted=True),
    ]
    groups = {g.name: g for g in group_scores(results, {"lat": 50})}
    assert set(groups) == {"lat", "err", "sat"}
    assert groups["lat"].score == 50.0 and groups["lat"].weight == 50
    assert groups["err"].score == 50.0 and groups["err"].counted == 2  # Kayenta would drop the Error: 100
    assert groups["sat"].no_data and groups["sat"].score == 100.0
    assert groups["err"].weight == groups["sat"].weight == 25.0  # the remainder, shared
    assert summary_score(tuple(groups.values())) == 25.0 + 12.5 + 25.0


def _verdict(results: list[MetricResult]):
    return verdict(results, {}, pass_threshold=90, marginal_threshold=70, mode="sequential")


def test_verdict_rules() -> None:
    passing = [_result(f"m{i}", C.PASS) for i in range(9)]
    assert _verdict(passing).verdict is CanaryVerdict.PASS
    one_high = _verdict([*passing, _result("x", C.HIGH)])  # 90 -> pass threshold reached
    assert one_high.verdict is CanaryVerdict.PASS and one_high.score == 90.0
    critical = _verdict([*passing, _result("x", C.HIGH, critical=True)])
    assert critical.verdict is CanaryVerdict.FAIL and critical.score == 0.0 and "critical" in critical.reason
    undecided = _verdict([*passing, _result("x", C.INCONCLUSIVE)])
    assert undecided.verdict is CanaryVerdict.INCONCLUSIVE and "x is Inconclusive" in undecided.reason
    nodata_must = _verdict([*passing, _result("x", C.NODATA_FAIL)])
    assert nodata_must.verdict is CanaryVerdict.INCONCLUSIVE
    hopeless = _verdict([_result("a", C.HIGH), _result("b", C.LOW), _result("c", C.INCONCLUSIVE)])
    assert hopeless.verdict is CanaryVerdict.FAIL  # even if c passed: 33 < 70
    mostly_empty = _verdict([_result("a", C.PASS), _result("b", C.NODATA)])
    assert mostly_empty.verdict is CanaryVerdict.INCONCLUSIVE and mostly_empty.score == 0.0
    marginal = _verdict([*passing[:3], _result("x", C.HIGH)])  # 75
    assert marginal.verdict is CanaryVerdict.INCONCLUSIVE and marginal.score == 75.0
    assert _verdict([*passing[:1], _result("x", C.ERROR)]).verdict is CanaryVerdict.FAIL


CONFIG = """
metrics:
  - {name: latency, direction: increase, groups: [latency]}
  - {name: errors, kind: count, direction: increase, groups: [errors], mustHaveData: true}
  - {name: cpu, groups: [saturation], minSamples: 10}
classifier:
  groupWeights: {latency: 50, errors: 30}
  scoreThresholds: {pass: 95, marginal: 75}
"""


@pytest.mark.parametrize("mode", ["sequential", "mannwhitney"])
def test_judge_end_to_end_and_kayenta_shape(mode: str) -> None:
    config = parse_config_text(CONFIG)
    baseline = {"latency": _normal(230, 20), "errors": _series(RNG.poisson(4, 400)), "cpu": _normal(1, 0.05)}
    good = {"latency": _normal(230, 20), "errors": _series(RNG.poisson(4, 400)), "cpu": _normal(1, 0.05)}
    bad = {**good, "latency": _normal(290, 20)}
    assert judge(config, baseline, good, mode=mode).verdict is CanaryVerdict.PASS  # type: ignore[arg-type]
    result = judge(config, baseline, bad, mode=mode)  # type: ignore[arg-type]
    assert result.verdict is CanaryVerdict.FAIL and result.score == 50.0
    kayenta = to_kayenta_result(result)
    text = json.dumps(kayenta, allow_nan=False)
    assert json.loads(text)["score"] == {"score": 50.0, "classification": "Fail",
                                         "classificationReason": result.reason}
    first = kayenta["results"][0]
    assert first["name"] == "latency" and first["classification"] == "High"
    assert first["experimentMetadata"]["stats"]["count"] == 400
    assert first["resultMetadata"]["ratio"] == pytest.approx(result.metrics[0].mean_ratio)
    assert [g["name"] for g in kayenta["groupScores"]] == ["latency", "errors", "saturation"]


def test_judge_missing_metric_and_unknown_mode() -> None:
    config = parse_config_text(CONFIG)
    result = judge(config, {}, {})
    assert result.verdict is CanaryVerdict.INCONCLUSIVE
    assert {m.classification for m in result.metrics} == {C.NODATA, C.NODATA_FAIL}
    with pytest.raises(InputError, match="unknown"):
        judge(config, {}, {}, mode="bayes")  # type: ignore[arg-type]
    kayenta = to_kayenta_result(result)
    json.dumps(kayenta, allow_nan=False)
    assert kayenta["score"]["classification"] == "Marginal"
