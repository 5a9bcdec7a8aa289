"""The rightsizing strategies on hand-made usage histories."""

from __future__ import annotations

import numpy as np
import pytest

from tollgate.cost.rightsize import STRATEGIES, DecayingHistogram, recommend, strategy_settings
from tollgate.errors import ConfigError
from tollgate.model.rightsize import HpaInfo, ResourceValues, RightsizeSeverity

from ._usage import MIB, noisy, pod, usage

CURRENT = ResourceValues(cpu_request=1.0, cpu_limit=2.0, memory_request=1024 * MIB, memory_limit=1024 * MIB)
DAY_MIN = 1440


def test_registry_names_and_settings_models() -> None:
    assert set(STRATEGIES) >= {"krr-simple", "vpa", "safe"}
    for name, plugin in STRATEGIES.items():
        assert plugin.name == name
        assert plugin.settings_model().min_samples >= 1


def test_krr_simple_cpu_p95_no_limit_memory_max_plus_15_percent() -> None:
    cpu = np.full(1000, 0.2)
    cpu[:100] = 0.6  # 10% of the samples are high: p95 lands on them
    memory = np.full(1000, 200 * MIB)
    memory[500] = 300 * MIB
    rec = recommend(usage(pod(cpu, memory)), CURRENT)
    assert rec.recommended is not None
    assert rec.recommended.cpu_request == pytest.approx(0.6)
    assert rec.recommended.cpu_limit is None
    assert rec.recommended.memory_request == rec.recommended.memory_limit == 345 * MIB
    assert rec.evidence.p95_cpu == pytest.approx(0.6)
    assert rec.evidence.max_memory == 300 * MIB
    assert rec.evidence.samples == 1000
    assert rec.strategy == "krr-simple"


def test_krr_takes_the_busiest_pod_not_the_pooled_percentile() -> None:
    quiet = pod(np.full(500, 0.1), np.full(500, 100 * MIB), name="cart-1")
    busy = pod(np.full(500, 0.5), np.full(500, 150 * MIB), name="cart-2")
    rec = recommend(usage(quiet, busy), CURRENT)
    assert rec.recommended is not None and rec.recommended.cpu_request == pytest.approx(0.5)
    assert rec.replicas == 2


def test_values_are_rounded_up_and_floored_at_minimums() -> None:
    rec = recommend(usage(pod(np.full(200, 0.0021), np.full(200, 10 * MIB))), CURRENT)
    assert rec.recommended is not None
    assert rec.recommended.cpu_request == pytest.approx(0.010)
    assert rec.recommended.memory_request == 100 * MIB
    rec = recommend(usage(pod(np.full(200, 0.1234), np.full(200, 200.2 * MIB))), CURRENT)
    assert rec.recommended is not None
    assert rec.recommended.cpu_request == pytest.approx(0.124)
    assert rec.recommended.memory_request == 231 * MIB  # 200.2 * 1.15 = 230.23 -> 231Mi


def test_oom_history_bumps_memory_to_limit_times_1_25() -> None:
    history = usage(pod(np.full(200, 0.1), np.full(200, 200 * MIB)), oom_kills=2, oom_limit=256 * MIB)
    rec = recommend(history, CURRENT)
    assert rec.recommended is not None and rec.recommended.memory_limit == 320 * MIB
    assert rec.evidence.oom_events == 2
    assert rec.reason is not None and "OOM" in rec.reason


def test_no_data_and_too_few_samples_give_no_recommendation() -> None:
    empty = recommend(usage(), CURRENT)
    assert empty.recommended is None and empty.severity is RightsizeSeverity.UNKNOWN
    assert empty.reason == "no usage data"
    few = recommend(usage(pod([0.1] * 40, [100 * MIB] * 40)), CURRENT)
    assert few.recommended is None and few.severity is RightsizeSeverity.UNKNOWN
    assert few.reason is not None and "only 40" in few.reason and "need 100" in few.reason
    for name in STRATEGIES:
        assert recommend(usage(), CURRENT, strategy=name).recommended is None


def test_idle_container_is_flagged() -> None:
    rec = recommend(usage(pod(noisy(2000, 0.001, 0.0005), np.full(2000, 50 * MIB))), CURRENT)
    assert rec.idle
    busy = recommend(usage(pod(noisy(2000, 0.2, 0.05), np.full(2000, 50 * MIB))), CURRENT)
    assert not busy.idle


def test_startup_peak_left_out_of_cpu_but_not_memory() -> None:
    n = 600
    cpu = np.full(n, 0.1)
    memory = np.full(n, 200 * MIB)
    starts = []
    for k in range(0, n, 50):  # a restart every 50 minutes, 5 hot minutes each (10% of samples)
        cpu[k:k + 5] = 2.0
        memory[k:k + 5] = 400 * MIB
        starts.append(1_700_000_000.0 + k * 60)
    aware = recommend(usage(pod(cpu, memory, started_at=starts)), CURRENT)
    blind = recommend(usage(pod(cpu, memory)), CURRENT)
    assert aware.recommended is not None and blind.recommended is not None
    assert aware.recommended.cpu_request == pytest.approx(0.1)
    assert blind.recommended.cpu_request == pytest.approx(2.0)
    assert aware.recommended.memory_limit == blind.recommended.memory_limit == 460 * MIB


