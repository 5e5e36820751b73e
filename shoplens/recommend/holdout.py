"""Evaluation rows of the recommenders and profiles on a time-based holdout (or the validation window)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens.recommend.config import RecommendConfig
from shoplens.recommend.data import (
    Interactions,
    bought_in_window,
    browsed_by,
    interactions,
    on_or_before,
    sample_rows,
)
from shoplens.recommend.evaluation import ranking_metrics
from shoplens.recommend.models import ItemToItem, Popularity, affinity_from_lines
from shoplens.recommend.selection import Selection, browsing_tag, model_version, warm_with_purchases
from shoplens.recommend.serving import recommend_all


def evaluate_recommenders(lines: pd.DataFrame, future: pd.DataFrame, affinity: pd.DataFrame | None,
                          cut: dt.date, window_end: dt.date, cfg: RecommendConfig, sel: Selection,
                          affinity_min_support: int = 3, affinity_top_n: int = 20,
                          browsing: pd.DataFrame | None = None) -> list[dict]:
    """Metric rows for ALS, item-to-item, popularity and the served lists on one window.

    Models are fitted on the lines (and browsing) up to ``cut`` and judged on
    ``future`` (purchases in ``(cut, window_end]``): ALS on purchases alone
    (``als``), ALS on purchases plus browsing (``als_with_browsing``, when
    there are events by ``cut``; each with its best factors and alpha on the
    validation cut-off),
    item-to-item and popularity on the same warm customers (>=
    ``min_orders`` purchase orders by ``cut``); the served lists on every
    customer known at ``cut`` who bought. Above ``evaluation_max_customers``
    customers known at ``cut``, everything is fitted and judged on a seeded
    sample of them (see :func:`evaluation_sample`; the slices name it).
    """
    past, future, sampled = evaluation_sample(lines.loc[on_or_before(lines["order_date"], cut)], future, cfg)
    products = np.sort(past["product_id"].unique())
    customers = np.sort(past["customer_id"].unique())
    inter = interactions(past, products, cut, customers=customers)
    truth = bought_in_window(future, products, customers, cut + dt.timedelta(days=1), window_end)
    rows = warm_with_purchases(inter, truth, cfg.min_orders)
    everyone = np.nonzero(np.asarray(truth.sum(axis=1)).ravel() > 0)[0]
    if len(everyone) == 0:
        return []
    if affinity is None:
        affinity = affinity_from_lines(past, cut, affinity_min_support, affinity_top_n)
    if browsing is not None and not browsed_by(browsing, cut).any():
        browsing = None
    tag = {"als": sel.als(cfg, "purchases").tag, "als_with_browsing": sel.als(cfg, "browsing").tag + browsing_tag(cfg),
           "item_to_item": f"cosine_min{affinity_min_support}_top{affinity_top_n}",
           "popularity": f"popularity_{cfg.popularity_days}d"}
    lists = _model_lists(past, inter, rows, affinity, cut, cfg, sel, browsing)
    jobs = [(name, items, rows, f"customers=min_{cfg.min_orders}_orders{sampled}") for name, items in lists.items()]
    served = recommend_all(past, customers, cut, cfg, sel, browsing)
    # the served lists' own version (it names a fold-in when the fit had one)
    tag["served"] = str(served["model_version"].iloc[0]) if len(served) else model_version(sel, cfg)
    pos = pd.Index(products).get_indexer(served["product_id"])
    grid = np.full((len(customers), cfg.top_k), -1)
    grid[pd.Index(customers).get_indexer(served["customer_id"]), served["recommendation_rank"].to_numpy() - 1] = pos
    jobs.append(("served", grid[everyone], everyone, f"customers=all{sampled}"))
    out: list[dict] = []
    for name, items, sel_rows, slice_name in jobs:
        m = ranking_metrics(items, truth[sel_rows], len(products))
        model_name = "recommendations_served" if name == "served" else name
        k = cfg.top_k
        for metric, key in ((f"hit_rate_at_{k}", "hit_rate"), (f"recall_at_{k}", "recall"),
                            (f"ndcg_at_{k}", "ndcg"), ("catalogue_coverage", "coverage")):
            out.append({"model_name": model_name, "model_version": tag[name], "task": "next_products",
                        "metric": metric, "slice": slice_name, "value": m[key], "n_obs": m["n"]})
    return out


def evaluation_sample(past: pd.DataFrame, future: pd.DataFrame,
                      cfg: RecommendConfig) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The lines of a seeded sample of at most ``evaluation_max_customers`` customers known in ``past``.

    Returns ``(past, future, suffix)``: the inputs unchanged and ``""`` when
    there are no more customers than that, else their sampled customers'
    lines and the slice suffix ``",sample=<n>_of_<N>"``.
    """
    customers = np.sort(past["customer_id"].unique())
    if len(customers) <= cfg.evaluation_max_customers:
        return past, future, ""
    keep = customers[sample_rows(len(customers), cfg.evaluation_max_customers, cfg.seed)]
    return (past.loc[past["customer_id"].isin(keep)], future.loc[future["customer_id"].isin(keep)],
            f",sample={len(keep)}_of_{len(customers)}")


