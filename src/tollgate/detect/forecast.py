"""Daily cost forecasts to the end of a month or quarter, with prediction intervals (pure, numpy).

Model, fitted on the last ``fit_days`` days before the forecast origin:

* **weekly seasonality**: a multiplicative factor per weekday, the median ratio of each day to its centred
  7-day mean (needs two weeks of history; flat otherwise);
* **trend**: a Theil-Sen line through the deseasonalised days (robust to single bad days and short spikes);
* **uncertainty**: residual spread (1.4826 × MAD) inflated for lag-1 autocorrelation, plus the uncertainty of
  the line's level and slope; totals are treated as normal. ``level`` is the central interval's coverage.

:func:`backtest` measures the model on generated series (weekly seasonality, growth, noise, level steps and
spikes): MASE of the daily path (scaled by the in-sample seasonal-naive error) and the share of period totals
inside their interval.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
from scipy.stats import theilslopes  # type: ignore[import-untyped]

from tollgate.errors import InputError
from tollgate.model.finops import Budget, BudgetPeriod, BudgetStatus, PeriodForecast, SeriesTrace

__all__ = [
    "BacktestResult",
    "DayForecast",
    "backtest",
    "backtest_suite",
    "budget_status",
    "forecast_days",
    "forecast_period",
    "month_bounds",
    "quarter_bounds",
    "synthetic_series",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DayForecast:
    """Expected cost of each of the next ``horizon`` days, its standard deviation, and of their total."""

    mean: FloatArray
    sd: FloatArray
    total_mean: float
    total_sd: float


def month_bounds(day: date) -> tuple[date, date]:
    """First and last day of ``day``'s month."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def quarter_bounds(day: date) -> tuple[date, date]:
    """First and last day of ``day``'s calendar quarter."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end_month = first_month + 2
    return start, date(day.year, end_month, calendar.monthrange(day.year, end_month)[1])


def _weekday_factors(y: FloatArray, weekdays: npt.NDArray[np.int64]) -> FloatArray:
    """Multiplicative factor per weekday (Monday = 0), mean 1; ones when history is short or empty."""
    factors = np.ones(7)
    if len(y) < 14:
        return factors
    kernel = np.ones(7) / 7.0
    centred = np.convolve(y, kernel, mode="valid")  # centred mean of days 3..n-4
    inner = y[3:len(y) - 3]
    wd = weekdays[3:len(y) - 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(centred > 0, inner / centred, np.nan)
    for d in range(7):
        r = ratio[(wd == d) & ~np.isnan(ratio)]
        if len(r):
            factors[d] = float(np.median(r))
    mean = factors.mean()
    return factors / mean if mean > 0 else np.ones(7)


def forecast_days(
    history: Sequence[float] | FloatArray,
    weekdays: Sequence[int] | npt.NDArray[np.int64],
    horizon: int,
    *,
    fit_days: int = 56,
    calibrate: bool = True,
) -> DayForecast:
    """Forecast the ``horizon`` days after ``history`` (one value per day, ``weekdays`` aligned with it).

    ``weekdays`` gives Monday = 0 .. Sunday = 6 for each history day; the future continues the sequence.
    With ``calibrate`` the spread is widened by how far off earlier forecasts of this history were.
    Raises :class:`InputError` for empty history or mismatched lengths.
    """
    y_all = np.asarray(history, dtype=np.float64)
    wd_all = np.asarray(weekdays, dtype=np.int64)
    if len(y_all) == 0:
        raise InputError("forecast: no cost history to forecast from")
    if len(wd_all) != len(y_all):
        raise InputError("forecast: weekdays and history differ in length")
    y = y_all[-fit_days:]
    wd = wd_all[-fit_days:]
    n = len(y)
    factors = _weekday_factors(y, wd)
    d = y / factors[wd]
    t = np.arange(n, dtype=np.float64) - (n - 1)  # 0 is the last history day
    if n >= 7:
        fit = theilslopes(d, t)
        slope, intercept = float(fit[0]), float(fit[1])
    else:
        slope, intercept = 0.0, float(np.median(d))
    # Anchor the level on the last two weeks, so a recent step in spend is carried forward.
    recent = slice(-min(n, _RECENT_DAYS), None)
    intercept = float(np.median(d[recent] - slope * t[recent]))
    resid = d - (intercept + slope * t)
    sigma = 1.4826 * float(np.median(np.abs(resid - np.median(resid)))) if n >= 3 else float(np.mean(np.abs(d)))
    # Spikes belong to the future too: the spread of totals uses the full residual spread.
    sigma = max(sigma, float(np.std(resid)))
    rho = 0.0
    if n >= 10 and np.std(resid) > 0:
        rho = float(np.clip(np.corrcoef(resid[:-1], resid[1:])[0, 1], 0.0, 0.9))
    inflation = (1.0 + rho) / (1.0 - rho)
    steps = np.arange(1, horizon + 1, dtype=np.float64)
    fwd_wd = (wd_all[-1] + np.arange(1, horizon + 1)) % 7
    s = factors[fwd_wd]
    mean = np.maximum((intercept + slope * steps) * s, 0.0)
    t_bar = float(t.mean())
    sxx = float(((t - t_bar) ** 2).sum()) or 1.0
    # Per day: noise + level + slope uncertainty (deseasonalised units, scaled by the weekday factor).
    sd_day = sigma * s * np.sqrt(1.0 + 1.0 / n + (steps - t_bar) ** 2 / sxx)
    var_total = sigma**2 * (inflation * float((s**2).sum()) + float(s.sum()) ** 2 / n
                            + float((s * (steps - t_bar)).sum()) ** 2 / sxx)
    total_sd = float(np.sqrt(var_total))
    if calibrate:
        factor = _calibration(y_all, wd_all, min(horizon, _CAL_HORIZON), fit_days)
        sd_day, total_sd = sd_day * factor, total_sd * factor
    return DayForecast(mean=mean, sd=sd_day, total_mean=float(mean.sum()), total_sd=total_sd)


_CAL_HORIZON = 28
_RECENT_DAYS = 14
_CAL_MIN_FIT = 28
_CAL_ORIGINS = 8


def _calibration(y: FloatArray, wd: npt.NDArray[np.int64], horizon: int, fit_days: int) -> float:
    """How much wider than the model's own spread the errors of totals were in this history.

    Forecasts ``horizon``-day totals from up to ``_CAL_ORIGINS`` weekly-spaced earlier origins and returns the
    robust scale (1.4826 x median absolute value) of their standardised errors, at least 1 (1 when the
    history is too short).
    """
    scores: list[float] = []
    origin = len(y) - horizon
    while origin >= _CAL_MIN_FIT and len(scores) < _CAL_ORIGINS:
        fc = forecast_days(y[:origin], wd[:origin], horizon, fit_days=fit_days, calibrate=False)
        if fc.total_sd > 0:
            scores.append((float(y[origin:origin + horizon].sum()) - fc.total_mean) / fc.total_sd)
        origin -= 7
    if len(scores) < 2:
        return 1.0
    # Robust scale of the standardised errors: one earlier step in spend must not blow the interval up.
    return max(1.0, 1.4826 * float(np.median(np.abs(scores))))


def _np_day(day: date) -> np.datetime64:
    return np.datetime64(day.isoformat(), "D")


def _as_date(value: np.datetime64) -> date:
    return date.fromisoformat(str(value.astype("datetime64[D]")))


def forecast_period(
    dates: npt.NDArray[np.datetime64],
    values: Sequence[float] | FloatArray,
    period_start: date,
    period_end: date,
    *,
    level: float = 0.9,
    fit_days: int = 56,
) -> PeriodForecast:
    """Total cost of ``period_start..period_end`` (inclusive) given daily ``values`` on dense ``dates``.

    Data after the last date is forecast; data before ``period_start`` only trains the model.
    """
    if not 0.0 < level < 1.0:
        raise InputError(f"forecast level {level!r} must be between 0 and 1")
    days = np.asarray(dates).astype("datetime64[D]")
    y = np.asarray(values, dtype=np.float64)
    if len(days) == 0:
        raise InputError("forecast: no cost history to forecast from")
    as_of = _as_date(days[-1])
    in_period = (days >= _np_day(period_start)) & (days <= _np_day(period_end))
    to_date = float(y[in_period].sum())
    horizon = (period_end - as_of).days
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    if horizon <= 0:
        return PeriodForecast(period_start, period_end, as_of, to_date, to_date, to_date, to_date, level)
    weekdays = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    fc = forecast_days(y, weekdays, horizon, fit_days=fit_days)
    # Days before the period start that are still in the future are forecast but not counted.
    skip = max(0, (period_start - as_of).days - 1)
    mean, sd = fc.mean[skip:], fc.sd[skip:]
    total_sd = fc.total_sd * (float(np.sqrt(len(mean) / horizon)) if skip else 1.0)
    expected = to_date + float(mean.sum())
    daily = tuple(
        (as_of + timedelta(days=skip + i + 1), float(m), float(max(m - z * s_, 0.0)), float(m + z * s_))
        for i, (m, s_) in enumerate(zip(mean, sd, strict=True))
    )
    return PeriodForecast(
        period_start=period_start, period_end=period_end, as_of=as_of, actual_to_date=round(to_date, 6),
        forecast=round(expected, 6), lower=round(max(to_date, expected - z * total_sd), 6),
        upper=round(expected + z * total_sd, 6), level=level, daily=daily,
    )


def budget_status(
    budget: Budget,
    dates: npt.NDArray[np.datetime64],
    values: Sequence[float] | FloatArray,
    *,
    level: float = 0.9,
    trace_days: int = 56,
) -> BudgetStatus:
    """The budget's period forecast (the period holding the last data day), breach probability and day.

    The breach day is the first day the actual-plus-expected cumulative cost reaches the amount (a day in
    the past when it is already spent); ``None`` when it is not expected within the period.
    """
    days = np.asarray(dates).astype("datetime64[D]")
    y = np.asarray(values, dtype=np.float64)
    if len(days) == 0:
        raise InputError(f"budget {budget.name!r}: no cost data in its scope")
    as_of = _as_date(days[-1])
    month = forecast_period(days, y, *month_bounds(as_of), level=level)
    quarter = forecast_period(days, y, *quarter_bounds(as_of), level=level)
    fc = month if budget.period == BudgetPeriod.MONTHLY else quarter
    sd = (fc.upper - fc.forecast) / NormalDist().inv_cdf(0.5 + level / 2.0) if fc.upper > fc.forecast else 0.0
    if fc.actual_to_date >= budget.amount:
        prob = 1.0
    elif sd <= 0:
        prob = 1.0 if fc.forecast >= budget.amount else 0.0
    else:
        prob = 1.0 - NormalDist(fc.forecast, sd).cdf(budget.amount)
    breach = _breach_day(budget.amount, days, y, fc)
    lo = max(0, len(days) - trace_days)
    trace = SeriesTrace(
        buckets=tuple(_to_dt(d) for d in days[lo:]), actual=tuple(float(v) for v in y[lo:]),
        expected=(), lower=(), upper=(),
    )
    return BudgetStatus(budget=budget, forecast=fc, probability_of_breach=round(prob, 4),
                        expected_breach_day=breach, quarter=quarter if fc is month else month, history=trace)


def _to_dt(value: np.datetime64) -> datetime:
    return datetime.combine(_as_date(value), datetime.min.time(), tzinfo=UTC)


def _breach_day(amount: float, days: npt.NDArray[np.datetime64], y: FloatArray, fc: PeriodForecast) -> date | None:
    in_period = (days >= _np_day(fc.period_start)) & (days <= _np_day(fc.period_end))
    spent = np.cumsum(y[in_period])
    if len(spent) and spent[-1] >= amount:
        return _as_date(days[in_period][int(np.argmax(spent >= amount))])
    running = fc.actual_to_date
    for day, mean, _lo, _hi in fc.daily:
        running += mean
        if running >= amount:
            return day
    return None


# -- generated series and backtest -------------------------------------------------------------------------


def synthetic_series(
    rng: np.random.Generator,
    days: int = 180,
    *,
    base: float = 1000.0,
    growth_per_day: float = 0.002,
    weekend_dip: float = 0.3,
    noise: float = 0.05,
    step_at: int | None = None,
    step: float = 0.0,
    spikes: int = 0,
) -> FloatArray:
    """A daily cost series: weekly seasonality (weekend dip), exponential growth, multiplicative noise,
    an optional level step (``step`` as a fraction of the level from day ``step_at``) and random spikes.
    Day 0 is a Monday."""
    t = np.arange(days)
    season = np.where(t % 7 >= 5, 1.0 - weekend_dip, 1.0)
    level = base * np.exp(growth_per_day * t)
    if step_at is not None:
        level = level * np.where(t >= step_at, 1.0 + step, 1.0)
    y = level * season * (1.0 + noise * rng.standard_normal(days))
    for i in rng.integers(0, days, size=spikes):
        y[i] *= 1.0 + rng.uniform(0.5, 2.0)
    out: FloatArray = np.maximum(y, 0.0)
    return out


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Accuracy over every origin of every series: MASE of the daily path, interval coverage of totals."""

    forecasts: int
    horizon: int
    level: float
    mase: float
    coverage: float
    mape_total: float


