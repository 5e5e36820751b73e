"""ml_recommend_evaluation: recommenders and profiles on the holdout (or a backtest).

Thin adapter over ``shoplens.recommend.pipeline.build_evaluation``, in the
shared ``EVALUATION_COLUMNS`` shape; item-to-item reads product_affinity.
"""


def model(dbt, session):
    from shoplens.inputs import read_with_categorical_ids
    from shoplens.recommend import configs_from_dbt
    from shoplens.recommend.data import read_lines
    from shoplens.recommend.pipeline import build_evaluation

    # literal dbt.config.get calls: dbt passes a Python model only the config keys it sees
    settings = {
        "seed": dbt.config.get("seed"),
        "recommend_top_k": dbt.config.get("recommend_top_k"),
        "recommend_factors_grid": dbt.config.get("recommend_factors_grid"),
        "recommend_alpha_grid": dbt.config.get("recommend_alpha_grid"),
        "recommend_regularization": dbt.config.get("recommend_regularization"),
        "recommend_iterations": dbt.config.get("recommend_iterations"),
        "recommend_screen_iterations": dbt.config.get("recommend_screen_iterations"),
        "recommend_screen_keep": dbt.config.get("recommend_screen_keep"),
        "recommend_parsimony_se": dbt.config.get("recommend_parsimony_se"),
        "recommend_popularity_days": dbt.config.get("recommend_popularity_days"),
        "recommend_validation_days": dbt.config.get("recommend_validation_days"),
        "recommend_validation_max_customers": dbt.config.get("recommend_validation_max_customers"),
        "recommend_evaluation_max_customers": dbt.config.get("recommend_evaluation_max_customers"),
        "recommend_fallback_z": dbt.config.get("recommend_fallback_z"),
        "recommend_min_orders": dbt.config.get("recommend_min_orders"),
        "recommend_view_weight": dbt.config.get("recommend_view_weight"),
        "recommend_cart_weight": dbt.config.get("recommend_cart_weight"),
        "recommend_num_threads": dbt.config.get("recommend_num_threads"),
        "recommend_warm_start": dbt.config.get("recommend_warm_start"),
        "recommend_served_max_customers": dbt.config.get("recommend_served_max_customers"),
    }
    recommend_cfg, _ = configs_from_dbt(settings.get)
    columns = "customer_id, order_id, product_id, order_date, is_purchase, category, line_amount"

    def items():  # readers, ids as categoricals: the package frees each frame once it has the purchases
        return read_lines(dbt.ref("fct_order_items").project(columns))

    def holdout():  # read only with a holdout
        return read_lines(dbt.ref("holdout_order_items").project(columns))

    affinity = dbt.ref("product_affinity").project("product_id, related_product_id, cosine").df()

    def profiles():  # read when the profiles are scored, with the columns they are scored on;
        # the repeated strings as categoricals (1M customers: no Python string per row)
        return read_with_categorical_ids(dbt.ref("ml_customer_profiles").project(
            "customer_id, profile_id, profile_traits, embedding, n_profiles, model_version"),
            {"customer_id", "profile_traits", "model_version"})

    browsing = dbt.ref("customer_product_browsing")  # summed in DuckDB by the package
    as_of = dbt.ref("as_of").df()
    dbt.ref("ml_product_recommendations")  # runs after the lists: reuses their validation verdict in memory
    return build_evaluation(
        items, holdout, affinity, profiles, as_of, recommend_cfg,
        affinity_min_support=int(float(dbt.config.get("affinity_min_support"))),
        affinity_top_n=int(float(dbt.config.get("affinity_top_n"))),
        browsing=browsing,
    )
