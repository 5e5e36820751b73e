"""ml_propensity_status: one row saying what the propensity step served (thin adapter).

ok: the GRU was trained and scored (dropped baselines are noted in reason);
declined: too little history, ml_purchase_propensity is empty and reason
names the fix. See shoplens.propensity.propensity_status.
"""


def _int_or_none(value):
    text = str(value).strip().lower()
    return None if text in {"", "none", "null"} else int(float(text))


def model(dbt, session):
    from shoplens.propensity import PropensityConfig, decline_reason, propensity_status

    as_of = dbt.ref("as_of").df()
    scores = dbt.ref("ml_purchase_propensity").df()
    orders = dbt.ref("fct_orders").project("customer_id, ordered_at, order_total, is_purchase").df()
    sessions = dbt.ref("fct_sessions").project(
        "customer_id, started_at, n_product_views, n_add_to_carts, n_checkouts"
    ).df()
    customers = dbt.ref("dim_customers").project(
        "customer_id, country, first_order_category, signed_up_at"
    ).df()
    as_of_date = as_of["as_of_date"].iloc[0]
    has_holdout = bool(as_of["has_holdout"].iloc[0])
    reason = ""
    if scores.empty:  # rebuild the cheap checks only when the step declined
        defaults = PropensityConfig()
        cfg = PropensityConfig(
            window_days=int(dbt.config.get("window_days")),
            sequence_weeks=int(dbt.config.get("sequence_weeks")),
            train_window_days=_int_or_none(dbt.config.get("train_window_days")),
            n_cutoffs=_int_or_none(dbt.config.get("n_cutoffs")) or defaults.n_cutoffs,
            seed=int(dbt.config.get("seed")),
        )
        reason = decline_reason(orders, sessions, customers, as_of_date, has_holdout, cfg)
    return propensity_status(scores, as_of_date, reason).frame()
