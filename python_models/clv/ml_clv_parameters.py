"""ml_clv_parameters: fitted BTYD and Gamma-Gamma parameters; all logic in shoplens.clv.pipeline (docs/clv.md)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from shoplens.clv import pipeline

    # dbt passes only the config keys it sees in literal dbt.config.get calls
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
        "clv_covariates": dbt.config.get("clv_covariates"),
        "clv_covariate_time_budget": dbt.config.get("clv_covariate_time_budget"),
    }
    config, _ = pipeline.config_from_dbt(settings.get)
    return pipeline.build_parameters(
        dbt.ref("customer_btyd_summary").df(), dbt.ref("as_of").df(),
        dbt.ref("holdout_orders").df(), config,
        **pipeline.covariate_args(dbt.ref("dim_customers"), settings.get),
    )
