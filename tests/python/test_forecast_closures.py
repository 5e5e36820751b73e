"""A shop closed on a weekday forecasts 0 there (shoplens.forecast.closures)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shoplens import forecast as F
from shoplens.datagen import generate_shop
from shoplens.forecast.closures import (
    closed_dates,
    closed_in_note,
    closed_mask,
    closed_weekdays,
    dates_note,
    noted_dates,
    zero_closed,
)
from shoplens.forecast.series import Series
from shoplens.settings import ConfigError
from shoplens.testing.forecast_data import closed_on_saturdays, demand_daily_from_raw

MONDAY = dt.date(2025, 1, 6)


def _total(values: np.ndarray, start: dt.date = MONDAY) -> Series:
    return Series("total", "all", "units", start, np.asarray(values, dtype="float64"))


def test_a_weekday_without_a_sale_in_eight_weeks_is_closed():
    week = np.array([5.0, 6, 7, 8, 9, 0, 4])  # Monday first, nothing on Saturdays
    total = _total(np.tile(week, 25))
    assert closed_weekdays(total, MONDAY + dt.timedelta(days=140)) == {5}
    # a Saturday sale in week 15 (day 110): open at an origin whose eight weeks hold it,
    # closed again once it is more than eight weeks back
    sold = np.tile(week, 25)
    sold[7 * 15 + 5] = 1.0
    assert closed_weekdays(_total(sold), MONDAY + dt.timedelta(days=140)) == frozenset()
    assert closed_weekdays(_total(sold), MONDAY + dt.timedelta(days=175)) == {5}
    # the origin need not be a Monday: the weekdays are the calendar's
    assert closed_weekdays(total, MONDAY + dt.timedelta(days=131)) == {5}
    # fewer than eight weeks of history, no sale at all, or closed_weeks 0: nothing is closed
    assert closed_weekdays(total, MONDAY + dt.timedelta(days=49)) == frozenset()
    assert closed_weekdays(_total(np.zeros(70)), MONDAY + dt.timedelta(days=70)) == frozenset()
    assert closed_weekdays(total, MONDAY + dt.timedelta(days=140), weeks=0) == frozenset()


def test_a_shop_too_small_to_tell_never_closes_a_day():
    # a Poisson shop total of 0.6 sales a day: without the open-weekday rule a weekday
    # would show eight empty weeks at about 5% of the origins
    rng = np.random.default_rng(0)
    sparse = _total(rng.poisson(0.6, 3000).astype("float64"))
    origins = [MONDAY + dt.timedelta(days=d) for d in range(56, 3000)]
    assert sum(bool(closed_weekdays(sparse, day)) for day in origins) == 0
    gaps = 0
    for d in range(56, 3000):
        window = sparse.values[d - 56 : d]
        weekday = (MONDAY.weekday() + np.arange(d - 56, d)) % 7
        gaps += any(not (window[weekday == w] > 0).any() for w in range(7))
    assert gaps / len(origins) > 0.02
    # a shop of 5 a day closed on Saturdays is told at every origin
    busy = rng.poisson(5.0, 3000).astype("float64")
    busy[(MONDAY.weekday() + np.arange(3000)) % 7 == 5] = 0.0
    assert all(closed_weekdays(_total(busy), day) == {5} for day in origins[::7])


def test_closed_weeks_is_a_dbt_var():
    assert F.config_from_dbt({"forecast_closed_weeks": "0"}.get).closed_weeks == 0
    assert F.config_from_dbt({}.get).closed_weeks == 8
    with pytest.raises(ConfigError, match="closed_weeks"):
        F.ForecastConfig(closed_weeks=-1)


def test_closed_days_are_zero_in_point_bounds_and_median():
    mask = closed_mask(dt.date(2025, 3, 7), 9, frozenset({5, 6}))  # a Friday, then Sat, Sun
    assert mask.tolist() == [False, True, True, False, False, False, False, False, True]
    assert closed_mask(dt.date(2025, 3, 7), 9, frozenset()) is None
    ones = np.ones(9)
    fc = F.SeriesForecast("sarima", "m", 10 * ones, 5 * ones, 15 * ones, 2 * ones, 18 * ones, 100,
                          se=3 * ones, median=9 * ones)
    z = zero_closed(fc, mask)
    for values in (z.mean, z.lower_80, z.upper_80, z.lower_95, z.upper_95, z.median):
        assert values[mask].tolist() == [0.0] * 3 and (values[~mask] > 0).all()
    assert z.closed.tolist() == mask.tolist() and zero_closed(fc, None) is fc
    # a flat daily rate (Croston) keeps the horizon's demand on the open days
    flat = F.croston_sba(np.tile([3.0, 0, 0, 2, 0, 0, 0], 20), 9, 0.1, 91)
    kept = zero_closed(flat, mask)
    assert kept.mean.sum() == pytest.approx(flat.mean.sum())
    assert kept.mean[~mask] == pytest.approx(flat.mean[~mask] * 9 / 6)
    assert zero_closed(kept, mask) is kept  # once only


@pytest.fixture(scope="module")
def saturday_closed() -> pd.DataFrame:
    """The forecast tests' generated shop, closed on Saturdays (their demand on Fridays)."""
    shop = generate_shop(n_customers=20_000, n_days=730, n_products=60, seed=11, events=False)
    return closed_on_saturdays(
        demand_daily_from_raw(shop["orders"], shop["order_items"], shop["products"]))


