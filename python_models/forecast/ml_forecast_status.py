"""ml_forecast_status: one row saying what the forecast step served (thin adapter).

All logic: shoplens.forecast.pipeline.build_status; unioned into ml_model_status.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from shoplens.forecast import pipeline

    as_of = dbt.ref("as_of").df()
    forecasts = dbt.ref("ml_demand_forecast").df()
    evaluation = dbt.ref("ml_forecast_evaluation").project("evaluation_type").df()
    return pipeline.build_status(as_of, forecasts, evaluation)
