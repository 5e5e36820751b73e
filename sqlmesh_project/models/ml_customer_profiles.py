"""ml_customer_profiles as a native SQLMesh model: the dbt adapter python_models/recommend/ml_customer_profiles.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_customer_profiles")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_customer_profiles", kind="FULL", columns=columns_of("ml_customer_profiles"), depends_on=["main.fct_order_items", "main.dim_products", "main.as_of"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.recommend import configs_from_dbt
    from shoplens.recommend.pipeline import build_profiles
    assert PACKAGE and SETTINGS is not None
    _, profile_cfg = configs_from_dbt(SETTINGS.get)
    items = read(context, "fct_order_items", "customer_id, order_id, product_id, order_date, is_purchase, category,"
                 " line_amount, discount, unit_price")
    products = read(context, "dim_products", "product_id, category, list_price")
    frame = build_profiles(items, products, read(context, "as_of"), profile_cfg)
    yield from rows_of(frame)
