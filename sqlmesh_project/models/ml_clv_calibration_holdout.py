"""ml_clv_calibration_holdout as a native SQLMesh model: the dbt adapter python_models/clv/ml_clv_calibration_holdout.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_clv_calibration_holdout")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_clv_calibration_holdout", kind="FULL", columns=columns_of("ml_clv_calibration_holdout"), depends_on=["main.customer_btyd_summary", "main.ml_clv_parameters", "main.as_of", "main.holdout_orders"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.clv import pipeline
    assert PACKAGE and SETTINGS is not None
    config, _ = pipeline.config_from_dbt(SETTINGS.get)
    frame = pipeline.build_diagnostic(
        "calibration_holdout", read(context, "customer_btyd_summary"), read(context, "ml_clv_parameters"),
        read(context, "as_of"), read(context, "holdout_orders"), config,
    )
    yield from rows_of(frame)
