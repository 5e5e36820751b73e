"""Which recommender to serve: ALS candidates against popularity on a validation cut-off before ``as_of_date``.

The rule, on the window ``(as_of - validation_days, as_of]`` only (never the
holdout): every ALS candidate (factors x alpha) is fitted on purchases alone
and, when the shop has browsing events before the cut-off, on purchases plus
browsing. Browsing is kept only when its best candidate's validation
recall@k beats the best purchases-only candidate's by more than
``fallback_z`` standard errors of the paired per-customer difference (an
extra input must earn its place by more than noise). ALS is then served only
if the kept candidate beats popularity by the same rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.recommend.config import RecommendConfig
from shoplens.recommend.data import (
    Interactions,
    bought_in_window,
    browsed_by,
    interactions,
    sample_rows,
)
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
    browsing: bool = False  # ALS fitted on purchases + browsing
    browsing_note: str = "purchases only: no browsing events before the validation cut-off"
    best_by_feedback: dict = field(default_factory=dict)  # "purchases" / "browsing" -> (factors, alpha)

    def als(self, cfg: RecommendConfig, feedback: str | None = None) -> ALS:
        """The served ALS, or the best candidate fitted on ``feedback`` ("purchases" or "browsing")."""
        factors, alpha = self.best_by_feedback.get(feedback, (self.factors, self.alpha))
        return ALS(factors, alpha, cfg.regularization, cfg.iterations, cfg.seed, cfg.num_threads)

    def tag(self, cfg: RecommendConfig) -> str:
        """The ALS tag, with the browsing weights when browsing is used."""
        return self.als(cfg).tag + (browsing_tag(cfg) if self.browsing else "")


NO_EVENTS = "purchases only: the shop has no browsing events (customer_product_browsing is empty)"


def browsing_tag(cfg: RecommendConfig) -> str:
    return f"+browsing_v{cfg.view_weight:g}_c{cfg.cart_weight:g}"


def warm_with_purchases(inter: Interactions, truth, min_orders: int) -> np.ndarray:
    has = np.asarray(truth.sum(axis=1)).ravel() > 0
    return np.nonzero(has & (inter.n_orders >= min_orders))[0]


def _grid(inter: Interactions, rows: np.ndarray, truth, cfg: RecommendConfig,
          suffix: str) -> tuple[tuple[int, float], dict, dict]:
    """Best (factors, alpha) on validation recall, its metrics, and every candidate's recall.

    Screening (config): each candidate is fitted for ``screen_iterations``
    and scored; the ``screen_keep`` best (ties: grid order) continue to
    ``iterations`` and the best of them at full length wins (ties: grid
    order). Every score is recorded under its tag, which names its iterations.
    """
    grid = [(f, a) for f in cfg.factors_grid for a in cfg.alpha_grid]
    screen = 0 < cfg.screen_iterations < cfg.iterations and len(grid) > cfg.screen_keep
    first = cfg.screen_iterations if screen else cfg.iterations
    candidates: dict[str, float] = {}

    def score(model: ALS) -> dict:
        m = ranking_metrics(model.recommend_from(inter.matrix, rows, cfg.top_k)[0], truth[rows], inter.shape[1])
        candidates[model.tag + suffix] = m["recall"]
        return m

    def best_first(entry: tuple) -> tuple[float, int]:
        return -entry[0], entry[1]

    kept: list[tuple] = []  # (recall, grid position, model, metrics), best first; only the survivors' models
    for pos, (factors, alpha) in enumerate(grid):
        model = ALS(factors, alpha, cfg.regularization, first, cfg.seed, cfg.num_threads).fit(inter.matrix)
        m = score(model)
        kept = sorted([*kept, (m["recall"], pos, model, m)], key=best_first)[: cfg.screen_keep if screen else 1]
    if screen:
        finals = []
        for _, pos, model, _ in sorted(kept, key=lambda entry: entry[1]):
            m = score(model.resume(inter.matrix, cfg.iterations - first))
            finals.append((m["recall"], pos, model, m))
        kept = sorted(finals, key=best_first)
    _, pos, _, best_m = kept[0]
    return grid[pos], best_m, candidates


def _validation_data(lines: pd.DataFrame, as_of: dt.date, cfg: RecommendConfig, browsing: pd.DataFrame | None):
    """Purchases-only and (when browsing exists before the cut) with-browsing matrices, truth and rows."""
    cut = as_of - dt.timedelta(days=cfg.validation_days)
    train = lines.loc[lines["order_date"] <= cut]
    products = np.sort(train["product_id"].unique())
    everyone = np.sort(train["customer_id"].unique())
    everyone = everyone[sample_rows(len(everyone), cfg.validation_max_customers, cfg.seed)]
    inter = interactions(lines, products, cut, customers=everyone)
    with_browsing = None
    if browsing is not None and browsed_by(browsing, cut).any():
        with_browsing = interactions(lines, products, cut, everyone, browsing, (cfg.view_weight, cfg.cart_weight))
    truth = bought_in_window(lines, products, everyone, cut + dt.timedelta(days=1), as_of)
    return inter, with_browsing, truth, warm_with_purchases(inter, truth, cfg.min_orders)


_SELECTIONS: dict[tuple, Selection] = {}  # the last verdict, by its inputs' content (see select_model)


def _fingerprint(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> tuple[int, int] | None:
    """Row count and order-free sum of row hashes of ``columns``: equal for the same rows in any order."""
    if frame is None:
        return None
    hashes = pd.util.hash_pandas_object(frame[list(columns)], index=False, categorize=True)
    return len(frame), int(hashes.to_numpy().sum(dtype=np.uint64))


def select_model(lines: pd.DataFrame, as_of: dt.date, cfg: RecommendConfig,
                 browsing: pd.DataFrame | None = None) -> Selection:
    """Choose ALS's factors, alpha and feedback (browsing or not), and ALS vs popularity (module rule).

    The ALS candidates and popularity are fitted on the lines (and browsing)
    up to the cut-off, on a seeded sample of at most
    ``validation_max_customers`` customers, and scored on the warm customers
    of that sample who bought in the window. Never looks past ``as_of``.
    The verdict is deterministic, so the last one is kept in memory by the
    content of its inputs: dbt-duckdb runs ``ml_product_recommendations``
    and then ``ml_recommend_evaluation`` in one process, and the second
    reuses the first's grid of ALS fits instead of repeating it.
    """
    # evaluation_max_customers only reaches ml_recommend_evaluation's config and the verdict never reads it
    verdict_cfg = replace(cfg, evaluation_max_customers=RecommendConfig.evaluation_max_customers)
    key = (verdict_cfg, as_of, _fingerprint(lines, ("customer_id", "order_id", "product_id", "order_date")),
           _fingerprint(browsing, ("customer_id", "product_id", "event_date", "n_product_views", "n_add_to_carts")))
    if key not in _SELECTIONS:
        _SELECTIONS.clear()
        _SELECTIONS[key] = _select_model(lines, as_of, cfg, browsing)
    return _SELECTIONS[key]


def _select_model(lines: pd.DataFrame, as_of: dt.date, cfg: RecommendConfig,
                  browsing: pd.DataFrame | None) -> Selection:
    """:func:`select_model` without the memory."""
    cut = as_of - dt.timedelta(days=cfg.validation_days)
    first = (cfg.factors_grid[0], cfg.alpha_grid[0])
    if not (lines["order_date"] <= cut).any() or not (lines["order_date"] > cut).any():
        return Selection("popularity", "no_validation_window: no purchases before or after the validation cut-off "
                         f"{cut} (lower recommend_validation_days)", *first, cut, as_of)
    inter, with_browsing, truth, rows = _validation_data(lines, as_of, cfg, browsing)
    if len(rows) < 20:
        return Selection("popularity", f"too_few_validation_customers: {len(rows)} warm customers bought in the "
                         "validation window (need 20)", *first, cut, as_of, n_customers=len(rows))
    pop = Popularity(cfg.popularity_days).fit(lines, inter.products, cut, cfg.top_k)
    pop_m = ranking_metrics(pop.recommend(rows, cfg.top_k)[0], truth[rows], inter.shape[1])
    best, best_m, candidates = _grid(inter, rows, truth, cfg, "")
    best_by = {"purchases": best}
    uses_browsing = False
    note = NO_EVENTS if browsing is None else "purchases only: no browsing events before the validation cut-off"
    if with_browsing is not None:
        b_best, b_m, b_candidates = _grid(with_browsing, rows, truth, cfg, browsing_tag(cfg))
        candidates.update(b_candidates)
        best_by["browsing"] = b_best
        gain, gain_se = paired_margin(b_m["recall_per_customer"], best_m["recall_per_customer"])
        uses_browsing = gain > cfg.fallback_z * gain_se
        note = (f"{'with browsing' if uses_browsing else 'purchases only'}: best validation recall@{cfg.top_k}"
                f" with browsing {b_m['recall']:.4f} vs purchases only {best_m['recall']:.4f} (margin"
                f" {gain:+.4f}, needs > {cfg.fallback_z:g} x se {gain_se:.4f})")
        if uses_browsing:
            best, best_m = b_best, b_m
    margin, se = paired_margin(best_m["recall_per_customer"], pop_m["recall_per_customer"])
    beats = margin > cfg.fallback_z * se
    reason = "" if beats else (
        f"als_not_better_than_popularity: validation recall@{cfg.top_k} {best_m['recall']:.4f} vs popularity "
        f"{pop_m['recall']:.4f} (margin {margin:+.4f}, needs > {cfg.fallback_z:g} x se {se:.4f})")
    return Selection("als" if beats else "popularity", reason, best[0], best[1], cut, as_of, candidates,
                     pop_m["recall"], margin, se, len(rows), uses_browsing, note, best_by)


def model_version(sel: Selection, cfg: RecommendConfig) -> str:
    tag = sel.tag(cfg) if sel.served == "als" else f"popularity_{cfg.popularity_days}d"
    return f"shoplens-{__version__}/{tag}/validation-{sel.cutoff.isoformat()}"
