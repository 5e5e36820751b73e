"""Tests of the forecast's calendar regressors, backtest selection and conformal intervals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shoplens import forecast as F
from shoplens.forecast import calendar, exog, metrics, selection
from shoplens.settings import ConfigError

START = dt.date(2023, 1, 2)


def _yearly_series(n: int, seed: int, amplitude: float = 40.0) -> np.ndarray:
    """Level 100 with a yearly cosine (peak mid-November), a weekly profile and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) + START.toordinal()
    season = amplitude * np.cos(2 * np.pi * (t - dt.date(2023, 11, 15).toordinal()) / 365.25)
    weekly = np.array([0, 5, 5, 5, 10, 20, -10])[np.arange(n) % 7]
    return 100.0 + season + weekly + rng.normal(0, 4.0, n)


def test_easter_thanksgiving_and_country_holidays():
    assert calendar.easter_sunday(2024) == dt.date(2024, 3, 31)
    assert calendar.easter_sunday(2025) == dt.date(2025, 4, 20)
    assert calendar._thanksgiving(2024) == dt.date(2024, 11, 28)
    assert dt.date(2024, 10, 3) in calendar.holidays_of("DE", 2024)
    assert dt.date(2024, 10, 3) not in calendar.holidays_of("FR", 2024)
    # unknown country: the common calendar (Good Friday, Easter Monday, Christmas)
    assert calendar.holidays_of("ZZ", 2025) == {
        dt.date(2025, 1, 1), dt.date(2025, 12, 25), dt.date(2025, 12, 26),
        dt.date(2025, 4, 18), dt.date(2025, 4, 21)}


def test_country_names_and_alpha3_codes_find_their_calendar():
    # a customers file with "Germany" got the common calendar (no 3 October) before
    for name in ("Germany", " germany ", "DEU", "Deutschland"):
        assert calendar.holidays_of(name, 2024) == calendar.holidays_of("DE", 2024)
    assert calendar.holidays_of("United States", 2024) == calendar.holidays_of("US", 2024)
    assert dt.date(2024, 11, 28) in calendar.holidays_of("USA", 2024)  # Thanksgiving
    assert calendar.holidays_of("the  Netherlands", 2024) == calendar.holidays_of("NL", 2024)
    assert calendar.country_code("EIRE") == "EIRE"  # not listed: the common calendar
    assert calendar.holidays_of("EIRE", 2024) == calendar.holidays_of("ZZ", 2024)
    share = calendar.holiday_share(dt.date(2024, 10, 1), 5, {"GERMANY": 1.0, "FR": 1.0})
    assert share[2] == pytest.approx(0.5)


def test_holiday_share_weights_countries_and_black_friday_weekend():
    share = calendar.holiday_share(dt.date(2024, 10, 1), 40, {"DE": 3.0, "FR": 1.0})
    assert share[2] == pytest.approx(0.75)  # 3 October: Germany only
    assert share[31] == pytest.approx(0.25)  # 1 November: France only
    event = calendar.shopping_event(dt.date(2024, 11, 25), 10)
    assert event.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]  # 29 Nov to 2 Dec 2024


def test_day_flags_match_a_day_by_day_lookup_across_years():
    """holiday_share and shopping_event flag days by ordinal offset (vectorised); the result
    equals the day-by-day membership test, across year ends and multi-year spans."""
    weights = {"DE": 3.0, "US": 2.0, "": 1.0, "FR": 0.5}
    for start, n in ((dt.date(2022, 12, 20), 800), (dt.date(2024, 11, 20), 14), (dt.date(2023, 1, 2), 1)):
        dates = [start + dt.timedelta(days=i) for i in range(n)]
        years = range(dates[0].year, dates[-1].year + 1)
        expected = np.zeros(n)
        for country, weight in weights.items():
            days = set().union(*(calendar.holidays_of(country, y) for y in years))
            expected += (weight / 6.5) * np.array([d in days for d in dates], dtype="float64")
        np.testing.assert_array_equal(calendar.holiday_share(start, n, weights), expected)
        friday = {calendar._thanksgiving(y) + dt.timedelta(days=1 + k) for y in years for k in range(4)}
        np.testing.assert_array_equal(calendar.shopping_event(start, n),
                                      np.array([d in friday for d in dates], dtype="float64"))
    assert calendar.holiday_share(dt.date(2024, 12, 25), 3, None).tolist() == [1.0, 1.0, 0.0]


