"""Forecasts to period end, budgets' breach odds and day, and the backtest on generated series."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from tollgate.detect.forecast import (
    backtest,
    budget_status,
    forecast_days,
    forecast_period,
    month_bounds,
    quarter_bounds,
    synthetic_series,
)
from tollgate.errors import InputError
from tollgate.model.finops import Budget, BudgetPeriod


def dates_from(first: str, n: int) -> np.ndarray:
    return np.datetime64(first, "D") + np.arange(n)


def test_period_bounds() -> None:
    assert month_bounds(date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert quarter_bounds(date(2025, 5, 31)) == (date(2025, 4, 1), date(2025, 6, 30))
    assert quarter_bounds(date(2025, 12, 1)) == (date(2025, 10, 1), date(2025, 12, 31))


def test_constant_spend_forecasts_the_rest_of_the_month_exactly() -> None:
    days = dates_from("2025-01-01", 70)  # to 2025-03-11
    fc = forecast_period(days, np.full(70, 100.0), date(2025, 3, 1), date(2025, 3, 31))
    assert fc.as_of == date(2025, 3, 11)
    assert fc.actual_to_date == pytest.approx(1100.0)
    assert fc.forecast == pytest.approx(3100.0, rel=1e-6)
    assert fc.lower <= fc.forecast <= fc.upper
    assert len(fc.daily) == 20 and fc.daily[0][0] == date(2025, 3, 12)


def test_weekly_pattern_and_growth_are_projected() -> None:
    rng = np.random.default_rng(1)
    y = synthetic_series(rng, 120, growth_per_day=0.004, weekend_dip=0.4, noise=0.0)
    fc = forecast_days(y[:90], np.arange(90) % 7, 30)
    truth = y[90:]
    assert np.max(np.abs(fc.mean - truth) / truth) < 0.03
    # The weekend dip shows in the daily path.
    weekend = (np.arange(90, 120) % 7) >= 5
    assert fc.mean[weekend].mean() < 0.7 * fc.mean[~weekend].mean()


def test_interval_widens_with_noise() -> None:
    rng = np.random.default_rng(2)
    quiet = synthetic_series(rng, 90, noise=0.01)
    loud = synthetic_series(rng, 90, noise=0.15)
    wd = np.arange(90) % 7
    assert forecast_days(loud, wd, 30).total_sd > 3 * forecast_days(quiet, wd, 30).total_sd


def test_budget_breach_probability_and_day() -> None:
    days = dates_from("2025-01-01", 74)  # to 2025-03-15, 100/day
    y = np.full(74, 100.0)
    y = y * (1 + 0.02 * np.random.default_rng(3).standard_normal(74))
    tight = budget_status(Budget("tight", {}, amount=2500.0), days, y)
    assert tight.probability_of_breach == pytest.approx(1.0)
    assert tight.expected_breach_day in (date(2025, 3, 25), date(2025, 3, 26))  # ~1,500 by the 15th, +100/day
    loose = budget_status(Budget("loose", {}, amount=5000.0), days, y)
    assert loose.probability_of_breach < 0.01 and loose.expected_breach_day is None
    assert 3000 < tight.forecast.forecast < 3200
    edge = budget_status(Budget("edge", {}, amount=tight.forecast.forecast), days, y)
    assert edge.probability_of_breach == pytest.approx(0.5, abs=0.01)
    above = budget_status(Budget("above", {}, amount=tight.forecast.upper), days, y)
    assert above.probability_of_breach == pytest.approx(0.05, abs=0.01)  # upper end of the 90 % interval
    spent = budget_status(Budget("spent", {}, amount=1000.0), days, y)
    march = np.cumsum(y[59:])  # 2025-03-01 is day 59
    crossed = date(2025, 3, 1 + int(np.argmax(march >= 1000.0)))
    assert spent.probability_of_breach == 1.0 and spent.expected_breach_day == crossed
    quarterly = budget_status(Budget("q", {}, amount=9500.0, period=BudgetPeriod.QUARTERLY), days, y)
    assert quarterly.forecast.period_end == date(2025, 3, 31)
    assert quarterly.forecast.actual_to_date == pytest.approx(float(y.sum()))


def test_forecast_errors_name_the_problem() -> None:
    with pytest.raises(InputError, match="no cost history"):
        forecast_days([], [], 5)
    with pytest.raises(InputError, match="level"):
        forecast_period(dates_from("2025-01-01", 3), [1.0, 1.0, 1.0], date(2025, 1, 1), date(2025, 1, 31), level=1.5)


def test_backtest_on_generated_series_meets_accuracy_bars() -> None:
    rng = np.random.default_rng(7)
    series = [synthetic_series(rng, 150, growth_per_day=rng.uniform(-0.002, 0.006),
                               weekend_dip=rng.uniform(0, 0.5), noise=rng.uniform(0.02, 0.1)) for _ in range(8)]
    result = backtest(series, horizon=30, every=14)
    assert result.forecasts == 8 * 5
    assert result.mase < 1.2  # better than or close to the seasonal-naive in-sample error
    assert 0.7 <= result.coverage <= 1.0  # nominal 90 %
    assert result.mape_total < 0.06
