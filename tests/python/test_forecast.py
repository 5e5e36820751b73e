"""Tests of shoplens.forecast: recovered structure, accuracy, bounds, errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shoplens import forecast as F
from shoplens.datagen import generate_shop
from shoplens.evaluation import EVALUATION_COLUMNS
from shoplens.forecast import engine as forecast_engine
from shoplens.forecast import sarima as forecast_sarima
from shoplens.testing.forecast_data import demand_daily_from_raw, weekly_profile

TOP_N = 4


@pytest.fixture(scope="module")
def shop() -> dict:
    # enough customers for ~150 units a day in total and ~15 per category
    return generate_shop(n_customers=20_000, n_days=730, n_products=60, seed=11, events=False)


@pytest.fixture(scope="module")
def demand(shop: dict) -> pd.DataFrame:
    return demand_daily_from_raw(shop["orders"], shop["order_items"], shop["products"])


@pytest.fixture(scope="module")
def config() -> F.ForecastConfig:
    return F.ForecastConfig(top_n=TOP_N, n_jobs=1)


@pytest.fixture(scope="module")
def forecasts(demand: pd.DataFrame, config: F.ForecastConfig) -> pd.DataFrame:
    return F.forecast_demand(demand, config)


@pytest.fixture(scope="module")
def backtest(demand: pd.DataFrame, config: F.ForecastConfig) -> pd.DataFrame:
    return F.backtest_demand(demand, config)


@pytest.fixture(scope="module")
def evaluation(backtest: pd.DataFrame, demand: pd.DataFrame) -> pd.DataFrame:
    as_of = pd.to_datetime(demand["demand_date"]).max().date()
    return F.evaluation_rows(backtest, as_of_date=as_of)


def _metric(evaluation: pd.DataFrame, model: str, metric: str, slice_name: str, task: str) -> float:
    row = evaluation[
        (evaluation["model_name"] == model)
        & (evaluation["metric"] == metric)
        & (evaluation["slice"] == slice_name)
        & (evaluation["task"] == task)
    ]
    assert len(row) == 1, (model, metric, slice_name, task)
    return float(row["value"].iloc[0])


# ---------------------------------------------------------------- structure found


def test_weekly_profile_of_total_forecast_matches_generator(shop, forecasts):
    truth = np.asarray(shop["ground_truth"]["demand"]["order_weekly_profile_mon_first"])
    truth = truth / truth.mean()
    total = forecasts[(forecasts["series_level"] == "total") & (forecasts["measure"] == "units")]
    profile = weekly_profile(total["point_forecast"].to_numpy(), total["forecast_date"])
    assert np.corrcoef(profile, truth)[0, 1] > 0.9
    # largest weekday error 0.065 here (0.077 and 0.11 with generator seeds 12 and 13)
    assert np.max(np.abs(profile - truth)) < 0.1
    # the busiest day (Sunday, 1.25 in the truth) is found as the busiest
    assert int(np.argmax(profile)) == 6


def test_total_and_categories_get_weekly_seasonal_sarima(forecasts):
    per_series = forecasts.drop_duplicates(["series_level", "series_key", "measure"])
    upper = per_series[per_series["series_level"].isin(["total", "category"])]
    # served: the combination, whose first member is the seasonal SARIMA backbone
    assert (upper["method"] == "combination").mean() >= 0.9
    assert upper["model_order"].str.startswith("MEAN(SARIMA(").mean() >= 0.9
    seasonal = upper["model_order"].str.extract(r"\)\((\d),(\d),(\d)\)\[7\]").astype(int)
    # 21 of 22 series here; at least 18 of 22 over generator seeds 11-13
    assert (seasonal.sum(axis=1) > 0).mean() >= 0.8


# ---------------------------------------------------------------- accuracy


@pytest.mark.parametrize("level", ["total", "category"])
@pytest.mark.parametrize("task", ["demand_units", "demand_revenue"])
def test_mase_beats_seasonal_naive(evaluation, level, task):
    model = _metric(evaluation, "demand_forecast", "mase", f"level={level}", task)
    naive = _metric(evaluation, "seasonal_naive", "mase", f"level={level}", task)
    assert model < 0.9 * naive, (model, naive)
    assert 0.3 < model < 1.5


def test_interval_coverage_near_nominal(backtest):
    upper = backtest[backtest["series_level"].isin(["total", "category"])]
    inside_80 = (upper["actual"] >= upper["lower_80"]) & (upper["actual"] <= upper["upper_80"])
    inside_95 = (upper["actual"] >= upper["lower_95"]) & (upper["actual"] <= upper["upper_95"])
    assert len(upper) == 2 * 11 * 4 * 28
    assert abs(inside_80.mean() - 0.80) < 0.07, inside_80.mean()
    assert abs(inside_95.mean() - 0.95) < 0.04, inside_95.mean()


# ---------------------------------------------------------------- output shape


def test_forecast_rows_complete_finite_and_ordered(forecasts, demand):
    n_categories = demand.loc[demand["series_level"] == "category", "series_key"].nunique()
    n_series = 1 + n_categories + TOP_N
    assert len(forecasts) == n_series * 2 * 28
    assert list(forecasts.columns) == F.FORECAST_COLUMNS
    keys = ["series_level", "series_key", "measure", "forecast_date"]
    assert not forecasts.duplicated(keys).any()
    bounds = ["lower_95", "lower_80", "point_forecast", "upper_80", "upper_95"]
    values = forecasts[bounds].to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= -1e-9).all()
    as_of = pd.to_datetime(demand["demand_date"]).max().date()
    assert set(forecasts["as_of_date"]) == {as_of}
    assert forecasts["forecast_date"].min() == as_of + dt.timedelta(days=1)
    assert forecasts["forecast_date"].max() == as_of + dt.timedelta(days=28)
    assert set(forecasts["method"]) <= set(F.METHODS)
    assert set(forecasts["model_version"]) == {F.MODEL_VERSION}


def test_top_n_products_are_the_highest_revenue_ones(forecasts, demand):
    # revenue over the last 365 days up to the last date (``select_series``)
    dates = pd.to_datetime(demand["demand_date"])
    recent = dates > dates.max() - pd.Timedelta(days=365)
    products = demand[(demand["series_level"] == "product") & recent]
    top = products.groupby("series_key")["revenue"].sum().nlargest(TOP_N).index
    chosen = forecasts.loc[forecasts["series_level"] == "product", "series_key"].unique()
    assert sorted(chosen) == sorted(top)


def test_evaluation_rows_shape_and_window(evaluation, demand):
    assert list(evaluation.columns) == EVALUATION_COLUMNS
    assert set(evaluation["evaluation_type"]) == {"backtest"}
    as_of = pd.to_datetime(demand["demand_date"]).max().date()
    assert set(evaluation["holdout_end_date"]) == {as_of}
    assert set(evaluation["holdout_start_date"]) == {as_of - dt.timedelta(days=4 * 28 - 1)}
    assert np.isfinite(evaluation["value"]).all()
    coverage = evaluation[evaluation["metric"].str.startswith("coverage")]["value"]
    assert coverage.between(0, 1).all()
    # per measure: the forecast's six metrics, naive's four, the median's MASE
    per_series = evaluation[evaluation["slice"] == "total=all"]
    assert len(per_series) == 2 * 11
    assert set(per_series["metric"]) == {"mase", "rmsse", "smape", "bias", "coverage_80", "coverage_95"}


# ---------------------------------------------------------------- the fitting itself


def _simulate_sarima(n: int, phi: float, theta_s: float, seed: int) -> np.ndarray:
    """y with (1 - phi B)(1 - B^7) y_t = (1 + theta_s B^7) e_t, level 100."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    e = rng.normal(0, 1.0, n + 200)
    ma = np.zeros(8)
    ma[0], ma[7] = 1.0, theta_s
    w = lfilter(ma, [1.0, -phi], e)[200:]
    y = np.zeros(n)
    y[:7] = 100.0
    for t in range(7, n):
        y[t] = y[t - 7] + w[t]
    return y


