"""Series that start or stop inside the shop's history (a late launch, a product that stopped).

``demand_daily`` fills every series with zeros back to the shop's first day,
so a product launched weeks before ``as_of_date`` has calibration windows
forecast from nothing but zeros, with a standard error of 0. One sale in
such a window divided by the 1e-9 floor made every conformal bound about
1e10 (a product launched 20 days before: upper_95 1.7e10 units a day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from shoplens import forecast as F
from shoplens.forecast import selection
from shoplens.forecast.closures import zero_closed
from shoplens.forecast.config import SeriesForecast

N_DAYS = 500


@pytest.fixture(scope="module")
def late_demand() -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    rng = np.random.default_rng(2)
    days = pd.date_range("2023-01-01", periods=N_DAYS).date
    total = rng.poisson(30, N_DAYS).astype(float)
    launched = np.zeros(N_DAYS)
    launched[-20:] = rng.poisson(3, 20)  # launched 20 days before the end
    stopped = np.zeros(N_DAYS)
    stopped[-60:-30] = rng.poisson(3, 30)  # sold for 30 days, then nothing
    products = {"launched": launched, "stopped": stopped}
    frames = [pd.DataFrame({"series_level": "total", "series_key": "all", "demand_date": days,
                            "units": total, "revenue": total * 3.0})]
    for key, units in products.items():
        frames.append(pd.DataFrame({"series_level": "product", "series_key": key,
                                    "demand_date": days, "units": units, "revenue": units * 9.0}))
    return pd.concat(frames, ignore_index=True), products


@pytest.fixture(scope="module")
def late_forecasts(late_demand) -> pd.DataFrame:
    return F.forecast_demand(late_demand[0], F.ForecastConfig(top_n=5, n_jobs=1))


def test_bounds_of_late_series_stay_near_their_largest_day(late_forecasts, late_demand):
    # before the fix: upper_95 1.7e10 (launched) and 2.3e9 (stopped) units a day
    for key, units in late_demand[1].items():
        for measure, price in (("units", 1.0), ("revenue", 9.0)):
            rows = late_forecasts[(late_forecasts["series_key"] == key)
                                  & (late_forecasts["measure"] == measure)]
            assert len(rows) == 28
            largest = units.max() * price
            assert rows["upper_95"].max() <= 3.0 * largest, (key, measure)
            assert (rows["upper_80"] <= rows["upper_95"]).all()


def test_windows_without_a_sale_before_them_do_not_calibrate(late_forecasts):
    first = late_forecasts.drop_duplicates(["series_key", "measure"]).set_index(
        ["series_key", "measure"])
    # every calibration window of the launched product was forecast from zeros: its own
    # intervals, and the note says why
    launched = first.loc[("launched", "units")]
    assert launched["interval_method"] == "model"
    assert "model intervals: none of the 4 calibration windows" in launched["fit_note"]
    # the stopped product had sold before the two latest windows only: calibrated on them
    stopped = first.loc[("stopped", "units")]
    assert stopped["interval_method"] == "conformal(56 errors, decay 0.5)"
    assert "intervals from 2 of them (2 left out" in stopped["fit_note"]
    # the shop total, sold every day, is calibrated on all four windows as before
    assert first.loc[("all", "units")]["interval_method"] == "conformal(112 errors, decay 0.5)"


def test_a_window_without_spread_is_left_out_and_keeps_the_others_weights():
    h = 14
    rng = np.random.default_rng(7)
    y = 50.0 + rng.normal(0.0, 5.0, 6 * h)
    origins = [h * (k + 1) for k in range(5)]

    def fit(se: float) -> F.SeriesForecast:
        mean = np.full(h, 50.0)
        return F.SeriesForecast("sarima", "m", mean, *([mean] * 4), 100, se=np.full(h, se))

    healthy = {"a": [fit(5.0) for _ in origins]}
    # the second window's forecast claims no spread: its errors divided by 1e-9 were ~1e9
    broken = {"a": [fit(5.0), fit(0.0), fit(5.0), fit(5.0), fit(5.0)]}
    served = selection.choose_and_calibrate(y, origins, broken, 4, h, 4)
    assert served.interval_method == "conformal(42 errors, decay 0.5)"
    assert float(served.upper_95.max()) < 100.0
    # the same as calibrating on the three usable windows with their own ages' weights
    std_err = np.concatenate([(y[o:o + h] - 50.0) / 5.0 for o in origins[:4]])
    kept = np.r_[std_err[:h], std_err[2 * h:]]
    expected = selection.calibrate(healthy["a"][4], kept, [h, 0, h, h], 0.5)
    np.testing.assert_array_equal(served.upper_95, expected.upper_95)
    np.testing.assert_array_equal(served.lower_80, expected.lower_80)
    # a forecast target without spread keeps its own intervals
    flat = {"a": [fit(5.0)] * 4 + [fit(0.0)]}
    assert selection.choose_and_calibrate(y, origins, flat, 4, h, 4).interval_method == "model"


def _launched_at(day: int, n_days: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``demand_daily`` of one product that first sells on ``day`` (zeros before it)."""
    rng = np.random.default_rng(seed)
    units = rng.poisson(20, n_days).astype(float)
    units[:day] = 0.0
    days = pd.date_range("2023-01-01", periods=n_days).date
    return pd.DataFrame({"series_level": "product", "series_key": "p1", "demand_date": days,
                         "units": units, "revenue": units * 5.0}), units


