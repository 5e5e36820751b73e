"""Which recommender to serve: ALS candidates against popularity on a validation cut-off before ``as_of_date``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.recommend.config import RecommendConfig
from shoplens.recommend.data import Interactions, bought_in_window, interactions, sample_rows
from shoplens.recommend.evaluation import paired_margin, ranking_metrics
from shoplens.recommend.models import ALS, Popularity


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


def warm_with_purchases(inter: Interactions, truth, min_orders: int) -> np.ndarray:
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
    rows = warm_with_purchases(inter, truth, cfg.min_orders)
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


def model_version(sel: Selection, cfg: RecommendConfig) -> str:
    tag = sel.als(cfg).tag if sel.served == "als" else f"popularity_{cfg.popularity_days}d"
    return f"shoplens-{__version__}/{tag}/validation-{sel.cutoff.isoformat()}"
