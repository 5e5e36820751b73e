"""ml_customer_profiles: each buying customer's embedding and named profile.

Thin adapter over ``shoplens.recommend.pipeline.build_profiles``: one row per
customer with a purchased order line up to as_of_date.
"""


def model(dbt, session):
    from shoplens.recommend import configs_from_dbt
    from shoplens.recommend.data import read_lines
    from shoplens.recommend.pipeline import build_profiles

    # literal dbt.config.get calls: dbt passes a Python model only the config keys it sees
    settings = {
        "seed": dbt.config.get("seed"),
        "profile_max_clusters": dbt.config.get("profile_max_clusters"),
        "profile_max_components": dbt.config.get("profile_max_components"),
        "profile_energy": dbt.config.get("profile_energy"),
    }
    _, profile_cfg = configs_from_dbt(settings.get)

    def items():  # a reader: the package frees the lines' frame once it has the purchases
        return read_lines(dbt.ref("fct_order_items").project(
            "customer_id, order_id, product_id, order_date, is_purchase, category, line_amount, discount,"
            " unit_price"))

    products = dbt.ref("dim_products").project("product_id, category, list_price").df()
    as_of = dbt.ref("as_of").df()
    return build_profiles(items, products, as_of, profile_cfg)
