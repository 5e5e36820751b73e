"""ml_clv_predictions as a native SQLMesh model: the dbt adapter python_models/clv/ml_clv_predictions.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
    table,
)

SETTINGS = model_settings("ml_clv_predictions")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_clv_predictions", kind="FULL", columns=columns_of("ml_clv_predictions"), depends_on=["main.customer_btyd_summary", "main.ml_clv_parameters", "main.as_of", "main.dim_customers", "main.fct_orders"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.clv import pipeline
    assert PACKAGE and SETTINGS is not None
    config, _ = pipeline.config_from_dbt(SETTINGS.get)
    summary, as_of = read(context, "customer_btyd_summary"), read(context, "as_of")
    parameters = read(context, "ml_clv_parameters")
    calibration = pipeline.build_interval_calibration(summary, parameters, as_of, read(context, "fct_orders"), config)
    frame = pipeline.build_predictions(
        summary, parameters, as_of, config, calibration=calibration,
        **pipeline.covariate_args(table(context, "dim_customers"), SETTINGS.get),
    )
    yield from rows_of(frame)
