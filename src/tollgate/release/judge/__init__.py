"""Canary judge: compare baseline and canary metrics and decide pass / fail / inconclusive.

``judge(config, baseline, canary, mode=...)`` classifies every configured metric
(:mod:`.classify`), scores them with Kayenta's weighted groups (:mod:`.score`) and returns a
:class:`~tollgate.model.canary.JudgeResult`; :func:`to_kayenta_result` renders Kayenta's
CanaryJudgeResult. ``mode="sequential"`` (default) uses anytime-valid tests that may be re-run as data
arrive (:mod:`.sequential`); ``mode="mannwhitney"`` reproduces Kayenta's fixed-horizon judge
(:mod:`.mannwhitney`).
"""

from __future__ import annotations

from collections.abc import Mapping

from tollgate.errors import InputError
from tollgate.model.canary import JudgeResult, Series
from tollgate.release.judge.classify import Mode, classify_metric
from tollgate.release.judge.config import (
    CanaryConfig,
    MetricConfig,
    ScoreThresholds,
    parse_config,
    parse_config_text,
)
from tollgate.release.judge.score import to_kayenta_result, verdict

__all__ = [
    "CanaryConfig",
    "MetricConfig",
    "Mode",
    "ScoreThresholds",
    "judge",
    "parse_config",
    "parse_config_text",
    "to_kayenta_result",
]

MODES: tuple[Mode, ...] = ("sequential", "mannwhitney")


def judge(
    config: CanaryConfig,
    baseline: Mapping[str, Series],
    canary: Mapping[str, Series],
    *,
    mode: Mode = "sequential",
    thresholds: ScoreThresholds | None = None,
) -> JudgeResult:
    """Judge a canary against its baseline.

    ``baseline`` and ``canary`` map a metric's name (or its query, as fetched) to its series; a
    metric missing from a mapping has no data. ``thresholds`` overrides the config's score
    thresholds (as Kayenta's execution request may). Raises InputError for an unknown mode.
    """
    if mode not in MODES:
        raise InputError(f"judge mode {mode!r} is unknown; use one of {', '.join(MODES)}")
    results = tuple(
        classify_metric(
            metric,
            _lookup(baseline, metric),
            _lookup(canary, metric),
            mode=mode,
            confidence=config.confidence,
        )
        for metric in config.metrics
    )
    limits = thresholds or config.classifier.scoreThresholds
    return verdict(
        results,
        config.classifier.groupWeights,
        pass_threshold=limits.pass_,
        marginal_threshold=limits.marginal,
        mode=mode,
    )


def _lookup(series: Mapping[str, Series], metric: MetricConfig) -> Series | None:
    found = series.get(metric.name)
    return found if found is not None else series.get(metric.metric_query)
