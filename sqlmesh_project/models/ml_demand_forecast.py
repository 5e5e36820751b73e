"""ml_demand_forecast as a native SQLMesh model: the dbt adapter python_models/forecast/ml_demand_forecast.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_demand_forecast")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_demand_forecast", kind="FULL", columns=columns_of("ml_demand_forecast"), depends_on=["main.demand_daily", "main.as_of", "main.dim_customers", "main.calendar_events"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.forecast import pipeline
    assert PACKAGE and SETTINGS is not None
    frame = pipeline.build_forecast(read(context, "demand_daily"), read(context, "as_of"), SETTINGS,
                                   read(context, "dim_customers", "country, n_purchases"),
                                   calendar=read(context, "calendar_events"))
    yield from rows_of(frame)
