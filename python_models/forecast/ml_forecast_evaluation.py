"""Backtest and holdout rows of the demand forecasts (thin adapter).

All logic: shoplens.forecast.pipeline.build_evaluation.
Columns: shoplens.evaluation.EVALUATION_COLUMNS.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from shoplens.forecast import pipeline

    # refs and dbt.config.get as plain statements: dbt's parser only sees literal calls
    demand = dbt.ref("demand_daily")  # a relation: read_demand reads the series forecast
    as_of = dbt.ref("as_of").df()
    # the two columns the holiday weights read (1M customers: 67 MB, not 348)
    customers = dbt.ref("dim_customers").project("country, n_purchases").df()
    calendar = dbt.ref("calendar_events").df()
    forecasts = dbt.ref("ml_demand_forecast").df()
    holdout_demand = dbt.ref("holdout_demand_daily").df()
    # order only: the evaluation waits for the propensity step's inputs, so that the sessions
    # chain that step waits on does not queue behind it (DECISIONS.md, The build's order)
    dbt.ref("customer_features")
    settings = {
        "forecast_top_n": dbt.config.get("forecast_top_n"),
        "forecast_horizon_days": dbt.config.get("forecast_horizon_days"),
        "forecast_n_jobs": dbt.config.get("forecast_n_jobs"),
        "forecast_backtest_origins": dbt.config.get("forecast_backtest_origins"),
        "forecast_time_budget_s": dbt.config.get("forecast_time_budget_s"),
        "forecast_calibration_origins": dbt.config.get("forecast_calibration_origins"),
        "forecast_reference_models": dbt.config.get("forecast_reference_models"),
        "forecast_global_model": dbt.config.get("forecast_global_model"),
        "forecast_closed_weeks": dbt.config.get("forecast_closed_weeks"),
        "forecast_closed_years": dbt.config.get("forecast_closed_years"),
        "forecast_calibration_decay": dbt.config.get("forecast_calibration_decay"),
        "forecast_spike_ratio": dbt.config.get("forecast_spike_ratio"),
    }
    demand = pipeline.read_demand(demand, as_of, settings)
    return pipeline.build_evaluation(
        demand, as_of, forecasts, holdout_demand, settings, customers, calendar
    )
