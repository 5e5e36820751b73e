"""ml_product_recommendations: the top-k products per customer (implicit ALS or popularity).

Thin adapter: reads the marts, calls
``shoplens.recommend.pipeline.build_recommendations`` and returns its table.
One row per customer of dim_customers and rank; browsing (customer_product_browsing)
is implicit feedback when the validation rule keeps it.
"""


def model(dbt, session):
    from shoplens.recommend import configs_from_dbt
    from shoplens.recommend.pipeline import build_recommendations

    recommend_cfg, _ = configs_from_dbt(dbt.config.get)
    items = dbt.ref("fct_order_items").project("customer_id, order_id, product_id, order_date, is_purchase").df()
    customers = dbt.ref("dim_customers").project("customer_id").df()
    browsing = dbt.ref("customer_product_browsing").df()
    as_of = dbt.ref("as_of").df()
    return build_recommendations(items, customers, as_of, recommend_cfg, browsing)