def test_css_recovers_known_sarima_parameters():
    y = _simulate_sarima(3000, phi=0.5, theta_s=-0.6, seed=3)
    w = F.difference(y, 0, 1)
    fit = forecast_sarima._css_fit(w, 0, 1, (1, 0, 0, 1), n_cond=14, widen=False)
    assert fit is not None
    assert fit.ar[0] == pytest.approx(0.5, abs=0.05)
    assert fit.sma[0] == pytest.approx(-0.6, abs=0.05)
    assert fit.sigma2 == pytest.approx(1.0, abs=0.08)


def test_order_search_prefers_the_true_seasonal_structure():
    y = _simulate_sarima(1200, phi=0.5, theta_s=-0.6, seed=4)
    fc = F.sarima_forecast(y, 28, F.ForecastConfig())
    assert fc.method == "sarima"
    assert "(0,1,1)[7]" in fc.model_order or "(1,1,1)[7]" in fc.model_order
    assert fc.model_order.startswith(("SARIMA(1,0,", "SARIMA(2,0,"))


def test_interval_width_grows_with_horizon_and_matches_normal_ratio():
    y = _simulate_sarima(1000, phi=0.3, theta_s=-0.5, seed=5) + 1000.0
    fc = F.sarima_forecast(y, 28, F.ForecastConfig())
    width_80 = fc.upper_80 - fc.lower_80
    width_95 = fc.upper_95 - fc.lower_95
    assert width_80[-1] > width_80[0]
    np.testing.assert_allclose(width_95 / width_80, F.Z95 / F.Z80, rtol=1e-6)


