"""Evaluation of the scores against later purchases (``ml_model_evaluation`` rows)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.evaluation import auc, auc_interval, deciles
from shoplens.inputs import purchases_only
from shoplens.propensity.history import _date_to_day, _require, _to_day


def purchase_outcomes(orders: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Purchase days per customer in ``start .. end`` (inclusive), from orders with is_purchase."""
    _require(orders, "orders", ["customer_id", "ordered_at", "is_purchase"])
    p = purchases_only(orders)
    p = p.loc[p["customer_id"].notna()]
    day = _to_day(p["ordered_at"])
    lo, hi = _date_to_day(start), _date_to_day(end)
    keep = (day >= lo) & (day <= hi)
    frame = pd.DataFrame({"customer_id": p["customer_id"].to_numpy()[keep], "day": day[keep]})
    return (
        frame.drop_duplicates().groupby("customer_id").size().rename("n_purchase_days").reset_index()
    )


def _binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss

    pc = np.clip(p, 1e-6, 1 - 1e-6)
    low, high = auc_interval(p, y)
    interval = {"auc_ci_low": low, "auc_ci_high": high} if np.isfinite(low) else {}
    return {
        "auc": auc(p, y),
        **interval,
        "n_buyers": float(y.sum()),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, pc, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
    }


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold (predict a purchase when p >= it) that maximises F1 on (y, p).

    Only thresholds at observed scores count, all customers tied at a score
    fall on the same side; ties of F1 go to the higher threshold.
    """
    y = np.asarray(y, dtype=bool)
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    k = np.arange(1, len(ps) + 1)
    last_of_tie = np.r_[ps[1:] != ps[:-1], True]
    f1 = np.where(last_of_tie, 2 * tp / (k + max(int(y.sum()), 1)), -1.0)
    return float(ps[int(np.argmax(f1))])


def classification_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of a yes/no prediction (0 where undefined)."""
    y, predicted = np.asarray(y, dtype=bool), np.asarray(predicted, dtype=bool)
    tp = float((y & predicted).sum())
    precision = tp / predicted.sum() if predicted.any() else 0.0
    recall = tp / y.sum() if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def at_threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """``f1_threshold`` and precision / recall / F1 when a purchase is predicted at p >= ``threshold``."""
    out = {"f1_threshold": float(threshold)}
    out.update({f"{k}_at_threshold": v for k, v in classification_metrics(y, p >= threshold).items()})
    return out


def top_decile_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Precision / recall / F1 when the top decile (decile 1 of ``p``) is predicted to buy: no threshold."""
    return {f"{k}_top_decile": v for k, v in classification_metrics(y, deciles(p) == 1).items()}


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision / recall / F1 at ``threshold`` and in the top decile (decile 1 predicted to buy)."""
    return {**at_threshold_metrics(y, p, threshold), **top_decile_metrics(y, p)}


def validation_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """What the selection reads: AUC, Brier, the F1-maximising threshold and its metrics."""
    out = {"auc": auc(p, y), "brier": float(np.mean((p - y) ** 2)), "n_obs": int(len(y))}
    out.update(threshold_metrics(y, p, best_f1_threshold(y, p)))
    return out


def decile_rows(y: np.ndarray, p: np.ndarray) -> list[tuple[str, str, float, int]]:
    """(metric, slice, value, n_obs): calibration, lift and cumulative gains per decile of ``p``.

    ``lift``: the decile's purchase rate over the overall rate. ``cumulative_gain``:
    the share of all purchasers found in deciles 1..k.
    """
    dec = deciles(p)
    rate, buyers = float(y.mean()), float(y.sum())
    rows, found = [], 0.0
    for d in range(1, 11):
        sel = dec == d
        if not sel.any():
            continue
        found += float(y[sel].sum())
        n = int(sel.sum())
        rows += [("calibration_predicted", f"decile={d}", float(p[sel].mean()), n),
                 ("calibration_observed", f"decile={d}", float(y[sel].mean()), n),
                 ("lift", f"decile={d}", float(y[sel].mean()) / rate if rate > 0 else 0.0, n),
                 ("cumulative_gain", f"decile={d}", found / buyers if buyers > 0 else 0.0, n)]
    return rows


#: The selection's candidate for the BTYD baseline, whichever form of it was fitted.
BTYD_CANDIDATE = "bgnbd"


