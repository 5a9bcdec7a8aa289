"""Rightsizing recommendations from usage history (pure analyzer).

:func:`recommend` picks a strategy from :data:`STRATEGIES` (``krr-simple``, ``vpa``, ``safe``), checks
there is enough data, applies the strategy, then the minimums, rounding, HPA handling, idle detection and
KRR's severity bands. Settings are a pydantic model per strategy (``STRATEGIES[name].settings_model``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import ValidationError

from tollgate.cost.rightsize.common import (
    CommonSettings,
    cpu_samples,
    finish,
    memory_samples,
    per_pod_cpu_percentile,
    severity,
)
from tollgate.cost.rightsize.strategies import (
    STRATEGIES,
    DecayingHistogram,
    KrrSimple,
    KrrSimpleSettings,
    RawValues,
    Safe,
    SafeSettings,
    Strategy,
    Vpa,
    VpaSettings,
)
from tollgate.errors import ConfigError
from tollgate.model.rightsize import (
    ContainerUsage,
    Recommendation,
    ResourceValues,
    RightsizeSeverity,
    UsageEvidence,
)

__all__ = [
    "STRATEGIES",
    "CommonSettings",
    "DecayingHistogram",
    "KrrSimple",
    "KrrSimpleSettings",
    "RawValues",
    "Safe",
    "SafeSettings",
    "Strategy",
    "Vpa",
    "VpaSettings",
    "get_strategy",
    "recommend",
    "strategy_settings",
]


def get_strategy(name: str) -> Strategy:
    """The registered strategy ``name``; ConfigError listing the known ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigError(f"rightsize strategy {name!r} is unknown; choose one of: {known}") from None


def strategy_settings(name: str, settings: CommonSettings | Mapping[str, Any] | None = None) -> CommonSettings:
    """Validated settings of strategy ``name`` from a model, a mapping (e.g. from YAML) or defaults.

    A bad value raises ConfigError naming the field.
    """
    model = get_strategy(name).settings_model
    if settings is None:
        return model()
    if isinstance(settings, model):
        return settings
    data = settings.model_dump() if isinstance(settings, CommonSettings) else dict(settings)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "?"
        raise ConfigError(f"rightsize strategy {name!r} setting {field}: {first['msg']}") from None


def _hpa(usage: ContainerUsage, current: ResourceValues, raw: ResourceValues, mode: str,
         notes: list[str]) -> ResourceValues:
    hpa = usage.hpa
    if hpa is None:
        return raw
    out = raw
    for resource in hpa.resources:
        target = hpa.cpu_target_utilization if resource == "cpu" else hpa.memory_target_utilization
        if resource not in ("cpu", "memory"):
            continue
        if mode == "skip":
            if resource == "cpu":
                out = replace(out, cpu_request=current.cpu_request, cpu_limit=current.cpu_limit)
            else:
                out = replace(out, memory_request=current.memory_request, memory_limit=current.memory_limit)
            notes.append(f"HPA {hpa.name} scales on {resource}: {resource} left unchanged")
            continue
        old = current.cpu_request if resource == "cpu" else current.memory_request
        new = out.cpu_request if resource == "cpu" else out.memory_request
        if target and old and new:
            moved = min(100.0, target * old / new)
            notes.append(f"HPA {hpa.name} scales on {resource} at {target:g}%: move its target to {moved:.0f}% "
                         f"together with this request to keep the same scaling point")
        else:
            notes.append(f"HPA {hpa.name} scales on {resource}: review its target together with this request")
    return out


def _finish(raw: ResourceValues, s: CommonSettings) -> ResourceValues:
    cpu_request = finish(raw.cpu_request, s.cpu_min, s.cpu_round)
    cpu_limit = finish(raw.cpu_limit, s.cpu_min, s.cpu_round)
    memory_request = finish(raw.memory_request, s.memory_min, s.memory_round)
    memory_limit = finish(raw.memory_limit, s.memory_min, s.memory_round)
    if cpu_limit is not None and cpu_request is not None:
        cpu_limit = max(cpu_limit, cpu_request)
    if memory_limit is not None and memory_request is not None:
        memory_limit = max(memory_limit, memory_request)
    return ResourceValues(cpu_request, cpu_limit, memory_request, memory_limit)


def recommend(
    usage: ContainerUsage,
    current: ResourceValues,
    *,
    strategy: str = "krr-simple",
    settings: CommonSettings | Mapping[str, Any] | None = None,
) -> Recommendation:
    """One container's recommendation from its usage history.

    No samples gives ``recommended=None`` with reason ``"no usage data"``; fewer than ``min_samples``
    CPU or memory samples gives ``"only N samples (need M)"``; both with severity ``unknown``. Near-zero
    CPU use (p99 at or below ``idle_cpu``) over the whole window sets ``idle=True``. Raises ConfigError
    for an unknown strategy or a bad setting.
    """
    plugin = get_strategy(strategy)
    s = strategy_settings(strategy, settings)
    cpu_all = cpu_samples(usage)
    memory = memory_samples(usage)
    count = min(len(cpu_all), len(memory))
    p95 = per_pod_cpu_percentile(usage, 0.95, s.startup_grace_s) if len(cpu_all) else None
    evidence = UsageEvidence(
        p95_cpu=p95,
        max_memory=float(memory.values.max()) if len(memory) else None,
        oom_events=usage.oom_kills,
        samples=count,
        window=usage.window,
    )

    def none(reason: str) -> Recommendation:
        return Recommendation(usage.target, current, None, RightsizeSeverity.UNKNOWN, evidence, plugin.name,
                              reason=reason, replicas=usage.replicas)

    if len(cpu_all) == 0 and len(memory) == 0:
        return none("no usage data")
    if count < s.min_samples:
        which = "CPU" if len(cpu_all) < len(memory) else "memory"
        return none(f"only {count} {which} samples (need {s.min_samples})")
    raw: RawValues = plugin.propose(usage, current, s)
    notes = list(raw.notes)
    values = _hpa(usage, current, _finish(raw.values, s), s.hpa, notes)
    steady = cpu_samples(usage, s.startup_grace_s)
    idle = bool(len(steady) and float(np.quantile(steady.values, 0.99)) <= s.idle_cpu)
    if idle:
        notes.append(f"idle: CPU p99 at or below {s.idle_cpu * 1000:g}m over {usage.window}; consider scaling "
                     "to zero")
    return Recommendation(
        target=usage.target,
        current=current,
        recommended=values,
        severity=severity(current, values),
        evidence=evidence,
        strategy=plugin.name,
        reason="; ".join(notes) or None,
        idle=idle,
        replicas=usage.replicas,
    )