def test_intermittent_series_uses_croston_with_the_right_rate():
    rng = np.random.default_rng(8)
    sells = rng.random(600) < 0.2  # a sale on one day in five
    y = np.where(sells, rng.poisson(3.0, 600) + 1, 0).astype(float)
    fc = F.forecast_series(y, F.ForecastConfig())
    assert fc.method == "croston_sba"
    true_rate = 0.2 * 4.0  # P(sale) * E[size]
    assert fc.mean[0] == pytest.approx(true_rate, rel=0.3)
    assert np.ptp(fc.mean) == 0
    assert (fc.lower_80 == 0).all()
    assert "intermittent" in fc.note


def test_short_series_uses_seasonal_naive_repeating_last_week():
    y = np.tile([5.0, 6.0, 7.0, 8.0, 9.0, 12.0, 15.0], 6)
    fc = F.forecast_series(y, F.ForecastConfig(horizon_days=14))
    assert fc.method == "seasonal_naive"
    np.testing.assert_array_equal(fc.mean, np.tile(y[-7:], 2))
    assert "short history" in fc.note


def test_leading_zero_days_are_dropped_before_choosing_the_method():
    y = np.concatenate([np.zeros(500), np.tile([5.0, 6.0, 7.0, 8.0, 9.0, 12.0, 15.0], 4)])
    fc = F.forecast_series(y, F.ForecastConfig())
    assert fc.method == "seasonal_naive"
    assert fc.n_train_days == 28


def test_time_budget_stops_the_order_search():
    y = _simulate_sarima(700, phi=0.5, theta_s=-0.6, seed=6)
    fc = F.sarima_forecast(y, 28, F.ForecastConfig(time_budget_s=1e-9))
    assert fc.note.startswith(f"1/{len(F.CANDIDATE_ORDERS)} candidates;")


def test_backtest_uses_no_data_after_each_origin(demand):
    config = F.ForecastConfig(top_n=0, backtest_origins=2)
    total = demand[demand["series_level"] == "total"].reset_index(drop=True)
    before = F.backtest_demand(total, config)
    changed = total.copy()
    last_28 = changed.index[-28:]
    changed.loc[last_28, ["units", "revenue"]] *= 5.0
    after = F.backtest_demand(changed, config)
    first_origin = before["origin_date"].min()
    keep = before["origin_date"] == first_origin
    cols = ["point_forecast", "lower_95", "upper_95"]
    pd.testing.assert_frame_equal(
        before.loc[keep, cols].reset_index(drop=True),
        after.loc[after["origin_date"] == first_origin, cols].reset_index(drop=True),
    )
    # ... while the actuals of the changed days did change
    assert after["actual"].sum() > before["actual"].sum()


def test_parallel_run_matches_serial(demand):
    sub = demand[demand["series_level"] != "product"]
    sub = sub[sub["series_key"].isin(["all", sorted(sub["series_key"].unique())[0]])]
    serial = F.forecast_demand(sub, F.ForecastConfig(top_n=0, n_jobs=1))
    parallel = F.forecast_demand(sub, F.ForecastConfig(top_n=0, n_jobs=2))
    cols = ["series_key", "measure", "point_forecast", "upper_95", "model_order"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])


# ---------------------------------------------------------------- metrics


