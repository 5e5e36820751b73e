"""Series that stopped selling long before ``as_of_date`` (a discontinued product).

Croston's estimates change only on selling days, so before the fix the open
gap since the last sale never entered them: on a real Online-Retail-shaped
export a product last sold 618 days before ``as_of_date`` was forecast at
112 units a day by Croston-SBA and at 43 by the served combination.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoplens import forecast as F
from shoplens.forecast.methods import croston_estimates, gap_decay

N_DAYS = 600


def _steady_then_stopped(stopped_days: int, rate: float = 20.0, seed: int = 3) -> np.ndarray:
    """A product that sold Poisson(``rate``) units every day, then nothing for
    ``stopped_days`` days."""
    y = np.random.default_rng(seed).poisson(rate, N_DAYS).astype(float)
    y[N_DAYS - stopped_days :] = 0.0
    return y


def _intermittent(seed: int = 8, n: int = 600) -> np.ndarray:
    """A sale on one day in five, 1 + Poisson(3) units: 0.8 units a day."""
    rng = np.random.default_rng(seed)
    sells = rng.random(n) < 0.2
    return np.where(sells, rng.poisson(3.0, n) + 1, 0).astype(float)


@pytest.mark.parametrize("stopped_days", [60, 200, 400])
def test_a_series_that_stopped_long_ago_is_not_forecast_at_its_old_rate(stopped_days):
    # before the fix: Croston-SBA forecast 17.7-20.6 units a day
    y = _steady_then_stopped(stopped_days)
    fc = F.forecast_series(y, F.ForecastConfig())
    assert fc.method == "croston_sba"
    assert fc.mean.max() < 0.01 * 20.0
    assert f"no sale for {stopped_days} days" in fc.note


def test_an_intermittent_series_with_a_recent_sale_keeps_its_rate():
    y = _intermittent()
    last = int(np.flatnonzero(y)[-1])
    sold = y[: last + 1]  # its last day a sale
    fc = F.croston_sba(sold, 28, 0.1, 91)
    assert fc.mean[0] == pytest.approx(0.8, rel=0.3)
    assert "no sale" not in fc.note
    # a gap Croston's own model expects (up to 20 days at one sale in about 5) leaves it
    for k in (8, 20):
        gap = F.croston_sba(np.concatenate([sold, np.zeros(k)]), 28, 0.1, 91)
        assert gap.mean[0] == fc.mean[0]
    # a longer gap lowers it, day by day, without dropping it at once
    rates = [F.croston_sba(np.concatenate([sold, np.zeros(k)]), 28, 0.1, 91).mean[0]
             for k in (30, 40, 80)]
    assert fc.mean[0] > rates[0] > rates[1] > rates[2]
    assert rates[0] > 0.3 * fc.mean[0]
    assert rates[2] < 0.05 * fc.mean[0]


def test_plausible_gap_is_croston_models_99th_percentile_of_zero_runs():
    assert F.plausible_gap(1.0) == 0.0
    # one sale in 20 days: a run of 90 zero days has probability 0.95^90 = 1%
    assert F.plausible_gap(20.0) == pytest.approx(89.8, abs=0.1)
    assert 0.95 ** F.plausible_gap(20.0) == pytest.approx(0.01)


def test_the_served_forecast_of_a_product_that_stopped_long_ago_is_about_zero():
    rng = np.random.default_rng(5)
    days = pd.date_range("2023-01-01", periods=N_DAYS).date
    stopped = _steady_then_stopped(150)
    steady = rng.poisson(20, N_DAYS).astype(float)
    total = stopped + steady + rng.poisson(10, N_DAYS)
    frames = [pd.DataFrame({"series_level": "total", "series_key": "all", "demand_date": days,
                            "units": total, "revenue": total * 3.0})]
    for key, units in (("stopped", stopped), ("steady", steady)):
        frames.append(pd.DataFrame({"series_level": "product", "series_key": key,
                                    "demand_date": days, "units": units, "revenue": units * 9.0}))
    demand = pd.concat(frames, ignore_index=True)
    config = F.ForecastConfig(top_n=5, n_jobs=1)
    forecasts = F.forecast_demand(demand, config)
    rows = forecasts[(forecasts["series_key"] == "stopped") & (forecasts["measure"] == "units")]
    # before the fix: the combination of Croston's old rate (18 a day), the profile and the
    # ETS (still at half the old rate) served 294 units over the 28 days
    assert rows["point_forecast"].sum() < 1.0
    # the product that still sells keeps its level
    steady_rows = forecasts[(forecasts["series_key"] == "steady")
                            & (forecasts["measure"] == "units")]
    assert steady_rows["point_forecast"].mean() == pytest.approx(20.0, rel=0.15)
    # on the backtest's windows, from 38 to 122 days after the stop, it was served at
    # under 0.5% of its old rate too (before the fix: 4.8 to 17 units a day)
    served = F.backtest_demand(demand, config)
    dead = served[(served["series_key"] == "stopped") & (served["measure"] == "units")]
    assert len(dead) == 4 * 28
    assert dead["point_forecast"].mean() < 0.005 * 20.0


def _products(revenue_by_key: dict[str, np.ndarray]) -> pd.DataFrame:
    days = pd.date_range("2023-01-01", periods=N_DAYS).date
    total = sum(revenue_by_key.values())
    frames = [pd.DataFrame({"series_level": "total", "series_key": "all", "demand_date": days,
                            "units": total, "revenue": total})]
    frames += [pd.DataFrame({"series_level": "product", "series_key": key, "demand_date": days,
                             "units": units, "revenue": units})
               for key, units in revenue_by_key.items()]
    return pd.concat(frames, ignore_index=True)


def test_top_products_are_ranked_by_the_last_years_revenue_before_the_end_date():
    # "old" sold the most of all, but stopped 400 days before the end: no top product;
    # "fading" sold little in the last year, "recent" more; "dead" nothing at all in it
    old = np.where(np.arange(N_DAYS) < N_DAYS - 400, 100.0, 0.0)
    fading = np.where(np.arange(N_DAYS) < N_DAYS - 300, 50.0, 0.0)
    recent = np.full(N_DAYS, 20.0)
    demand = _products({"old": old, "fading": fading, "recent": recent})
    keys = [s.key for s in F.select_series(demand, 2) if s.level == "product"]
    # before: old and fading (all-time revenue 20,000 and 15,000 against 12,000)
    assert sorted(set(keys)) == ["fading", "recent"]
    keys = [s.key for s in F.select_series(demand, 1) if s.level == "product"]
    assert set(keys) == {"recent"}
    # a product without revenue in the window is no top product, whatever top_n
    keys = [s.key for s in F.select_series(demand, 10) if s.level == "product"]
    assert sorted(set(keys)) == ["fading", "recent"]
    # nothing after the end date is read: as of 450 days before the end, "old" leads
    end = pd.Timestamp("2023-01-01") + pd.Timedelta(days=N_DAYS - 451)
    keys = [s.key for s in F.select_series(demand, 1, end.date()) if s.level == "product"]
    assert set(keys) == {"old"}
    # ``window_days=None``: every product by all its revenue (the holdout's histories)
    keys = [s.key for s in F.select_series(demand, 10, window_days=None) if s.level == "product"]
    assert sorted(set(keys)) == ["fading", "old", "recent"]


def test_a_shop_wide_closure_is_no_gap():
    # a product of 20 a day in a shop that closed for the last 12 days (a Christmas
    # shutdown): only the days the shop sold count, so nothing is decayed; counted in
    # calendar days the 12 days were 9 beyond the plausible 3 (x 0.9 ** 9 = 0.39)
    y = _steady_then_stopped(12)
    shop_open = np.ones(N_DAYS, dtype=bool)
    shop_open[-12:] = False
    assert gap_decay(y, 0.1, shop_open) == (1.0, "")
    assert gap_decay(y, 0.1)[0] == pytest.approx(0.9 ** (12 - F.plausible_gap(
        croston_estimates(y[:-12], 0.1)[1])), rel=1e-9)
    # the product stopped while the shop sold: the open days count
    shop_open[-12:-4] = True
    factor, note = gap_decay(y, 0.1, shop_open)
    assert factor < 1.0 and "no sale for 8 days" in note


def test_a_shop_closed_over_christmas_does_not_decay_its_products_after_the_closure():
    # the whole shop shut from 24 December to 2 January; the forecast from 3 January on
    days = pd.date_range("2023-01-02", "2025-01-02").date
    rng = np.random.default_rng(9)
    shut = np.array([(d.month, d.day) >= (12, 24) or (d.month, d.day) <= (1, 2) for d in days])
    products, total = [], np.zeros(len(days))
    for key, rate in (("a", 20.0), ("b", 6.0)):
        units = np.where(shut, 0.0, rng.poisson(rate, len(days)).astype(float))
        total += units
        products.append(pd.DataFrame({"series_level": "product", "series_key": key,
                                      "demand_date": days, "units": units, "revenue": units * 4.0}))
    shop = pd.DataFrame({"series_level": "total", "series_key": "all", "demand_date": days,
                         "units": total, "revenue": total * 4.0})
    config = F.ForecastConfig(top_n=5, n_jobs=1)

    def product_units(frames: list[pd.DataFrame]) -> pd.DataFrame:
        fc = F.forecast_demand(pd.concat(frames, ignore_index=True), config)
        return fc[(fc["measure"] == "units") & (fc["series_level"] == "product")]

    told = product_units([*products, shop])
    # the shop total says the ten empty days were the shop's: no gap, no decay
    assert not told["fit_note"].str.contains("no sale for").any()
    # without the total the same days are a gap since each product's last sale: x 0.9 ** 7-9
    alone = product_units(products)
    assert alone["fit_note"].str.contains("no sale for 10 days").all()
    ratio = (alone.groupby("series_key")["point_forecast"].sum()
             / told.groupby("series_key")["point_forecast"].sum())
    assert (ratio < 0.8).all()
