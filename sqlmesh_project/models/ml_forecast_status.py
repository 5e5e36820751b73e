"""ml_forecast_status as a native SQLMesh model: the dbt adapter python_models/forecast/ml_forecast_status.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_forecast_status")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_forecast_status", kind="FULL", columns=columns_of("ml_forecast_status"), depends_on=["main.as_of", "main.ml_demand_forecast", "main.ml_forecast_evaluation"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.forecast import pipeline
    assert PACKAGE and SETTINGS is not None
    frame = pipeline.build_status(
        read(context, "as_of"), read(context, "ml_demand_forecast"),
        read(context, "ml_forecast_evaluation", "evaluation_type"),
    )
    yield from rows_of(frame)
