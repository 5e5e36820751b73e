"""Scoring end to end: score rows, deciles, the run, the decline reason and status."""

from __future__ import annotations

import datetime as dt
import gc
from pathlib import Path

import numpy as np
import pandas as pd

from shoplens.evaluation import deciles
from shoplens.inputs import read_now, rows_where
from shoplens.memory import trim_heap
from shoplens.outputs import repeated
from shoplens.propensity.chunks import chunked_columns
from shoplens.propensity.config import InsufficientHistoryError, PropensityConfig
from shoplens.propensity.features import snapshot
from shoplens.propensity.history import (
    History,
    _date_to_day,
    _day_to_date,
    _to_day,
    born_unknown_at,
    prepare_history,
)
from shoplens.propensity.models import fit_population, population_columns
from shoplens.propensity.network import _carry_window
from shoplens.propensity.served import (
    ServedPropensity,
    fit_served,
    load_served,
    serving_fitted_btyd,
)
from shoplens.propensity.train import check_trainable

SCORE_COLUMNS: list[str] = [
    "customer_id",
    "score_date",
    "is_current",
    "window_days",
    "purchase_probability",
    "expected_purchases",
    "decile",
    "served_model",
    "reason_1",
    "reason_2",
    "reason_3",
    "has_purchased",
    "p_rnn_gru",
    "expected_purchases_rnn_gru",
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


def score_snapshot(model: ServedPropensity, history: History, cutoff_day: int, window_days: int,
                   is_current: bool, population: dict | None = None) -> pd.DataFrame:
    """One row per customer known at ``cutoff_day``: the served model's score, its reasons and
    every model's score (the GRU's are null when it was not trained). Sequences are built and
    scored in chunks of customers (:mod:`shoplens.propensity.chunks`). ``population``: the
    BG/NBD baseline fitted on every customer known at the cut-off (:func:`fit_population`;
    fitted on ``history`` when None); ``decile`` ranks the rows scored together.

    At the current cut-off (``is_current``: as_of_date) the customers whose first day is
    unknown (no sign-up date, no completed purchase) are scored too, as new customers
    without history (:func:`born_unknown_at`): dim_customers holds them, and
    pred_purchase_propensity has one row per customer known at as_of_date."""
    unknown = history.birth_unknown
    if is_current:
        history = born_unknown_at(history, cutoff_day)
    snap = snapshot(history, cutoff_day, model.encoder.weeks, sequences=False)
    n = len(snap.index)
    cols = chunked_columns(history, cutoff_day, model.encoder.weeks, lambda part, fixed: model.score(
        part, window_days, fixed), population_columns(snap, window_days, population), n, snap.index)
    for name in ("p_rnn_gru", "expected_purchases_rnn_gru"):
        if cols[name] is None:
            cols[name] = np.full(n, np.nan)
    if is_current:
        _score_unseen(cols, unknown[snap.index], model.baselines, window_days)
    p = cols["purchase_probability"]
    frame = {
        "customer_id": history.customer_ids[snap.index],
        "score_date": _day_to_date(cutoff_day),
        "is_current": is_current,
        "window_days": int(window_days),
        "decile": deciles(p),
        "served_model": model.served_model,
        "has_purchased": snap.n_purchase_days > 0,
        "model_version": model.version,
        "train_end_date": pd.Timestamp(model.metadata["train_end_date"]).date(),
    }
    frame.update({c: cols[c] for c in SCORE_COLUMNS if c not in frame})
    for name, value in frame.items():  # one string for every row
        if isinstance(value, str):
            frame[name] = repeated(value, n)
    return pd.DataFrame(frame, columns=SCORE_COLUMNS)


#: reason_1 of a customer scored at the unseen customers' first-purchase rate
UNSEEN_REASON = "no_purchase_or_visit:-"


def _score_unseen(cols: dict, unseen: np.ndarray, baselines, window_days: int) -> None:
    """The served score of the customers with no sign-up date, purchase or session up to
    as_of_date: the first-purchase rate of such customers at the training cut-offs
    (``Baselines.unseen_rate``, carried to the window), one reason saying why. The models'
    own columns (p_logreg, ...) keep their scores for a customer who signed up that day,
    which no training row resembled when the file has no dates."""
    rate = getattr(baselines, "unseen_rate", None)
    if rate is None or not unseen.any():
        return
    p, e = _carry_window(np.array([rate]), np.array([rate * getattr(baselines, "unseen_purchases_per_buyer", 1.0)]),
                         baselines.label_window_days, window_days)
    for name, value in (("purchase_probability", p[0]), ("expected_purchases", e[0])):
        cols[name] = np.where(unseen, value, np.asarray(cols[name], dtype="float64"))
    cols["reason_1"] = np.where(unseen, UNSEEN_REASON, np.asarray(cols["reason_1"], dtype=object))
    for name in ("reason_2", "reason_3"):
        cols[name] = np.where(unseen, None, np.asarray(cols[name], dtype=object))


def concat_snapshots(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The snapshots' score rows in order; a column that is categorical in every frame stays
    categorical (over the union of their categories) where pandas would make it strings."""
    from pandas.api.types import union_categoricals

    out = pd.concat(frames, ignore_index=True)
    for name in out.columns:
        if not isinstance(out[name].dtype, pd.CategoricalDtype) and all(
                isinstance(f[name].dtype, pd.CategoricalDtype) for f in frames):
            out[name] = union_categoricals([f[name] for f in frames])
    return out


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
    """Choose, train (or load) and score; the table behind ``ml_purchase_propensity``.

    ``orders`` must not contain orders after ``as_of_date`` (they are dropped).
    With a holdout after ``as_of_date`` the models are trained on labels up to
    ``as_of_date`` and score customers at ``as_of_date`` (those scores are
    evaluated on the holdout). Without one, they are trained on labels up to
    ``as_of_date - window_days`` and score customers both at that backtest
    cut-off (evaluated on what followed up to ``as_of_date``) and at
    ``as_of_date``, so the model people read is the model that was evaluated.
    The served model is chosen on a validation cut-off one label window
    before the training end (:mod:`shoplens.propensity.selection`).
    Returns (scores with :data:`SCORE_COLUMNS`, model metadata).
    """
    cfg = cfg or PropensityConfig()
    model, history, cutoffs, population = fit_propensity(orders, sessions, customers, as_of_date, has_holdout,
                                                         cfg, model_dir, retrain)
    frames = [score_snapshot(model, history, day, cfg.window_days, current, population[day])
              for day, current in cutoffs]
    del history  # 1M customers: about 1 GiB, not needed to join the frames
    scores = concat_snapshots(frames)
    del frames
    return scores, model.metadata


def fit_propensity(orders, sessions, customers, as_of_date: dt.date, has_holdout: bool,
                   cfg: PropensityConfig | None = None, model_dir: str | Path | None = None,
                   retrain: bool = True) -> tuple[ServedPropensity, History, list[tuple[int, bool]], dict[int, dict]]:
    """The global part of :func:`run_propensity`: choose and train (or load) on every customer.
    Returns (the served model, the history, the cut-offs to score as (day, is_current), the
    BG/NBD baseline fitted on every customer known at each of them (:func:`fit_population`)).

    BG/NBD is fitted at the scoring cut-offs before the model is served: when it won the
    selection but cannot be fitted at one of them, the next best baseline is served and
    ``fallback_reason`` says why (:func:`shoplens.propensity.selection.serve_fitted_btyd`)."""
    cfg = cfg or PropensityConfig()
    cfg.validate()
    history, as_of_day, train_end = _history_at(orders, sessions, customers, as_of_date, has_holdout, cfg)
    trim_heap()  # the inputs' frames are freed: hand their pages back before training
    cutoffs = ([] if has_holdout else [(train_end, False)]) + [(as_of_day, True)]
    population = {day: fit_population(snapshot(history, day, cfg.sequence_weeks, sequences=False))
                  for day, _ in cutoffs}
    if retrain:
        model = fit_served(history, train_end, cfg, population)
        if model_dir is not None:
            model.save(model_dir)
        # the candidates' networks, datasets and importance variants are garbage in reference
        # cycles (Keras): collected and trimmed here, a 1M-customer shop starts scoring at
        # 2.3-2.5 GiB instead of 3.4 (bench/profile_step.py --memory)
        gc.collect()
        trim_heap()
    else:
        if model_dir is None:
            raise ValueError("retrain=False needs the model_dir holding a saved model")
        model = load_served(model_dir, history, train_end)
        _check_saved(model, history, train_end)
        model = serving_fitted_btyd(model, population)
    return model, history, cutoffs, population


def _check_saved(model: ServedPropensity, history: History, train_end: int) -> None:
    """A saved model must use this shop's channels and must not have seen labels after train_end."""
    if list(model.encoder.channels) != list(history.channels):
        raise ValueError(
            f"the saved model {model.version} uses sequence channels {model.encoder.channels}"
            f" but the data give {list(history.channels)}; retrain (retrain: true)"
        )
    saved_end = pd.Timestamp(model.metadata["train_end_date"]).date()
    if saved_end > _day_to_date(train_end):
        raise ValueError(
            f"the saved model {model.version} learned from labels up to {saved_end}, after this"
            f" run's training end {_day_to_date(train_end)}: its scores would be evaluated on data"
            " it has seen; retrain (retrain: true)"
        )


def _history_at(orders, sessions, customers, as_of_date, has_holdout: bool, cfg: PropensityConfig):
    """(history up to as_of_date, as_of day, training end day) as run_propensity uses them.

    Each input is a DataFrame or a reader (:func:`shoplens.inputs.read_now`), read here
    so that the frame is freed once the history is built."""
    orders, sessions, customers = (read_now(t) for t in (orders, sessions, customers))
    as_of_day = _date_to_day(pd.Timestamp(as_of_date).date())
    ordered_day = _to_day(orders["ordered_at"]) if len(orders) else np.zeros(0, "int64")
    orders = rows_where(orders, ordered_day <= as_of_day)
    if sessions is not None and len(sessions):
        stamp = sessions["activity_date"] if "activity_date" in sessions.columns else sessions["started_at"]
        sessions = rows_where(sessions, _to_day(stamp) <= as_of_day)
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


def scored_selection(scores: pd.DataFrame, selection: dict | None) -> dict:
    """The saved ``selection`` as ``scores`` were served. A loaded model (retrain: false) whose
    saved choice cannot be fitted on these data scores with another baseline
    (:func:`shoplens.propensity.served.serving_fitted_btyd`, in memory only): then that one is
    ``served_model`` and ``fallback_reason`` says so. Otherwise ``selection`` as saved."""
    selection = dict(selection or {})
    chosen = str(selection.get("served_model", ""))
    if selection.get("fallback_reason") or not chosen or "served_model" not in scores.columns or not len(scores):
        return selection
    served = str(scores["served_model"].iloc[0])
    if served != chosen:
        selection.update(served_model=served, fallback_reason=(
            f"the saved model chose {chosen}, which cannot be fitted on these data; {served} is served"
            " instead (baseline_notes says why)"))
    return selection


def fallback_reason(scores: pd.DataFrame, selection: dict | None) -> str:
    """Why the served model is not the validation's choice ('' when it is): the selection's
    ``fallback_reason`` (no validation cut-off; BG/NBD chosen but not fittable at a scoring
    cut-off), or that a loaded model's saved choice did not score these data
    (:func:`scored_selection`)."""
    return str(scored_selection(scores, selection).get("fallback_reason", ""))


def propensity_status(scores: pd.DataFrame, as_of_date, decline: str = "", selection: dict | None = None,
                      training_metrics: dict | None = None):
    """The step's status row: ok (the chosen model served; the choice, dropped baselines and a
    GRU fit stopped by the time budget are noted), degraded (a baseline served without the
    validation's choice: no validation cut-off, or the chosen BG/NBD cannot be fitted at a
    scoring cut-off; ``fallback_reason`` says why), declined (no scores).
    ``training_metrics``: the saved model's (the full GRU fit's when the GRU is served)."""
    from shoplens.status import step_status

    current = scores.loc[scores["is_current"].astype(bool)] if len(scores) else scores
    notes = sorted({str(n) for n in scores.get("baseline_notes", pd.Series([], dtype=object)) if str(n) != "none"})
    served = str(scores["served_model"].iloc[0]) if len(scores) and "served_model" in scores.columns else "rnn_gru"
    selection = selection or {}
    fallback = fallback_reason(scores, selection)
    reason = "" if fallback else str(selection.get("reason", ""))
    if selection.get("probe", {}).get("stopped_by_time_budget"):
        notes.append("the GRU first pass hit the time budget (var propensity_max_train_seconds)")
    if (training_metrics or {}).get("stopped_by_time_budget"):
        notes.append("the full GRU fit hit the time budget (var propensity_max_train_seconds): the best epoch"
                     " before it is served")
    return step_status("propensity", as_of_date, served_model=served, rows_written=len(current),
                       problems=[f"fallback: {fallback}"] if fallback else [], notes=[reason, *notes],
                       decline_reason=decline)