def backtest(
    series: Sequence[FloatArray],
    *,
    horizon: int = 30,
    first_origin: int = 56,
    every: int = 7,
    level: float = 0.9,
) -> BacktestResult:
    """Rolling-origin backtest: forecast the next ``horizon`` days from every ``every``-th day.

    Day 0 of every series is a Monday. MASE divides the mean absolute daily error by the in-sample
    mean absolute error of the seasonal-naive forecast (same weekday last week).
    """
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    mases: list[float] = []
    inside = 0
    ape: list[float] = []
    count = 0
    for y in series:
        y = np.asarray(y, dtype=np.float64)
        wd = np.arange(len(y)) % 7
        for origin in range(first_origin, len(y) - horizon + 1, every):
            hist, fut = y[:origin], y[origin:origin + horizon]
            fc = forecast_days(hist, wd[:origin], horizon)
            naive = float(np.mean(np.abs(hist[7:] - hist[:-7])))
            if naive > 0:
                mases.append(float(np.mean(np.abs(fut - fc.mean))) / naive)
            total = float(fut.sum())
            inside += int(abs(total - fc.total_mean) <= z * fc.total_sd)
            if total > 0:
                ape.append(abs(total - fc.total_mean) / total)
            count += 1
    if count == 0:
        raise InputError("backtest: series too short for one origin")
    return BacktestResult(forecasts=count, horizon=horizon, level=level, mase=float(np.mean(mases)),
                          coverage=inside / count, mape_total=float(np.mean(ape)))