def _holdout_of_launched() -> tuple[pd.DataFrame, np.ndarray]:
    """The holdout frame of a flat forecast of 20 for a product launched on day 300 of 400."""
    demand, units = _launched_at(300, 400, seed=1)
    as_of = demand["demand_date"].iloc[-1]
    h = 28
    dates = [as_of + dt.timedelta(days=i) for i in range(1, h + 1)]
    forecasts = pd.DataFrame({
        "series_level": "product", "series_key": "p1", "measure": "units",
        "forecast_date": dates, "horizon_day": range(1, h + 1), "point_forecast": 20.0,
        "lower_80": 15.0, "upper_80": 25.0, "lower_95": 10.0, "upper_95": 30.0,
        "method": "combination", "model_order": "x", "fit_note": ""})
    actuals = pd.DataFrame({"series_level": "product", "series_key": "p1", "measure": "units",
                            "demand_date": dates, "actual": 21.0})
    return F.holdout_frame(forecasts, actuals, demand, as_of_date=as_of,
                           last_actual_date=dates[-1]), units


def test_holdout_scale_starts_at_the_first_sale_like_the_backtest():
    # launched on day 300 of 400: over the whole history the weekly changes were 3/4
    # zeros, the scale 1.38 instead of 4.34, and the holdout MASE 3.1 times too large
    frame, units = _holdout_of_launched()
    expected = np.mean(np.abs(units[307:] - units[300:-7]))
    assert frame["mase_scale"].iloc[0] == pytest.approx(expected)
    assert frame["rmsse_scale"].iloc[0] == pytest.approx(np.mean((units[307:] - units[300:-7]) ** 2))
    assert frame["mase_scale"].iloc[0] > 3.0 * np.mean(np.abs(units[7:] - units[:-7]))


def test_no_mase_before_a_week_of_sales():
    # launched 3 days before the first scored origin: the scale fell back to the whole
    # history (a year of zeros and 3 selling days), 0.150 instead of about 5, and the
    # series' MASE was 6.4 (seasonal naive's 24.5) against the total's 0.67
    n, launch = 500, 500 - 4 * 28 - 3
    demand, units = _launched_at(launch, n, seed=3)
    rng = np.random.default_rng(4)
    total = rng.poisson(30, n).astype(float)
    demand = pd.concat([demand, demand.assign(series_level="total", series_key="all",
                                              units=total, revenue=total)], ignore_index=True)
    served = F.backtest_demand(demand, F.ForecastConfig(top_n=5, n_jobs=1))
    product = served[(served["series_key"] == "p1") & (served["measure"] == "units")]
    scales = product.groupby("origin_date")["mase_scale"].first().to_numpy()
    assert scales[0] == 0.0
    for k, scale in enumerate(scales[1:], start=1):
        origin = n - (4 - k) * 28
        assert scale == pytest.approx(np.mean(np.abs(units[launch + 7:origin]
                                                     - units[launch:origin - 7])))
    metrics = F.series_metrics(served).set_index(["series_key", "measure"])
    assert np.isnan(metrics.loc[("p1", "units"), "mase_model"])
    assert np.isnan(metrics.loc[("p1", "units"), "rmsse_model"])
    assert metrics.loc[("all", "units"), "mase_model"] < 1.0


