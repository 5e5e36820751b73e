"""ml_recommend_status: one row saying what the recommendation step served, and why (thin adapter).

ok: ALS served (cold and one-purchase customers get popularity, flagged);
degraded: ALS did not beat popularity on the validation cut-off, everyone
gets popularity; declined: no order lines, the tables are empty.
"""


def model(dbt, session):
    from shoplens.recommend.pipeline import recommendation_status

    recs = dbt.ref("ml_product_recommendations").df()
    return recommendation_status(recs, dbt.ref("as_of").df())