def test_country_weights_from_customers():
    customers = pd.DataFrame({"country": ["de", "DE", None, "US"], "n_purchases": [2, 1, 4, 0]})
    assert calendar.country_weights_from_customers(customers) == {"": 4.0, "DE": 3.0}
    assert calendar.country_weights_from_customers(customers.drop(columns="country")) is None


def test_yearly_terms_are_estimated_and_improve_the_forecast_at_the_seasons_turn():
    y = _yearly_series(700, seed=3)
    config = F.ForecastConfig(horizon_days=28)
    # origin on 1 November: the yearly cycle turns at its mid-November peak, which
    # a model of the recent level and slope alone cannot know
    origin = (dt.date(2024, 11, 1) - START).days
    actual = y[origin : origin + 28]
    with_terms = F.forecast_series(y[:origin], config, None, F.SeriesContext(start=START))
    without = F.forecast_series(y[:origin], config)
    assert with_terms.has_yearly_terms and "fourier" in with_terms.model_order
    assert not without.has_yearly_terms
    err_with = np.abs(actual - with_terms.mean).mean()
    err_without = np.abs(actual - without.mean).mean()
    assert err_with < 0.6 * err_without


def test_short_series_gets_the_weekly_model_flagged():
    y = _yearly_series(400, seed=4)
    fc = F.forecast_series(y, F.ForecastConfig(), None, F.SeriesContext(start=START))
    assert fc.method == "sarima" and not fc.has_yearly_terms
    assert "weekly model: 400 days < 548 for yearly terms" in fc.note


def test_promotion_share_coefficient_recovers_the_lift():
    rng = np.random.default_rng(5)
    n = 300
    promo = np.zeros(n)
    for s in rng.choice(n - 10, 12, replace=False):
        promo[s : s + 5] = 1.0
    y = 50.0 + 30.0 * promo + rng.normal(0, 2.0, n)
    context = F.SeriesContext(start=START, promotion=promo)
    reg = exog.calendar_regression(y, 28, F.ForecastConfig(), context)
    assert "promotion_share" in reg.names
    on, off = reg.effect[:n][promo == 1].mean(), reg.effect[:n][promo == 0].mean()
    assert on - off == pytest.approx(30.0, abs=2.0)
    # forecast days: the recent mean promotion share, times the lift
    recent = promo[-calendar.PROMOTION_WINDOW_DAYS :].mean()
    assert reg.effect[n:] - reg.effect[n:].mean() == pytest.approx(np.zeros(28), abs=1e-9)
    assert reg.effect[n] - off == pytest.approx(30.0 * recent, abs=2.0)


def test_conformal_quantiles_are_finite_sample_valid():
    r = np.random.default_rng(1).normal(size=2000)
    lower, upper = selection.conformal_quantiles(r, 0.80)
    assert lower == pytest.approx(-1.2816, abs=0.08) and upper == pytest.approx(1.2816, abs=0.08)
    # 19 errors, 90% two-sided: ceil(20 * 0.95) / 19 > 1 -> the largest error
    small = np.arange(19, dtype=float)
    assert selection.conformal_quantiles(small, 0.90) == (0.0, 18.0)


def _fc(mean: np.ndarray, se: float) -> F.SeriesForecast:
    lo, hi = mean - 1.28 * se, mean + 1.28 * se
    return F.SeriesForecast("sarima", "m", mean, lo, hi, lo, hi, 100, se=np.full(len(mean), se))


