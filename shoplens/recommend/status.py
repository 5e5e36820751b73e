"""``ml_model_status`` rows of the recommendation and profile steps."""

from __future__ import annotations

import pandas as pd

from shoplens.recommend.data import as_of_dates

NO_LINES = ("no purchase order lines up to as_of_date (fct_order_items is empty): export order_items"
            " (order_id, product_id, quantity, unit_price) to get {what}")

NO_CHANNEL = ("traits: category, price band and discount; no channel trait, because the raw contract has no"
              " channel column (orders, customers and events carry no order/acquisition channel, traffic source"
              " or device)")


def recommendation_status(recs: pd.DataFrame, as_of: pd.DataFrame) -> pd.DataFrame:
    """One ``ml_model_status`` row: ok (ALS served), degraded (popularity for everyone, and why) or declined.

    ``recs``: ``ml_product_recommendations`` as a DataFrame, as anything with ``.df()`` (the Spark
    runner's ref), or as a DuckDB relation, which is summed in DuckDB (at 1M customers the table is 10.5M rows: as Python strings, gigabytes)."""
    import duckdb

    if isinstance(recs, duckdb.DuckDBPyRelation):
        n, has_als, cold = recs.aggregate(
            "count(*), coalesce(bool_or(served_model = 'als'), false),"
            " count(distinct customer_id) filter (where served_model = 'popularity')").fetchone()
        first = recs.project("selection_note").limit(1).fetchall() if "selection_note" in recs.columns else []
        note = str(first[0][0]) if first else ""
        return _recommendation_status(int(n), bool(has_als), int(cold), note, as_of)
    if not isinstance(recs, pd.DataFrame):  # e.g. the Spark runner's ref
        recs = recs.df()
    if len(recs) == 0:
        return _recommendation_status(0, False, 0, "", as_of)
    served = recs["served_model"].astype(str)
    note = str(recs["selection_note"].iloc[0]) if "selection_note" in recs else ""
    cold = recs.loc[served == "popularity", "customer_id"].nunique()
    return _recommendation_status(len(recs), bool((served == "als").any()), int(cold), note, as_of)


def _recommendation_status(n_rows: int, has_als: bool, n_cold: int, note: str, as_of: pd.DataFrame) -> pd.DataFrame:
    from shoplens.status import step_status

    as_of_date, _, _ = as_of_dates(as_of)
    if n_rows == 0:
        return step_status("recommend", as_of_date, served_model="none", rows_written=0,
                           decline_reason=NO_LINES.format(what="recommendations")).frame()
    if has_als:
        return step_status("recommend", as_of_date, served_model="als", rows_written=n_rows,
                           notes=[note, f"{n_cold} customers with fewer purchase orders get the popularity list,"
                                  " flagged"]).frame()
    return step_status("recommend", as_of_date, served_model="popularity", rows_written=n_rows,
                       problems=[note]).frame()


#: Above this share of the customers in one profile, the profiles separate too few customers
#: to describe the shop, whatever the silhouette says (a few outliers far from one big
#: cluster score a high silhouette).
DOMINANT_PROFILE_SHARE = 0.9
#: Under this many customers a profile on average, the profiles describe individuals, not groups
#: (a forecast-only export of a few store accounts).
MIN_CUSTOMERS_PER_PROFILE = 10


def _dominant_profile(names: pd.Series) -> list[str]:
    """The problem of one profile holding more than ``DOMINANT_PROFILE_SHARE`` of the customers."""
    counts = names.value_counts(sort=True)
    share = float(counts.iloc[0]) / len(names)
    if share <= DOMINANT_PROFILE_SHARE:
        return []
    return [
        f"one profile, {counts.index[0]!r}, holds {share:.1%} of the {len(names)} customers: the profiles"
        f" separate only {len(names) - int(counts.iloc[0])} customers from the rest, however high the"
        " silhouette. Fix: categories with tens of values (a parent level of the product tree, not"
        " hundreds of leaves) let purchase mixes differ"
    ]


def profile_status(profiles: pd.DataFrame, as_of: pd.DataFrame) -> pd.DataFrame:
    """One ``ml_model_status`` row: ok (k >= 2 profiles), degraded (one profile) or declined (no lines)."""
    from shoplens.status import step_status

    as_of_date, _, _ = as_of_dates(as_of)
    if len(profiles) == 0:
        return step_status("profiles", as_of_date, served_model="none", rows_written=0,
                           decline_reason=NO_LINES.format(what="profiles")).frame()
    k = int(profiles["n_profiles"].iloc[0])
    version = str(profiles["model_version"].iloc[0]).split("/")[-1]
    problems = ["fewer than two distinct customer mixes: one profile"] if k < 2 else []
    if k >= 2 and len(profiles) < MIN_CUSTOMERS_PER_PROFILE * k:
        problems.append(f"{len(profiles)} customers in {k} profiles, fewer than {MIN_CUSTOMERS_PER_PROFILE}"
                        " a profile: too few to describe a group of customers")
    if k >= 2 and "profile_name" in profiles.columns:
        problems += _dominant_profile(profiles["profile_name"])
    notes = [f"{k} profiles, silhouette {float(profiles['silhouette'].iloc[0]):.3f}", NO_CHANNEL]
    return step_status("profiles", as_of_date, served_model=version, rows_written=len(profiles),
                       problems=problems, notes=notes).frame()
