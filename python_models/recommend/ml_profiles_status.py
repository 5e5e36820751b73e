"""ml_profiles_status: one row saying what the profile step served, and why (thin adapter)."""


def model(dbt, session):
    from shoplens.recommend.pipeline import profile_status

    profiles = dbt.ref("ml_customer_profiles").project("n_profiles, model_version, silhouette, profile_name").df()
    return profile_status(profiles, dbt.ref("as_of").df())
