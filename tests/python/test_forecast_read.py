"""The forecast steps read from demand_daily only the series they forecast (issue 12).

demand_daily fills every product's days with zeros; a Retailrocket-shaped clickstream of
235,000 products had 24.9 million rows, which ml_demand_forecast and ml_forecast_evaluation
each read whole into pandas (12 GiB, then the build was killed). ``read_demand`` ranks the
products in the database and reads the total, the categories and the top products.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from shoplens.forecast import pipeline
from shoplens.testing.forecast_data import generated_shop_demand

SETTINGS = {"forecast_top_n": 3, "forecast_backtest_origins": 1, "forecast_calibration_origins": 1}


def _with_tail(demand: pd.DataFrame) -> pd.DataFrame:
    """``demand`` plus 300 products that sold one unit once (a clickstream's long tail), one
    of them with a quote in its id and the top revenue of the tail, and one whose only sale
    is older than the selection window (it had the most revenue of all)."""
    days = pd.to_datetime(demand["demand_date"]).drop_duplicates().sort_values()
    tail = []
    for i in range(300):
        key = "O'Brien-1" if i == 0 else f"tail-{i:03d}"
        sold = days.iloc[-(i % 200) - 1]
        values = pd.DataFrame({"series_level": "product", "series_key": key, "demand_date": days,
                               "units": 0.0, "revenue": 0.0, "n_orders": 0.0, "units_on_promotion": 0.0})
        values.loc[values["demand_date"] == sold, ["units", "revenue", "n_orders"]] = [1.0, 5.0 + (i == 0) * 1e6, 1.0]
        tail.append(values)
    old = tail[-1].assign(series_key="old-bestseller", revenue=0.0, units=0.0)
    old.loc[old.index[0], ["units", "revenue"]] = [1.0, 1e9]
    return pd.concat([demand, *tail, old], ignore_index=True)


def test_read_demand_reads_the_total_categories_and_top_products_with_the_same_forecast():
    demand, _ = generated_shop_demand(800, 12, 420, 5)
    demand = _with_tail(demand.assign(demand_date=pd.to_datetime(demand["demand_date"])))
    end = pd.to_datetime(demand["demand_date"]).max().date()
    as_of = pd.DataFrame({"as_of_date": [end], "data_start_date": [pd.to_datetime(demand["demand_date"]).min().date()],
                          "data_end_date": [end], "has_holdout": [False]})
    con = duckdb.connect()
    con.register("d", demand)
    relation = con.sql("select series_level, series_key, cast(demand_date as date) as demand_date, units,"
                       " cast(revenue as decimal(18, 2)) as revenue, n_orders, units_on_promotion from d")
    read = pipeline.read_demand(relation, as_of, SETTINGS)
    products = set(read.loc[read["series_level"] == "product", "series_key"])
    assert products == {"O'Brien-1", *_top_generated(demand, end, 2)}  # the quoted id read
    assert "old-bestseller" not in products  # sold before the window: no top product now
    assert set(read["series_level"]) == {"total", "category", "product"}
    n_days = demand["demand_date"].nunique()
    assert len(read) == n_days * (1 + demand.loc[demand["series_level"] == "category", "series_key"].nunique() + 3)
    # a DataFrame, or another engine's ref (Spark's runner: df() only), is filtered alike

    class DfOnly:
        def df(self):
            return relation.df()

    for other in (relation.df(), DfOnly()):
        alike = pipeline.read_demand(other, as_of, SETTINGS)
        assert set(alike["series_key"]) == set(read["series_key"]) and len(alike) == len(read)
    # the forecast of what was read is the forecast of the whole table
    whole = pipeline.build_forecast(relation.df(), as_of, SETTINGS)
    part = pipeline.build_forecast(read, as_of, SETTINGS)
    pd.testing.assert_frame_equal(whole.reset_index(drop=True), part.reset_index(drop=True))
    assert len(whole) and np.isfinite(whole["point_forecast"]).all()


def _top_generated(demand: pd.DataFrame, end: dt.date, n: int) -> list[str]:
    window = demand[(demand["series_level"] == "product") & ~demand["series_key"].str.startswith(("tail-", "O'", "old"))
                    & (pd.to_datetime(demand["demand_date"]) > pd.Timestamp(end) - pd.Timedelta(days=365))]
    return list(window.groupby("series_key")["revenue"].sum().sort_values(ascending=False).index[:n])


def test_a_shop_without_money_forecasts_its_products_by_units():
    """An export without prices (Instacart: unit_price 0.00) has revenue 0 for every product:
    no product was selected, so no product had a forecast."""
    demand, _ = generated_shop_demand(800, 12, 420, 5)
    free = demand.assign(revenue=0.0, demand_date=pd.to_datetime(demand["demand_date"]))
    end = free["demand_date"].max().date()
    as_of = pd.DataFrame({"as_of_date": [end], "data_end_date": [end], "has_holdout": [False]})
    con = duckdb.connect()
    con.register("d", free)
    read = pipeline.read_demand(con.sql("select * from d"), as_of, SETTINGS)
    units = free[free["series_level"] == "product"].groupby("series_key")["units"].sum()
    top = list(units.sort_values(ascending=False).index[:3])
    assert sorted(read.loc[read["series_level"] == "product", "series_key"].unique()) == sorted(top)
    forecast = pipeline.build_forecast(read, as_of, SETTINGS)
    assert set(forecast.loc[forecast["series_level"] == "product", "series_key"]) == set(top)