def test_hpa_on_cpu_is_skipped_or_adjusted_together() -> None:
    hpa = HpaInfo("cart", ("cpu",), cpu_target_utilization=80.0, min_replicas=2, max_replicas=10)
    history = usage(pod(np.full(300, 0.25), np.full(300, 200 * MIB)), hpa=hpa)
    skipped = recommend(history, CURRENT)
    assert skipped.recommended is not None
    assert skipped.recommended.cpu_request == CURRENT.cpu_request
    assert skipped.recommended.cpu_limit == CURRENT.cpu_limit
    assert skipped.recommended.memory_request == 230 * MIB  # memory is still rightsized
    assert skipped.reason is not None and "HPA cart scales on cpu" in skipped.reason
    adjusted = recommend(history, CURRENT, settings={"hpa": "adjust"})
    assert adjusted.recommended is not None and adjusted.recommended.cpu_request == pytest.approx(0.25)
    assert adjusted.reason is not None and "move its target to 100%" in adjusted.reason


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        (0.95, 1000 * MIB, RightsizeSeverity.GOOD),  # 50m and 24Mi away
        (0.85, 1024 * MIB, RightsizeSeverity.OK),  # 150m
        (0.7, 1024 * MIB, RightsizeSeverity.WARNING),  # 300m
        (0.4, 1024 * MIB, RightsizeSeverity.CRITICAL),  # 600m
        (0.99, 400 * MIB, RightsizeSeverity.CRITICAL),  # 624Mi
        (0.99, 700 * MIB, RightsizeSeverity.WARNING),  # 324Mi
    ],
)
def test_krr_severity_bands(cpu: float, memory: float, expected: RightsizeSeverity) -> None:
    mem = memory / 1.15
    rec = recommend(usage(pod(np.full(200, cpu), np.full(200, mem))), CURRENT)
    assert rec.severity is expected


def test_missing_current_value_is_a_warning() -> None:
    rec = recommend(usage(pod(np.full(200, 1.0), np.full(200, 1024 * MIB / 1.15))), ResourceValues())
    assert rec.severity is RightsizeSeverity.WARNING


def test_unknown_strategy_and_bad_setting_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="'nope' is unknown; choose one of: krr-simple, safe, vpa"):
        recommend(usage(), CURRENT, strategy="nope")
    with pytest.raises(ConfigError, match="memory_buffer"):
        strategy_settings("krr-simple", {"memory_buffer": -1})


def test_histogram_percentile_is_the_upper_edge_of_the_bucket() -> None:
    hist = DecayingHistogram(0.001, 0.05)
    hist.add(np.array([0.1] * 90 + [1.0] * 10), np.ones(100))
    p50 = hist.percentile(0.5)
    assert 0.1 < p50 <= 0.1 * 1.06
    p95 = hist.percentile(0.95)
    assert 1.0 < p95 <= 1.06


def test_vpa_decays_old_history() -> None:
    # two weeks: high use the first week, low the second. KRR's p95 sees the high week; VPA's 24 h
    # half-life forgets it.
    week = 7 * DAY_MIN // 5
    cpu = np.concatenate([np.full(week, 1.0), np.full(week, 0.2)])
    memory = np.full(2 * week, 300 * MIB)
    history = usage(pod(cpu, memory, step=300.0), step=300.0)
    krr = recommend(history, CURRENT)
    vpa = recommend(history, CURRENT, strategy="vpa")
    assert krr.recommended is not None and vpa.recommended is not None
    assert krr.recommended.cpu_request == pytest.approx(1.0)
    assert 0.2 * 1.15 <= vpa.recommended.cpu_request <= 0.2 * 1.15 * 1.06
    # the CPU limit keeps the current 2:1 ratio
    assert vpa.recommended.cpu_limit == pytest.approx(2 * vpa.recommended.cpu_request, abs=0.002)


def test_vpa_widens_the_memory_limit_on_short_history() -> None:
    def rec_for(days: int):  # type: ignore[no-untyped-def]
        n = days * DAY_MIN // 5
        memory = noisy(n, 300 * MIB, 10 * MIB, seed=days)
        return recommend(usage(pod(np.full(n, 0.1), memory, step=300.0), step=300.0), CURRENT, strategy="vpa")

    short, long = rec_for(1), rec_for(14)
    assert short.recommended is not None and long.recommended is not None
    assert short.recommended.memory_limit is not None and long.recommended.memory_limit is not None
    assert short.recommended.memory_limit > 1.5 * long.recommended.memory_limit
    assert short.reason is not None and "upper bound" in short.reason


def test_safe_projects_a_memory_leak_and_keeps_a_small_buffer_on_steady_memory() -> None:
    n = 14 * DAY_MIN // 5
    leak = 200 * MIB + np.arange(n) * (10 * MIB / (DAY_MIN / 5))  # +10Mi a day
    history = usage(pod(np.full(n, 0.1), leak, step=300.0), step=300.0)
    krr = recommend(history, CURRENT)
    safe = recommend(history, CURRENT, strategy="safe")
    assert krr.recommended is not None and safe.recommended is not None
    peak = float(leak.max())
    assert safe.recommended.memory_limit is not None
    # the limit holds the next 7 days of growth (+10Mi/day) with a margin, unlike KRR's max x 1.15
    assert safe.recommended.memory_limit >= (peak + 7 * 10 * MIB) * 1.05
    assert krr.recommended.memory_limit is not None and krr.recommended.memory_limit < peak + 7 * 10 * MIB
    assert safe.reason is not None and "backtest" in safe.reason
    steady = usage(pod(np.full(n, 0.1), noisy(n, 300 * MIB, 2 * MIB), step=300.0), step=300.0)
    rec = recommend(steady, CURRENT, strategy="safe")
    assert rec.recommended is not None and rec.recommended.memory_limit is not None
    top = float(max(steady.pods[0].memory))
    assert top * 1.10 <= rec.recommended.memory_limit <= top * 1.12
