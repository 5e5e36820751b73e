"""ml_clv_status: one row saying whether CLV served its model, a fallback, or nothing.

Thin adapter over shoplens.clv_pipeline.build_status; unioned into
ml_model_status. See shoplens/status.py and docs/clv.md.
"""

import pandas as pd


def model(dbt, session) -> pd.DataFrame:
    dbt.config(materialized="table")
    from shoplens.clv_pipeline import build_status, config_from_dbt

    settings = {
        "btyd_time_unit": dbt.config.get("btyd_time_unit"),
        "penalizer": dbt.config.get("penalizer"),
        "clv_horizon_months": dbt.config.get("clv_horizon_months"),
        "annual_discount_rate": dbt.config.get("annual_discount_rate"),
        "clv_candidates": dbt.config.get("clv_candidates"),
        "clv_min_customers": dbt.config.get("clv_min_customers"),
        "clv_min_repeat_customers": dbt.config.get("clv_min_repeat_customers"),
        "clv_interval_draws": dbt.config.get("clv_interval_draws"),
        "clv_backtest_days": dbt.config.get("clv_backtest_days"),
        "clv_pareto_max_patterns": dbt.config.get("clv_pareto_max_patterns"),
        "clv_fit_engine": dbt.config.get("clv_fit_engine"),
        "seed": dbt.config.get("seed"),
    }
    config, backtest_days = config_from_dbt(settings.get)
    return build_status(
        dbt.ref("customer_btyd_summary").df(),
        dbt.ref("ml_clv_parameters").df(),
        dbt.ref("ml_clv_predictions").project("customer_id, fallback_reason").df(),
        dbt.ref("ml_clv_evaluation").df(),
        dbt.ref("as_of").df(),
        config,
        backtest_days,
    )
