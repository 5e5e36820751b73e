"""Scoring end to end: score rows, deciles, the run, the decline reason and status."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from shoplens.evaluation import deciles
from shoplens.propensity.baselines import fit_bgnbd, naive_rate_scores
from shoplens.propensity.config import InsufficientHistoryError, PropensityConfig
from shoplens.propensity.features import Snapshot, snapshot
from shoplens.propensity.history import (
    History,
    _date_to_day,
    _day_to_date,
    _to_day,
    prepare_history,
)
from shoplens.propensity.network import TrainedPropensity, load_propensity
from shoplens.propensity.train import (
    Baselines,
    _training_set,
    check_trainable,
    fit_baselines,
    score_baselines,
    train_propensity,
    training_cutoffs,
)

SCORE_COLUMNS: list[str] = [
    "customer_id",
    "score_date",
    "is_current",
    "window_days",
    "purchase_probability",
    "expected_purchases",
    "decile",
    "has_purchased",
    "p_bgnbd",
    "expected_purchases_bgnbd",
    "p_rfm_heuristic",
    "p_logreg",
    "p_naive_rate",
    "expected_purchases_naive_rate",
    "btyd_baseline_model",
    "baseline_notes",
    "model_version",
    "train_end_date",
]


def score_snapshot(trained: TrainedPropensity, baselines: Baselines, history: History,
                   cutoff_day: int, window_days: int, is_current: bool) -> pd.DataFrame:
    """One row per customer known at ``cutoff_day`` with the GRU and baseline scores."""
    cfg_weeks = trained.encoder.weeks
    snap = snapshot(history, cutoff_day, cfg_weeks)
    p, e = trained.predict(snap, window_days)
    btyd_name, p_bg, e_bg, notes = _btyd_baseline(snap, window_days)
    p_naive, e_naive = naive_rate_scores(snap, window_days)
    base = score_baselines(baselines, snap, trained.encoder, window_days)
    return pd.DataFrame(
        {
            "customer_id": history.customer_ids[snap.index],
            "score_date": _day_to_date(cutoff_day),
            "is_current": is_current,
            "window_days": int(window_days),
            "purchase_probability": p,
            "expected_purchases": e,
            "decile": deciles(p),
            "has_purchased": snap.n_purchase_days > 0,
            "p_bgnbd": p_bg,
            "expected_purchases_bgnbd": e_bg,
            "p_rfm_heuristic": base["rfm"],
            "p_logreg": base["logreg"],
            "p_naive_rate": p_naive,
            "expected_purchases_naive_rate": e_naive,
            "btyd_baseline_model": btyd_name,
            "baseline_notes": notes,
            "model_version": trained.version,
            "train_end_date": pd.Timestamp(trained.metadata["train_end_date"]).date(),
        },
        columns=SCORE_COLUMNS,
    )


def _btyd_baseline(snap: Snapshot, window_days: int) -> tuple[str, np.ndarray, np.ndarray, str]:
    """(model served, P, expected, notes) of the BTYD baseline; dropped, not fatal, on failure."""
    try:
        info, p_bg, e_bg = fit_bgnbd(snap, window_days)
    except Exception as exc:  # any fitting failure drops this baseline only
        nan = np.full(len(snap.index), np.nan)
        return "none", nan, nan.copy(), f"bgnbd baseline dropped: {type(exc).__name__}: {exc}"
    note = f"bgnbd served as its limit nbd: {info['note']}" if info["model_name"] != "bgnbd" else "none"
    return str(info["model_name"]), p_bg, e_bg, note


def run_propensity(
    orders: pd.DataFrame,
    sessions: pd.DataFrame | None,
    customers: pd.DataFrame,
    as_of_date: dt.date,
    has_holdout: bool,
    cfg: PropensityConfig | None = None,
    model_dir: str | Path | None = None,
    retrain: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """Train (or load) and score; the table behind ``ml_purchase_propensity``.

    ``orders`` must not contain orders after ``as_of_date`` (they are dropped).
    With a holdout after ``as_of_date`` the model is trained on labels up to
    ``as_of_date`` and scores customers at ``as_of_date`` (those scores are
    evaluated on the holdout). Without one, it is trained on labels up to
    ``as_of_date - window_days`` and scores customers both at that backtest
    cut-off (evaluated on what followed up to ``as_of_date``) and at
    ``as_of_date``, so the model people read is the model that was evaluated.
    Returns (scores with :data:`SCORE_COLUMNS`, model metadata).
    """
    cfg = cfg or PropensityConfig()
    cfg.validate()
    history, as_of_day, train_end = _history_at(orders, sessions, customers, as_of_date, has_holdout, cfg)

    if retrain:
        trained, baselines = train_propensity(history, train_end, cfg)
        if model_dir is not None:
            trained.save(model_dir)
    else:
        if model_dir is None:
            raise ValueError("retrain=False needs the model_dir holding a saved model")
        trained = load_propensity(model_dir)
        if list(trained.encoder.channels) != list(history.channels):
            raise ValueError(
                f"the saved model {trained.version} uses sequence channels {trained.encoder.channels}"
                f" but the data give {list(history.channels)}; retrain (retrain: true)"
            )
        saved_end = pd.Timestamp(trained.metadata["train_end_date"]).date()
        if saved_end > _day_to_date(train_end):
            raise ValueError(
                f"the saved model {trained.version} learned from labels up to {saved_end}, after this"
                f" run's training end {_day_to_date(train_end)}: its scores would be evaluated on data"
                " it has seen; retrain (retrain: true)"
            )
        saved_cfg = PropensityConfig(**trained.metadata["config"])
        cutoffs = training_cutoffs(history, train_end, saved_cfg)
        snaps, labels, _, _ = _training_set(history, cutoffs, saved_cfg)
        baselines = fit_baselines(snaps, labels, trained.encoder, saved_cfg)

    frames = []
    if not has_holdout:
        frames.append(score_snapshot(trained, baselines, history, train_end, cfg.window_days, False))
    frames.append(score_snapshot(trained, baselines, history, as_of_day, cfg.window_days, True))
    scores = pd.concat(frames, ignore_index=True)
    return scores, trained.metadata


def _history_at(orders, sessions, customers, as_of_date, has_holdout: bool, cfg: PropensityConfig):
    """(history up to as_of_date, as_of day, training end day) as run_propensity uses them."""
    as_of_day = _date_to_day(pd.Timestamp(as_of_date).date())
    ordered_day = _to_day(orders["ordered_at"]) if len(orders) else np.zeros(0, "int64")
    orders = orders.loc[ordered_day <= as_of_day]
    if sessions is not None and len(sessions):
        stamp = sessions["activity_date"] if "activity_date" in sessions.columns else sessions["started_at"]
        sessions = sessions.loc[_to_day(stamp) <= as_of_day]
    history = prepare_history(orders, sessions, customers)
    return history, as_of_day, as_of_day if has_holdout else as_of_day - cfg.window_days


def decline_reason(orders, sessions, customers, as_of_date, has_holdout: bool,
                   cfg: PropensityConfig) -> str:
    """Why the step declines on these data ('' if training can start): the cheap checks."""
    try:
        history, _, train_end = _history_at(orders, sessions, customers, as_of_date, has_holdout, cfg)
        check_trainable(history, train_end, cfg)
    except InsufficientHistoryError as exc:
        return str(exc)
    return ""


def propensity_status(scores: pd.DataFrame, as_of_date, decline: str = ""):
    """The step's status row: ok (GRU served; dropped baselines are noted), declined (no scores)."""
    from shoplens.status import step_status

    current = scores.loc[scores["is_current"].astype(bool)] if len(scores) else scores
    notes = sorted({str(n) for n in scores.get("baseline_notes", pd.Series([], dtype=object)) if str(n) != "none"})
    return step_status("propensity", as_of_date, served_model="rnn_gru", rows_written=len(current),
                       notes=notes, decline_reason=decline)