def test_backtest_winner_is_served_with_calibrated_intervals():
    rng = np.random.default_rng(2)
    h, n_origins = 14, 5
    y = 100 + rng.normal(0, 10.0, h * (n_origins + 1))
    origins = [h * (k + 1) for k in range(n_origins)]
    # a: unbiased, claims se 1 (far too narrow); b: biased by 30
    fits = {"a": [_fc(np.full(h, 100.0), 1.0) for _ in origins],
            "b": [_fc(np.full(h, 130.0), 10.0) for _ in origins]}
    served = selection.choose_and_calibrate(y, origins, fits, 4, h, 4)
    assert served.mean[0] == 100.0 and served.interval_method == "conformal(56 errors, decay 0.5)"
    # calibrated: about +-12.8 for 80% (sd 10), not the claimed +-1.28
    assert 8.0 < served.upper_80[0] - 100.0 < 18.0
    assert served.upper_95[0] > served.upper_80[0]
    # no earlier window: the backbone with its own intervals
    first = selection.choose_and_calibrate(y, origins, fits, 0, h, 4)
    assert first is fits["a"][0] and first.interval_method == "model"


def test_served_backtest_is_chosen_on_earlier_origins_only(demand_small):
    config = F.ForecastConfig(top_n=0, horizon_days=14, backtest_origins=2, calibration_origins=2,
                              global_model=True)
    served, candidates = F.backtest_candidates(demand_small, config)
    assert served["origin_date"].nunique() == 2
    # the holidays of the first months make calendar terms, so the weekly SARIMA joins
    assert set(candidates["candidate"]) == {"backbone", "backbone_weekly", "seasonal_naive",
                                            "profile", "ets", "global_gbm", "combination"}
    assert set(served["method"]) == {"combination"}
    # the later origin's served forecast must not change when data after it changes
    last_origin = pd.to_datetime(served["origin_date"]).max()
    cut = demand_small[pd.to_datetime(demand_small["demand_date"]) <= last_origin]
    again, _ = F.backtest_candidates(
        pd.concat([cut, demand_small[pd.to_datetime(demand_small["demand_date"]) > last_origin]
                   .assign(units=0, revenue=0)]), config)
    key = pd.to_datetime(served["origin_date"]) == last_origin
    assert np.allclose(served.loc[key, "point_forecast"], again.loc[key, "point_forecast"])
    rows = metrics.evaluation_rows(served, as_of_date=dt.date(2025, 1, 1), candidates=candidates)
    assert {"demand_forecast", "seasonal_naive", "sarima", "sarima_weekly", "profile_poisson",
            "ets_damped", "combination"} <= set(
        rows["model_name"])


@pytest.fixture(scope="module")
def demand_small() -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    rng = np.random.default_rng(8)
    units = rng.poisson(40 + 10 * (days.dayofweek >= 5)).astype(float)
    frame = pd.DataFrame({"series_level": "total", "series_key": "all",
                          "demand_date": days.date, "units": units, "revenue": units * 10.0})
    cat = frame.assign(series_level="category", series_key="toys")
    return pd.concat([frame, cat], ignore_index=True)


def test_reference_models_and_calibration_settings_are_checked():
    get = {"forecast_reference_models": "AutoETS, mstl", "forecast_calibration_origins": "3"}.get
    config = F.config_from_dbt(get)
    assert config.reference_models == ("autoets", "mstl") and config.calibration_origins == 3
    with pytest.raises(ConfigError, match="forecast_reference_models"):
        F.ForecastConfig(reference_models=("prophet",))
    # the global model: off unless the var says so (Jinja renders booleans as True/False)
    assert config.global_model is False
    assert F.config_from_dbt({"forecast_global_model": "True"}.get).global_model is True
    assert F.config_from_dbt({"forecast_global_model": "false"}.get).global_model is False
    with pytest.raises(ConfigError, match="forecast_global_model"):
        F.config_from_dbt({"forecast_global_model": "sometimes"}.get)


