"""ml_forecast_status: one row saying what the forecast step served (thin adapter).

See shoplens.forecast_status.forecast_status; unioned into ml_model_status.
"""

import pandas as pd


def model(dbt, session) -> pd.DataFrame:
    dbt.config(materialized="table")
    from shoplens.forecast_status import forecast_status

    as_of = dbt.ref("as_of").df()
    forecasts = dbt.ref("ml_demand_forecast").df()
    evaluation = dbt.ref("ml_forecast_evaluation").project("evaluation_type").df()
    as_of_date = pd.to_datetime(as_of["as_of_date"].iloc[0]).date()
    return forecast_status(forecasts, evaluation, as_of_date).frame()
