"""Daily demand forecasts per series and measure (thin adapter).

One row per series (total / category / top-N product), measure (units,
revenue) and forecast date, for the ``forecast_horizon_days`` days after
``as_of_date``. The fitting lives in ``shoplens.forecast``. Empty when there
is no demand to forecast (ml_forecast_status says why).
"""

import pandas as pd


def model(dbt, session) -> pd.DataFrame:
    dbt.config(materialized="table")
    from shoplens.forecast import FORECAST_COLUMNS, config_from_dbt, forecast_demand
    from shoplens.forecast_status import ForecastDeclined, check_demand
    from shoplens.status import empty_like

    demand = dbt.ref("demand_daily").df()
    # refs as plain statements: dbt's parser misses refs nested in other calls
    as_of = dbt.ref("as_of").df()
    as_of_date = pd.to_datetime(as_of["as_of_date"].iloc[0]).date()
    # dbt only passes the config keys it sees as literal dbt.config.get calls
    settings = {
        "forecast_top_n": dbt.config.get("forecast_top_n"),
        "forecast_horizon_days": dbt.config.get("forecast_horizon_days"),
        "forecast_n_jobs": dbt.config.get("forecast_n_jobs"),
        "forecast_backtest_origins": dbt.config.get("forecast_backtest_origins"),
        "forecast_time_budget_s": dbt.config.get("forecast_time_budget_s"),
    }
    config = config_from_dbt(settings.get)
    try:
        check_demand(demand, as_of_date)
    except ForecastDeclined:  # nothing to forecast: empty, ml_forecast_status says why
        return empty_like(FORECAST_COLUMNS)
    return forecast_demand(demand, config, as_of_date=as_of_date)
