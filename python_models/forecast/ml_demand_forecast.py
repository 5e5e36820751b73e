"""Daily demand forecasts per series, measure and day after as_of_date (thin adapter).

All logic: shoplens.forecast.pipeline.build_forecast. Empty when there is no
demand to forecast (ml_forecast_status says why).
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from shoplens.forecast import pipeline

    # refs and dbt.config.get as plain statements: dbt's parser only sees literal calls
    demand = dbt.ref("demand_daily")  # a relation: read_demand reads the series forecast
    as_of = dbt.ref("as_of").df()
    # the two columns the holiday weights read (1M customers: 67 MB, not 348)
    customers = dbt.ref("dim_customers").project("country, n_purchases").df()
    # the shop's own events (a planned promotion): one regressor per name
    calendar = dbt.ref("calendar_events").df()
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
    return pipeline.build_forecast(demand, as_of, settings, customers, calendar=calendar)
