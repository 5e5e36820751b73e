"""ml_propensity_status: one row saying what the propensity step served; all logic in shoplens.propensity.pipeline."""


def model(dbt, session):
    from shoplens.propensity import pipeline

    as_of = dbt.ref("as_of").df()
    scores = pipeline.scores_for_status(dbt.ref("ml_purchase_propensity"))  # the columns it reads
    # relations, read by the package only when the step declined
    orders = dbt.ref("fct_orders").project("customer_id, ordered_at, order_total, is_purchase")
    sessions = dbt.ref("fct_sessions").project(
        "customer_id, started_at, n_product_views, n_add_to_carts, n_checkouts")
    customers = dbt.ref("dim_customers").project(
        "customer_id, country, first_order_category, signed_up_at")
    settings = {
        "window_days": dbt.config.get("window_days"),
        "sequence_weeks": dbt.config.get("sequence_weeks"),
        "train_window_days": dbt.config.get("train_window_days"),
        "n_cutoffs": dbt.config.get("n_cutoffs"),
        "max_train_customers": dbt.config.get("max_train_customers"),
        "seed": dbt.config.get("seed"),
        "max_train_seconds": dbt.config.get("max_train_seconds"),
        "min_gru_gain": dbt.config.get("min_gru_gain"),
        "model_dir": dbt.config.get("model_dir"),
    }
    return pipeline.build_status(as_of, scores, orders, sessions, customers, settings)
