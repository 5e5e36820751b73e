"""Evaluation of the scores against later purchases (``ml_model_evaluation`` rows)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.evaluation import auc, deciles
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
    return {
        "auc": auc(p, y),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, pc, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
    }


def evaluate_scores(
    scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    as_of_date: dt.date,
    window_start: dt.date,
    window_end: dt.date,
    evaluation_type: str,
    evaluated_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """Evaluation rows (``EVALUATION_COLUMNS``) of one scored cut-off.

    ``scores``: rows of one ``score_date`` (:data:`SCORE_COLUMNS`).
    ``outcomes``: customer_id, n_purchase_days in the window. Slices: ``all``
    (every scored customer; BG/NBD only if it covers them all), ``purchasers``
    (customers with a purchase by the cut-off: the same customers for all four
    models) and ``decile=k`` for the calibration table (k = 1 most likely).
    """
    from shoplens.evaluation import evaluation_frame

    if scores.empty:
        raise ValueError("no scores to evaluate")
    if scores["score_date"].nunique() != 1:
        raise ValueError("evaluate_scores takes the scores of one score_date")
    window = int(scores["window_days"].iloc[0])
    task = f"purchase_{window}d"
    count_task = f"purchases_{window}d"
    merged = scores.merge(outcomes, on="customer_id", how="left")
    actual = merged["n_purchase_days"].fillna(0).to_numpy("float64")
    y = (actual > 0).astype("float64")
    version = str(scores["model_version"].iloc[0])
    baseline_version = f"{__version__}+{pd.Timestamp(scores['score_date'].iloc[0]):%Y%m%d}"
    btyd = "bgnbd"
    if "btyd_baseline_model" in scores.columns:
        btyd = str(scores["btyd_baseline_model"].iloc[0])
    models = {
        "rnn_gru": ("purchase_probability", "expected_purchases", version),
        btyd: ("p_bgnbd", "expected_purchases_bgnbd", f"{btyd}.{baseline_version}"),
        "rfm_heuristic": ("p_rfm_heuristic", None, f"rfm.{baseline_version}"),
        "logreg": ("p_logreg", None, f"logreg.{baseline_version}"),
    }
    models.pop("none", None)  # the BTYD baseline was dropped (baseline_notes says why)
    if "p_naive_rate" in scores.columns:
        models["naive_rate"] = ("p_naive_rate", "expected_purchases_naive_rate", f"naive_rate.{baseline_version}")
    purchasers = merged["has_purchased"].to_numpy(bool)
    rows: list[dict] = []
    for name, (pcol, ecol, ver) in models.items():
        p_all = merged[pcol].to_numpy("float64")
        slices = {"purchasers": purchasers & np.isfinite(p_all)}
        if np.isfinite(p_all).all():
            slices = {"all": np.ones(len(p_all), dtype=bool), **slices}
        for slice_name, m in slices.items():
            if m.sum() == 0 or not (0 < y[m].sum() < m.sum()):
                continue
            for metric, value in _binary_metrics(y[m], p_all[m]).items():
                rows.append(dict(model_name=name, model_version=ver, task=task, metric=metric,
                                 slice=slice_name, value=value, n_obs=int(m.sum())))
            rows.append(dict(model_name=name, model_version=ver, task=task, metric="observed_rate",
                             slice=slice_name, value=float(y[m].mean()), n_obs=int(m.sum())))
            rows.append(dict(model_name=name, model_version=ver, task=task, metric="mean_predicted",
                             slice=slice_name, value=float(p_all[m].mean()), n_obs=int(m.sum())))
            if ecol is not None:
                e = merged[ecol].to_numpy("float64")[m]
                for metric, value in {
                    "mae": float(np.abs(e - actual[m]).mean()),
                    "predicted_total": float(e.sum()),
                    "actual_total": float(actual[m].sum()),
                }.items():
                    rows.append(dict(model_name=name, model_version=ver, task=count_task,
                                     metric=metric, slice=slice_name, value=value, n_obs=int(m.sum())))
        # calibration table on the model's own deciles, over the customers it scores
        m = np.isfinite(p_all)
        dec = deciles(p_all[m])
        for d in range(1, 11):
            sel = dec == d
            if not sel.any():
                continue
            rows.append(dict(model_name=name, model_version=ver, task=task, metric="calibration_predicted",
                             slice=f"decile={d}", value=float(p_all[m][sel].mean()), n_obs=int(sel.sum())))
            rows.append(dict(model_name=name, model_version=ver, task=task, metric="calibration_observed",
                             slice=f"decile={d}", value=float(y[m][sel].mean()), n_obs=int(sel.sum())))
    return evaluation_frame(
        rows,
        as_of_date=as_of_date,
        holdout_start_date=window_start,
        holdout_end_date=window_end,
        evaluation_type=evaluation_type,
        evaluated_at=evaluated_at,
    )


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
