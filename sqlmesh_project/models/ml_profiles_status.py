"""ml_profiles_status as a native SQLMesh model: the dbt adapter python_models/recommend/ml_profiles_status.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_profiles_status")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_profiles_status", kind="FULL", columns=columns_of("ml_profiles_status"), depends_on=["main.ml_customer_profiles", "main.as_of"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.recommend.pipeline import profile_status
    assert PACKAGE and SETTINGS is not None
    profiles = read(context, "ml_customer_profiles", "n_profiles, model_version, silhouette, profile_name")
    frame = profile_status(profiles, read(context, "as_of"))
    yield from rows_of(frame)
