"""ml_propensity_evaluation: holdout (or backtest) metrics of the propensity scores; all logic in shoplens.propensity.pipeline."""


def model(dbt, session):
    from shoplens.propensity import pipeline

    as_of = dbt.ref("as_of").df()
    scores = pipeline.scores_to_evaluate(as_of, dbt.ref("ml_purchase_propensity"))  # one date, needed columns
    holdout_orders = dbt.ref("holdout_orders").project("customer_id, ordered_at, is_purchase").df()
    fct_orders = dbt.ref("fct_orders").project("customer_id, ordered_at, is_purchase").df()
    settings = {"window_days": dbt.config.get("window_days"), "model_dir": dbt.config.get("model_dir")}
    unseen = dbt.ref("int_customers_unseen_on_as_of").df()
    return pipeline.build_evaluation(as_of, scores, holdout_orders, fct_orders, settings, unseen)
