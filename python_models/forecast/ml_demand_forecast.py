"""Daily demand forecasts per series and measure (thin adapter).

One row per series (total / category / top-N product), measure (units,
revenue) and forecast date, for the ``forecast_horizon_days`` days after
``as_of_date``. The fitting lives in ``shoplens.forecast``.
"""

import pandas as pd


def model(dbt, session) -> pd.DataFrame:
    dbt.config(materialized="table")
    from shoplens.forecast import config_from_dbt, forecast_demand

    demand = dbt.ref("demand_daily").df()
    as_of_date = pd.to_datetime(dbt.ref("as_of").df()["as_of_date"].iloc[0]).date()
    config = config_from_dbt(dbt.config.get)
    return forecast_demand(demand, config, as_of_date=as_of_date)
