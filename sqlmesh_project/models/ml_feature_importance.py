"""ml_feature_importance as a native SQLMesh model: the dbt adapter python_models/propensity/ml_feature_importance.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_feature_importance")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_feature_importance", kind="FULL", columns=columns_of("ml_feature_importance"),
       depends_on=["main.ml_purchase_propensity"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.propensity import pipeline
    assert PACKAGE and SETTINGS is not None
    frame = pipeline.build_feature_importance(read(context, "ml_purchase_propensity"), SETTINGS)
    yield from rows_of(frame)
