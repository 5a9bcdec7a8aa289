"""Orchestration of a canary judgement: read the config and the metrics, judge, record the decision.

Like :mod:`tollgate.engine`, this module sits above the analyzers and the adapters: it is the only
place of the canary path that calls both (metric sources, the ledger, and ``release.judge``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tollgate import __version__
from tollgate.errors import InputError
from tollgate.ledger.base import DecisionLedger
from tollgate.model.canary import JudgeResult, Series
from tollgate.model.ledger import DecisionDraft, digest_inputs
from tollgate.release.judge import CanaryConfig, Mode, judge, parse_config_text
from tollgate.sources.metrics import MetricSource, PrometheusClient, fetch_pair, read_metric_file

PROM_PREFIX = "prom:"


@dataclass(frozen=True, slots=True)
class PromWindow:
    """Which samples to fetch when a source is ``prom:URL``."""

    baseline_selector: str
    canary_selector: str
    lookback_s: float = 1800.0
    step_s: float = 30.0
    end: float | None = None  # unix seconds; default now


def load_config(path: Path) -> CanaryConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read canary config ({exc.strerror})") from exc
    return parse_config_text(text, source=str(path))


def _prom_series(config: CanaryConfig, url: str, window: PromWindow | None,
                 source: MetricSource | None) -> tuple[dict[str, Series], dict[str, Series]]:
    if window is None:
        raise InputError(f"{PROM_PREFIX}{url}: give --baseline-selector and --canary-selector for Prometheus")
    client = source or PrometheusClient(url)
    end = window.end if window.end is not None else time.time()
    start = end - window.lookback_s
    baseline: dict[str, Series] = {}
    canary: dict[str, Series] = {}
    for metric in config.metrics:
        if not metric.query:
            raise InputError(f"canary config: metric {metric.name!r} has no query for Prometheus")
        b, c = fetch_pair(client, metric.query, baseline_selector=window.baseline_selector,
                          canary_selector=window.canary_selector, start=start, end=end, step=window.step_s)
        baseline[metric.name], canary[metric.name] = b, c
    return baseline, canary


def judge_sources(
    config_path: Path,
    baseline_src: str,
    canary_src: str,
    *,
    mode: Mode = "sequential",
    window: PromWindow | None = None,
    ledger_factory: Callable[[], DecisionLedger] | None = None,
    metric_source: MetricSource | None = None,
) -> tuple[JudgeResult, str | None]:
    """Judge a canary from metric files or Prometheus; returns the result and the ledger decision id."""
    config = load_config(config_path)
    if baseline_src.startswith(PROM_PREFIX) != canary_src.startswith(PROM_PREFIX):
        raise InputError("--baseline and --canary must both be files or both be prom:URL")
    if baseline_src.startswith(PROM_PREFIX):
        if baseline_src != canary_src:
            raise InputError("--baseline and --canary must name the same Prometheus (selectors tell them apart)")
        baseline, canary = _prom_series(config, baseline_src[len(PROM_PREFIX):], window, metric_source)
    else:
        baseline, canary = read_metric_file(Path(baseline_src)), read_metric_file(Path(canary_src))
    result = judge(config, baseline, canary, mode=mode)
    if ledger_factory is None:
        return result, None
    ledger = ledger_factory()
    try:
        record = ledger.append(DecisionDraft(
            kind="judge",
            environment="production",
            verdict=result.verdict.value,
            subject={"config": str(config_path), "baseline": baseline_src, "canary": canary_src, "mode": mode},
            inputs_digest=digest_inputs({"config": str(config_path), "baseline": baseline_src,
                                         "canary": canary_src, "mode": mode}),
            payload={"score": result.score, "reason": result.reason,
                     "metrics": [{"name": m.name, "classification": m.classification.value, "reason": m.reason}
                                 for m in result.metrics]},
            tool_version=__version__,
        ))
    finally:
        ledger.close()
    return result, record.id
