"""Holdout and backtest evidence for the CLV models, in the shared long format.

Purchases are counted as the BTYD summary counts them: distinct purchase days
per customer (several orders on one day are one transaction), and spend per
purchase day is the sum of that day's order totals.

With data after ``as_of_date`` (``holdout_orders``) the models fitted at
``as_of_date`` are compared with the holdout window ``as_of_date + 1 ..
data_end_date``. Without it, every model is refitted at ``as_of_date -
backtest_days`` on purchases up to that cut-off and compared with what followed
up to ``as_of_date``. Either way only customers who had purchased by the
fitting date are scored (new customers in the window are not the models' job).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd

from shoplens.clv.calibration import predictive_rows
from shoplens.clv.closed_forms import expected_purchases
from shoplens.clv.config import (
    DAYS_PER_UNIT,
    DEFAULT_COUNT_MODEL,
    MODEL_VERSION,
    ClvConfig,
    ClvDataError,
    ClvDeclined,
    ClvFitError,
)
from shoplens.clv.fit import default_count_model, fit_clv
from shoplens.clv.fitted import ClvFit
from shoplens.clv.interval_calibration import inner_calibration
from shoplens.clv.spend import spend_value
from shoplens.clv.summary import validate_summary
from shoplens.evaluation import auc, auc_interval, evaluation_frame
from shoplens.inputs import purchase_days

FREQUENCY_BUCKETS = 7  # buckets 0..6 and "7+"
SELECTION_METRIC = "mae"
# Each customer's past repeat-purchase rate carried forward: the honest
# baseline every count model is shown beside (not a candidate to serve).
NAIVE_MODEL = "naive_rate"


def naive_rate_purchases(x, age, t) -> np.ndarray:
    """Naive-rate forecast of repeat purchases in (T, T + t]: ``x / T * t`` (0 when T = 0).

    The customer's own repeat-purchase rate since the first purchase, carried
    forward with neither shrinkage nor drop-out; ``t`` in the unit of T.
    """
    x = np.asarray(x, dtype=float)
    age = np.asarray(age, dtype=float)
    return np.where(age > 0, x / np.maximum(age, 1e-300), 0.0) * t


def summary_from_purchases(
    purchases: pd.DataFrame, as_of_date: dt.date, time_unit: str = "days"
) -> pd.DataFrame:
    """The ``customer_btyd_summary`` of ``purchases`` up to and including ``as_of_date``.

    Same definitions as the SQL mart: frequency = purchase days after the
    first, recency = first to last purchase day and T = first purchase day to
    ``as_of_date`` (in days, or days / 7 for weeks), monetary_value = mean
    total of the repeat purchase days (0 without repeats).
    """
    days = purchase_days(purchases)
    end = pd.Timestamp(as_of_date)
    days = days.loc[days["order_date"] <= end]
    unit = DAYS_PER_UNIT[time_unit]
    grouped = days.groupby("customer_id", sort=True)
    first = grouped["order_date"].min()
    last = grouped["order_date"].max()
    n_days = grouped.size()
    total = grouped["order_total"].sum()
    first_total = days.loc[days["order_date"] == days["customer_id"].map(first)].set_index(
        "customer_id"
    )["order_total"]
    frequency = (n_days - 1).astype("int64")
    repeat_total = total - first_total.reindex(total.index)
    monetary = np.where(frequency > 0, repeat_total / frequency.clip(lower=1), 0.0)
    return pd.DataFrame(
        {
            "customer_id": first.index,
            "time_unit": time_unit,
            "frequency": frequency.to_numpy(),
            "recency": ((last - first).dt.days / unit).to_numpy(),
            "T": ((end - first).dt.days / unit).to_numpy(),
            "monetary_value": np.asarray(monetary, dtype=float),
            "first_purchase_date": first.dt.date.to_numpy(),
        }
    ).reset_index(drop=True)


def window_actuals(
    purchases: pd.DataFrame, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Per customer: purchase days and spend in ``start .. end`` (inclusive)."""
    days = purchase_days(purchases)
    mask = (days["order_date"] >= pd.Timestamp(start)) & (days["order_date"] <= pd.Timestamp(end))
    grouped = days.loc[mask].groupby("customer_id")
    return pd.DataFrame(
        {"actual_purchases": grouped.size(), "actual_revenue": grouped["order_total"].sum()}
    )