def test_smape_and_mase_by_hand():
    np.testing.assert_allclose(F.smape(np.array([0, 10, 0]), np.array([0, 5, 2])), [0, 200 * 5 / 15, 200])
    bt = pd.DataFrame(
        {
            "series_level": "total",
            "series_key": "all",
            "measure": "units",
            "origin_date": dt.date(2025, 1, 1),
            "target_date": [dt.date(2025, 1, 2), dt.date(2025, 1, 3)],
            "horizon_day": [1, 2],
            "actual": [10.0, 20.0],
            "point_forecast": [12.0, 20.0],
            "lower_80": [9.0, 21.0],
            "upper_80": [13.0, 22.0],
            "lower_95": [8.0, 15.0],
            "upper_95": [14.0, 25.0],
            "naive_forecast": [14.0, 14.0],
            "mase_scale": [2.0, 2.0],
            "rmsse_scale": [8.0, 8.0],
            "method": "sarima",
            "model_order": "x",
        }
    )
    m = F.series_metrics(bt).iloc[0]
    assert m["rmsse_model"] == pytest.approx(np.sqrt((4 / 8 + 0 / 8) / 2))
    assert m["rmsse_naive"] == pytest.approx(np.sqrt((16 / 8 + 36 / 8) / 2))
    assert np.isnan(F.series_metrics(bt.drop(columns="rmsse_scale")).iloc[0]["rmsse_model"])
    assert m["mase_model"] == pytest.approx((2 / 2 + 0 / 2) / 2)
    assert m["mase_naive"] == pytest.approx((4 / 2 + 6 / 2) / 2)
    assert m["coverage_80"] == pytest.approx(0.5)
    assert m["coverage_95"] == pytest.approx(1.0)


def test_holdout_frame_scores_the_total_against_later_orders():
    days = pd.date_range("2025-01-01", periods=35, freq="D").date
    demand = pd.DataFrame(
        {"series_level": "total", "series_key": "all", "demand_date": days,
         "units": np.tile([1.0, 2, 3, 4, 5, 6, 7], 5), "revenue": 10.0, "n_orders": 1}
    )
    as_of = days[-1]
    forecasts = F.forecast_demand(demand, F.ForecastConfig(horizon_days=3, top_n=0), as_of)
    holdout_orders = pd.DataFrame(
        {
            "order_date": [as_of + dt.timedelta(days=1)] * 2 + [as_of + dt.timedelta(days=3)],
            "is_purchase": [True, False, True],
            "n_units": [4, 100, 2],
            "order_total": [40.0, 999.0, 20.0],
        }
    )
    actuals = F.total_actuals_from_orders(holdout_orders)
    frame = F.holdout_frame(
        forecasts, actuals, demand, as_of_date=as_of, last_actual_date=as_of + dt.timedelta(days=3)
    )
    units = frame[frame["measure"] == "units"].sort_values("target_date")
    assert units["actual"].tolist() == [4.0, 0.0, 2.0]
    assert units["naive_forecast"].tolist() == [1.0, 2.0, 3.0]
    # every weekly difference of the history is 0: no scale, no MASE or RMSSE
    assert units["mase_scale"].tolist() == units["rmsse_scale"].tolist() == [0.0] * 3
    rows = F.evaluation_rows(frame, as_of_date=as_of, evaluation_type="holdout")
    assert set(rows["evaluation_type"]) == {"holdout"}
    assert rows["holdout_start_date"].iloc[0] == as_of + dt.timedelta(days=1)


# ---------------------------------------------------------------- bad input


def test_missing_column_is_named():
    with pytest.raises(ValueError, match=r"missing columns \['revenue'\]"):
        F.select_series(pd.DataFrame(columns=["series_level", "series_key", "demand_date", "units"]), 5)


def test_negative_demand_is_rejected():
    frame = pd.DataFrame(
        {"series_level": ["total"], "series_key": ["all"], "demand_date": [dt.date(2025, 1, 1)],
         "units": [-1.0], "revenue": [3.0]}
    )
    with pytest.raises(ValueError, match="units has negative values"):
        F.select_series(frame, 5)


def test_unknown_level_and_duplicates_are_rejected():
    frame = pd.DataFrame(
        {"series_level": ["store"], "series_key": ["x"], "demand_date": [dt.date(2025, 1, 1)],
         "units": [1.0], "revenue": [3.0]}
    )
    with pytest.raises(ValueError, match=r"unknown series_level values \['store'\]"):
        F.select_series(frame, 5)
    dup = pd.concat([frame.assign(series_level="total")] * 2)
    with pytest.raises(ValueError, match="more than one row per series and day"):
        F.select_series(dup, 5)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="horizon_days"):
        F.ForecastConfig(horizon_days=0)
    with pytest.raises(ValueError, match="n_jobs"):
        F.ForecastConfig(n_jobs=0)


