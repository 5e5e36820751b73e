"""The production forecast lined up with the demand that followed ``as_of_date``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens.forecast.closures import closed_in_note
from shoplens.forecast.config import BACKTEST_COLUMNS
from shoplens.forecast.methods import history_scales, seasonal_naive_point
from shoplens.forecast.series import select_series
from shoplens.inputs import purchases_only


def holdout_frame(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    demand_daily: pd.DataFrame,
    *,
    as_of_date: dt.date,
    last_actual_date: dt.date,
) -> pd.DataFrame:
    """Line the production forecasts up with what happened after ``as_of_date``.

    ``actuals`` has ``series_level, series_key, measure, demand_date, actual``
    for the series whose later demand is known; days from ``as_of_date + 1``
    to ``last_actual_date`` missing from it count as zero demand. Returns a
    frame shaped like ``backtest_demand`` (one origin, ``as_of_date``), so
    ``evaluation_rows(..., evaluation_type="holdout")`` scores it.

    Every forecast series of a level that ``actuals`` covers is scored, a
    series without any row in it as zero demand on every day:
    ``holdout_demand_daily`` has rows only for days with sales, so a product
    that sold nothing after ``as_of_date`` has none, and leaving it out hid
    exactly the forecasts of products that then sold nothing (a Superstore
    probe: 68 of 100 product series scored, a one-sale bookcase forecast at
    $83,740 for 28 days in no metric). A level absent from ``actuals`` (the
    order-level ``total_actuals_from_orders`` gives only the total) is left
    out: its later demand is not known.
    """
    if forecasts.empty or actuals.empty:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    keys = ["series_level", "series_key", "measure"]
    fc = forecasts[forecasts["series_level"].isin(set(actuals["series_level"]))]
    fc = fc[pd.to_datetime(fc["forecast_date"]) <= pd.Timestamp(last_actual_date)]
    if fc.empty:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    act = actuals.assign(demand_date=pd.to_datetime(actuals["demand_date"]).dt.date)
    act = act.groupby([*keys, "demand_date"], as_index=False)["actual"].sum()
    fc = fc.assign(target_date=pd.to_datetime(fc["forecast_date"]).dt.date)
    fc = fc.merge(
        act.rename(columns={"demand_date": "target_date"}), on=[*keys, "target_date"], how="left"
    )
    fc["actual"] = fc["actual"].fillna(0.0).astype("float64")
    history = select_series(demand_daily, top_n=10**9, end_date=as_of_date, window_days=None)
    by_key = {(s.level, s.key, s.measure): s.values for s in history}
    naive, scales, squared = [], [], []
    for row in fc.itertuples(index=False):
        y = by_key.get((row.series_level, row.series_key, row.measure), np.zeros(0))
        naive.append(seasonal_naive_point(y, int(row.horizon_day))[-1])
        # the backtest's scale: the history from the first sale on
        scale, squared_scale = history_scales(y)
        scales.append(scale)
        squared.append(squared_scale)
    fc["naive_forecast"] = naive
    fc["mase_scale"] = scales
    fc["rmsse_scale"] = squared
    fc["origin_date"] = as_of_date
    fc["is_closed"] = closed_in_note(fc)
    return fc[BACKTEST_COLUMNS].reset_index(drop=True)

def actuals_from_holdout_demand(holdout_demand: pd.DataFrame) -> pd.DataFrame:
    """Actuals for :func:`holdout_frame` from the ``holdout_demand_daily`` mart.

    ``holdout_demand`` has ``series_level, series_key, demand_date, units,
    revenue`` for every series and day with sales after ``as_of_date`` (days
    without sales are absent, and ``holdout_frame`` counts them as zero).
    Returns ``series_level, series_key, measure, demand_date, actual``.
    """
    needed = ["series_level", "series_key", "demand_date", "units", "revenue"]
    missing = [c for c in needed if c not in holdout_demand.columns]
    if missing:
        raise ValueError(f"holdout_demand_daily is missing columns {missing}")
    out = holdout_demand[needed].melt(
        id_vars=["series_level", "series_key", "demand_date"], value_vars=["units", "revenue"],
        var_name="measure", value_name="actual",
    )
    out["actual"] = out["actual"].astype("float64")
    return out[["series_level", "series_key", "measure", "demand_date", "actual"]]


def total_actuals_from_orders(holdout_orders: pd.DataFrame) -> pd.DataFrame:
    """Daily total units and revenue from ``holdout_orders`` (purchases only).

    Units are ``n_units`` and revenue ``order_total`` summed per
    ``order_date``: the total series is the only one whose later demand the
    order-level holdout table can give. ``holdout_orders`` holds customers'
    orders only: on a shop with guest orders this falls short of the total
    series (``holdout_demand_daily`` counts the guests' lines too).
    """
    needed = ["order_date", "is_purchase", "n_units", "order_total"]
    missing = [c for c in needed if c not in holdout_orders.columns]
    if missing:
        raise ValueError(f"holdout_orders is missing columns {missing}")
    purchases = purchases_only(holdout_orders)
    daily = purchases.groupby("order_date").agg(
        units=("n_units", "sum"), revenue=("order_total", "sum")
    )
    out = daily.reset_index().melt(
        id_vars="order_date", value_vars=["units", "revenue"], var_name="measure",
        value_name="actual",
    )
    out = out.rename(columns={"order_date": "demand_date"})
    out.insert(0, "series_key", "all")
    out.insert(0, "series_level", "total")
    out["actual"] = out["actual"].astype("float64")
    return out
