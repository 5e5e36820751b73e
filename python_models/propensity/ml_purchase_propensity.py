"""ml_purchase_propensity: GRU purchase propensity plus baselines, per customer.

Thin adapter: reads the marts, calls ``shoplens.propensity.run_propensity``
and returns its table. One row per customer per score date (the current
as-of date and, when there is no holdout, the backtest cut-off). Empty when
the data are too short to train (ml_propensity_status says why).
"""

import os


def _flag(value) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes"}


def _int_or_none(value):
    text = str(value).strip().lower()
    return None if text in {"", "none", "null"} else int(float(text))


def model(dbt, session):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from shoplens.propensity import (
        SCORE_COLUMNS,
        InsufficientHistoryError,
        PropensityConfig,
        run_propensity,
    )
    from shoplens.status import empty_like

    as_of = dbt.ref("as_of").df()
    orders = dbt.ref("fct_orders").project("customer_id, ordered_at, order_total, is_purchase").df()
    # one row per session and day: a training cut-off counts only the events up to it
    sessions = dbt.ref("int_session_days").project(
        "customer_id, session_started_at as started_at, activity_date,"
        " n_product_views, n_add_to_carts, n_checkouts"
    ).df()
    customers = dbt.ref("dim_customers").project(
        "customer_id, country, first_order_category, signed_up_at"
    ).df()

    defaults = PropensityConfig()
    n_cutoffs = _int_or_none(dbt.config.get("n_cutoffs"))
    max_customers = _int_or_none(dbt.config.get("max_train_customers"))
    cfg = PropensityConfig(
        window_days=int(dbt.config.get("window_days")),
        sequence_weeks=int(dbt.config.get("sequence_weeks")),
        train_window_days=_int_or_none(dbt.config.get("train_window_days")),
        n_cutoffs=n_cutoffs or defaults.n_cutoffs,
        max_train_customers=max_customers or defaults.max_train_customers,
        seed=int(dbt.config.get("seed")),
    )
    try:
        scores, _ = run_propensity(
            orders,
            sessions,
            customers,
            as_of_date=as_of["as_of_date"].iloc[0],
            has_holdout=bool(as_of["has_holdout"].iloc[0]),
            cfg=cfg,
            model_dir=str(dbt.config.get("model_dir")),
            retrain=_flag(dbt.config.get("retrain")),
        )
    except InsufficientHistoryError:  # declined: empty, ml_propensity_status says why
        return empty_like(SCORE_COLUMNS, {"customer_id": "object"})
    scores["customer_id"] = scores["customer_id"].astype(str)
    return scores