def backtest_suite(*, seed: int = 7, per_kind: int = 40, days: int = 180, horizon: int = 30,
                   level: float = 0.9) -> dict[str, BacktestResult]:
    """The reported benchmark: :func:`backtest` on ``per_kind`` generated series of each kind.

    Kinds: ``plain`` (weekly dip 0-50 %, growth -0.2..+0.6 %/day, noise 2-10 %), ``steps`` (plus a level
    step of -30..+50 % somewhere after day 60) and ``spikes`` (plus three one-day spikes of +50..+200 %).
    """
    rng = np.random.default_rng(seed)
    out: dict[str, BacktestResult] = {}
    for kind in ("plain", "steps", "spikes"):
        series: list[FloatArray] = []
        for _ in range(per_kind):
            step_at = int(rng.integers(60, days - 30)) if kind == "steps" else None
            series.append(synthetic_series(
                rng, days, growth_per_day=float(rng.uniform(-0.002, 0.006)),
                weekend_dip=float(rng.uniform(0.0, 0.5)), noise=float(rng.uniform(0.02, 0.1)),
                step_at=step_at, step=float(rng.uniform(-0.3, 0.5)) if step_at is not None else 0.0,
                spikes=3 if kind == "spikes" else 0,
            ))
        out[kind] = backtest(series, horizon=horizon, level=level)
    return out
