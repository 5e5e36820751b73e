"""ml_product_recommendations: the top-k products per customer (implicit ALS or popularity).

Thin adapter: reads the marts, calls
``shoplens.recommend.pipeline.build_recommendations`` and returns its table.
One row per customer of dim_customers and rank; browsing (customer_product_browsing)
is implicit feedback when the validation rule keeps it.
"""


def model(dbt, session):
    from shoplens.recommend import configs_from_dbt
    from shoplens.recommend.data import read_lines
    from shoplens.recommend.pipeline import build_recommendations

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
        "recommend_fallback_z": dbt.config.get("recommend_fallback_z"),
        "recommend_min_orders": dbt.config.get("recommend_min_orders"),
        "recommend_view_weight": dbt.config.get("recommend_view_weight"),
        "recommend_cart_weight": dbt.config.get("recommend_cart_weight"),
        "recommend_num_threads": dbt.config.get("recommend_num_threads"),
        "recommend_warm_start": dbt.config.get("recommend_warm_start"),
        "recommend_served_max_customers": dbt.config.get("recommend_served_max_customers"),
    }
    recommend_cfg, _ = configs_from_dbt(settings.get)

    def items():  # a reader: the package frees the lines' frame once it has the purchases
        return read_lines(dbt.ref("fct_order_items").project(
            "customer_id, order_id, product_id, order_date, is_purchase"))

    customers = dbt.ref("dim_customers").project("customer_id").df()
    browsing = dbt.ref("customer_product_browsing")  # summed in DuckDB by the package
    as_of = dbt.ref("as_of").df()
    return build_recommendations(items, customers, as_of, recommend_cfg, browsing)
