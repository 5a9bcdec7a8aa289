"""CostCube (model.series): dense series, filters, grouping, re-bucketing, and the FakeBillingStore."""

from __future__ import annotations

import numpy as np
import pytest

from tollgate.errors import InputError
from tollgate.model.series import CostCube
from tollgate.sources.billing_store import FakeBillingStore


def _cube() -> CostCube:
    return CostCube.from_records(
        [
            {"bucket": "2025-01-01T00", "cost": 1.0, "provider": "AWS", "service": "EC2"},
            {"bucket": "2025-01-01T05", "cost": 2.0, "provider": "AWS", "service": "S3"},
            {"bucket": "2025-01-01T05", "cost": 4.0, "provider": "GCP", "service": "GCE"},
            {"bucket": "2025-01-03T23", "cost": 8.0, "provider": "GCP", "service": "GCE"},
        ],
        granularity="hour",
        dims=("provider", "service"),
    )


def test_total_series_is_dense_over_the_hour_range() -> None:
    dates, values = _cube().total_series()
    assert dates[0] == np.datetime64("2025-01-01T00", "h")
    assert dates[-1] == np.datetime64("2025-01-03T23", "h")
    assert len(dates) == 72  # every hour, gaps included
    assert values[0] == 1.0 and values[5] == 6.0 and values[-1] == 8.0
    assert values.sum() == pytest.approx(15.0)
    assert np.count_nonzero(values) == 3


def test_series_filter_and_multi_value_filter() -> None:
    cube = _cube().to_day()
    dates, aws = cube.series({"provider": "AWS"})
    assert list(dates.astype(str)) == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert list(aws) == [3.0, 0.0, 0.0]
    _, some = cube.series({"service": ["S3", "GCE"]})
    assert list(some) == [6.0, 0.0, 8.0]


def test_group_by_orders_keys_by_total_and_keeps_shape() -> None:
    grouped = _cube().to_day().group_by("provider")
    assert grouped.keys == ("GCP", "AWS")
    assert grouped.values.shape == (2, 3)
    assert list(grouped.get("GCP")) == [4.0, 0.0, 8.0]
    assert list(grouped.get("Azure")) == [0.0, 0.0, 0.0]
    assert grouped.totals() == {"GCP": 12.0, "AWS": 3.0}
    assert _cube().group_by("service", top=1).keys == ("GCE",)


def test_window_and_unknown_dimension() -> None:
    cube = _cube()
    assert cube.window("2025-01-01T03", "2025-01-02T00").total == 6.0
    with pytest.raises(KeyError, match="region"):
        cube.series({"region": "x"})


def test_empty_cube_series() -> None:
    dates, values = CostCube.empty().total_series()
    assert len(dates) == 0 and len(values) == 0


def test_mismatched_columns_are_rejected() -> None:
    with pytest.raises(ValueError, match="provider"):
        CostCube(np.array(["2025-01-01"], dtype="datetime64[D]"), {"provider": np.array(["a", "b"], dtype=object)},
                 np.array([1.0]))


def test_fake_store_serves_day_and_hour_cubes() -> None:
    fake = FakeBillingStore(_cube())
    day = fake.cube(granularity="day", dims=("provider",), filters={"provider": "GCP"}, start="2025-01-02")
    assert day.granularity == "day" and day.dimensions == ("provider",)
    assert day.total == 8.0
    hour = fake.cube(granularity="hour", dims=("service",))
    assert hour.total == 15.0
    assert fake.summary().providers == ("AWS", "GCP")
    with pytest.raises(InputError):
        fake.cube(cost="billed")