def _bucket(freq: np.ndarray) -> np.ndarray:
    top = FREQUENCY_BUCKETS
    return np.where(freq >= top, f"{top}+", freq.astype(int).astype(str))


def count_model_errors(
    fit: ClvFit, summary: pd.DataFrame, actual: pd.DataFrame, window_days: int, config: ClvConfig
) -> dict[str, list[dict[str, object]]]:
    """Metric rows (task ``repeat_purchases``) for every fitted count model."""
    frame = validate_summary(summary, config)
    joined = frame.join(actual, on="customer_id")
    act = joined["actual_purchases"].fillna(0).to_numpy(dtype=float)
    x = frame["frequency"].to_numpy(dtype=float)
    rec = frame["recency"].to_numpy(dtype=float)
    age = frame["T"].to_numpy(dtype=float)
    t = window_days / config.days_per_unit
    preds = {
        name: expected_purchases(name, model.params, t, x, rec, age) for name, model in fit.count_models.items()
    }
    return _count_rows(preds, act, _bucket(x))


def naive_rate_errors(
    summary: pd.DataFrame, actual: pd.DataFrame, window_days: int, config: ClvConfig
) -> list[dict[str, object]]:
    """The metric rows of :func:`count_model_errors` for the naive-rate baseline."""
    frame = validate_summary(summary, config)
    act = frame.join(actual, on="customer_id")["actual_purchases"].fillna(0).to_numpy(dtype=float)
    x = frame["frequency"].to_numpy(dtype=float)
    pred = naive_rate_purchases(x, frame["T"].to_numpy(dtype=float), window_days / config.days_per_unit)
    return _count_rows({NAIVE_MODEL: pred}, act, _bucket(x))[NAIVE_MODEL]


def _count_rows(
    preds: dict[str, np.ndarray], act: np.ndarray, buckets: np.ndarray
) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for name, pred in preds.items():
        n = len(pred)
        rows: list[dict[str, object]] = []

        def add(metric: str, value: float, n_obs: int, slice_: str = "all", _rows=rows, _name=name) -> None:
            if np.isfinite(value):
                _rows.append({"model_name": _name, "task": "repeat_purchases", "metric": metric,
                              "value": float(value), "n_obs": n_obs, "slice": slice_})

        add("predicted_total", pred.sum(), n)
        add("actual_total", act.sum(), n)
        if act.sum() > 0:
            add("bias_pct", 100 * (pred.sum() - act.sum()) / act.sum(), n)
        add("mae", np.mean(np.abs(pred - act)), n)
        add("rmse", np.sqrt(np.mean((pred - act) ** 2)), n)
        add("auc", auc(pred, act > 0), n)
        for metric, value in zip(("auc_ci_low", "auc_ci_high"), auc_interval(pred, act > 0), strict=True):
            add(metric, value, n)
        for bucket in sorted(set(buckets), key=lambda b: int(b.rstrip("+"))):
            mask = buckets == bucket
            k = int(mask.sum())
            add("predicted_mean", pred[mask].mean(), k, f"frequency={bucket}")
            add("actual_mean", act[mask].mean(), k, f"frequency={bucket}")
            add("predicted_total", pred[mask].sum(), k, f"frequency={bucket}")
            add("actual_total", act[mask].sum(), k, f"frequency={bucket}")
        out[name] = rows
    return out