def test_status_counts_weekly_model_series_by_reason():
    from shoplens.forecast.status import forecast_status

    forecasts = pd.DataFrame({
        "series_level": ["total", "category", "category", "product"],
        "series_key": ["all", "a", "b", "p"], "measure": "units",
        "method": ["combination", "sarima", "sarima", "croston_sba"],
        "model_order": ["MEAN(SARIMA(1,0,1)(0,1,1)[7], PROFILE(weekday,yearly_k=1,log))",
                        "SARIMA(1,0,0)(0,1,1)[7]", "SARIMA(0,0,1)(0,1,1)[7]", "SBA(alpha=0.1)"],
        "has_yearly_terms": [True, False, False, False],
        "fit_note": ["yearly terms: 1 harmonics", "weekly model: 400 days < 548 for yearly terms",
                     "no calendar regressors", "intermittent (ADI 2.00)"],
        "interval_method": ["conformal(112 errors)", "model", "conformal(112 errors)", "model"],
    })
    st = forecast_status(forecasts, pd.DataFrame({"evaluation_type": ["backtest"]}),
                         dt.date(2025, 1, 1))
    assert st.status == "ok"
    reason = st.frame()["reason"].iloc[0]
    # the combination counts by its SARIMA member; Croston has none
    assert "series with a SARIMA: 3, with yearly terms: 1" in reason
    assert "too short for yearly terms: 1" in reason
    assert "series with conformal intervals: 2 of 4" in reason


def _sale_shop(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, dt.date]:
    """Three years of a shop total (Poisson, weekly shape) that sells 2.5 times as much on the
    10th and the 25th of every month, its calendar of those days (past and the next 28),
    the demand's means and the days after as_of_date."""
    start, n = dt.date(2022, 1, 3), 3 * 364
    days = [start + dt.timedelta(days=i) for i in range(n + 28)]
    sale = np.array([d.day in (10, 25) for d in days])
    weekly = np.array([1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 0.8])[np.arange(n + 28) % 7]
    lam = 40 * weekly * np.where(sale, 2.5, 1.0)
    y = np.random.default_rng(seed).poisson(lam).astype(float)
    demand = pd.DataFrame({"series_level": "total", "series_key": "all", "demand_date": days[:n],
                           "units": y[:n], "revenue": 10 * y[:n]})
    cal = pd.DataFrame({"event_date": [d for d, s in zip(days, sale, strict=True) if s], "event_name": "sale"})
    return demand, cal, lam[n:], y[n:], days[n - 1]


def test_a_planned_sale_in_the_shops_calendar_is_forecast():
    """calendar_events: one regressor per event name. Without it the sale days of the next 28
    were forecast at about the ordinary days' level (the spike rule even replaced the past
    sale days); with it every member of the combination carries the sale's lift (the
    regression members fit it, the ETS and the weekly SARIMA get the effect added)."""
    demand, cal, lam, actual, as_of = _sale_shop()
    config = F.ForecastConfig(horizon_days=28, n_jobs=1)
    on = np.array([d.day in (10, 25) for d in pd.date_range(as_of + dt.timedelta(days=1), periods=28)])

    def units(events) -> tuple[np.ndarray, str]:
        out = F.forecast_demand(demand, config, as_of_date=as_of, events=events)
        u = out[out["measure"] == "units"].sort_values("forecast_date")
        return u["point_forecast"].to_numpy(), u["model_order"].iloc[0]

    without, _ = units(None)
    with_events, order = units(calendar.events_from_frame(cal))
    assert "event:sale" in order and "ETS" in order and order.count("+events") >= 1
    lift = with_events[on].mean() / with_events[~on].mean()
    true_lift = lam[on].mean() / lam[~on].mean()
    assert lift == pytest.approx(true_lift, rel=0.15)
    assert without[on].mean() / without[~on].mean() < 1.3
    # the forecast is nearer the demand's means and the actual days
    assert np.abs(with_events - lam).mean() < 0.5 * np.abs(without - lam).mean()
    assert np.abs(with_events - actual).mean() < 0.7 * np.abs(without - actual).mean()
    # events the history never saw (two training days needed) change nothing
    future_only = cal[pd.to_datetime(cal["event_date"]).dt.date > as_of].assign(event_name="launch")
    again, _ = units(calendar.events_from_frame(future_only))
    np.testing.assert_array_equal(again, without)


