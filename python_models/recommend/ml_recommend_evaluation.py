"""ml_recommend_evaluation: recommenders and profiles on the holdout (or a backtest).

Thin adapter over ``shoplens.recommend.pipeline.build_evaluation``, in the
shared ``EVALUATION_COLUMNS`` shape; item-to-item reads product_affinity.
"""


def model(dbt, session):
    from shoplens.recommend import configs_from_dbt
    from shoplens.recommend.pipeline import build_evaluation

    recommend_cfg, _ = configs_from_dbt(dbt.config.get)
    columns = "customer_id, order_id, product_id, order_date, is_purchase, category, line_amount"
    items = dbt.ref("fct_order_items").project(columns).df()
    holdout = dbt.ref("holdout_order_items").project(columns).df()
    affinity = dbt.ref("product_affinity").project("product_id, related_product_id, cosine").df()
    profiles = dbt.ref("ml_customer_profiles").df()
    browsing = dbt.ref("customer_product_browsing").df()
    as_of = dbt.ref("as_of").df()
    return build_evaluation(
        items, holdout, affinity, profiles, as_of, recommend_cfg,
        affinity_min_support=int(float(dbt.config.get("affinity_min_support"))),
        affinity_top_n=int(float(dbt.config.get("affinity_top_n"))),
        browsing=browsing,
    )
