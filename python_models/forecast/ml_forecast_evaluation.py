"""Evaluation rows of the demand forecasts (thin adapter).

Always: a rolling-origin backtest over the last ``forecast_backtest_origins``
horizons before ``as_of_date`` (evaluation_type ``backtest``). When valid
orders exist after ``as_of_date``: the production forecast of every series
against ``holdout_demand_daily`` (evaluation_type ``holdout``). Columns:
``shoplens.evaluation.EVALUATION_COLUMNS``.
"""

import datetime as dt

import pandas as pd


def model(dbt, session) -> pd.DataFrame:
    dbt.config(materialized="table")
    from shoplens.evaluation import EVALUATION_COLUMNS
    from shoplens.forecast import (
        actuals_from_holdout_demand,
        backtest_demand,
        config_from_dbt,
        evaluation_rows,
        holdout_frame,
    )
    from shoplens.status import empty_like

    demand = dbt.ref("demand_daily").df()
    as_of = dbt.ref("as_of").df().iloc[0]
    as_of_date = pd.to_datetime(as_of["as_of_date"]).date()
    # dbt only passes the config keys it sees as literal dbt.config.get calls
    settings = {
        "forecast_top_n": dbt.config.get("forecast_top_n"),
        "forecast_horizon_days": dbt.config.get("forecast_horizon_days"),
        "forecast_n_jobs": dbt.config.get("forecast_n_jobs"),
        "forecast_backtest_origins": dbt.config.get("forecast_backtest_origins"),
        "forecast_time_budget_s": dbt.config.get("forecast_time_budget_s"),
    }
    config = config_from_dbt(settings.get)

    # refs as plain statements: dbt's parser misses refs nested in other calls
    forecasts = dbt.ref("ml_demand_forecast").df()
    if forecasts.empty:  # the step declined (ml_forecast_status says why)
        return empty_like(EVALUATION_COLUMNS)
    backtest = backtest_demand(demand, config, as_of_date=as_of_date)
    parts = []
    if not backtest.empty:  # too short for one origin: ml_forecast_status reports it
        parts.append(evaluation_rows(backtest, as_of_date=as_of_date, evaluation_type="backtest"))

    if bool(as_of["has_holdout"]):
        data_end = pd.to_datetime(as_of["data_end_date"]).date()
        last_day = min(data_end, as_of_date + dt.timedelta(days=config.horizon_days))
        holdout_demand = dbt.ref("holdout_demand_daily").df()
        actuals = actuals_from_holdout_demand(holdout_demand)
        holdout = holdout_frame(
            forecasts, actuals, demand, as_of_date=as_of_date, last_actual_date=last_day
        )
        if not holdout.empty:
            parts.append(
                evaluation_rows(holdout, as_of_date=as_of_date, evaluation_type="holdout")
            )
    if not parts:
        return empty_like(EVALUATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[EVALUATION_COLUMNS]