def evaluated_name(candidate: str, btyd_model: str | None) -> str:
    """The ``model_name`` of a candidate's rows in ``ml_model_evaluation``, for the purchase rows
    and the model_selection rows alike: the BTYD candidate (``bgnbd``) is named after the form
    fitted at that cut-off (``btyd_model``: ``bgnbd``, or ``nbd`` at its no-drop-out limit;
    ``bgnbd`` when unknown), every other candidate after itself. Thresholds and ``served_model``
    stay keyed by the candidate."""
    if candidate == BTYD_CANDIDATE and btyd_model not in (None, "", "none"):
        return str(btyd_model)
    return candidate


def _models(scores: pd.DataFrame, baseline_version: str) -> dict[str, tuple[str, str | None, str, str]]:
    """Model name -> (probability column, expected-purchases column or None, version, the
    selection's candidate it stands for: the key of its validation threshold)."""
    version = str(scores["model_version"].iloc[0])
    btyd = str(scores["btyd_baseline_model"].iloc[0]) if "btyd_baseline_model" in scores.columns else "bgnbd"
    served = str(scores["served_model"].iloc[0]) if "served_model" in scores.columns else "rnn_gru"
    models: dict[str, tuple[str, str | None, str, str]] = {}
    if served in ("blend", "logreg_bgnbd"):  # blends have no column of their own: the served one
        models[served] = ("purchase_probability", "expected_purchases", version, served)
    if served == "rnn_gru" and "p_rnn_gru" not in scores.columns:
        models["rnn_gru"] = ("purchase_probability", "expected_purchases", version, "rnn_gru")
    elif "p_rnn_gru" in scores.columns and scores["p_rnn_gru"].notna().any():
        models["rnn_gru"] = ("p_rnn_gru", "expected_purchases_rnn_gru", version, "rnn_gru")
    if btyd != "none":  # else the BTYD baseline was dropped (baseline_notes says why)
        models[evaluated_name(BTYD_CANDIDATE, btyd)] = ("p_bgnbd", "expected_purchases_bgnbd",
                                                        f"{btyd}.{baseline_version}", BTYD_CANDIDATE)
    models["rfm_heuristic"] = ("p_rfm_heuristic", None, f"rfm.{baseline_version}", "rfm_heuristic")
    models["logreg"] = ("p_logreg", None, f"logreg.{baseline_version}", "logreg")
    if "p_naive_rate" in scores.columns:
        models["naive_rate"] = ("p_naive_rate", "expected_purchases_naive_rate", f"naive_rate.{baseline_version}",
                                "naive_rate")
    return models


def _slice_rows(y, p, e, actual, threshold: float | None) -> list[tuple[str, str, float]]:
    """(task kind, metric, value) of one model on one slice."""
    rows = [("purchase", k, v) for k, v in _binary_metrics(y, p).items()]
    rows += [("purchase", "observed_rate", float(y.mean())), ("purchase", "mean_predicted", float(p.mean()))]
    rows += [("purchase", k, v) for k, v in top_decile_metrics(y, p).items()]
    if threshold is not None:
        rows += [("purchase", k, v) for k, v in at_threshold_metrics(y, p, threshold).items()]
    if e is not None:
        rows += [("purchases", "mae", float(np.abs(e - actual).mean())),
                 ("purchases", "predicted_total", float(e.sum())), ("purchases", "actual_total", float(actual.sum()))]
    return rows


