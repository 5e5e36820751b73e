"""Every model's scores of one snapshot, the served model's scores and each customer's reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoplens.propensity.baselines import fit_bgnbd_params, naive_rate_scores, score_bgnbd
from shoplens.propensity.encoding import Encoder
from shoplens.propensity.features import Snapshot

#: Customers whose reasons are computed at a time (bounds memory at 1M customers).
_REASON_CHUNK = 100_000


def population_columns(snap: Snapshot, window_days: int, fitted: dict | None = None) -> dict:
    """The columns fitted on the whole population at once: BG/NBD (fitted on every purchaser
    of ``snap``, or ``fitted``: :func:`fit_population` of the population ``snap`` is part of)
    and the naive rate. ``snap`` needs no sequences."""
    name, p_bg, e_bg, notes = btyd_baseline(snap, window_days, fitted)
    p_naive, e_naive = naive_rate_scores(snap, window_days)
    return {"p_bgnbd": p_bg, "expected_purchases_bgnbd": e_bg, "btyd_baseline_model": name,
            "baseline_notes": notes, "p_naive_rate": p_naive, "expected_purchases_naive_rate": e_naive}


def model_columns(trained, baselines, encoder: Encoder, snap: Snapshot, window_days: int,
                  fixed: dict | None = None, summary: np.ndarray | None = None) -> dict:
    """Scores of the GRU (None when it was not trained) and of every baseline, aligned with ``snap``.

    ``fixed``: :func:`population_columns` of the population ``snap`` belongs to, restricted
    to its rows (computed from ``snap`` itself when None). ``summary``: ``encoder.summary(snap)``
    when the caller has it already."""
    cols: dict = {"p_rnn_gru": None, "expected_purchases_rnn_gru": None}
    if trained is not None:
        cols["p_rnn_gru"], cols["expected_purchases_rnn_gru"] = trained.predict(snap, window_days)
    base = _score_baselines(baselines, snap, encoder, window_days, summary)
    cols.update(fixed if fixed is not None else population_columns(snap, window_days))
    cols.update(p_rfm_heuristic=base["rfm"], p_logreg=base["logreg"], p_new_customer=base["new_customer"])
    return cols


def _score_baselines(baselines, snap: Snapshot, encoder: Encoder, window_days: int,
                     summary: np.ndarray | None = None) -> dict:
    from shoplens.propensity.train import score_baselines

    return score_baselines(baselines, snap, encoder, window_days, summary)


def fit_population(snap: Snapshot) -> dict:
    """The BG/NBD baseline fitted on every purchaser of ``snap`` (``info``, plain values that can
    be shipped to workers), or why it was dropped (``error``); fitting never takes the step down."""
    try:
        return {"info": fit_bgnbd_params(snap), "error": ""}
    except Exception as exc:  # any fitting failure drops this baseline only
        return {"info": None, "error": f"bgnbd baseline dropped: {type(exc).__name__}: {exc}"}


def btyd_baseline(snap: Snapshot, window_days: int,
                  fitted: dict | None = None) -> tuple[str, np.ndarray, np.ndarray, str]:
    """(model served, P, expected, notes) of the BTYD baseline of ``snap``'s customers, fitted on
    ``snap`` or given (``fitted``: :func:`fit_population`); dropped, not fatal, on failure."""
    fitted = fit_population(snap) if fitted is None else fitted
    info, error = fitted["info"], fitted["error"]
    if info is not None:
        try:
            p_bg, e_bg = score_bgnbd(info, snap, window_days)
        except Exception as exc:  # a scoring failure drops this baseline only
            info, error = None, f"bgnbd baseline dropped: {type(exc).__name__}: {exc}"
    if info is None:
        nan = np.full(len(snap.index), np.nan)
        return "none", nan, nan.copy(), error
    note = f"bgnbd served as its limit nbd: {info['note']}" if info["model_name"] != "bgnbd" else "none"
    return str(info["model_name"]), p_bg, e_bg, note


def _poisson_expected(p: np.ndarray, window_days: int) -> np.ndarray:
    """Expected purchase days of a model that only gives P(at least one): -log(1 - p), a
    constant-hazard reading, never below p and capped at the window's days."""
    q = np.clip(p, 0.0, 1.0 - 1e-9)
    return np.minimum(np.maximum(-np.log1p(-q), q), float(window_days))