def test_events_from_frame_groups_days_by_name():
    frame = pd.DataFrame({"event_date": ["2025-03-10", "2025-04-10", "2025-03-10"],
                          "event_name": ["sale", "sale", "payday"]})
    assert calendar.events_from_frame(frame) == {
        "payday": frozenset({dt.date(2025, 3, 10)}),
        "sale": frozenset({dt.date(2025, 3, 10), dt.date(2025, 4, 10)})}
    assert calendar.events_from_frame(frame.iloc[:0]) is None
    x, names = calendar.regressors(dt.date(2025, 3, 1), 45, 0, yearly_k=0,
                                   events=calendar.events_from_frame(frame))
    assert names == ["event:sale"]  # payday has one training day: no column
    assert x[:, 0].sum() == 2


def test_a_calendar_of_many_names_keeps_those_with_the_most_days():
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=k) for k in range(40)]
    frame = pd.DataFrame({"event_date": days + days[:5],
                          "event_name": [f"note{k:02d}" for k in range(40)] + ["sale"] * 5})
    events = calendar.events_from_frame(frame)
    assert len(events) == calendar.MAX_EVENT_NAMES and "sale" in events
    assert sorted(events)[:3] == ["note00", "note01", "note02"] and "note39" not in events
    # ranked by the days up to as_of_date: a name with no past yet gives way
    plan = pd.DataFrame({"event_date": [dt.date(2026, 1, k) for k in range(1, 29)], "event_name": "plan"})
    events = calendar.events_from_frame(pd.concat([frame, plan]), as_of_date=dt.date(2025, 12, 31))
    assert "plan" not in events and "sale" in events and len(events) == calendar.MAX_EVENT_NAMES


def test_an_event_held_on_one_weekday_does_not_take_that_weekdays_level():
    """A sale every other Saturday (Saturdays sell 1.8 times a weekday; the sale adds 30%):
    the effect added to the members without calendar regressors was fitted on a line and
    the flags only, took the Saturdays' own level for the sale's, and the ETS and weekly
    SARIMA forecast the Saturdays without a sale 14% under (61.7 against 72; the review)."""
    start, n = dt.date(2022, 1, 3), 2 * 364 + 140
    days = [start + dt.timedelta(days=i) for i in range(n + 28)]
    saturday = np.array([d.weekday() == 5 for d in days])
    sale = saturday & (np.array([(d - start).days // 7 for d in days]) % 2 == 0)
    lam = 40 * np.where(saturday, 1.8, 1.0) * np.where(sale, 1.3, 1.0)
    y = np.random.default_rng(11).poisson(lam).astype(float)
    demand = pd.DataFrame({"series_level": "total", "series_key": "all", "demand_date": days[:n],
                           "units": y[:n], "revenue": 10 * y[:n]})
    cal = pd.DataFrame({"event_date": [d for d, s in zip(days, sale, strict=True) if s], "event_name": "sale"})
    out = F.forecast_demand(demand, F.ForecastConfig(horizon_days=28, n_jobs=1), as_of_date=days[n - 1],
                            events=calendar.events_from_frame(cal))
    fc = out[out["measure"] == "units"].sort_values("forecast_date")["point_forecast"].to_numpy()
    plain_saturdays = saturday[n:] & ~sale[n:]
    sale_days = sale[n:]
    assert fc[plain_saturdays].mean() == pytest.approx(72.0, rel=0.08)
    assert fc[sale_days].mean() == pytest.approx(72.0 * 1.3, rel=0.08)
