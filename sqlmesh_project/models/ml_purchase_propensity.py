"""ml_purchase_propensity as a native SQLMesh model: the dbt adapter python_models/propensity/ml_purchase_propensity.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_purchase_propensity")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_purchase_propensity", kind="FULL", columns=columns_of("ml_purchase_propensity"), depends_on=["main.as_of", "main.fct_orders", "main.int_session_days", "main.dim_customers"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.propensity import pipeline
    assert PACKAGE and SETTINGS is not None
    frame = pipeline.build_scores(
        read(context, "as_of"),
        read(context, "fct_orders", "customer_id, ordered_at, order_total, is_purchase"),
        read(context, "int_session_days", "customer_id, session_started_at as started_at, activity_date,"
             " n_product_views, n_add_to_carts, n_checkouts"),
        read(context, "dim_customers", "customer_id, country, first_order_category, signed_up_at"),
        SETTINGS,
    )
    yield from rows_of(frame)
