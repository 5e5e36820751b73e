"""The served lists: the selected model's top ``k`` for warm customers, popularity (flagged) for the rest."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens.inputs import read_now, rows_where
from shoplens.outputs import repeated
from shoplens.recommend.config import RecommendConfig
from shoplens.recommend.data import Interactions, interactions, on_or_before
from shoplens.recommend.models import Popularity
from shoplens.recommend.selection import Selection, model_version, select_model

RECOMMENDATION_COLUMNS = [
    "customer_id", "recommendation_rank", "product_id", "score", "served_model", "is_fallback",
    "fallback_reason", "is_previously_bought", "n_purchase_orders", "as_of_date", "model_version",
    "selection_note",
]


def recommend_all(lines: pd.DataFrame, customer_ids: np.ndarray, as_of: dt.date, cfg: RecommendConfig,
                  sel: Selection | None = None, browsing: pd.DataFrame | None = None) -> pd.DataFrame:
    """Top ``k`` per customer at ``as_of`` from the selected model (popularity for the rest).

    ALS is fitted on purchases plus ``browsing`` (events on or before
    ``as_of``) when the selection kept browsing, else on purchases alone.
    ``lines`` and ``browsing`` may be readers (:func:`shoplens.inputs.handed_over`): then
    they are freed before the served model is fitted (1M customers: about 0.5 GiB).
    """
    lines, browsing = read_now(lines), read_now(browsing)
    lines = rows_where(lines, on_or_before(lines["order_date"], as_of))
    sel = sel or select_model(lines, as_of, cfg, browsing)
    products = np.sort(lines["product_id"].unique())
    customers = np.union1d(np.asarray(customer_ids, dtype=object).astype(str), lines["customer_id"].unique())
    feedback = browsing if sel.browsing and sel.served == "als" else None
    inter = interactions(lines, products, as_of, customers, feedback, (cfg.view_weight, cfg.cart_weight))
    del feedback, browsing  # the interaction matrix holds what the model needs of them
    k = cfg.top_k
    pop = Popularity(cfg.popularity_days).fit(lines, products, as_of, k)
    del lines
    items, scores = pop.recommend(np.arange(len(customers)), k)
    warm = inter.n_orders >= cfg.min_orders
    # Fallback reasons as codes into `reasons` (-1: ALS served); columns as
    # categoricals, so a million customers' lists stay small in memory.
    reasons = ["no_purchase", f"fewer_than_{cfg.min_orders}_purchase_orders",
               sel.reason.split(":")[0] if sel.reason else "als_not_better_than_popularity"]
    code = np.where(inter.n_orders == 0, 0, 1).astype(np.int8)
    code[warm] = -1 if sel.served == "als" else 2
    folded_from = None
    if sel.served == "als" and warm.any():
        rows = np.nonzero(warm)[0]
        model = sel.served_fit(cfg, inter.matrix, inter.products)
        items[rows], scores[rows] = model.recommend_from(inter.matrix, rows, k)
        folded_from = model.folded_from
        del model  # the factors (1M customers x 64: 0.25 GiB) are not needed for the table
    return _frame(inter, items, scores, code, reasons, as_of, sel, cfg, folded_from)


def selection_note(sel: Selection, cfg: RecommendConfig, folded_from: int | None = None) -> str:
    """Why this model is served, and whether browsing is used (``folded_from``: see
    :func:`~shoplens.recommend.selection.model_version`)."""
    note = sel.reason or (f"als ({sel.tag(cfg)}) beat popularity on validation recall@{cfg.top_k} by"
                          f" {sel.margin:+.4f} (se {sel.margin_se:.4f}, {sel.n_customers} customers)")
    warm = sel.warm_iterations(cfg)
    warm_note = (f"served fit started from the validation fit's item factors, {warm} iteration(s)"
                 if warm is not None else "")
    fold_note = (f"served item factors fitted on a seeded {folded_from} of the customers with any interaction"
                 " (recommend_served_max_customers), every customer's factors then solved against them"
                 if folded_from is not None else "")
    return "; ".join(part for part in (note, sel.browsing_note, sel.pick_note, warm_note, fold_note) if part)


def _frame(inter: Interactions, items: np.ndarray, scores: np.ndarray, code: np.ndarray, reasons: list[str],
           as_of: dt.date, sel: Selection, cfg: RecommendConfig, folded_from: int | None = None) -> pd.DataFrame:
    r, c = np.nonzero(items >= 0)
    chosen = items[r, c]
    n = len(r)
    is_fallback = code[r] >= 0
    # the columns in their final order, not copied into pandas' blocks: 1M customers' lists
    # (10.5M rows) built at 0.6 GiB above the arrays instead of 1.3 (a consolidating copy and
    # a reordering copy), in the step's last phase, where it meets the propensity's
    columns = {
        "customer_id": pd.Categorical.from_codes(r.astype(np.int32), inter.customers),
        "recommendation_rank": (c + 1).astype(np.int32),
        "product_id": pd.Categorical.from_codes(chosen.astype(np.int32), inter.products),
        "score": scores[r, c].astype(np.float64),
        "served_model": pd.Categorical.from_codes(is_fallback.astype(np.int8), ["als", "popularity"]),
        "is_fallback": is_fallback,
        "fallback_reason": pd.Categorical.from_codes(code[r], reasons),
        "is_previously_bought": _bought(inter, r, chosen),
        "n_purchase_orders": inter.n_orders[r].astype(np.int32),
        "as_of_date": np.full(n, np.datetime64(as_of, "D")),
        "model_version": repeated(model_version(sel, cfg, folded_from), n),
        "selection_note": repeated(selection_note(sel, cfg, folded_from), n),
    }
    del r, c, chosen, is_fallback
    assert list(columns) == RECOMMENDATION_COLUMNS
    return pd.DataFrame(columns, copy=False)


def _bought(inter: Interactions, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether each (row, column) pair is a purchase (sorted-key search, little memory; browsing ignored)."""
    m = inter.bought.tocsr()
    n_items = np.int64(m.shape[1])
    keys = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) * n_items + m.indices
    keys.sort()
    wanted = rows.astype(np.int64) * n_items + cols
    pos = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    return keys[pos] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