def test_config_from_dbt_reads_vars_as_strings():
    values = {"forecast_horizon_days": "14", "forecast_top_n": "7", "forecast_n_jobs": "2"}
    config = F.config_from_dbt(values.get)
    assert (config.horizon_days, config.top_n, config.n_jobs) == (14, 7, 2)
    assert config.backtest_origins == 4


def test_backtest_searches_the_order_once_and_refits_it_at_later_origins():
    y = _simulate_sarima(800, phi=0.5, theta_s=-0.6, seed=9) + 500.0
    config = F.ForecastConfig()
    origins = forecast_engine._all_origins(len(y), config)
    assert len(origins) == config.backtest_origins + config.calibration_origins == 8
    job = forecast_engine.SeriesJob(y, F.SeriesContext(), origins, [4, 5, 6, 7], origins[0])
    fits = forecast_engine._candidate_fits(job, config)["backbone"]
    assert [fc.method for fc in fits] == ["sarima"] * 8
    n = len(F.CANDIDATE_ORDERS)
    assert fits[0].note.startswith(f"{n}/{n} candidates;")
    assert all(fc.note.startswith("order kept from the first backtest origin") for fc in fits[1:])
    assert len({fc.model_order for fc in fits}) == 1
    # re-estimated, not copied: the parameters move as the data grow
    assert not np.allclose(fits[0].spec[3], fits[-1].spec[3])


def test_too_short_history_for_a_backtest_says_what_to_change():
    days = pd.date_range("2025-01-01", periods=30, freq="D").date
    demand = pd.DataFrame(
        {"series_level": "total", "series_key": "all", "demand_date": days,
         "units": 3.0, "revenue": 30.0}
    )
    config = F.ForecastConfig(top_n=0)
    backtest = F.backtest_demand(demand, config)
    assert backtest.empty
    with pytest.raises(ValueError, match="lower forecast_horizon_days"):
        F.evaluation_rows(backtest, as_of_date=days[-1])
    # the forecast itself still works on a short series
    forecasts = F.forecast_demand(demand, config)
    assert set(forecasts["method"]) == {"seasonal_naive"}
    expected = np.where(forecasts["measure"] == "units", 3.0, 30.0)
    assert np.allclose(forecasts["point_forecast"], expected)


def test_seasonal_lag_product_equals_the_polynomial_product():
    """The CSS residuals build phi(B) Phi(B^7) and theta(B) Theta(B^7) directly; the
    coefficients equal np.convolve of the two lag polynomials for every order searched and
    beyond (seven non-seasonal terms and more take convolve itself)."""
    import itertools

    rng = np.random.default_rng(4)
    for p, sp in itertools.product(range(9), range(3)):
        c, s = rng.normal(size=p), rng.normal(size=sp)
        for sign in (-1.0, 1.0):
            direct = forecast_sarima._seasonal_product(c, s, sign)
            product = np.convolve(forecast_sarima._lag_poly(c, 1, sign), forecast_sarima._lag_poly(s, 7, sign))
            assert direct.shape == product.shape
            np.testing.assert_array_equal(direct, product)


def test_bias_is_the_forecast_total_over_the_actual_total():
    """A product forecast 26% high read as a fine MASE (an H&M-shaped shop): the bias row says
    how far the slice's forecast total is from what sold, pooled over its series and days."""
    from shoplens.forecast.metrics import evaluation_rows

    days = pd.date_range("2025-01-01", periods=4)
    rows = []
    for key, actual, forecast in (("a", 10.0, 13.0), ("b", 30.0, 30.0), ("c", 0.0, 1.0)):
        for d in days:
            rows.append({"series_level": "product", "series_key": key, "measure": "units", "target_date": d,
                         "actual": actual, "point_forecast": forecast, "naive_forecast": actual,
                         "lower_80": 0.0, "upper_80": 99.0, "lower_95": 0.0, "upper_95": 99.0,
                         "mase_scale": 1.0, "rmsse_scale": 1.0, "method": "combination"})
    out = evaluation_rows(pd.DataFrame(rows), as_of_date=dt.date(2024, 12, 31))
    bias = out[out["metric"] == "bias"].set_index(["model_name", "slice"])["value"]
    assert bias[("demand_forecast", "all")] == pytest.approx((13 + 30 + 1) / 40 - 1)  # 0.10
    assert bias[("demand_forecast", "product=a")] == pytest.approx(0.3)
    assert bias[("seasonal_naive", "all")] == pytest.approx(0.0)
    assert ("demand_forecast", "product=c") not in bias.index  # nothing sold: no ratio
