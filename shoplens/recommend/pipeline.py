"""The recommendation and profile steps as dbt calls them (DataFrames in and out).

``python_models/recommend/*.py`` only read their refs and call these:

* :func:`build_recommendations` -> ``ml_product_recommendations``
* :func:`build_profiles` -> ``ml_customer_profiles``
* :func:`build_evaluation` -> ``ml_recommend_evaluation``

Bad input never fails the build: without purchase lines each step returns
an empty table and logs why (:data:`LOG`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.evaluation import EVALUATION_COLUMNS, evaluation_frame
from shoplens.recommend.config import ProfileConfig, RecommendConfig
from shoplens.recommend.data import (
    Interactions,
    bought_in_window,
    interactions,
    purchase_lines,
    sample_rows,
)
from shoplens.recommend.evaluation import paired_margin, ranking_metrics
from shoplens.recommend.models import ALS, ItemToItem, Popularity, affinity_from_lines
from shoplens.recommend.profiles import co_purchase_mix, feature_matrix, fit_profiles, product_bands

LOG = logging.getLogger("shoplens.recommend")

RECOMMENDATION_COLUMNS = [
    "customer_id", "recommendation_rank", "product_id", "score", "served_model", "is_fallback",
    "fallback_reason", "is_previously_bought", "n_purchase_orders", "as_of_date", "model_version",
    "selection_note",
]
PROFILE_COLUMNS = [
    "customer_id", "profile_id", "profile_name", "profile_traits", "embedding", "n_purchase_lines",
    "revenue", "n_profiles", "n_components", "silhouette", "as_of_date", "model_version",
]


def _as_of(as_of: pd.DataFrame) -> tuple[dt.date, dt.date, bool]:
    row = as_of.iloc[0]
    return (pd.Timestamp(row["as_of_date"]).date(), pd.Timestamp(row["data_end_date"]).date(),
            bool(row["has_holdout"]))


@dataclass
class Selection:
    """The validation cut-off's verdict: which model to serve, and why."""

    served: str  # "als" or "popularity"
    reason: str  # "" when ALS is served
    factors: int
    alpha: float
    cutoff: dt.date
    window_end: dt.date
    candidates: dict = field(default_factory=dict)  # tag -> validation recall
    popularity_recall: float = float("nan")
    margin: float = float("nan")
    margin_se: float = float("nan")
    n_customers: int = 0

    def als(self, cfg: RecommendConfig) -> ALS:
        return ALS(self.factors, self.alpha, cfg.regularization, cfg.iterations, cfg.seed, cfg.num_threads)


def _warm_with_purchases(inter: Interactions, truth, min_orders: int) -> np.ndarray:
    has = np.asarray(truth.sum(axis=1)).ravel() > 0
    return np.nonzero(has & (inter.n_orders >= min_orders))[0]


def select_model(lines: pd.DataFrame, as_of: dt.date, cfg: RecommendConfig) -> Selection:
    """Choose ALS's factors and alpha, and ALS vs popularity, on ``(as_of - validation_days, as_of]``.

    The ALS candidates and popularity are fitted on the lines up to the
    cut-off (on a seeded sample of at most ``validation_max_customers``
    customers) and scored on the warm customers of that sample who bought in
    the window. Never looks past ``as_of``.
    """
    cut = as_of - dt.timedelta(days=cfg.validation_days)
    first = (cfg.factors_grid[0], cfg.alpha_grid[0])
    train = lines.loc[lines["order_date"] <= cut]
    if train.empty or not (lines["order_date"] > cut).any():
        return Selection("popularity", "no_validation_window: no purchases before or after the validation cut-off "
                         f"{cut} (lower recommend_validation_days)", *first, cut, as_of)
    products = np.sort(train["product_id"].unique())
    everyone = np.sort(train["customer_id"].unique())
    everyone = everyone[sample_rows(len(everyone), cfg.validation_max_customers, cfg.seed)]
    inter = interactions(lines, products, cut, customers=everyone)
    truth = bought_in_window(lines, products, everyone, cut + dt.timedelta(days=1), as_of)
    rows = _warm_with_purchases(inter, truth, cfg.min_orders)
    if len(rows) < 20:
        return Selection("popularity", f"too_few_validation_customers: {len(rows)} warm customers bought in the "
                         "validation window (need 20)", *first, cut, as_of, n_customers=len(rows))
    pop = Popularity(cfg.popularity_days).fit(lines, products, cut, cfg.top_k)
    pop_m = ranking_metrics(pop.recommend(rows, cfg.top_k)[0], truth[rows], len(products))
    best, best_m, candidates = first, None, {}
    for factors in cfg.factors_grid:
        for alpha in cfg.alpha_grid:
            model = ALS(factors, alpha, cfg.regularization, cfg.iterations, cfg.seed, cfg.num_threads).fit(inter.matrix)
            m = ranking_metrics(model.recommend_from(inter.matrix, rows, cfg.top_k)[0], truth[rows], len(products))
            candidates[model.tag] = m["recall"]
            if best_m is None or m["recall"] > best_m["recall"]:
                best, best_m = (factors, alpha), m
    margin, se = paired_margin(best_m["recall_per_customer"], pop_m["recall_per_customer"])
    beats = margin > cfg.fallback_z * se
    reason = "" if beats else (
        f"als_not_better_than_popularity: validation recall@{cfg.top_k} {best_m['recall']:.4f} vs popularity "
        f"{pop_m['recall']:.4f} (margin {margin:+.4f}, needs > {cfg.fallback_z:g} x se {se:.4f})")
    return Selection("als" if beats else "popularity", reason, best[0], best[1], cut, as_of, candidates,
                     pop_m["recall"], margin, se, len(rows))


