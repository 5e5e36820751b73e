"""The covariate part of the three CLV steps (called from :mod:`shoplens.clv.pipeline`).

* :func:`add_covariate_models` -> extra ``ml_clv_parameters`` rows and the choice;
* :func:`predictions_with_covariates` -> ``ml_clv_predictions`` scored with
  each customer's own parameters when a model with covariates is served;
* :func:`covariate_evaluation_rows` -> holdout rows of the models with covariates.

Customers' covariates come from ``dim_customers`` (see :mod:`shoplens.clv.covariates`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens.clv.config import MODEL_VERSION, ClvConfig
from shoplens.clv.covariate_fit import SUFFIX
from shoplens.clv.covariate_score import score_with_covariates
from shoplens.clv.covariate_serving import (
    choose_covariates,
    covariate_expected_purchases,
    covariate_parameter_rows,
    design_for,
    fit_covariate_models,
    rebuild_covariate_fit,
    served_covariate_model,
)
from shoplens.clv.evaluation import _bucket, _count_rows, window_actuals
from shoplens.clv.fitted import ClvFit
from shoplens.clv.summary import validate_summary
from shoplens.evaluation import evaluation_frame


def _mae(rows: list[dict[str, object]]) -> float:
    return next(float(r["value"]) for r in rows if r["metric"] == "mae" and r["slice"] == "all")


def add_covariate_models(
    parameters: pd.DataFrame, fit: ClvFit, summary: pd.DataFrame, customers: pd.DataFrame,
    names: tuple[str, ...], config: ClvConfig, as_of_date: dt.date,
    holdout: tuple[pd.DataFrame, int] | None, base_errors: dict | None,
) -> pd.DataFrame:
    """``parameters`` plus the rows of the models with covariates; the served one is marked.

    ``holdout``: (actual purchases per customer, window days) when data follow
    ``as_of_date``; ``base_errors``: the models without covariates' holdout rows.
    """
    frame = validate_summary(summary, config)
    fitted, excluded, (groups, matrix) = fit_covariate_models(fit, frame, customers, names, config, as_of_date)
    holdout_mae = None
    if holdout is not None and base_errors:
        holdout_mae = {name: _mae(rows) for name, rows in base_errors.items()}
        act = _actual(frame, holdout[0])
        t = holdout[1] / config.days_per_unit
        for name, cf in fitted.items():
            pred = covariate_expected_purchases(cf, frame, groups, matrix, t)
            holdout_mae[name] = float(np.mean(np.abs(pred - act)))
    served, reason = choose_covariates(fit, fitted, excluded, holdout_mae)
    stamp = parameters["fitted_at"].iloc[0] if len(parameters) else None
    extra = covariate_parameter_rows(fitted, served, reason, as_of_date=as_of_date, fitted_at=stamp)
    out = parameters.copy()
    count = out["model_role"] == "count"
    out.loc[count & out["is_selected"], "selection_reason"] += f"; covariates: {reason}"
    if served:
        out.loc[count, "is_selected"] = False
    return pd.concat([out, extra], ignore_index=True) if len(extra) else out


def _actual(frame: pd.DataFrame, actual: pd.DataFrame) -> np.ndarray:
    return frame.join(actual, on="customer_id")["actual_purchases"].fillna(0).to_numpy(dtype=float)


def predictions_with_covariates(
    scored: pd.DataFrame, fit: ClvFit, parameters: pd.DataFrame, summary: pd.DataFrame,
    customers: pd.DataFrame | None, names: tuple[str, ...], config: ClvConfig, as_of_date: dt.date,
    calibration=None,
) -> pd.DataFrame:
    """``scored`` as is, or rescored with each customer's own parameters when covariates are served
    (``calibration``: recalibrated interval levels, shoplens.clv.interval_calibration)."""
    served = served_covariate_model(parameters)
    if served is None or customers is None:
        return scored
    frame = validate_summary(summary, config)
    design, groups, matrix, _ = design_for(frame, customers, names, as_of_date)
    cf = rebuild_covariate_fit(parameters, served, design)
    return score_with_covariates(scored, fit, cf, groups, matrix, config, calibration)


def covariate_evaluation_rows(
    parameters: pd.DataFrame, summary: pd.DataFrame, customers: pd.DataFrame | None,
    names: tuple[str, ...], config: ClvConfig, as_of_date: dt.date, actual: pd.DataFrame, window_days: int,
) -> list[dict[str, object]]:
    """Holdout ``repeat_purchases`` and ``model_selection`` rows of every model with covariates."""
    stored = sorted({n for n in parameters["model_name"].astype(str) if n.endswith(SUFFIX)})
    if not stored or customers is None:
        return []
    frame = validate_summary(summary, config)
    design, groups, matrix, _ = design_for(frame, customers, names, as_of_date)
    served = served_covariate_model(parameters)
    act = _actual(frame, actual)
    t = window_days / config.days_per_unit
    preds = {n: covariate_expected_purchases(rebuild_covariate_fit(parameters, n, design), frame, groups, matrix, t)
             for n in stored}
    rows = [row for rs in _count_rows(preds, act, _bucket(frame["frequency"].to_numpy())).values() for row in rs]
    rows += [{"model_name": n, "task": "model_selection", "metric": "is_selected", "value": float(n == served),
              "n_obs": 0} for n in stored]
    for row in rows:
        row["model_version"] = MODEL_VERSION
    return rows


def evaluation_with_covariates(
    evaluation: pd.DataFrame, parameters: pd.DataFrame, summary: pd.DataFrame, customers: pd.DataFrame | None,
    names: tuple[str, ...], config: ClvConfig, holdout: pd.DataFrame,
) -> pd.DataFrame:
    """``evaluation`` plus the holdout rows of the models with covariates (a backtest, which
    refits without covariates, gets only their is_selected rows); the served model is the
    only one with is_selected = 1."""
    if evaluation.empty or customers is None:
        return evaluation
    first = evaluation.iloc[0]
    if str(first["evaluation_type"]) != "holdout":
        return _selection_only(evaluation, parameters)
    start, end = pd.Timestamp(first["holdout_start_date"]).date(), pd.Timestamp(first["holdout_end_date"]).date()
    as_of_date = pd.Timestamp(first["as_of_date"]).date()
    actual = window_actuals(holdout, start, end)
    rows = covariate_evaluation_rows(parameters, summary, customers, names, config, as_of_date, actual,
                                     (end - as_of_date).days)
    if not rows:
        return evaluation
    out = evaluation.copy()
    if served_covariate_model(parameters):
        out.loc[(out["task"] == "model_selection") & (out["metric"] == "is_selected"), "value"] = 0.0
    extra = evaluation_frame(rows, as_of_date=as_of_date, holdout_start_date=start, holdout_end_date=end,
                             evaluation_type="holdout", evaluated_at=first["evaluated_at"])
    return pd.concat([out, extra], ignore_index=True)


def _selection_only(evaluation: pd.DataFrame, parameters: pd.DataFrame) -> pd.DataFrame:
    """Backtest ``evaluation`` with is_selected rows of the models with covariates."""
    served = served_covariate_model(parameters)
    stored = sorted({n for n in parameters["model_name"].astype(str) if n.endswith(SUFFIX)})
    if not stored:
        return evaluation
    out = evaluation.copy()
    if served:
        out.loc[(out["task"] == "model_selection") & (out["metric"] == "is_selected"), "value"] = 0.0
    extra = out.loc[(out["task"] == "model_selection") & (out["metric"] == "is_selected")].head(1)
    rows = [extra.assign(model_name=n, value=float(n == served)) for n in stored]
    return pd.concat([out, *rows], ignore_index=True)