def select_count_model(fit: ClvFit, errors: dict[str, list[dict[str, object]]] | None) -> ClvFit:
    """Choose the count model with the lowest customer-level holdout MAE.

    Without holdout errors BG/NBD is kept. Ties (within 1e-12) go to BG/NBD.
    The choice and its reason are stored on the fit.
    """
    if not errors:
        fit.selected = default_count_model(fit)
        if fit.selected == DEFAULT_COUNT_MODEL:
            fit.selection_reason = "default: BG/NBD (no holdout data after as_of_date to compare candidates)"
        else:
            fit.selection_reason = (
                f"default: {fit.selected} (BG/NBD could not be served; no holdout data after"
                " as_of_date to compare candidates)"
            )
    else:
        errors = {k: v for k, v in errors.items() if k in fit.count_models}
        # _count_rows writes finite metrics only: a model without a MAE predicted
        # a non-finite value for some customer and is not a candidate
        scores = {
            name: next((float(r["value"]) for r in rows
                        if r["metric"] == SELECTION_METRIC and r["slice"] == "all"), float("nan"))
            for name, rows in errors.items()
        }
        unscored = sorted(k for k, v in scores.items() if not np.isfinite(v))
        scores = {k: v for k, v in scores.items() if np.isfinite(v)}
        if not scores:
            raise ClvFitError(
                f"no count model has a finite holdout MAE ({', '.join(unscored)}): their expected purchases"
                " are not finite for some customers; this is a bug, please report it."
            )
        best = min(scores, key=lambda k: (round(scores[k], 12), k != DEFAULT_COUNT_MODEL))
        listing = ", ".join(f"{k}={v:.5f}" for k, v in sorted(scores.items(), key=lambda kv: kv[1]))
        fit.selected = best
        fit.selection_reason = f"lowest holdout customer-level MAE of repeat purchases ({listing})"
        if unscored:
            fit.selection_reason += (
                f"; not candidates: {', '.join(unscored)} (holdout MAE not finite: non-finite expected purchases)"
            )
    if fit.excluded:
        fit.selection_reason += "; excluded: " + "; ".join(f"{k}: {v}" for k, v in fit.excluded.items())
    return fit


def _value_rows(
    fit: ClvFit, summary: pd.DataFrame, actual: pd.DataFrame, window_days: int, config: ClvConfig
) -> list[dict[str, object]]:
    """Spend (Gamma-Gamma) and revenue (chosen count model x spend) rows."""
    frame = validate_summary(summary, config)
    joined = frame.join(actual, on="customer_id")
    act_n = joined["actual_purchases"].fillna(0).to_numpy(dtype=float)
    act_rev = joined["actual_revenue"].fillna(0).to_numpy(dtype=float)
    x = frame["frequency"].to_numpy(dtype=float)
    m = frame["monetary_value"].to_numpy(dtype=float)
    value = spend_value(fit.spend_model, x, m)
    rows: list[dict[str, object]] = []
    buyers = act_n > 0
    if buyers.any():
        actual_aov = act_rev[buyers] / act_n[buyers]
        k = int(buyers.sum())
        metrics = [
            ("mae", np.mean(np.abs(value[buyers] - actual_aov))),
            ("predicted_mean", value[buyers].mean()),
            ("actual_mean", actual_aov.mean()),
        ]
        if actual_aov.mean() > 0:  # 0 when every window purchase was 0.00
            metrics.append(("bias_pct", 100 * (value[buyers].mean() - actual_aov.mean()) / actual_aov.mean()))
        for metric, val in metrics:
            rows.append({"model_name": fit.spend_model.name, "task": "avg_order_value", "metric": metric,
                         "value": float(val), "n_obs": k})
    model = fit.count_model
    pred_n = expected_purchases(
        model.name, model.params, window_days / config.days_per_unit,
        x, frame["recency"].to_numpy(dtype=float), frame["T"].to_numpy(dtype=float),
    )
    pred_rev = pred_n * value
    n = len(pred_rev)
    combo = f"{model.name}+{fit.spend_model.name}"
    metrics = [
        ("predicted_total", pred_rev.sum()),
        ("actual_total", act_rev.sum()),
        ("mae", np.mean(np.abs(pred_rev - act_rev))),
        ("rmse", np.sqrt(np.mean((pred_rev - act_rev) ** 2))),
    ]
    if act_rev.sum() > 0:
        metrics.append(("bias_pct", 100 * (pred_rev.sum() - act_rev.sum()) / act_rev.sum()))
    for metric, val in metrics:
        rows.append({"model_name": combo, "task": "revenue", "metric": metric, "value": float(val), "n_obs": n})
    return rows


