"""The recommendation and profile steps as dbt calls them (DataFrames in and out).

``python_models/recommend/*.py`` only read their refs and call these:

* :func:`build_recommendations` -> ``ml_product_recommendations``
* :func:`build_profiles` -> ``ml_customer_profiles``
* :func:`build_evaluation` -> ``ml_recommend_evaluation``
* :func:`recommendation_status` / :func:`profile_status` -> the status rows

The work is done in :mod:`~shoplens.recommend.selection` (which model to
serve), :mod:`~shoplens.recommend.serving` (the lists),
:mod:`~shoplens.recommend.holdout` (evaluation rows) and
:mod:`~shoplens.recommend.status`. Bad input never fails the build: without
purchase lines each step returns an empty table and logs why (:data:`LOG`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.evaluation import EVALUATION_COLUMNS, evaluation_frame
from shoplens.inputs import handed_over, read_now
from shoplens.memory import returns_freed_memory, trim_heap
from shoplens.recommend.config import ProfileConfig, RecommendConfig
from shoplens.recommend.data import as_of_dates, browsing_cutoffs, browsing_events, purchase_lines
from shoplens.recommend.holdout import evaluate_recommenders, profile_rows, selection_rows
from shoplens.recommend.profiles import co_purchase_mix, feature_matrix, fit_profiles, product_bands
from shoplens.recommend.selection import Selection, select_model
from shoplens.recommend.serving import RECOMMENDATION_COLUMNS, recommend_all
from shoplens.recommend.status import profile_status, recommendation_status

__all__ = [
    "PROFILE_COLUMNS", "RECOMMENDATION_COLUMNS", "Selection", "browsing_events", "build_evaluation", "build_profiles",
    "build_recommendations", "evaluate_recommenders", "profile_fit", "profile_status", "purchase_lines",
    "recommend_all", "recommendation_status", "select_model",
]

LOG = logging.getLogger("shoplens.recommend")

PROFILE_COLUMNS = [
    "customer_id", "profile_id", "profile_name", "profile_traits", "embedding", "n_purchase_lines",
    "revenue", "n_profiles", "n_components", "silhouette", "as_of_date", "model_version",
]



def _empty(columns: list[str], why: str) -> pd.DataFrame:
    LOG.warning("shoplens.recommend: %s", why)
    print(f"shoplens.recommend: {why}")  # dbt shows a Python model's stdout in its log
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})



@returns_freed_memory
def build_recommendations(order_items: pd.DataFrame, customers: pd.DataFrame, as_of: pd.DataFrame,
                          cfg: RecommendConfig, browsing: pd.DataFrame | None = None) -> pd.DataFrame:
    """``ml_product_recommendations``: ``top_k`` rows per customer of ``dim_customers``.

    ``browsing`` (``customer_product_browsing`` as a DataFrame or DuckDB
    relation, summed in DuckDB; None or empty without web events) is used as implicit feedback when the validation rule keeps it.
    ``order_items`` may be a reader (:func:`shoplens.inputs.read_now`): freed once its purchase lines are taken.
    """
    lines = purchase_lines(read_now(order_items))
    if lines.empty:
        return _empty(RECOMMENDATION_COLUMNS, "no purchase order lines up to as_of_date (fct_order_items is empty):"
                      " ml_product_recommendations is empty")
    as_of_date, _, _ = as_of_dates(as_of)
    ids = customers["customer_id"].astype(str).to_numpy() if len(customers) else np.array([], dtype=object)
    browsing = browsing_events(browsing, cutoffs=browsing_cutoffs(as_of_date, cfg.validation_days))
    # handed over with no name left here, so recommend_all frees them before its final fit
    held_lines, held_browsing = handed_over(lines), handed_over(browsing)
    del lines, browsing
    return recommend_all(held_lines, ids, as_of_date, cfg, browsing=held_browsing)


@returns_freed_memory
def build_profiles(order_items: pd.DataFrame, products: pd.DataFrame, as_of: pd.DataFrame,
                   cfg: ProfileConfig) -> pd.DataFrame:
    """``ml_customer_profiles``: one row per customer with a purchase line by ``as_of_date``.
    ``order_items`` may be a reader (:func:`shoplens.inputs.read_now`)."""
    lines = purchase_lines(read_now(order_items))
    if lines.empty:
        return _empty(PROFILE_COLUMNS, "no purchase order lines up to as_of_date (fct_order_items is empty):"
                      " ml_customer_profiles is empty")
    as_of_date, _, _ = as_of_dates(as_of)
    held = handed_over(lines)  # freed once the features are counted, before the fit
    del lines
    fit, feats = profile_fit(held, products, cfg)
    return pd.DataFrame({
        "customer_id": fit.customers,
        "profile_id": fit.labels + 1,
        "profile_name": np.asarray(fit.names, dtype=object)[fit.labels],
        "profile_traits": np.asarray(fit.traits, dtype=object)[fit.labels],
        "embedding": list(np.round(fit.embedding, 6)),
        "n_purchase_lines": feats.counts[:, : feats.counts.shape[1] - 3].sum(axis=1).astype(np.int64),
        "revenue": np.round(feats.revenue, 2),
        "n_profiles": fit.n_profiles,
        "n_components": fit.n_components,
        "silhouette": fit.silhouette,
        "as_of_date": as_of_date,
        "model_version": f"shoplens-{__version__}/svd{fit.n_components}_kmeans{fit.n_profiles}",
    })[PROFILE_COLUMNS]


def profile_fit(lines: pd.DataFrame, products: pd.DataFrame, cfg: ProfileConfig):
    """Fit profiles on purchase lines; returns ``(ProfileFit, Features)``. ``lines`` may be a
    reader (:func:`shoplens.inputs.handed_over`): then it is freed before the fit."""
    lines = read_now(lines)
    feats = feature_matrix(lines, product_bands(products, lines))
    del lines
    trim_heap()  # the lines (and a reader's whole frame) are freed: their pages go back before the fit
    fit = fit_profiles(feats.customers, co_purchase_mix(feats), feats.shares, feats.names, cfg)
    return fit, feats


@returns_freed_memory
def build_evaluation(order_items: pd.DataFrame, holdout_items: pd.DataFrame, affinity: pd.DataFrame | None,
                     profiles: pd.DataFrame | None, as_of: pd.DataFrame, cfg: RecommendConfig,
                     affinity_min_support: int = 3, affinity_top_n: int = 20,
                     browsing: pd.DataFrame | None = None) -> pd.DataFrame:
    """``ml_recommend_evaluation``: holdout rows (or backtest rows at the validation cut-off).
    ``order_items``, ``holdout_items`` and ``profiles`` may be readers (:func:`shoplens.inputs.read_now`)."""
    lines = purchase_lines(read_now(order_items))
    as_of_date, data_end, has_holdout = as_of_dates(as_of)
    if lines.empty:
        _empty(EVALUATION_COLUMNS, "no purchase order lines: ml_recommend_evaluation is empty")
        return evaluation_frame([], as_of_date=as_of_date, holdout_start_date=None, holdout_end_date=None,
                                evaluation_type="holdout")
    browsing = browsing_events(browsing, cutoffs=browsing_cutoffs(as_of_date, cfg.validation_days))
    sel = select_model(lines, as_of_date, cfg, browsing)
    if has_holdout:
        future = purchase_lines(read_now(holdout_items), "holdout_order_items")
        cut, end, kind, aff = as_of_date, data_end, "holdout", affinity
    else:  # the backtest is the validation window itself
        future, cut, end, kind, aff = lines, sel.cutoff, as_of_date, "backtest", None
    # On the validation window the served lists are the pick refitted from random factors: a warm
    # start there would start from factors fitted at that same cut-off (production's come from 60
    # days before its fit), and score more iterations on the same data instead of the served rule.
    eval_cfg = cfg if has_holdout else replace(cfg, warm_start=False)
    rows = evaluate_recommenders(lines, future, aff, cut, end, eval_cfg, sel, affinity_min_support, affinity_top_n,
                                 browsing)
    del browsing  # the profiles below do not need it (13.7M rows at 1M customers)
    trim_heap()
    # Profiles are fitted at as_of_date: only a true holdout can judge what follows.
    rows += profile_rows(read_now(profiles), future if has_holdout else lines.iloc[0:0], cut, cfg.seed)
    frame = evaluation_frame(rows, as_of_date=as_of_date, holdout_start_date=cut + dt.timedelta(days=1),
                             holdout_end_date=end, evaluation_type=kind)
    selection = evaluation_frame(selection_rows(sel, cfg), as_of_date=as_of_date,
                                 holdout_start_date=sel.cutoff + dt.timedelta(days=1), holdout_end_date=as_of_date,
                                 evaluation_type="backtest")
    return pd.concat([frame, selection], ignore_index=True)[EVALUATION_COLUMNS]
