"""ml_clv_status as a native SQLMesh model: the dbt adapter python_models/clv/ml_clv_status.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_clv_status")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_clv_status", kind="FULL", columns=columns_of("ml_clv_status"), depends_on=["main.customer_btyd_summary", "main.ml_clv_parameters", "main.ml_clv_predictions", "main.ml_clv_evaluation", "main.as_of"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.clv import pipeline
    assert PACKAGE and SETTINGS is not None
    config, backtest_days = pipeline.config_from_dbt(SETTINGS.get)
    frame = pipeline.build_status(
        read(context, "customer_btyd_summary"), read(context, "ml_clv_parameters"),
        read(context, "ml_clv_predictions", "customer_id, fallback_reason"),
        read(context, "ml_clv_evaluation"), read(context, "as_of"), config, backtest_days,
    )
    yield from rows_of(frame)
