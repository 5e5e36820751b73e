"""Baselines: BG/NBD window probability, naive rate, RFM cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoplens.clv.models import BGNBD, MODELS
from shoplens.propensity.config import InsufficientHistoryError
from shoplens.propensity.features import Snapshot


def bgnbd_window_probability(r: float, alpha: float, a: float, b: float,
                             frequency: np.ndarray, recency: np.ndarray, T: np.ndarray,
                             t: float) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD P(at least one purchase in (T, T + t]) and P(alive at T); see
    :meth:`shoplens.clv.models.BGNBD.window_probability`."""
    return BGNBD.window_probability({"r": r, "alpha": alpha, "a": a, "b": b}, frequency, recency, T, t)


def fit_bgnbd(snap: Snapshot, window_days: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Fit BG/NBD (weeks) on the purchasers of ``snap`` with shoplens.clv; score their window.

    The one CLV fitter and its selection rule: BG/NBD, or NBD when BG/NBD's
    estimate sits at the no-drop-out boundary (``info["model_name"]`` says
    which). Returns (parameters and diagnostics, P(purchase in window),
    expected purchases in window), the arrays aligned with ``snap`` (NaN for
    customers without a purchase, for whom BG/NBD has no birth yet). Raises
    :class:`InsufficientHistoryError` or shoplens.clv's errors when it cannot
    be fitted; :func:`score_snapshot` drops the baseline then.
    """
    info = fit_bgnbd_params(snap)
    return (info, *score_bgnbd(info, snap, window_days))


def _btyd_inputs(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(has a purchase, frequency, recency in weeks, T in weeks) of the purchasers of ``snap``."""
    has = snap.n_purchase_days > 0
    return has, snap.frequency[has], snap.recency_days[has] / 7.0, snap.age_days[has] / 7.0


def fit_bgnbd_params(snap: Snapshot) -> dict:
    """The fit of :func:`fit_bgnbd` alone: parameters, ``model_name``, ``note``, log-likelihood and
    ``n_customers`` (a dict of plain values: it can be shipped to the workers that score)."""
    from shoplens import clv

    has, freq, rec, T = _btyd_inputs(snap)
    if (freq > 0).sum() < 5 or len(np.unique(T)) < 3:
        raise InsufficientHistoryError(
            f"BG/NBD needs at least 5 repeat purchasers at the cut-off, got {int((freq > 0).sum())}"
        )
    frame = pd.DataFrame({"frequency": freq.astype("int64"), "recency": rec, "T": T})
    counts = clv.compress_counts(frame)
    config = clv.ClvConfig(time_unit="weeks", candidates=("bgnbd",))
    models, excluded = clv.fit_count_models(counts, config)
    if "bgnbd" in models:
        name = "bgnbd"
    elif clv.LIMIT_MODEL in models and models[clv.LIMIT_MODEL].at_boundary:
        name = clv.LIMIT_MODEL  # BG/NBD's estimate sits at the no-drop-out boundary: its limit
    else:  # any other failure is not a reason to assume nobody drops out
        raise clv.ClvFitError(excluded.get("bgnbd", "bgnbd could not be fitted"))
    model = models[name]
    info = {k: float(v) for k, v in model.params.items()}
    info["params"] = dict(model.params)
    info["model_name"] = name
    info["note"] = excluded.get("bgnbd", "")
    info["log_likelihood"] = model.log_likelihood
    info["n_customers"] = int(has.sum())
    return info


def score_bgnbd(info: dict, snap: Snapshot, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(P(purchase in window), expected purchases in window) of the customers of ``snap`` under
    the fit ``info`` of :func:`fit_bgnbd_params` (NaN for customers without a purchase)."""
    from shoplens import clv

    has, freq, rec, T = _btyd_inputs(snap)
    name, p, t = info["model_name"], info["params"], window_days / 7.0
    prob, _ = btyd_window_probability(name, p, freq, rec, T, t)
    expected = clv.expected_purchases(name, p, t, freq, rec, T)
    out_p = np.full(len(has), np.nan)
    out_e = np.full(len(has), np.nan)
    out_p[has] = np.clip(prob, 0.0, 1.0)
    out_e[has] = np.maximum(np.asarray(expected, dtype="float64"), out_p[has])
    return out_p, out_e


def btyd_window_probability(name: str, p: dict[str, float], frequency, recency, T, t: float):
    """P(at least one purchase in (T, T + t]) and P(alive) under BG/NBD or its NBD limit."""
    return MODELS[name].window_probability(p, frequency, recency, T, t)


def naive_rate_scores(snap: Snapshot, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Naive rate: each purchaser's repeat purchase days per day since the first,
    carried forward over the window (expected purchases), and the Poisson
    probability of at least one. NaN for customers without a purchase."""
    has = snap.n_purchase_days > 0
    age = snap.age_days
    rate = np.where(age > 0, snap.frequency / np.maximum(age, 1.0), 0.0)
    expected = np.where(has, rate * window_days, np.nan)
    return -np.expm1(-expected), expected


def rfm_cells(snap: Snapshot, edges: dict[str, list[float]] | None = None) -> tuple[np.ndarray, dict]:
    """RFM cell (e.g. ``"545"``, ``"000"`` without purchase) with quintile edges.

    A score is 1 + the number of quintile edges strictly below the value.
    Recency scores 5 for the most recent fifth; frequency and monetary 5 for
    the highest. ``edges`` from a training cut-off are reused at scoring time.
    """
    has = snap.n_purchase_days > 0
    monetary = np.where(has, snap.revenue_total / np.maximum(snap.n_purchase_days, 1), 0.0)
    values = {"r": -snap.days_since_last, "f": snap.n_purchase_days, "m": monetary}
    if edges is None:
        edges = {
            k: np.unique(np.quantile(v[has], [0.2, 0.4, 0.6, 0.8])).tolist() if has.any() else []
            for k, v in values.items()
        }
    scores = {k: 1 + np.searchsorted(np.asarray(edges[k]), v, side="left") for k, v in values.items()}
    cell = (scores["r"] * 100 + scores["f"] * 10 + scores["m"]).astype("int64")
    cell = np.where(has, cell, 0)
    # each distinct cell formatted once, not each row (numpy's zfill works element by element)
    distinct, row_cell = np.unique(cell, return_inverse=True)
    if not len(distinct):  # numpy's zfill cannot size an empty array's strings
        return np.zeros(0, dtype="<U3"), edges
    return np.char.zfill(distinct.astype(str), 3)[row_cell.reshape(-1)], edges
