"""ml_recommend_status as a native SQLMesh model: the dbt adapter python_models/recommend/ml_recommend_status.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_recommend_status")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_recommend_status", kind="FULL", columns=columns_of("ml_recommend_status"), depends_on=["main.ml_product_recommendations", "main.as_of"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.recommend.pipeline import recommendation_status
    assert PACKAGE and SETTINGS is not None
    frame = recommendation_status(read(context, "ml_product_recommendations"), read(context, "as_of"))
    yield from rows_of(frame)
