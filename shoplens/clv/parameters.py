"""The ``ml_clv_parameters`` table and back to a :class:`ClvFit`."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd

from shoplens.clv.config import (
    MODEL_VERSION,
    PARAMETER_COLUMNS,
    PARAMETER_NAMES,
    ClvDataError,
    ClvFitError,
)
from shoplens.clv.fit import default_count_model
from shoplens.clv.fitted import ClvFit, FittedModel


def parameters_frame(
    fit: ClvFit, *, as_of_date: dt.date, fitted_at: dt.datetime | None = None
) -> pd.DataFrame:
    """``ml_clv_parameters``: one row per model and parameter (see ``PARAMETER_COLUMNS``).

    Bounds are Wald intervals on the log scale (always positive). Time-scaled
    parameters (alpha, beta) are in the summary's ``time_unit``.
    ``log_covariance`` holds the parameter's row of the log-parameter
    covariance as JSON, so that predictions can redraw parameters.
    """
    stamp = fitted_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    rows = []
    for model in [*fit.count_models.values(), fit.spend_model]:
        names = PARAMETER_NAMES[model.name]
        se = model.standard_errors
        sd_log = np.sqrt(np.clip(np.diag(model.log_covariance), 0, None))
        selected = model.role == "spend" or model.name == fit.selected
        for i, pname in enumerate(names):
            est = model.params[pname]
            rows.append(
                {
                    "model_name": model.name,
                    "model_role": model.role,
                    "parameter": pname,
                    "estimate": est,
                    "standard_error": se[pname],
                    "lower_95": est * math.exp(-1.959964 * sd_log[i]),
                    "upper_95": est * math.exp(1.959964 * sd_log[i]),
                    "log_likelihood": model.log_likelihood,
                    "n_customers": model.n_customers,
                    "n_patterns": model.n_patterns,
                    "converged": model.converged,
                    "penalizer": model.penalizer,
                    "fallback_reason": model.fallback_reason,
                    "is_selected": selected,
                    "selection_reason": fit.selection_reason if model.role == "count" else "spend model",
                    "at_boundary": model.at_boundary,
                    "time_unit": model.time_unit,
                    "log_covariance": json.dumps(
                        {n: float(model.log_covariance[i, j]) for j, n in enumerate(names)}
                    ),
                    "as_of_date": as_of_date,
                    "model_version": MODEL_VERSION,
                    "fitted_at": stamp,
                }
            )
    frame = pd.DataFrame(rows, columns=PARAMETER_COLUMNS)
    frame["fitted_at"] = pd.to_datetime(frame["fitted_at"])
    for col in ("estimate", "standard_error", "lower_95", "upper_95", "log_likelihood"):
        if not np.all(np.isfinite(frame[col].to_numpy(dtype=float))):
            raise ClvFitError(f"ml_clv_parameters.{col} is not finite; refusing to write it.")
    return frame


def fit_from_parameters(parameters: pd.DataFrame) -> ClvFit:
    """Rebuild a :class:`ClvFit` from ``ml_clv_parameters`` (no refit).

    Models with covariates (``*_cov``) are left to shoplens.clv.covariate_serving.
    """
    with_covariates = parameters["model_name"].astype(str).str.endswith("_cov")
    served_base = [str(n).removesuffix("_cov") for n in parameters.loc[with_covariates & parameters["is_selected"],
                                                                        "model_name"].unique()]
    parameters = parameters.loc[~with_covariates]
    models: dict[str, FittedModel] = {}
    for name, rows in parameters.groupby("model_name", sort=False):
        names = PARAMETER_NAMES[str(name)]
        by_param = rows.set_index("parameter")
        cov = np.array([[json.loads(by_param.loc[a, "log_covariance"])[b] for b in names] for a in names])
        first = rows.iloc[0]
        models[str(name)] = FittedModel(
            name=str(name),
            params={pn: float(by_param.loc[pn, "estimate"]) for pn in names},
            log_covariance=cov,
            log_likelihood=float(first["log_likelihood"]),
            n_customers=int(first["n_customers"]),
            n_patterns=int(first["n_patterns"]),
            converged=bool(first["converged"]),
            penalizer=float(first["penalizer"]),
            fallback_reason=str(first["fallback_reason"]),
            time_unit=str(first["time_unit"]),
            at_boundary=bool(first.get("at_boundary", False)),
        )
    spend_names = [name for name, m in models.items() if m.role == "spend"]
    if len(spend_names) != 1 or len(models) < 2:
        raise ClvDataError(
            "ml_clv_parameters lacks a count model or a spend model (gamma_gamma or constant_value)."
            " Fix: rebuild it (dbt build --select ml_clv_parameters+)."
        )
    spend = models.pop(spend_names[0])
    fit = ClvFit(count_models=models, spend_model=spend)
    selected_rows = parameters.loc[(parameters["model_role"] == "count") & parameters["is_selected"]]
    fit.selected = str(selected_rows["model_name"].iloc[0]) if len(selected_rows) else default_count_model(fit)
    if not len(selected_rows) and served_base and served_base[0] in fit.count_models:
        fit.selected = served_base[0]  # the model served with covariates, without them
    fit.selection_reason = str(selected_rows["selection_reason"].iloc[0]) if len(selected_rows) else ""
    return fit
