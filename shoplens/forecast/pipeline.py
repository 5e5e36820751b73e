"""The forecast family's only entry point from dbt (and later SQLMesh, Spark).

Each ``build_*`` takes the refs as DataFrames and the dbt vars as a mapping
and returns the table the dbt model writes: ``ml_demand_forecast``,
``ml_forecast_evaluation`` and ``ml_forecast_status``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd

from shoplens.evaluation import EVALUATION_COLUMNS
from shoplens.forecast.calendar import country_weights_from_customers, events_from_frame
from shoplens.forecast.config import FORECAST_COLUMNS, ForecastConfig, config_from_dbt
from shoplens.forecast.engine import backtest_candidates, forecast_demand, forget_fits
from shoplens.forecast.holdout import actuals_from_holdout_demand, holdout_frame
from shoplens.forecast.metrics import evaluation_rows
from shoplens.forecast.series import SELECTION_WINDOW_DAYS, keep_top_products, top_product_keys
from shoplens.forecast.status import ForecastDeclined, check_demand, forecast_status
from shoplens.inputs import read_as_of
from shoplens.memory import returns_freed_memory
from shoplens.status import empty_like


def _as_of_date(as_of: pd.DataFrame) -> dt.date:
    return read_as_of(as_of).as_of_date


def _config(settings: Mapping[str, object]) -> ForecastConfig:
    return config_from_dbt(settings.get)


def read_demand(demand, as_of: pd.DataFrame, settings: Mapping[str, object]) -> pd.DataFrame:
    """The rows of ``demand_daily`` the forecast and its evaluation read, from a DuckDB
    relation: the total, every category and the ``forecast_top_n`` products by revenue over
    the selection window up to as_of_date (``select_series``' rule, ranked in the database).
    A DataFrame or another engine's ref (``df()`` only) is read whole and filtered alike.
    ``demand_daily`` fills every product's days with zeros: a clickstream shop of 235,000
    products had 24.9 million rows, which the two steps each read whole (12 GiB)."""
    as_of_date = _as_of_date(as_of)
    start = as_of_date - dt.timedelta(days=SELECTION_WINDOW_DAYS - 1)
    top_n = _config(settings).top_n
    if isinstance(demand, pd.DataFrame) or not hasattr(demand, "aggregate"):  # another engine's ref: df() only
        return keep_top_products(demand.df() if hasattr(demand, "df") else demand, top_n, as_of_date)
    sales = demand.filter(
        f"series_level = 'product' and demand_date between date '{start}' and date '{as_of_date}'"
    ).aggregate("series_key, sum(revenue) as revenue, sum(units) as units", "series_key").df()
    keys = top_product_keys(sales, top_n)
    listed = ", ".join("'" + key.replace("'", "''") + "'" for key in keys)
    kept = f"series_level <> 'product' or series_key in ({listed})" if keys else "series_level <> 'product'"
    return demand.filter(kept).df()


@returns_freed_memory
def build_forecast(
    demand: pd.DataFrame,
    as_of: pd.DataFrame,
    settings: Mapping[str, object],
    customers: pd.DataFrame | None = None,
    shop_total: pd.DataFrame | None = None,
    calendar: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``ml_demand_forecast``: empty when there is no demand (the status says why).

    ``customers`` (``dim_customers``: country, n_purchases) weights the
    countries' public holidays; without it the common holidays are used.
    ``calendar`` (``calendar_events``: event_date, event_name): the shop's own
    events, one regressor per name (``calendar.regressors``).
    ``shop_total``: the shop total's ``demand_daily`` rows, which decide the
    closed weekdays (``closures``), for a caller whose ``demand`` holds only
    some series (Spark forecasts one series per group); default: ``demand``'s.
    """
    as_of_date = _as_of_date(as_of)
    config = _config(settings)
    try:
        check_demand(demand, as_of_date)
    except ForecastDeclined:
        return empty_like(FORECAST_COLUMNS)
    weights = country_weights_from_customers(customers)
    return forecast_demand(demand, config, as_of_date=as_of_date, country_weights=weights,
                           shop_total=shop_total, events=events_from_frame(calendar, as_of_date))


@returns_freed_memory
def build_evaluation(
    demand: pd.DataFrame,
    as_of: pd.DataFrame,
    forecasts: pd.DataFrame,
    holdout_demand: pd.DataFrame,
    settings: Mapping[str, object],
    customers: pd.DataFrame | None = None,
    calendar: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``ml_forecast_evaluation``: the rolling-origin backtest (the served
    forecasts and every candidate on the same origins), plus the holdout rows
    when valid orders exist after ``as_of_date``."""
    row = read_as_of(as_of)
    as_of_date = row.as_of_date
    config = _config(settings)
    if forecasts.empty:  # the step declined (ml_forecast_status says why)
        return empty_like(EVALUATION_COLUMNS)
    backtest, candidates = backtest_candidates(
        demand, config, as_of_date=as_of_date,
        country_weights=country_weights_from_customers(customers), events=events_from_frame(calendar, as_of_date))
    forget_fits()  # the forecast step's fits, read by the backtest: not needed any more
    parts = []
    if not backtest.empty:  # too short for one origin: ml_forecast_status reports it
        parts.append(evaluation_rows(backtest, as_of_date=as_of_date, evaluation_type="backtest",
                                     candidates=candidates))
    if row.has_holdout:
        last_day = min(row.data_end_date, as_of_date + dt.timedelta(days=config.horizon_days))
        actuals = actuals_from_holdout_demand(holdout_demand)
        holdout = holdout_frame(
            forecasts, actuals, demand, as_of_date=as_of_date, last_actual_date=last_day
        )
        if not holdout.empty:
            parts.append(evaluation_rows(holdout, as_of_date=as_of_date, evaluation_type="holdout"))
    if not parts:
        return empty_like(EVALUATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[EVALUATION_COLUMNS]


def build_status(
    as_of: pd.DataFrame, forecasts: pd.DataFrame, evaluation: pd.DataFrame
) -> pd.DataFrame:
    """``ml_forecast_status``: one row saying what the step served."""
    return forecast_status(forecasts, evaluation, _as_of_date(as_of)).frame()