def test_the_holdout_has_no_median_row():
    # the production forecast has no calibrated median: the row named after it held the
    # point forecast's MASE
    frame, _ = _holdout_of_launched()
    as_of = frame["origin_date"].iloc[0]
    rows = F.evaluation_rows(frame, as_of_date=as_of, evaluation_type="holdout")
    assert set(rows["model_name"]) == {"demand_forecast", "seasonal_naive"}
    # slices all, level=product, method=combination, product=p1
    assert len(rows[rows["metric"] == "mase"]) == 2 * 4
    # a backtest frame has the median, and its row
    backtest = frame.assign(median_forecast=19.0)
    rows = F.evaluation_rows(backtest, as_of_date=as_of)
    median = rows[rows["model_name"] == "demand_forecast_median"]
    assert set(median["metric"]) == {"mase"} and len(median) == 4
    assert (median["value"] > rows.loc[(rows["model_name"] == "demand_forecast")
                                       & (rows["metric"] == "mase"), "value"].iloc[0]).all()


def test_a_closed_weekday_is_not_a_forecast_without_spread():
    # closures zero a closed weekday's point and bounds; a forecast without a stored
    # standard error reads it from the 80% bound, which is 0 there: still a spread
    h = 14
    mean = np.full(h, 5.0)
    fc = SeriesForecast("sarima", "SARIMA", mean, mean - 2, mean + 2, mean - 4, mean + 4, 100)
    closed = np.zeros(h, dtype=bool)
    closed[5::7] = True
    shut = zero_closed(fc, closed)
    assert (shut.upper_80[closed] == 0).all() and shut.se is None
    train = np.full(100, 5.0)
    assert selection.has_spread(train, shut, h)
    # without the closed mask the same zeros are no spread
    assert not selection.has_spread(train, replace(shut, closed=None), h)


def test_the_holdout_scores_a_series_that_sold_nothing_after_as_of():
    # holdout_demand_daily has no row for a day without sales, so a product that sold
    # nothing after as_of_date had no actuals and was left out of the holdout: in a
    # Superstore-shaped probe 68 of 100 product series were scored, and a bookcase
    # forecast at 3.5 units a day that then sold nothing appeared in no metric
    demand, _ = _launched_at(300, 400, seed=1)
    demand = pd.concat([demand, demand.assign(series_key="p2")], ignore_index=True)
    as_of = demand["demand_date"].iloc[399]
    h = 28
    dates = [as_of + dt.timedelta(days=i) for i in range(1, h + 1)]
    one = {"series_level": "product", "measure": "units", "forecast_date": dates,
           "horizon_day": range(1, h + 1), "point_forecast": 20.0, "lower_80": 15.0,
           "upper_80": 25.0, "lower_95": 10.0, "upper_95": 30.0, "method": "combination",
           "model_order": "x", "fit_note": ""}
    forecasts = pd.concat([pd.DataFrame({"series_key": key, **one}) for key in ("p1", "p2")],
                          ignore_index=True)
    # p1 sold 21 units on days 1-20 only; p2 sold nothing: neither has a row after day 20
    actuals = pd.DataFrame({"series_level": "product", "series_key": "p1", "measure": "units",
                            "demand_date": dates[:20], "actual": 21.0})
    frame = F.holdout_frame(forecasts, actuals, demand, as_of_date=as_of,
                            last_actual_date=dates[-1])
    assert len(frame) == 2 * h
    p2 = frame[frame["series_key"] == "p2"]
    assert p2["actual"].tolist() == [0.0] * h
    # a product that sold nothing afterwards is scaled by its history like one that did
    assert (frame.groupby("series_key")["mase_scale"].first() > 0).all()
    metrics = F.series_metrics(frame).set_index("series_key")
    # 20 units too many on each of 28 days, in units of the history's weekly change
    assert metrics.loc["p2", "mase_model"] == pytest.approx(20.0 / p2["mase_scale"].iloc[0])
    assert metrics.loc["p2", "coverage_80"] == 0.0
    rows = F.evaluation_rows(frame, as_of_date=as_of, evaluation_type="holdout")
    product = rows[(rows["slice"] == "level=product") & (rows["metric"] == "mase")]
    assert set(product["n_obs"]) == {2 * h}
    # a level the actuals do not cover (the order-level holdout gives only the total)
    # is not scored as zeros
    total_only = actuals.assign(series_level="total", series_key="all")
    assert F.holdout_frame(forecasts, total_only, demand, as_of_date=as_of,
                           last_actual_date=dates[-1]).empty