def _model_version(sel: Selection, cfg: RecommendConfig) -> str:
    tag = sel.als(cfg).tag if sel.served == "als" else f"popularity_{cfg.popularity_days}d"
    return f"shoplens-{__version__}/{tag}/validation-{sel.cutoff.isoformat()}"


def _empty(columns: list[str], why: str) -> pd.DataFrame:
    LOG.warning("shoplens.recommend: %s", why)
    print(f"shoplens.recommend: {why}")  # dbt shows a Python model's stdout in its log
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def recommend_all(lines: pd.DataFrame, customer_ids: np.ndarray, as_of: dt.date, cfg: RecommendConfig,
                  sel: Selection | None = None) -> pd.DataFrame:
    """Top ``k`` per customer at ``as_of`` from the selected model (popularity for the rest)."""
    lines = lines.loc[lines["order_date"] <= as_of]
    sel = sel or select_model(lines, as_of, cfg)
    products = np.sort(lines["product_id"].unique())
    customers = np.union1d(np.asarray(customer_ids, dtype=object).astype(str), lines["customer_id"].unique())
    inter = interactions(lines, products, as_of, customers=customers)
    k = cfg.top_k
    pop = Popularity(cfg.popularity_days).fit(lines, products, as_of, k)
    items, scores = pop.recommend(np.arange(len(customers)), k)
    warm = inter.n_orders >= cfg.min_orders
    # Fallback reasons as codes into REASONS (-1: ALS served); columns as
    # categoricals, so a million customers' lists stay small in memory.
    reasons = ["no_purchase", f"fewer_than_{cfg.min_orders}_purchase_orders",
               sel.reason.split(":")[0] if sel.reason else "als_not_better_than_popularity"]
    code = np.where(inter.n_orders == 0, 0, 1).astype(np.int8)
    code[warm] = -1 if sel.served == "als" else 2
    if sel.served == "als" and warm.any():
        rows = np.nonzero(warm)[0]
        model = sel.als(cfg).fit(inter.matrix)
        items[rows], scores[rows] = model.recommend_from(inter.matrix, rows, k)
    r, c = np.nonzero(items >= 0)
    chosen = items[r, c]
    n = len(r)

    def constant(value: str) -> pd.Categorical:
        return pd.Categorical.from_codes(np.zeros(n, np.int8), [value])

    note = sel.reason or (f"als ({sel.als(cfg).tag}) beat popularity on validation recall@{cfg.top_k} by"
                          f" {sel.margin:+.4f} (se {sel.margin_se:.4f}, {sel.n_customers} customers)")
    is_fallback = code[r] >= 0
    return pd.DataFrame({
        "customer_id": pd.Categorical.from_codes(r.astype(np.int32), customers),
        "recommendation_rank": (c + 1).astype(np.int32),
        "product_id": pd.Categorical.from_codes(chosen.astype(np.int32), products),
        "score": scores[r, c].astype(np.float64),
        "served_model": pd.Categorical.from_codes(is_fallback.astype(np.int8), ["als", "popularity"]),
        "is_fallback": is_fallback,
        "fallback_reason": pd.Categorical.from_codes(code[r], reasons),
        "is_previously_bought": _bought(inter, r, chosen),
        "n_purchase_orders": inter.n_orders[r].astype(np.int32),
        "as_of_date": np.full(n, np.datetime64(as_of, "D")),
        "model_version": constant(_model_version(sel, cfg)),
        "selection_note": constant(note),
    })[RECOMMENDATION_COLUMNS]