def evaluate_scores(
    scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    as_of_date: dt.date,
    window_start: dt.date,
    window_end: dt.date,
    evaluation_type: str,
    evaluated_at: dt.datetime | None = None,
    thresholds: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Evaluation rows (``EVALUATION_COLUMNS``) of one scored cut-off.

    ``scores``: rows of one ``score_date`` (:data:`SCORE_COLUMNS`).
    ``outcomes``: customer_id, n_purchase_days in the window. Slices: ``all``
    (every scored customer; BG/NBD only if it covers them all), ``purchasers``
    (customers with a purchase by the cut-off: the same customers for all
    models) and ``decile=k`` (calibration, lift, cumulative gains; k = 1 most
    likely). ``thresholds``: each candidate's F1-maximising threshold chosen on
    the validation cut-off (never on these outcomes), keyed by the selection's
    candidate names (the BTYD baseline's under ``bgnbd`` also when it is
    evaluated as ``nbd``, :func:`evaluated_name`); precision, recall and F1
    at it are added for the models that have one. Top-decile precision,
    recall and F1 need no threshold: every model has them on every slice.
    """
    from shoplens.evaluation import evaluation_frame

    if scores.empty:
        raise ValueError("no scores to evaluate")
    if scores["score_date"].nunique() != 1:
        raise ValueError("evaluate_scores takes the scores of one score_date")
    window = int(scores["window_days"].iloc[0])
    tasks = {"purchase": f"purchase_{window}d", "purchases": f"purchases_{window}d"}
    merged = scores.merge(outcomes, on="customer_id", how="left")
    actual = merged["n_purchase_days"].fillna(0).to_numpy("float64")
    y = (actual > 0).astype("float64")
    baseline_version = f"{__version__}+{pd.Timestamp(scores['score_date'].iloc[0]):%Y%m%d}"
    purchasers = merged["has_purchased"].to_numpy(bool)
    rows: list[dict] = []
    for name, (pcol, ecol, ver, candidate) in _models(scores, baseline_version).items():
        p_all = merged[pcol].to_numpy("float64")
        e_all = merged[ecol].to_numpy("float64") if ecol else None
        threshold = (thresholds or {}).get(candidate)
        slices = {"purchasers": purchasers & np.isfinite(p_all)}
        if np.isfinite(p_all).all():
            slices = {"all": np.ones(len(p_all), dtype=bool), **slices}
        for slice_name, m in slices.items():
            if m.sum() == 0 or not (0 < y[m].sum() < m.sum()):
                continue
            for kind, metric, value in _slice_rows(y[m], p_all[m], None if e_all is None else e_all[m],
                                                   actual[m], threshold):
                rows.append(dict(model_name=name, model_version=ver, task=tasks[kind], metric=metric,
                                 slice=slice_name, value=value, n_obs=int(m.sum())))
        m = np.isfinite(p_all)  # decile tables on the model's own deciles, over the customers it scores
        for metric, slice_name, value, n in decile_rows(y[m], p_all[m]) if m.any() else []:
            rows.append(dict(model_name=name, model_version=ver, task=tasks["purchase"], metric=metric,
                             slice=slice_name, value=value, n_obs=n))
    return evaluation_frame(rows, as_of_date=as_of_date, holdout_start_date=window_start,
                            holdout_end_date=window_end, evaluation_type=evaluation_type,
                            evaluated_at=evaluated_at)


def selection_rows(selection: dict, version: str) -> list[dict]:
    """The validation evidence of the choice (task ``model_selection``): every candidate's
    validation metrics and ``is_selected`` (1 for the served model), as the CLV step records
    its count models. The BTYD candidate is named after the form fitted at the validation
    cut-off (:func:`evaluated_name`)."""
    rows = []
    btyd = selection.get("btyd_baseline_model")
    for candidate, metrics in selection.get("validation", {}).items():
        n = int(metrics.get("n_obs", 0))
        name = evaluated_name(candidate, btyd)
        for metric, value in metrics.items():
            if metric != "n_obs" and np.isfinite(value):
                rows.append(dict(model_name=name, model_version=version, task="model_selection",
                                 metric=f"validation_{metric}", slice="all", value=float(value), n_obs=n))
        rows.append(dict(model_name=name, model_version=version, task="model_selection", metric="is_selected",
                         slice="all", value=float(candidate == selection["served_model"]), n_obs=n))
    return rows


def evaluation_plan(as_of_date: dt.date, data_end_date: dt.date | None, has_holdout: bool,
                    window_days: int) -> dict:
    """Which score date is evaluated against which window (the shared holdout rule)."""
    as_of = pd.Timestamp(as_of_date).date()
    if has_holdout:
        end = as_of + dt.timedelta(days=window_days)
        if data_end_date is not None:
            end = min(end, pd.Timestamp(data_end_date).date())
        return {"score_date": as_of, "start": as_of + dt.timedelta(days=1), "end": end,
                "evaluation_type": "holdout"}
    cut = as_of - dt.timedelta(days=window_days)
    return {"score_date": cut, "start": cut + dt.timedelta(days=1), "end": as_of,
            "evaluation_type": "backtest"}
