"""ml_clv_parameters as a native SQLMesh model: the dbt adapter python_models/clv/ml_clv_parameters.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
    table,
)

SETTINGS = model_settings("ml_clv_parameters")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_clv_parameters", kind="FULL", columns=columns_of("ml_clv_parameters"), depends_on=["main.customer_btyd_summary", "main.as_of", "main.holdout_orders", "main.dim_customers"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.clv import pipeline
    assert PACKAGE and SETTINGS is not None
    config, _ = pipeline.config_from_dbt(SETTINGS.get)
    frame = pipeline.build_parameters(
        read(context, "customer_btyd_summary"), read(context, "as_of"), read(context, "holdout_orders"), config,
        **pipeline.covariate_args(table(context, "dim_customers"), SETTINGS.get),
    )
    yield from rows_of(frame)
