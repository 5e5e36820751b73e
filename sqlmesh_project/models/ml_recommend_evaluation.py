"""ml_recommend_evaluation as a native SQLMesh model: the dbt adapter python_models/recommend/ml_recommend_evaluation.py, same pipeline call."""

from sqlmesh import model

from sqlmesh_project.dbt_inputs import (
    columns_of,
    model_settings,
    package_fingerprint,
    read,
    rows_of,
)

SETTINGS = model_settings("ml_recommend_evaluation")
PACKAGE = package_fingerprint()  # in the fingerprint: a package change re-plans this model


@model("main.ml_recommend_evaluation", kind="FULL", columns=columns_of("ml_recommend_evaluation"), depends_on=["main.fct_order_items", "main.holdout_order_items", "main.product_affinity", "main.ml_customer_profiles", "main.as_of", "main.customer_product_browsing", "main.ml_product_recommendations"])
def execute(context, **kwargs):
    """Refs in, pipeline out (imported here: loading the project for a plan does not need it)."""
    del kwargs
    from shoplens.recommend import configs_from_dbt
    from shoplens.recommend.pipeline import build_evaluation
    assert PACKAGE and SETTINGS is not None
    recommend_cfg, _ = configs_from_dbt(SETTINGS.get)
    columns = "customer_id, order_id, product_id, order_date, is_purchase, category, line_amount"
    frame = build_evaluation(
        read(context, "fct_order_items", columns), read(context, "holdout_order_items", columns),
        read(context, "product_affinity", "product_id, related_product_id, cosine"),
        read(context, "ml_customer_profiles"), read(context, "as_of"), recommend_cfg,
        affinity_min_support=int(float(SETTINGS["affinity_min_support"])),
        affinity_top_n=int(float(SETTINGS["affinity_top_n"])),
        browsing=read(context, "customer_product_browsing"),
    )
    yield from rows_of(frame)
