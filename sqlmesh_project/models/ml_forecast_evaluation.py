"""ml_forecast_evaluation as a native SQLMesh model: the dbt adapter python_models/forecast/ml_forecast_evaluation.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_forecast_evaluation")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_forecast_evaluation", kind="FULL", columns=columns_of("ml_forecast_evaluation"), depends_on=["main.demand_daily", "main.as_of", "main.ml_demand_forecast", "main.holdout_demand_daily", "main.dim_customers", "main.customer_features", "main.calendar_events"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.forecast import pipeline
    assert PACKAGE and SETTINGS is not None
    frame = pipeline.build_evaluation(
        read(context, "demand_daily"), read(context, "as_of"), read(context, "ml_demand_forecast"),
        read(context, "holdout_demand_daily"), SETTINGS, read(context, "dim_customers", "country, n_purchases"),
        read(context, "calendar_events"),
    )
    yield from rows_of(frame)
