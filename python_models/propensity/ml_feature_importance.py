"""ml_feature_importance: permutation importance of the propensity models on validation; all logic in shoplens.propensity.pipeline."""


def model(dbt, session):
    from shoplens.propensity import pipeline

    scores = pipeline.scores_for_importance(dbt.ref("ml_purchase_propensity"))  # the saved model's version
    settings = {"model_dir": dbt.config.get("model_dir")}
    return pipeline.build_feature_importance(scores, settings)