def _bought(inter: Interactions, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether each (row, column) pair is a purchase in the matrix (sorted-key search, little memory)."""
    m = inter.matrix.tocsr()
    n_items = np.int64(m.shape[1])
    keys = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) * n_items + m.indices
    keys.sort()
    wanted = rows.astype(np.int64) * n_items + cols
    pos = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    return keys[pos] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)


def build_recommendations(order_items: pd.DataFrame, customers: pd.DataFrame, as_of: pd.DataFrame,
                          cfg: RecommendConfig) -> pd.DataFrame:
    """``ml_product_recommendations``: ``top_k`` rows per customer of ``dim_customers``."""
    lines = purchase_lines(order_items)
    if lines.empty:
        return _empty(RECOMMENDATION_COLUMNS, "no purchase order lines up to as_of_date (fct_order_items is empty):"
                      " ml_product_recommendations is empty")
    as_of_date, _, _ = _as_of(as_of)
    ids = customers["customer_id"].astype(str).to_numpy() if len(customers) else np.array([], dtype=object)
    return recommend_all(lines, ids, as_of_date, cfg)


def build_profiles(order_items: pd.DataFrame, products: pd.DataFrame, as_of: pd.DataFrame,
                   cfg: ProfileConfig) -> pd.DataFrame:
    """``ml_customer_profiles``: one row per customer with a purchase line by ``as_of_date``."""
    lines = purchase_lines(order_items)
    if lines.empty:
        return _empty(PROFILE_COLUMNS, "no purchase order lines up to as_of_date (fct_order_items is empty):"
                      " ml_customer_profiles is empty")
    as_of_date, _, _ = _as_of(as_of)
    fit, feats = profile_fit(lines, products, cfg)
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
    """Fit profiles on purchase lines; returns ``(ProfileFit, Features)``."""
    feats = feature_matrix(lines, product_bands(products, lines))
    fit = fit_profiles(feats.customers, co_purchase_mix(feats), feats.shares, feats.names, cfg)
    return fit, feats


def evaluate_recommenders(lines: pd.DataFrame, future: pd.DataFrame, affinity: pd.DataFrame | None,
                          cut: dt.date, window_end: dt.date, cfg: RecommendConfig, sel: Selection,
                          affinity_min_support: int = 3, affinity_top_n: int = 20) -> list[dict]:
    """Metric rows for ALS, item-to-item, popularity and the served lists on one window.

    Models are fitted on the lines up to ``cut`` and judged on ``future``
    (purchases in ``(cut, window_end]``): ALS, item-to-item and popularity on
    the same warm customers (>= ``min_orders`` purchase orders by ``cut``);
    the served lists on every customer known at ``cut`` who bought.
    """
    past = lines.loc[lines["order_date"] <= cut]
    products = np.sort(past["product_id"].unique())
    customers = np.sort(past["customer_id"].unique())
    inter = interactions(past, products, cut, customers=customers)
    truth = bought_in_window(future, products, customers, cut + dt.timedelta(days=1), window_end)
    k = cfg.top_k
    rows = _warm_with_purchases(inter, truth, cfg.min_orders)
    everyone = np.nonzero(np.asarray(truth.sum(axis=1)).ravel() > 0)[0]
    out: list[dict] = []
    if len(everyone) == 0:
        return out
    pop = Popularity(cfg.popularity_days).fit(past, products, cut, k)
    if affinity is None:
        affinity = affinity_from_lines(past, cut, affinity_min_support, affinity_top_n)
    lists: dict[str, np.ndarray] = {}
    if len(rows):
        als = sel.als(cfg).fit(inter.matrix)
        lists["als"] = als.recommend_from(inter.matrix, rows, k)[0]
        lists["item_to_item"] = ItemToItem.from_affinity(affinity, products, pop).recommend_from(inter.matrix[rows], k)[0]
        lists["popularity"] = pop.recommend(rows, k)[0]
    served = recommend_all(past, customers, cut, cfg, sel)
    pos = pd.Index(products).get_indexer(served["product_id"])
    grid = np.full((len(customers), k), -1)
    grid[pd.Index(customers).get_indexer(served["customer_id"]), served["recommendation_rank"].to_numpy() - 1] = pos
    tag = {"als": sel.als(cfg).tag, "item_to_item": f"cosine_min{affinity_min_support}_top{affinity_top_n}",
           "popularity": f"popularity_{cfg.popularity_days}d", "served": _model_version(sel, cfg)}
    jobs = [(name, items, rows, f"customers=min_{cfg.min_orders}_orders") for name, items in lists.items()]
    jobs.append(("served", grid[everyone], everyone, "customers=all"))
    for name, items, sel_rows, slice_name in jobs:
        m = ranking_metrics(items, truth[sel_rows], len(products))
        model_name = "recommendations_served" if name == "served" else name
        for metric, key in ((f"hit_rate_at_{k}", "hit_rate"), (f"recall_at_{k}", "recall"),
                            (f"ndcg_at_{k}", "ndcg"), ("catalogue_coverage", "coverage")):
            out.append({"model_name": model_name, "model_version": tag[name], "task": "next_products",
                        "metric": metric, "slice": slice_name, "value": m[key], "n_obs": m["n"]})
    return out


def _selection_rows(sel: Selection, cfg: RecommendConfig) -> list[dict]:
    rows = [{"model_name": "als", "model_version": tag, "task": "model_selection",
             "metric": f"validation_recall_at_{cfg.top_k}", "slice": f"candidate={tag}", "value": recall,
             "n_obs": sel.n_customers} for tag, recall in sel.candidates.items()]
    if np.isfinite(sel.popularity_recall):
        rows.append({"model_name": "popularity", "model_version": f"popularity_{cfg.popularity_days}d",
                     "task": "model_selection", "metric": f"validation_recall_at_{cfg.top_k}", "slice": "all",
                     "value": sel.popularity_recall, "n_obs": sel.n_customers})
    rows.append({"model_name": "recommendations_served", "model_version": sel.served, "task": "model_selection",
                 "metric": "serves_als", "slice": "all", "value": float(sel.served == "als"), "n_obs": sel.n_customers})
    return rows


def _profile_rows(profiles: pd.DataFrame, future: pd.DataFrame, cut: dt.date, seed: int) -> list[dict]:
    """Silhouette of the served profiles, and how well a profile's top categories foretell later spend."""
    from sklearn.metrics import silhouette_score

    if profiles is None or len(profiles) == 0 or profiles["n_profiles"].iloc[0] < 2:
        return []
    version = str(profiles["model_version"].iloc[0])
    emb = np.vstack(profiles["embedding"].to_numpy()).astype(float)
    labels = profiles["profile_id"].to_numpy()
    sample = sample_rows(len(labels), 5000, seed)
    rows = [{"model_name": "customer_profiles", "model_version": version, "task": "customer_profiles",
             "metric": "silhouette", "slice": "all",
             "value": float(silhouette_score(emb[sample], labels[sample])), "n_obs": len(sample)}]
    fut = future.loc[future["order_date"] > cut]
    if "category" not in fut or fut.empty:
        return rows
    prof = profiles[["customer_id", "profile_id"]].assign(customer_id=lambda d: d["customer_id"].astype(str))
    fut = fut.merge(prof, on="customer_id")
    if fut.empty:
        return rows
    amount = fut["line_amount"].clip(lower=0) if "line_amount" in fut else pd.Series(1.0, index=fut.index)
    fut = fut.assign(amount=amount)
    # A profile's top-2 categories by its members' spend up to the cut.
    top = profiles[["profile_traits", "profile_id"]].drop_duplicates("profile_id")
    top_cats = {
        pid: [t.split(" ")[0].split("=")[1] for t in str(tr).split("; ") if t.startswith("category=")][:2]
        for pid, tr in zip(top["profile_id"], top["profile_traits"], strict=True)
    }
    inside = np.array([c in top_cats.get(p, []) for c, p in zip(fut["category"], fut["profile_id"], strict=True)])
    share = float(fut.loc[inside, "amount"].sum() / max(fut["amount"].sum(), 1e-12))
    base = 0.0
    for pid, cats in top_cats.items():
        base += float(fut["category"].isin(cats).mean()) * float((fut["profile_id"] == pid).mean())
    rows.append({"model_name": "customer_profiles", "model_version": version, "task": "customer_profiles",
                 "metric": "later_spend_share_in_profile_top_categories", "slice": "all", "value": share,
                 "n_obs": int(fut["customer_id"].nunique())})
    rows.append({"model_name": "customer_profiles", "model_version": version, "task": "customer_profiles",
                 "metric": "later_lines_share_in_profile_top_categories_if_random", "slice": "all", "value": base,
                 "n_obs": int(fut["customer_id"].nunique())})
    return rows


def build_evaluation(order_items: pd.DataFrame, holdout_items: pd.DataFrame, affinity: pd.DataFrame | None,
                     profiles: pd.DataFrame | None, as_of: pd.DataFrame, cfg: RecommendConfig,
                     affinity_min_support: int = 3, affinity_top_n: int = 20) -> pd.DataFrame:
    """``ml_recommend_evaluation``: holdout rows (or backtest rows at the validation cut-off)."""
    lines = purchase_lines(order_items)
    as_of_date, data_end, has_holdout = _as_of(as_of)
    if lines.empty:
        _empty(EVALUATION_COLUMNS, "no purchase order lines: ml_recommend_evaluation is empty")
        return evaluation_frame([], as_of_date=as_of_date, holdout_start_date=None, holdout_end_date=None,
                                evaluation_type="holdout")
    sel = select_model(lines, as_of_date, cfg)
    if has_holdout:
        future = purchase_lines(holdout_items, "holdout_order_items")
        cut, end, kind, aff = as_of_date, data_end, "holdout", affinity
    else:  # the backtest is the validation window itself
        future, cut, end, kind, aff = lines, sel.cutoff, as_of_date, "backtest", None
    rows = evaluate_recommenders(lines, future, aff, cut, end, cfg, sel, affinity_min_support, affinity_top_n)
    # Profiles are fitted at as_of_date: only a true holdout can judge what follows.
    rows += _profile_rows(profiles, future if has_holdout else lines.iloc[0:0], cut, cfg.seed)
    frame = evaluation_frame(rows, as_of_date=as_of_date, holdout_start_date=cut + dt.timedelta(days=1),
                             holdout_end_date=end, evaluation_type=kind)
    selection = evaluation_frame(_selection_rows(sel, cfg), as_of_date=as_of_date,
                                 holdout_start_date=sel.cutoff + dt.timedelta(days=1), holdout_end_date=as_of_date,
                                 evaluation_type="backtest")
    return pd.concat([frame, selection], ignore_index=True)[EVALUATION_COLUMNS]


# ---------------------------------------------------------------- run status

NO_LINES = ("no purchase order lines up to as_of_date (fct_order_items is empty): export order_items"
            " (order_id, product_id, quantity, unit_price) to get {what}")


def recommendation_status(recs: pd.DataFrame, as_of: pd.DataFrame) -> pd.DataFrame:
    """One ``ml_model_status`` row: ok (ALS served), degraded (popularity for everyone, and why) or declined."""
    from shoplens.status import step_status

    as_of_date, _, _ = _as_of(as_of)
    if len(recs) == 0:
        return step_status("recommend", as_of_date, served_model="none", rows_written=0,
                           decline_reason=NO_LINES.format(what="recommendations")).frame()
    served = recs["served_model"].astype(str)
    note = str(recs["selection_note"].iloc[0]) if "selection_note" in recs else ""
    if (served == "als").any():
        cold = recs.loc[served == "popularity", "customer_id"].nunique()
        return step_status("recommend", as_of_date, served_model="als", rows_written=len(recs),
                           notes=[note, f"{cold} customers with fewer purchase orders get the popularity list,"
                                  " flagged"]).frame()
    return step_status("recommend", as_of_date, served_model="popularity", rows_written=len(recs),
                       problems=[note]).frame()


def profile_status(profiles: pd.DataFrame, as_of: pd.DataFrame) -> pd.DataFrame:
    """One ``ml_model_status`` row: ok (k >= 2 profiles), degraded (one profile) or declined (no lines)."""
    from shoplens.status import step_status

    as_of_date, _, _ = _as_of(as_of)
    if len(profiles) == 0:
        return step_status("profiles", as_of_date, served_model="none", rows_written=0,
                           decline_reason=NO_LINES.format(what="profiles")).frame()
    k = int(profiles["n_profiles"].iloc[0])
    version = str(profiles["model_version"].iloc[0]).split("/")[-1]
    problems = ["fewer than two distinct customer mixes: one profile"] if k < 2 else []
    notes = [f"{k} profiles, silhouette {float(profiles['silhouette'].iloc[0]):.3f}"]
    return step_status("profiles", as_of_date, served_model=version, rows_written=len(profiles),
                       problems=problems, notes=notes).frame()
