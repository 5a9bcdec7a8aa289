"""Cost anomaly scan: seasonality and growth are not anomalies, injected jumps are, with the right totals."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from tollgate.detect.cost_anomaly import (
    AnomalySettings,
    expected_band,
    find_episodes,
    level_matrix,
    scan,
    severity_of,
)
from tollgate.errors import InputError
from tollgate.model.series import CostCube

DAYS = 120
START = np.datetime64("2025-01-06", "D")  # a Monday


def weekly(rng: np.random.Generator, n: int, *, base: float = 1000.0, growth: float = 0.0,
           dip: float = 0.4, noise: float = 0.03) -> np.ndarray:
    t = np.arange(n)
    season = np.where(t % 7 >= 5, 1.0 - dip, 1.0)
    return base * np.exp(growth * t) * season * (1.0 + noise * rng.standard_normal(n))


def cube_of(series: dict[tuple[str, str, str], np.ndarray]) -> CostCube:
    """A daily cube from {(provider, service, resource): daily costs}."""
    buckets, prov, svc, res, cost = [], [], [], [], []
    for (p, s, r), values in series.items():
        buckets.append(START + np.arange(len(values)))
        prov += [p] * len(values)
        svc += [s] * len(values)
        res += [r] * len(values)
        cost.append(values)
    return CostCube(np.concatenate(buckets), {"provider": np.array(prov, dtype=object),
                                              "service": np.array(svc, dtype=object),
                                              "resource_id": np.array(res, dtype=object)},
                    np.concatenate(cost), granularity="day")


def test_weekly_seasonality_and_growth_raise_no_alert() -> None:
    rng = np.random.default_rng(11)
    rows = np.stack([weekly(rng, DAYS, growth=g, dip=d) for g in (0.0, 0.004, 0.01, -0.004) for d in (0.0, 0.5)])
    band = expected_band(rows, 7)
    episodes = find_episodes(rows, band)
    # 8 clean series x ~90 scored days: at most one stray run in total, and never a big one.
    assert len(episodes) <= 1
    assert all((e.actual - e.expected) / e.expected < 0.15 for e in episodes)


def test_expected_value_uses_only_the_past() -> None:
    rng = np.random.default_rng(3)
    y = weekly(rng, 60)
    future_changed = y.copy()
    future_changed[40:] *= 5.0
    a = expected_band(y[None, :], 7)
    b = expected_band(future_changed[None, :], 7)
    # Up to and including day 40 the expectation cannot know about the change from day 40 on.
    np.testing.assert_allclose(a.expected[0, :41], b.expected[0, :41], equal_nan=True)
    assert np.isnan(a.expected[0, :14]).all()  # two weeks of warm-up
    assert not np.isnan(a.expected[0, 20:]).any()


def test_expected_value_follows_the_weekly_pattern() -> None:
    y = np.tile([100.0, 100, 100, 100, 100, 20, 20], 10)
    band = expected_band(y[None, :], 7)
    np.testing.assert_allclose(band.expected[0, 30:], y[30:])


def test_spike_is_found_with_onset_end_and_impact() -> None:
    rng = np.random.default_rng(5)
    y = weekly(rng, DAYS, growth=0.003)
    injected = y.copy()
    injected[90:94] += 500.0
    band = expected_band(injected[None, :], 7)
    episodes = find_episodes(injected[None, :], band)
    episode = max(episodes, key=lambda e: e.actual - e.expected)
    assert (episode.start, episode.end) == (90, 93)
    assert not [e for e in find_episodes(y[None, :], expected_band(y[None, :], 7)) if e.start >= 88]
    impact = episode.actual - episode.expected
    assert impact == pytest.approx(2000.0, rel=0.15)


def test_both_thresholds_must_hold() -> None:
    rng = np.random.default_rng(8)
    y = weekly(rng, DAYS)
    y[100:103] += 400.0  # ~+40 % for three days, ~$1,200
    cube = cube_of({("aws", "ec2", "i-1"): y})
    assert scan(cube, min_impact=500, min_pct=10, levels=[()])
    assert not scan(cube, min_impact=5000, min_pct=10, levels=[()])  # $ threshold not met
    assert not scan(cube, min_impact=500, min_pct=80, levels=[()])  # % threshold not met


def test_scan_reports_the_narrowest_scope_that_explains_the_jump() -> None:
    rng = np.random.default_rng(21)
    ec2 = weekly(rng, DAYS, base=3000)
    s3 = weekly(rng, DAYS, base=800, dip=0.0)
    vm = weekly(rng, DAYS, base=1500, dip=0.2)
    ec2[100:105] += 900.0
    cube = cube_of({("aws", "ec2", "i-1"): ec2, ("aws", "s3", "b-1"): s3, ("azure", "vm", "vm-1"): vm})
    anomalies = scan(cube, min_impact=100, min_pct=5)
    assert len(anomalies) == 1
    (a,) = anomalies
    assert dict(a.scope) == {"provider": "aws", "service": "ec2"}
    assert a.start.date() == date(2025, 1, 6) + (np.timedelta64(100, "D")).astype(object)
    assert a.end.date() >= a.start.date()
    assert a.impact == pytest.approx(4500, rel=0.15)
    assert a.impact_pct == pytest.approx(a.impact / a.expected * 100, rel=1e-3)
    assert a.severity in {"medium", "high"}
    assert a.trace is not None and len(a.trace.actual) == len(a.trace.expected)
    # Same input, same id (stable across runs); a different onset gives another id.
    assert scan(cube, min_impact=100, min_pct=5)[0].id == a.id
    assert len(a.id) == 16


def test_since_keeps_only_recent_anomalies() -> None:
    rng = np.random.default_rng(4)
    y = weekly(rng, DAYS)
    y[40:42] += 800.0
    y[100:102] += 800.0
    cube = cube_of({("aws", "ec2", "i-1"): y})
    all_found = scan(cube, min_impact=100, min_pct=5, levels=[()])
    recent = scan(cube, since="2025-04-01", min_impact=100, min_pct=5, levels=[()])
    assert len(all_found) == 2 and len(recent) == 1
    assert recent[0].start.date() >= date(2025, 4, 1)
    with pytest.raises(InputError, match="since"):
        scan(cube, since="not a date", levels=[()])


def test_new_spend_has_no_percentage_and_is_critical() -> None:
    rng = np.random.default_rng(6)
    base = weekly(rng, DAYS)
    fresh = np.zeros(DAYS)
    fresh[110:] = 700.0
    cube = cube_of({("aws", "ec2", "i-1"): base, ("gcp", "bigquery", "job"): fresh})
    found = [a for a in scan(cube, min_impact=100, min_pct=10) if a.scope.get("provider") == "gcp"]
    assert found and found[0].impact_pct is None and found[0].severity == "critical"


def test_drops_only_with_direction_both() -> None:
    rng = np.random.default_rng(9)
    y = weekly(rng, DAYS)
    y[100:104] *= 0.2
    cube = cube_of({("aws", "ec2", "i-1"): y})
    assert not scan(cube, min_impact=100, min_pct=5, levels=[()])
    drops = scan(cube, min_impact=100, min_pct=5, levels=[()], settings=AnomalySettings(direction="both"))
    assert drops and drops[0].impact < 0


def test_hourly_series_use_the_weekly_hour_pattern() -> None:
    rng = np.random.default_rng(2)
    hours = 24 * 42
    t = np.arange(hours)
    y = 50 * (1 + 0.4 * np.sin(2 * np.pi * (t % 24) / 24)) * np.where((t // 24) % 7 >= 5, 0.6, 1.0)
    y = y * (1 + 0.03 * rng.standard_normal(hours))
    y[900:906] += 120.0
    band = expected_band(y[None, :], 168)
    episodes = find_episodes(y[None, :], band)
    biggest = max(episodes, key=lambda e: e.actual - e.expected)
    assert (biggest.start, biggest.end) == (900, 905)
    assert biggest.actual - biggest.expected == pytest.approx(720, rel=0.2)


def test_level_matrix_groups_dimension_combinations() -> None:
    cube = CostCube.from_records([
        {"bucket": "2025-01-01", "provider": "aws", "service": "ec2", "cost": 1.0},
        {"bucket": "2025-01-01", "provider": "aws", "service": "ec2", "cost": 2.0},
        {"bucket": "2025-01-03", "provider": "aws", "service": "s3", "cost": 4.0},
        {"bucket": "2025-01-02", "provider": "gcp", "service": "gce", "cost": 8.0},
    ])
    scopes, matrix = level_matrix(cube, ("provider", "service"))
    got = {tuple(s.values()): row.tolist() for s, row in zip(scopes, matrix, strict=True)}
    assert got == {("aws", "ec2"): [3.0, 0.0, 0.0], ("aws", "s3"): [0.0, 0.0, 4.0], ("gcp", "gce"): [0.0, 8.0, 0.0]}
    with pytest.raises(InputError, match="tag:team"):
        level_matrix(cube, ("tag:team",))


def test_severity_scale() -> None:
    assert severity_of(None, 5) == "critical"
    assert severity_of(350, 5) == "critical"
    assert severity_of(120, 5) == "high"
    assert severity_of(40, 7) == "medium"
    assert severity_of(40, 4) == "low"
    assert severity_of(12, 9) == "low"
