"""Streaming detectors: registry, streaming contract, and behaviour on synthetic series."""

from __future__ import annotations

import math
import random

import pytest

from tollgate.detect.detectors import (
    DETECTORS,
    Detector,
    DetectorFactory,
    EnsembleDetector,
    EnsembleSettings,
    NullDetector,
    bench_detect,
    get_detector,
    register,
)
from tollgate.errors import InputError

STEP = 300.0  # five-minute samples
T0 = 1_396_310_400.0  # 2014-04-01 00:00:00 UTC


def daily(n: int, seed: int = 1, noise: float = 2.0) -> list[float]:
    rng = random.Random(seed)
    return [50.0 + 20.0 * math.sin(2 * math.pi * i / 288) + rng.gauss(0.0, noise) for i in range(n)]


def run(detector: Detector, values: list[float]) -> list[float]:
    return [detector.update(T0 + STEP * i, v) for i, v in enumerate(values)]


def test_registry_lists_known_detectors_on_unknown_name() -> None:
    assert DETECTORS["ensemble"] is EnsembleDetector
    assert DETECTORS["null"] is NullDetector
    with pytest.raises(InputError, match="ensemble.*null"):
        get_detector("nope")


def test_register_into_own_registry_and_refuse_duplicates() -> None:
    mine: dict[str, DetectorFactory] = {}

    @register("half", registry=mine)
    class Half:
        def update(self, timestamp: float, value: float) -> float:
            return 0.5

    assert get_detector("half", registry=mine) is Half
    assert "half" not in DETECTORS
    with pytest.raises(ValueError, match="already registered"):
        register("half", registry=mine)(Half)


def test_scores_are_probabilities_and_flat_series_never_alarms() -> None:
    scores = run(EnsembleDetector(), [45.0] * 2000)
    assert all(0.0 <= s < 1.0 for s in scores)
    # A constant series has nothing surprising: far below the spike score of the next test.
    assert max(scores) < 0.2


def test_spike_after_warm_up_is_the_top_score() -> None:
    values = daily(3000)
    values[2200] += 60.0
    scores = run(EnsembleDetector(), values)
    top = max(range(len(scores)), key=scores.__getitem__)
    assert top == 2200
    ordinary = sorted(scores[700:2190])
    assert scores[2200] > ordinary[-1]


def test_level_shift_is_detected_near_its_start() -> None:
    rng = random.Random(3)
    values = [10.0 + rng.gauss(0, 0.5) for _ in range(1500)] + [25.0 + rng.gauss(0, 0.5) for _ in range(500)]
    scores = run(EnsembleDetector(), values)
    first_high = next(i for i, s in enumerate(scores) if s >= max(scores[600:1500]) and i >= 1500)
    assert 1500 <= first_high < 1510


def test_no_look_ahead_prefix_scores_do_not_depend_on_the_future() -> None:
    values = daily(1500, seed=5)
    full = run(EnsembleDetector(), values)
    prefix = run(EnsembleDetector(), values[:900])
    assert full[:900] == prefix


def test_alarm_starts_a_quiet_period() -> None:
    cfg = EnsembleSettings(suppress=30)
    values = daily(2500, seed=9)
    values[2000] += 80.0
    values[2010] += 80.0  # a second spike inside the quiet period
    scores = run(EnsembleDetector(cfg), values)
    assert scores[2000] == max(scores)
    assert all(s == 0.0 for s in scores[2001:2031])


def test_non_finite_value_is_rejected() -> None:
    with pytest.raises(InputError, match="not a finite number"):
        EnsembleDetector().update(T0, float("nan"))


def test_state_is_per_instance() -> None:
    a, b = EnsembleDetector(), EnsembleDetector()
    values = daily(800, seed=11)
    sa = run(a, values)
    sb = run(b, values)
    assert sa == sb


def test_bench_detect_reports_points_per_second() -> None:
    rate = bench_detect(n_points=5_000)
    assert rate > 1_000.0
