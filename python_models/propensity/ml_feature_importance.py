"""ml_feature_importance: permutation importance of the propensity models on validation; all logic in shoplens.propensity.pipeline."""


def model(dbt, session):
    from shoplens.propensity import pipeline

    scores = dbt.ref("ml_purchase_propensity").project("model_version").limit(1).df()  # names the saved model
    settings = {"model_dir": dbt.config.get("model_dir")}
    return pipeline.build_feature_importance(scores, settings)
