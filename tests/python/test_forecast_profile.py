"""The quasi-Poisson profile model and the combination served by default (issue 12)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shoplens import forecast as F
from shoplens.forecast import profile, selection
from shoplens.forecast.config import SeriesContext

START = dt.date(2024, 1, 1)  # a Monday
WEEKDAY = np.array([1.0, 0.9, 0.9, 1.0, 1.1, 1.4, 1.5])


def _true_mean(n_days: int, level: float) -> np.ndarray:
    t = np.arange(n_days)
    doy = (t + START.toordinal()) * 2 * np.pi / 365.25
    return level * WEEKDAY[t % 7] * np.exp(0.3 * np.cos(doy) + 0.1 * np.sin(2 * doy))


def test_profile_recovers_a_multiplicative_week_and_year():
    config = F.ForecastConfig()
    mean = _true_mean(730 + 28, 40.0)
    y = np.random.default_rng(5).poisson(mean[:730]).astype(float)
    fc = profile.profile_forecast(y, config, SeriesContext(START))
    truth = mean[730:]
    # the 28 forecast days' means within 6% of the truth, each day within 15%
    assert abs(fc.mean.mean() / truth.mean() - 1) < 0.06
    assert np.max(np.abs(fc.mean / truth - 1)) < 0.15
    assert fc.has_yearly_terms and fc.method == "profile"
    # Poisson data: dispersion near 1, the standard error near sqrt(mean)
    assert np.allclose(fc.se, np.sqrt(fc.mean), rtol=0.25)


def test_profile_is_scale_free_and_weekly_below_548_days():
    config = F.ForecastConfig()
    y = np.random.default_rng(6).poisson(_true_mean(730, 20.0)).astype(float)
    small = profile.profile_forecast(y, config, SeriesContext(START))
    large = profile.profile_forecast(250.0 * y, config, SeriesContext(START))
    # revenue-like units change nothing but the scale (the yearly terms chosen alike)
    assert large.model_order == small.model_order
    assert np.allclose(large.mean, 250.0 * small.mean, rtol=1e-6)
    short = profile.profile_forecast(y[-400:], config, SeriesContext(START))
    assert "yearly_k=0" in short.model_order and not short.has_yearly_terms


def test_profile_short_or_empty_series():
    config = F.ForecastConfig()
    fc = profile.profile_forecast(np.full(60, 3.0), config, SeriesContext(START))
    assert fc.method == "seasonal_naive" and "short history (60 days)" in fc.note
    zeros = profile.profile_forecast(np.zeros(200), config, SeriesContext(START))
    assert zeros.method == "seasonal_naive" and np.all(zeros.mean == 0)


def _fc(method: str, mean: float, se: float, h: int = 7) -> F.SeriesForecast:
    m = np.full(h, mean)
    return F.SeriesForecast(method, method.upper(), m, m - se, m + se, m - 2 * se, m + 2 * se,
                            100, note=f"{method} note", se=np.full(h, se))


def test_combination_is_the_mean_and_keeps_the_members_notes():
    combined = selection.combine([_fc("sarima", 10.0, 3.0), _fc("profile", 16.0, 4.0)])
    assert combined.method == "combination"
    assert np.allclose(combined.mean, 13.0)
    assert np.allclose(combined.se, np.sqrt((9.0 + 16.0) / 2))
    assert combined.model_order == "MEAN(SARIMA, PROFILE)"
    assert "sarima: sarima note" in combined.note and "profile: profile note" in combined.note


def test_combination_is_the_default_and_only_a_clearly_better_reference_replaces_it():
    rng = np.random.default_rng(3)
    h, n_origins = 14, 5
    y = 100 + rng.normal(0, 5.0, h * (n_origins + 1))
    origins = [h * (k + 1) for k in range(n_origins)]
    fits = {
        "backbone": [_fc("sarima", 100.0, 5.0, h) for _ in origins],
        "seasonal_naive": [_fc("seasonal_naive", 100.0, 5.0, h) for _ in origins],
        "combination": [_fc("combination", 112.0, 5.0, h) for _ in origins],
        "autoets": [_fc("autoets", 100.0, 5.0, h) for _ in origins],
    }
    served = selection.choose_and_calibrate(y, origins, fits, 4, h, 4)
    # the reference was clearly better than the biased combination; seasonal
    # naive (as good) is the baseline and never challenges
    assert served.method == "autoets"
    fits["autoets"] = [_fc("autoets", 111.0, 5.0, h) for _ in origins]
    assert selection.choose_and_calibrate(y, origins, fits, 4, h, 4).method == "combination"
    # a reference that failed (or had too short a history) is seasonal naive under its own
    # name: it never challenges, however well it scored
    failed = [_fc("autoets", 100.0, 5.0, h) for _ in origins]
    for fc in failed[1:3]:
        fc.model_order = "SNAIVE[7]"
    fits["autoets"] = failed
    assert selection.choose_and_calibrate(y, origins, fits, 4, h, 4).method == "combination"


@pytest.mark.parametrize("rate", [0.3, 5.0])
def test_served_forecast_combines_backbone_and_profile(rate):
    days = 400
    y = np.random.default_rng(9).poisson(rate, days).astype(float)
    demand = pd.DataFrame({"series_level": "total", "series_key": "all",
                           "demand_date": pd.date_range(START, periods=days).date,
                           "units": y, "revenue": 10 * y})
    config = F.ForecastConfig(top_n=0, n_jobs=1)
    out = F.forecast_demand(demand, config)
    assert set(out["method"]) == {"combination"}
    members = "SBA(" if rate < 1 else "SARIMA("
    assert out["model_order"].str.startswith(f"MEAN({members}").all()
    assert out["model_order"].str.contains("PROFILE(weekday,yearly_k=0,log)", regex=False).all()
    # a flat Poisson rate: the forecast's mean is near it
    units = out[out["measure"] == "units"]
    assert abs(units["point_forecast"].mean() / rate - 1) < 0.35


def test_profile_ignores_a_promotion_share_that_only_exists_on_selling_days():
    # the share of a day's units on promotion is 0 whenever nothing sold: on a
    # sparse product it separates selling days perfectly (a runaway coefficient)
    y = np.random.default_rng(4).poisson(0.2, 600).astype(float)
    y[0] = 1.0
    promotion = np.where(y > 0, 0.5, 0.0)
    fc = profile.profile_forecast(y, F.ForecastConfig(), SeriesContext(START, promotion))
    assert np.all(np.isfinite(fc.mean)) and 0.1 < fc.mean.mean() < 0.4
    assert fc.mean.max() <= 2.0 * y.max()


def test_profile_trend_places_the_level_and_is_not_extrapolated():
    # growth of 80% a year: the forecast holds the last day's level (+4.6% more
    # by day 28 if the trend were extrapolated)
    t = np.arange(600)
    mean = 60.0 * np.exp(0.8 * t / 365.25)
    y = np.random.default_rng(12).poisson(mean).astype(float)
    fc = profile.profile_forecast(y, F.ForecastConfig(), SeriesContext(START))
    weekly = fc.mean[:28].reshape(4, 7).mean(axis=1)
    assert np.allclose(weekly, weekly[0], rtol=1e-9)  # flat level over the horizon
    assert abs(weekly[0] / mean[-1] - 1) < 0.04


def test_profile_takes_the_level_of_the_last_eight_weeks():
    # a weekly series whose level steps up 40% eight weeks before the end: the
    # recency-weighted fit alone lags the step; the relevelled forecast is on it
    t = np.arange(500)
    mean = 30.0 * WEEKDAY[t % 7] * np.where(t >= 500 - 56, 1.4, 1.0)
    y = np.random.default_rng(13).poisson(mean).astype(float)
    fc = profile.profile_forecast(y, F.ForecastConfig(), SeriesContext(START))
    truth = 30.0 * 1.4 * WEEKDAY[np.arange(500, 528) % 7]
    assert abs(fc.mean.sum() / truth.sum() - 1) < 0.03
    fitted = np.full(56, 2.0)
    assert profile.relevel_factor(np.full(56, 3.0), fitted) == pytest.approx(1.5)
    assert profile.relevel_factor(np.ones(56), np.zeros(56)) == 1.0
