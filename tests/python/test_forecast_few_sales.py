"""Products with one or a few sales (a Superstore-shaped probe, findings 3 and 4).

A bookcase that sold once, 7 units six days before ``as_of_date``, was forecast
at 3.5 units a day: Croston's first interval was counted from a history cut at
the first sale (1 day). A product that sold on 3 days in two years was
forecast at 18 times its rate by the profile model and the damped ETS, which
followed its last sale. Two such products summed to 1.8 times the whole shop
and the step said ok.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shoplens import forecast as F
from shoplens.forecast.config import SeriesForecast
from shoplens.forecast.methods import capped, croston_estimates, supported_rate
from shoplens.forecast.status import forecast_status

N_DAYS = 400


def _shop(products: dict[str, dict[int, float]]) -> pd.DataFrame:
    """``demand_daily`` of a shop total of Poisson(30) units a day and products that
    sold only on the given days (day index -> units); revenue 10 a unit."""
    rng = np.random.default_rng(5)
    days = pd.date_range("2024-01-01", periods=N_DAYS).date
    total = rng.poisson(30, N_DAYS).astype(float)
    frames = [pd.DataFrame({"series_level": "total", "series_key": "all", "demand_date": days,
                            "units": total, "revenue": total * 10.0})]
    for key, sales in products.items():
        units = np.zeros(N_DAYS)
        for day, n in sales.items():
            units[day] = n
        frames.append(pd.DataFrame({"series_level": "product", "series_key": key,
                                    "demand_date": days, "units": units,
                                    "revenue": units * 10.0}))
    return pd.concat(frames, ignore_index=True)


def test_one_sale_is_its_history_per_day_not_a_daily_sale():
    y = np.zeros(N_DAYS)
    y[-6] = 7.0
    # the series from its first sale on (6 days), over a history of 400 days
    size, interval = croston_estimates(y[-6:], 0.1, span=N_DAYS)
    assert (size, interval) == (7.0, float(N_DAYS))
    fc = F.croston_sba(y[-6:], 28, 0.1, 91, span=N_DAYS)
    # 7 units in 400 days, SBA-corrected: 0.95 * 7 / 400 a day (was 0.95 * 7 * 0.9 ** 6)
    assert fc.mean[0] == pytest.approx(0.95 * 7.0 / N_DAYS)


def test_intervals_start_at_the_first_sale_not_a_day_before_it():
    # sales on days 0, 153 and 722 of a 728-day history: the intervals are 153 and 569;
    # counted from the cut at the first sale (1 day) the interval was 71 and the rate 5x
    y = np.zeros(728)
    y[[0, 153, 722]] = 3.0
    size, interval = croston_estimates(y, 0.1)
    expected = 361.0
    for g in (153.0, 569.0):
        expected += 0.1 * (g - expected)
    assert size == 3.0
    assert interval == pytest.approx(expected)
    # a series selling every third day is read as before: its intervals are 3
    regular = np.tile([2.0, 0.0, 0.0], 100)
    assert croston_estimates(regular, 0.1)[1] == pytest.approx(3.0)


def test_supported_rate_is_the_poisson_bound_of_the_selling_days():
    y = np.zeros(728)
    y[[0, 153, 722]] = 3.0
    rate, n, days = supported_rate(y)
    assert (n, days) == (3, 728)
    assert rate == pytest.approx(8.7673 / 728 * 3.0, rel=1e-4)
    # one sale: counted over the whole history, not the days since it
    one = np.zeros(6)
    one[0] = 7.0
    assert supported_rate(one, span=N_DAYS)[1:] == (1, N_DAYS)


def test_a_member_above_the_supported_rate_is_scaled_down_with_its_bounds():
    # the probe's table: a profile model or ETS at 18 times the rate 3 sales support
    mean = np.full(28, 4.0)
    fc = SeriesForecast("profile", "PROFILE", mean, mean * 0.5, mean * 2, mean * 0.2, mean * 3,
                        n_train_days=728, se=np.ones(28))
    out = capped(fc, 0.5, "above what 3 selling days in 728 support")
    assert out.mean == pytest.approx(np.full(28, 0.5))
    assert out.upper_95 == pytest.approx(np.full(28, 1.5))
    assert out.se == pytest.approx(np.full(28, 0.125))
    assert "support: forecast x 0.12" in out.note
    assert capped(fc, 5.0, "x") is fc


def test_products_sold_once_or_thrice_are_not_forecast_as_steady_sellers():
    demand = _shop({"once": {N_DAYS - 6: 7.0},
                    "thrice": {N_DAYS - 300: 3.0, N_DAYS - 150: 3.0, N_DAYS - 6: 3.0}})
    as_of = demand["demand_date"].max()
    fc = F.forecast_demand(demand, F.ForecastConfig(top_n=5, n_jobs=1), as_of_date=as_of)
    units = fc[fc["measure"] == "units"].groupby("series_key")["point_forecast"].sum()
    # 7 units in 400 days: 0.47 over 28 days (before: 109.9, 3.9 a day)
    assert units["once"] < 1.0
    # 3 selling days in 300 days support at most 8.77 of them, 26.3 units: 2.5 over 28
    # days (0.98; before 1.72)
    assert units["thrice"] <= 28 * 8.7673 / 300 * 3.0 + 1e-9
    assert units["once"] + units["thrice"] < 0.05 * units["all"]
    status = forecast_status(fc, pd.DataFrame({"evaluation_type": ["backtest"]}), as_of)
    assert status.status == "ok"


def test_products_above_the_shop_total_degrade_the_step():
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(3)]
    rows = [{"series_level": level, "series_key": key, "measure": "units",
             "forecast_date": d, "point_forecast": value, "method": "combination",
             "fit_note": ""}
            for level, key, value in (("total", "all", 10.0), ("product", "a", 8.0),
                                      ("product", "b", 5.0)) for d in days]
    fc = pd.DataFrame(rows)
    status = forecast_status(fc, pd.DataFrame({"evaluation_type": ["backtest"]}), days[0])
    assert status.status == "degraded"
    assert "sum to 39.0 over the horizon, 1.30 times the shop total's 30.0" in status.reason
    assert "largest: a 24.0, b 15.0" in status.reason
    coherent = fc[fc["series_key"] != "b"]
    assert forecast_status(coherent, pd.DataFrame({"evaluation_type": ["backtest"]}),
                           days[0]).status == "ok"
    # products that are the whole shop, fitted one by one, sum near the total by chance: ok
    near = fc.assign(point_forecast=fc["point_forecast"].where(fc["series_key"] != "b", 3.5))
    assert forecast_status(near, pd.DataFrame({"evaluation_type": ["backtest"]}), days[0]).status == "ok"
    # one product alone above the total is incoherent whatever the sum
    alone = fc.assign(point_forecast=fc["point_forecast"].where(fc["series_key"] != "a", 10.5))[
        lambda f: f["series_key"] != "b"]
    assert forecast_status(alone, pd.DataFrame({"evaluation_type": ["backtest"]}), days[0]).status == "degraded"