def _model_lists(past: pd.DataFrame, inter: Interactions, rows: np.ndarray, affinity: pd.DataFrame,
                 cut: dt.date, cfg: RecommendConfig, sel: Selection,
                 browsing: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Top-k column indexes of each model for the warm customers ``rows``."""
    if len(rows) == 0:
        return {}
    k = cfg.top_k
    pop = Popularity(cfg.popularity_days).fit(past, inter.products, cut, k)
    # a backtest on the validation window reuses the validation's lists (the same fit: tested)
    lists = {"als": sel.top_k(cfg, "purchases", inter.matrix, rows)}
    if browsing is not None:
        both = interactions(past, inter.products, cut, inter.customers, browsing,
                            (cfg.view_weight, cfg.cart_weight))
        lists["als_with_browsing"] = sel.top_k(cfg, "browsing", both.matrix, rows)
    similar = ItemToItem.from_affinity(affinity, inter.products, pop)
    lists["item_to_item"] = similar.recommend_from(inter.bought[rows], k)[0]
    lists["popularity"] = pop.recommend(rows, k)[0]
    return lists


def selection_rows(sel: Selection, cfg: RecommendConfig) -> list[dict]:
    rows = [{"model_name": "als", "model_version": tag, "task": "model_selection",
             "metric": f"validation_recall_at_{cfg.top_k}", "slice": f"candidate={tag}", "value": recall,
             "n_obs": sel.n_customers} for tag, recall in sel.candidates.items()]
    if np.isfinite(sel.popularity_recall):
        rows.append({"model_name": "popularity", "model_version": f"popularity_{cfg.popularity_days}d",
                     "task": "model_selection", "metric": f"validation_recall_at_{cfg.top_k}", "slice": "all",
                     "value": sel.popularity_recall, "n_obs": sel.n_customers})
    rows.append({"model_name": "recommendations_served", "model_version": sel.served, "task": "model_selection",
                 "metric": "serves_als", "slice": "all", "value": float(sel.served == "als"), "n_obs": sel.n_customers})
    rows.append({"model_name": "als", "model_version": sel.tag(cfg), "task": "model_selection",
                 "metric": "uses_browsing", "slice": "all", "value": float(sel.browsing), "n_obs": sel.n_customers})
    return rows


def profile_rows(profiles: pd.DataFrame, future: pd.DataFrame, cut: dt.date, seed: int) -> list[dict]:
    """Silhouette of the served profiles, and how well a profile's top categories foretell later spend."""
    from sklearn.metrics import silhouette_score

    if profiles is None or len(profiles) == 0 or profiles["n_profiles"].iloc[0] < 2:
        return []
    version = str(profiles["model_version"].iloc[0])
    # rows come from DuckDB in any order: sample in customer order, so two builds score the same rows
    order = np.argsort(profiles["customer_id"].to_numpy().astype(str), kind="stable")
    sample = sample_rows(len(order), 5000, seed)
    picked = order[sample]  # only the sampled embeddings are stacked (1M customers: not a 1M x d matrix)
    emb = np.vstack(profiles["embedding"].to_numpy()[picked]).astype(float)
    labels = profiles["profile_id"].to_numpy()[picked]
    if not 2 <= len(np.unique(labels)) <= len(labels) - 1:  # no silhouette to compute
        return []
    rows = [{"model_name": "customer_profiles", "model_version": version, "task": "customer_profiles",
             "metric": "silhouette", "slice": "all",
             "value": float(silhouette_score(emb, labels)), "n_obs": len(sample)}]
    fut = future.loc[~on_or_before(future["order_date"], cut)]
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