def test_a_shop_closed_on_saturdays_forecasts_zero_on_saturdays(saturday_closed):
    config = F.ForecastConfig(top_n=4, n_jobs=1)
    forecasts = F.forecast_demand(saturday_closed, config)
    saturday = pd.to_datetime(forecasts["forecast_date"]).dt.dayofweek == 5
    bounds = ["point_forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert (forecasts.loc[saturday, bounds] == 0).all().all()
    assert (forecasts.loc[~saturday, "point_forecast"] > 0).all()
    assert forecasts["fit_note"].str.contains(
        "closed on Saturday: 0 there (no sale at the shop total on each of the last 8 weeks)",
        regex=False).all()
    # the holdout reads the closed days back from the rows
    closed = closed_in_note(forecasts)
    assert closed.tolist() == saturday.tolist()


def test_closed_saturdays_are_left_out_of_coverage_and_the_total_beats_naive(saturday_closed):
    config = F.ForecastConfig(top_n=4, n_jobs=1)
    served, _ = F.backtest_candidates(saturday_closed, config)
    saturday = pd.to_datetime(served["target_date"]).dt.dayofweek == 5
    assert served["is_closed"].tolist() == saturday.tolist()
    metrics = F.series_metrics(served)
    open_days = served[~saturday]
    inside = ((open_days["actual"] >= open_days["lower_80"])
              & (open_days["actual"] <= open_days["upper_80"]))
    pooled = (metrics["coverage_80"] * metrics["n_open"]).sum() / metrics["n_open"].sum()
    assert pooled == pytest.approx(inside.mean())
    # a closed day that sold after all is a miss, not left out
    reopened = served.copy()
    first = reopened.index[reopened["is_closed"]][0]
    reopened.loc[first, "actual"] = 5.0
    key = reopened.loc[first, ["series_level", "series_key", "measure"]].tolist()
    before = metrics.set_index(["series_level", "series_key", "measure"]).loc[tuple(key)]
    after = F.series_metrics(reopened).set_index(
        ["series_level", "series_key", "measure"]).loc[tuple(key)]
    assert after["n_open"] == before["n_open"] + 1
    assert after["coverage_80"] == pytest.approx(
        before["coverage_80"] * before["n_open"] / (before["n_open"] + 1))
    total = metrics[metrics["series_level"] == "total"]
    # without the closed weekdays this shop's total scores 0.868 of seasonal naive, with them
    # 0.767 (bench_forecast_floor.py --customers 20000 --products 60 --top-n 4 --seed 11
    # --closed saturday)
    assert total["mase_model"].mean() / total["mase_naive"].mean() < 0.82


def test_a_caller_with_some_series_passes_the_shop_total(saturday_closed):
    # Spark forecasts one series per group: the total it passes decides the closed days
    config = F.ForecastConfig(top_n=0, n_jobs=1)
    one = saturday_closed[saturday_closed["series_key"] == "electronics"]
    total = saturday_closed[saturday_closed["series_level"] == "total"]
    alone = F.forecast_demand(one, config)
    told = F.forecast_demand(one, config, shop_total=total)
    together = F.forecast_demand(pd.concat([one, total]), config)
    together = together[together["series_key"] == "electronics"].reset_index(drop=True)
    saturday = pd.to_datetime(told["forecast_date"]).dt.dayofweek == 5
    assert (told.loc[saturday, "upper_95"] == 0).all()
    assert (alone.loc[saturday, "point_forecast"] > 0).all()  # a category alone cannot tell
    columns = ["point_forecast", "lower_80", "upper_80", "lower_95", "upper_95", "fit_note"]
    pd.testing.assert_frame_equal(told[columns], together[columns])



def _christmas_closed(values: np.ndarray, start: dt.date) -> np.ndarray:
    """``values`` with 24 December to 2 January at 0 in every year."""
    days = [start + dt.timedelta(days=i) for i in range(len(values))]
    shut = np.array([(d.month, d.day) >= (12, 24) or (d.month, d.day) <= (1, 2) for d in days])
    return np.where(shut, 0.0, values)


def test_a_date_without_a_sale_in_each_of_the_last_two_years_is_closed():
    start = dt.date(2023, 1, 2)  # a Monday
    rng = np.random.default_rng(3)
    busy = _christmas_closed(rng.poisson(20.0, 1200).astype("float64"), start)
    first = dt.date(2025, 12, 11)
    mask = closed_dates(_total(busy, start), first, 28)
    days = [first + dt.timedelta(days=i) for i in range(28)]
    assert [d for d, m in zip(days, mask, strict=True) if m] == [
        dt.date(2025, 12, 24) + dt.timedelta(days=i) for i in range(10)]
    # the fit note names the run, and the holdout reads it back
    note = dates_note(first, mask)
    assert note.startswith("closed dates 2025-12-24..2026-01-02: 0 there")
    assert noted_dates(note) == [(dt.date(2025, 12, 24), dt.date(2026, 1, 2))]
    # one closed year is an outage, not a closure; nor is a history shorter than two years
    once = busy.copy()
    once[(dt.date(2023, 12, 24) - start).days : (dt.date(2024, 1, 3) - start).days] = 20.0
    assert closed_dates(_total(once, start), first, 28) is None
    assert closed_dates(_total(busy[365:], start + dt.timedelta(days=365)), first, 28) is None
    assert closed_dates(_total(busy, start), first, 28, years=0) is None
    # a closed weekday is left to the weekday rule: not a date, and not an open day around one
    saturday = (start.weekday() + np.arange(len(busy))) % 7 == 5
    both = np.where(saturday, 0.0, busy)
    mask_both = closed_dates(_total(both, start), first, 28, closed=frozenset({5}))
    assert [d for d, m in zip(days, mask_both, strict=True) if m] == [
        d for d in days if dt.date(2025, 12, 24) <= d <= dt.date(2026, 1, 2) and d.weekday() != 5]
    weekdays = closed_mask(first, 28, frozenset({5}))
    assert dates_note(first, mask_both, 2, weekdays).startswith(
        "closed dates 2025-12-24..2026-01-02: ")


def test_a_date_selling_next_to_nothing_in_each_of_two_years_is_closed():
    """M5's shape: a chain's stores shut on Christmas still book a few units (3 against about
    3,000 a day), which the rule for 0 missed: Christmas was forecast at 3,054 units. At most
    2% of the median open day around it counts as empty; a quiet day above that does not."""
    start = dt.date(2013, 1, 7)  # a Monday
    rng = np.random.default_rng(5)
    values = rng.poisson(3000.0, 1200).astype("float64")
    days = [start + dt.timedelta(days=i) for i in range(len(values))]
    christmas = np.array([(d.month, d.day) == (12, 25) for d in days])
    first = dt.date(2015, 12, 11)
    horizon = [first + dt.timedelta(days=i) for i in range(28)]
    shut = closed_dates(_total(np.where(christmas, 3.0, values), start), first, 28)
    assert [d for d, m in zip(horizon, shut, strict=True) if m] == [dt.date(2015, 12, 25)]
    # a slow day (a tenth of the usual) is no closure
    assert closed_dates(_total(np.where(christmas, 300.0, values), start), first, 28) is None


def test_a_shop_too_small_to_tell_never_closes_a_date():
    # a Poisson shop total of 0.6 sales a day has an empty day on the same date of two
    # years about 30% of the time: it does not sell on 90% of the days around them
    start = dt.date(2020, 1, 6)
    rng = np.random.default_rng(1)
    sparse = _total(rng.poisson(0.6, 2500).astype("float64"), start)
    closed = [closed_dates(sparse, start + dt.timedelta(days=d), 28) for d in range(800, 2500, 7)]
    assert all(m is None for m in closed)
    # at 4 a day (an empty day 2% of the time) a chance date shows at about 0.04% of days
    steady = _total(rng.poisson(4.0, 2500).astype("float64"), start)
    hits = [closed_dates(steady, start + dt.timedelta(days=d), 28) for d in range(800, 2500, 28)]
    assert sum(0 if m is None else int(m.sum()) for m in hits) <= 3


def test_closed_dates_do_not_scale_a_flat_rate_forecast():
    flat = F.croston_sba(np.tile([3.0, 0, 0, 2, 0, 0, 0], 20), 9, 0.1, 91)
    dates = np.array([False, False, True, True, False, False, False, False, False])
    kept = zero_closed(flat, dates, np.zeros(9, dtype=bool))
    assert kept.mean[dates].tolist() == [0.0, 0.0]
    assert kept.mean[~dates] == pytest.approx(flat.mean[~dates])


def test_closed_years_is_a_dbt_var():
    assert F.config_from_dbt({"forecast_closed_years": "0"}.get).closed_years == 0
    assert F.config_from_dbt({}.get).closed_years == 2
    with pytest.raises(ConfigError, match="closed_years"):
        F.ForecastConfig(closed_years=-1)


def test_a_shop_closed_over_christmas_forecasts_zero_on_those_dates():
    start = dt.date(2023, 1, 2)
    n = (dt.date(2025, 12, 11) - start).days  # history up to 10 December 2025
    rng = np.random.default_rng(5)
    weekly = np.array([1.0, 1.1, 1.0, 1.2, 1.3, 0.8, 0.6])[(start.weekday() + np.arange(n)) % 7]
    units = _christmas_closed(rng.poisson(40.0 * weekly).astype("float64"), start)
    demand = pd.DataFrame({"series_level": "total", "series_key": "all",
                           "demand_date": [start + dt.timedelta(days=i) for i in range(n)],
                           "units": units, "revenue": units * 12.5})
    forecasts = F.forecast_demand(demand, F.ForecastConfig(top_n=0, n_jobs=1))
    day = pd.to_datetime(forecasts["forecast_date"]).dt.date
    shut = (day >= dt.date(2025, 12, 24)) & (day <= dt.date(2026, 1, 2))
    bounds = ["point_forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert shut.sum() == 20  # ten days, two measures
    assert (forecasts.loc[shut, bounds] == 0).all().all()
    assert (forecasts.loc[~shut, "point_forecast"] > 0).all()
    assert forecasts["fit_note"].str.contains(
        "closed dates 2025-12-24..2026-01-02: 0 there (no sale at the shop total on those dates"
        " in each of the last 2 years)", regex=False).all()
    assert closed_in_note(forecasts).tolist() == shut.tolist()
    # off by the var: forecast on those dates as on any other
    kept = F.forecast_demand(demand, F.ForecastConfig(top_n=0, n_jobs=1, closed_years=0))
    assert (kept.loc[shut, "point_forecast"] > 0).all()
    assert not closed_in_note(kept).any()


def test_a_weekend_is_no_evidence_that_a_date_is_closed():
    # a shop closed on Saturdays and Sundays: a Monday's date fell on the Sunday and the
    # Saturday of the two years before, both empty; before, every Monday closed by date
    start = dt.date(2020, 1, 1)
    rng = np.random.default_rng(2)
    weekday = (start.weekday() + np.arange(1300)) % 7
    weekend = np.where(weekday >= 5, 0.0, rng.poisson(110.0, 1300).astype("float64"))
    first = dt.date(2023, 6, 5)
    assert closed_dates(_total(weekend, start), first, 28, closed=frozenset({5, 6})) is None
    # one year back, a shop closed on Saturdays only: a Sunday's date fell on a Saturday
    saturday = np.where(weekday == 5, 0.0, rng.poisson(110.0, 1300).astype("float64"))
    assert closed_dates(_total(saturday, start), dt.date(2023, 6, 4), 28, years=1,
                        closed=frozenset({5})) is None
    # a closure run that holds open weekdays is evidence on its weekend days too
    shut = _christmas_closed(saturday, start)
    mask = closed_dates(_total(shut, start), dt.date(2022, 12, 11), 28, closed=frozenset({5}))
    days = [dt.date(2022, 12, 11) + dt.timedelta(days=i) for i in range(28)]
    assert [d for d, m in zip(days, mask, strict=True) if m] == [
        d for d in days if dt.date(2022, 12, 24) <= d <= dt.date(2023, 1, 2) and d.weekday() != 5]