def served_scores(cols: dict, name: str, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(P(purchase in window), expected purchase days) of model ``name`` for every customer.

    ``blend``: the mean of the GRU's and the logistic regression's probability,
    expected purchases scaled from the GRU's. ``bgnbd``: customers without a
    purchase (no BG/NBD birth) get the new-customer rate of the training cut-offs.
    ``logreg_bgnbd``: the mean of the logistic regression's and BG/NBD's probability
    and expected purchases (the regression's constant-hazard reading); customers
    without a purchase, whom BG/NBD cannot score, get the regression's alone, and so
    does everyone where BG/NBD's scoring failed.
    """
    if name == "rnn_gru":
        return cols["p_rnn_gru"], cols["expected_purchases_rnn_gru"]
    if name == "blend":
        p_gru, e_gru = cols["p_rnn_gru"], cols["expected_purchases_rnn_gru"]
        p = 0.5 * (p_gru + cols["p_logreg"])
        return p, np.maximum(p * e_gru / np.maximum(p_gru, 1e-9), p)
    if name == "logreg_bgnbd":
        if cols["btyd_baseline_model"] == "none":
            # BG/NBD's scoring failed here (a failed fit serves another baseline: serve_fitted_btyd):
            # the blend's regression half still ranks everyone; baseline_notes says why
            return served_scores(cols, "logreg", window_days)
        p_lr = cols["p_logreg"]
        e_lr = _poisson_expected(p_lr, window_days)
        born = ~np.isnan(cols["p_bgnbd"])  # NaN in the unused branch of np.where is harmless
        p = np.where(born, 0.5 * (p_lr + cols["p_bgnbd"]), p_lr)
        e = np.where(born, 0.5 * (e_lr + cols["expected_purchases_bgnbd"]), e_lr)
        return p, np.maximum(e, p)
    if name == "bgnbd":
        if cols["btyd_baseline_model"] == "none":  # never one constant score for every customer
            raise ValueError(
                "bgnbd is the served model but has no scores at this cut-off: its fit or its scoring failed"
                f" ({cols.get('baseline_notes', '')}); a failed fit serves the next best baseline"
                " (serve_fitted_btyd), a failed scoring stops the step rather than score everyone alike"
            )
        p = np.where(np.isnan(cols["p_bgnbd"]), cols["p_new_customer"], cols["p_bgnbd"])
        e = np.where(np.isnan(cols["expected_purchases_bgnbd"]), _poisson_expected(p, window_days),
                     cols["expected_purchases_bgnbd"])
        return p, e
    p = cols[{"logreg": "p_logreg", "rfm_heuristic": "p_rfm_heuristic"}[name]]
    return p, _poisson_expected(p, window_days)


def feature_label(name: str) -> str:
    """The name an analyst reads: ``log_days_since_last_purchase`` -> ``days_since_last_purchase``."""
    return name.removeprefix("log_")


def reason_group(name: str, channels: list[str]) -> str:
    """The family a model input belongs to: a channel over any window (``n_sessions_13w`` ->
    ``n_sessions``; ``log_revenue_total`` -> ``revenue``), ``country``, ``first_category``, or
    the static feature itself."""
    label = feature_label(name)
    for prefix in ("country", "first_category"):
        if label.startswith(prefix + "="):
            return prefix
    for ch in channels:
        if label == f"{ch}_total" or (label.startswith(ch + "_") and label.removeprefix(ch + "_")[:-1].isdigit()
                                      and label.endswith("w")):
            return ch
    return label


def reasons(baselines, encoder: Encoder, snap: Snapshot, k: int = 3,
            summary: np.ndarray | None = None) -> list[pd.Categorical]:
    """Each customer's top ``k`` reasons, ``"feature:+"`` or ``"feature:-"``.

    The logistic regression is additive in its standardised inputs: input j
    adds ``coef_j * z_ij`` to customer i's log-odds, compared with a customer
    at the training average. Inputs of one family (a channel over 1/4/13/52
    weeks and in total, the country one-hots, ...) are summed first: they are
    correlated, so only their sum is well determined (single windows can take
    opposite signs that cancel). The reasons are the ``k`` families with the
    largest summed contribution in absolute value, ``+`` when it raises the
    customer's score and ``-`` when it lowers it (ties: the family listed
    first). No random draw is involved, so they are stable across seeds.
    ``summary``: ``encoder.summary(snap)`` when the caller has it already (its
    rows are the same numbers: every input is computed per customer).
    Each of the ``k`` columns is a categorical over :func:`reason_labels` (a code per
    customer instead of a string: 1M customers' three reasons held 0.2 GiB of strings);
    null where the model has fewer than ``k`` families.
    """
    lr = baselines.logreg
    scaler, clf = lr[0], lr[-1]
    coef = clf.coef_[0]
    groups = [reason_group(n, list(encoder.channels)) for n in encoder.static_names]
    names = list(dict.fromkeys(groups))
    member = np.zeros((len(groups), len(names)))
    member[np.arange(len(groups)), [names.index(g) for g in groups]] = 1.0
    n = len(snap.index)
    codes = [np.full(n, -1, dtype=np.int16) for _ in range(k)]
    for start in range(0, n, _REASON_CHUNK):
        stop = min(start + _REASON_CHUNK, n)
        part = encoder.summary(_slice(snap, start, stop)) if summary is None else summary[start:stop]
        x = part.astype("float64")
        contrib = ((x - scaler.mean_) / scaler.scale_ * coef) @ member
        top = np.argsort(-np.round(np.abs(contrib), 9), axis=1, kind="stable")[:, :k]
        for j in range(min(k, top.shape[1])):
            lowers = np.take_along_axis(contrib, top[:, j:j + 1], axis=1)[:, 0] < 0
            codes[j][start:stop] = 2 * top[:, j] + lowers  # reason_labels order: family:+, family:-
    labels = reason_labels(names)
    return [pd.Categorical.from_codes(c, labels) for c in codes]


def reason_labels(families: list[str]) -> list[str]:
    """Every reason a customer can get, in code order: ``family:+`` then ``family:-`` per family."""
    return [f"{name}:{sign}" for name in families for sign in "+-"]


def _slice(snap: Snapshot, start: int, stop: int) -> Snapshot:
    from shoplens.propensity.features import _rows

    return _rows(snap, slice(start, stop))
