"""ml_recommend_status: one row saying what the recommendation step served, and why (thin adapter).

ok: ALS served (cold and one-purchase customers get popularity, flagged);
degraded: ALS did not beat popularity on the validation cut-off, everyone
gets popularity; declined: no order lines, the tables are empty.
"""


def model(dbt, session):
    from shoplens.recommend.pipeline import recommendation_status

    # the relation: counted in DuckDB, not read as 10.5M rows of strings
    return recommendation_status(dbt.ref("ml_product_recommendations"), dbt.ref("as_of").df())
