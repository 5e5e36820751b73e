"""ml_propensity_evaluation as a native SQLMesh model: the dbt adapter python_models/propensity/ml_propensity_evaluation.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_propensity_evaluation")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model(
    "main.ml_propensity_evaluation", kind="FULL", columns=columns_of("ml_propensity_evaluation"),
    depends_on=["main.as_of", "main.ml_purchase_propensity", "main.holdout_orders", "main.fct_orders",
                "main.int_customers_unseen_on_as_of"],
)
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.propensity import pipeline
    assert PACKAGE and SETTINGS is not None
    columns = "customer_id, ordered_at, is_purchase"
    frame = pipeline.build_evaluation(
        read(context, "as_of"), read(context, "ml_purchase_propensity"),
        read(context, "holdout_orders", columns), read(context, "fct_orders", columns), SETTINGS,
        read(context, "int_customers_unseen_on_as_of"),
    )
    yield from rows_of(frame)
