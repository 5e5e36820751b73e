"""ml_product_recommendations as a native SQLMesh model: the dbt adapter python_models/recommend/ml_product_recommendations.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_product_recommendations")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_product_recommendations", kind="FULL", columns=columns_of("ml_product_recommendations"), depends_on=["main.fct_order_items", "main.dim_customers", "main.as_of", "main.customer_product_browsing"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.recommend import configs_from_dbt
    from shoplens.recommend.pipeline import build_recommendations
    assert PACKAGE and SETTINGS is not None
    recommend_cfg, _ = configs_from_dbt(SETTINGS.get)
    items = read(context, "fct_order_items", "customer_id, order_id, product_id, order_date, is_purchase")
    customers = read(context, "dim_customers", "customer_id")
    browsing = read(context, "customer_product_browsing")
    frame = build_recommendations(items, customers, read(context, "as_of"), recommend_cfg, browsing)
    yield from rows_of(frame)