def _window_rows(
    fit: ClvFit, summary: pd.DataFrame, purchases: pd.DataFrame, actual: pd.DataFrame, window: int,
    fit_date: dt.date, config: ClvConfig,
) -> list[dict[str, object]]:
    """Every metric row of the window for ``fit`` (fitted at ``fit_date`` on ``summary``).

    The interval levels are learnt on the inner split of the purchases up to
    ``fit_date`` (:func:`shoplens.clv.interval_calibration.inner_calibration`),
    never on the window itself.
    """
    errors = count_model_errors(fit, summary, actual, window, config)
    rows = [row for name in errors for row in errors[name]]
    rows += naive_rate_errors(summary, actual, window, config)
    rows += _value_rows(fit, summary, actual, window, config)
    calibration = inner_calibration(purchases, fit_date, window, fit.selected, config)
    rows += predictive_rows(fit, validate_summary(summary, config), actual, window, config, calibration)
    return rows


def evaluate_clv(
    fit: ClvFit,
    summary: pd.DataFrame,
    purchases: pd.DataFrame,
    holdout_purchases: pd.DataFrame,
    *,
    as_of_date: dt.date,
    data_end_date: dt.date,
    config: ClvConfig,
    backtest_days: int = 180,
    evaluated_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """``ml_clv_evaluation`` rows for every candidate model (shared long schema).

    ``fit`` is the fit at ``as_of_date`` on ``summary``; ``purchases`` are all
    purchases up to ``as_of_date`` (used for the backtest) and
    ``holdout_purchases`` those after it. Holdout when ``holdout_purchases`` is
    non-empty and ``data_end_date > as_of_date``, backtest otherwise.
    """
    if len(holdout_purchases) and data_end_date > as_of_date:
        start = as_of_date + dt.timedelta(days=1)
        window = (data_end_date - as_of_date).days
        actual = window_actuals(holdout_purchases, start, data_end_date)
        eval_fit, eval_summary, kind, end, fit_date = fit, summary, "holdout", data_end_date, as_of_date
    else:
        if backtest_days < 1:
            raise ClvDataError(f"clv_backtest_days must be >= 1, got {backtest_days}.")
        cutoff = as_of_date - dt.timedelta(days=backtest_days)
        start = cutoff + dt.timedelta(days=1)
        window = backtest_days
        eval_summary = summary_from_purchases(purchases, cutoff, config.time_unit)
        try:
            eval_fit = fit_clv(eval_summary, replace(config, candidates=tuple(fit.count_models)))
        except ClvDataError as exc:
            raise ClvDeclined(
                f"Backtest refit at {cutoff} (as_of_date - clv_backtest_days) failed: {exc}"
                " Fix: a smaller dbt var clv_backtest_days, or keep data after as_of_date for a holdout."
            ) from exc
        # the model in use; BG/NBD if the refit had to leave it out
        eval_fit.selected = fit.selected if fit.selected in eval_fit.count_models else default_count_model(eval_fit)
        actual = window_actuals(purchases, start, as_of_date)
        kind, end, fit_date = "backtest", as_of_date, cutoff
    rows = _window_rows(eval_fit, eval_summary, purchases, actual, window, fit_date, config)
    rows += [{"model_name": name, "task": "model_selection", "metric": "is_selected",
              "value": float(name == fit.selected), "n_obs": 0} for name in eval_fit.count_models]
    for row in rows:
        row["model_version"] = MODEL_VERSION
    return evaluation_frame(
        rows,
        as_of_date=as_of_date,
        holdout_start_date=start,
        holdout_end_date=end,
        evaluation_type=kind,
        evaluated_at=evaluated_at,
    )
