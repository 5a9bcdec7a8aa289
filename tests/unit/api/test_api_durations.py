"""Durations in request bodies and Flagger metadata."""

from __future__ import annotations

import pytest

from tollgate.api.durations import parse_duration


@pytest.mark.parametrize(("value", "seconds"), [(30, 30.0), (2.5, 2.5), ("45", 45.0), ("90s", 90.0),
                                                ("10m", 600.0), ("1h30m", 5400.0), ("1d", 86400.0),
                                                ("250ms", 0.25), ("1.5m", 90.0)])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value, field="lookback") == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "10 minutes", "m10", "10m5", "-5m", 0, -1, True, None, "inf", [1]])
def test_bad_durations_name_the_field(value: object) -> None:
    with pytest.raises(ValueError, match="^step: "):
        parse_duration(value, field="step")
