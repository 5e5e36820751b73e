"""Count models with covariates in the CLV step: fit, choose, store, score.

* :func:`fit_covariate_models` fits BG/NBD and Pareto/NBD with covariates
  next to the models without them (same customers, same penalizer);
* :func:`choose_covariates` serves a model with covariates only when the
  likelihood-ratio test against the same model without them rejects "no
  effects" at 1 % and, with a holdout, its customer-level MAE of repeat
  purchases is lower; the reason lists both figures;
* :func:`covariate_parameter_rows` gives its ``ml_clv_parameters`` rows
  (base parameters with role count, coefficients with role covariate);
* :func:`rebuild_covariate_fit` reads them back and :func:`score_with_covariates`
  scores every customer with the parameters of its covariate group.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd

from shoplens.clv.closed_forms import expected_purchases
from shoplens.clv.config import (
    MODEL_VERSION,
    PARAMETER_COLUMNS,
    ClvConfig,
    ClvDataError,
    ClvFitError,
)
from shoplens.clv.covariate_fit import (
    BUDGET_STOP,
    LOG,
    LR_TEST_LEVEL,
    SUFFIX,
    CovariateBudgetExceeded,
    CovariateFit,
    TimeBudget,
    compress_groups,
    fit_covariate_model,
)
from shoplens.clv.covariate_likelihood import BASE_NAMES
from shoplens.clv.covariates import CovariateDesign, build_design, customer_covariates
from shoplens.clv.fitted import ClvFit

ROLE = "covariate"


def design_for(frame: pd.DataFrame, customers: pd.DataFrame, names: tuple[str, ...], as_of_date: dt.date):
    """(design, group per summary customer, groups x k matrix, notes) for the summary's customers."""
    covs = customer_covariates(customers, names, as_of_date).drop_duplicates("customer_id")
    covs = frame[["customer_id"]].merge(covs, on="customer_id", how="left")
    design, notes = build_design(covs, names)
    groups, matrix = design.groups(covs)
    return design, groups, matrix, notes


def fit_covariate_models(
    fit: ClvFit, frame: pd.DataFrame, customers: pd.DataFrame, names: tuple[str, ...],
    config: ClvConfig, as_of_date: dt.date, budget: TimeBudget | None = None,
) -> tuple[dict[str, CovariateFit], dict[str, str], tuple[np.ndarray, np.ndarray]]:
    """Fitted models with covariates, excluded ones with the reason, (group per customer, design matrix).

    All fits share one ``budget`` (default: ``config.covariate_time_budget`` seconds
    from now): a fit still running when it is spent stops, and it and the fits not
    yet started are excluded with the reason (:data:`BUDGET_STOP`).
    """
    budget = budget or TimeBudget(config.covariate_time_budget)
    design, groups, matrix, notes = design_for(frame, customers, names, as_of_date)
    fitted: dict[str, CovariateFit] = {}
    excluded: dict[str, str] = {}
    if design.k == 0:
        excluded["covariates"] = "no covariate varies across customers (" + "; ".join(notes) + ")"
        return fitted, excluded, (groups, matrix)
    n_rows = len(compress_groups(frame, groups))
    stopped = ""
    for name in BASE_NAMES:
        if name not in fit.count_models:
            continue
        if name == "pareto_nbd" and n_rows > config.pareto_max_patterns:
            excluded[name + SUFFIX] = (
                f"skipped: {n_rows} (group, frequency, recency, T) rows exceed clv_pareto_max_patterns="
                f"{config.pareto_max_patterns}"
            )
            continue
        if stopped:
            excluded[name + SUFFIX] = f"not fitted: the covariate fits {BUDGET_STOP} ({stopped})"
            continue
        try:
            fitted[name + SUFFIX] = fit_covariate_model(fit.count_models[name], frame, groups, matrix, design, config,
                                                        budget)
            fitted[name + SUFFIX].notes = notes
        except CovariateBudgetExceeded as exc:
            LOG.warning("shoplens.clv: %s%s %s", name, SUFFIX, exc)
            excluded[name + SUFFIX] = str(exc)
            stopped = f"clv_covariate_time_budget={config.covariate_time_budget:g} s"
        except ClvFitError as exc:
            excluded[name + SUFFIX] = str(exc)
    return fitted, excluded, (groups, matrix)


def covariate_expected_purchases(
    cf: CovariateFit, frame: pd.DataFrame, groups: np.ndarray, matrix: np.ndarray, t: float
) -> np.ndarray:
    """E[repeat purchases in (T, T + t]] per customer, with its group's parameters."""
    out = np.empty(len(frame))
    x, rec, age = (frame[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    for g, params in enumerate(cf.group_params(matrix)):
        idx = np.flatnonzero(groups == g)
        out[idx] = expected_purchases(cf.base, params, t, x[idx], rec[idx], age[idx])
    return out


def _verdict(cf: CovariateFit, holdout_mae: dict[str, float] | None) -> tuple[bool, str]:
    """(covariates earn their place, why) for one model with covariates."""
    stat, df, pval = cf.lr_test()
    lr = f"likelihood-ratio chi2={stat:.2f} on {df} df, p={pval:.3g}"
    if pval >= LR_TEST_LEVEL:
        return False, f"no detectable effect ({lr} >= {LR_TEST_LEVEL})"
    if holdout_mae is None or cf.name not in holdout_mae or cf.base not in holdout_mae:
        return True, f"{lr} (no holdout to compare on)"
    with_cov, without = holdout_mae[cf.name], holdout_mae[cf.base]
    mae = f"holdout customer-level MAE {with_cov:.5f} with covariates vs {without:.5f} without"
    return with_cov < without, f"{mae}; {lr}"


def choose_covariates(
    fit: ClvFit, fitted: dict[str, CovariateFit], excluded: dict[str, str], holdout_mae: dict[str, float] | None
) -> tuple[str | None, str]:
    """(served model with covariates or None, reason covering every model with covariates).

    Only the selected count model's version with covariates can be served;
    it is when its likelihood-ratio test rejects "no effects" at
    ``LR_TEST_LEVEL`` and, with a holdout, its MAE beats the model without.
    """
    verdicts = {name: _verdict(cf, holdout_mae) for name, cf in fitted.items()}
    candidate = fit.selected + SUFFIX
    served = candidate if verdicts.get(candidate, (False, ""))[0] else None
    head = f"{served} served" if served else f"{fit.selected} served without covariates"
    parts = [f"{name}: {text}" for name, (_, text) in verdicts.items()]
    parts += [f"{name}: {text}" for name, text in excluded.items()]
    return served, head + " (" + "; ".join(parts) + ")" if parts else head


def covariate_parameter_rows(
    fitted: dict[str, CovariateFit], served: str | None, reason: str, *, as_of_date: dt.date,
    fitted_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """``ml_clv_parameters`` rows of the models with covariates (columns of ``PARAMETER_COLUMNS``)."""
    stamp = fitted_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    rows = []
    for name, cf in fitted.items():
        names = cf.parameter_names
        se = cf.standard_errors
        for i, pname in enumerate(names):
            is_base = i < 4
            est = math.exp(cf.theta[i]) if is_base else float(cf.theta[i])
            lo, hi = ((est * math.exp(-1.959964 * se[i]), est * math.exp(1.959964 * se[i])) if is_base
                      else (est - 1.959964 * se[i], est + 1.959964 * se[i]))
            rows.append({
                "model_name": name, "model_role": "count" if is_base else ROLE, "parameter": pname,
                "estimate": est, "standard_error": est * se[i] if is_base else float(se[i]),
                "lower_95": lo, "upper_95": hi, "log_likelihood": cf.log_likelihood,
                "n_customers": cf.n_customers, "n_patterns": cf.n_patterns, "converged": True,
                "penalizer": cf.penalizer, "fallback_reason": "none", "is_selected": name == served,
                "selection_reason": reason, "at_boundary": False, "time_unit": cf.time_unit,
                "log_covariance": json.dumps({n: float(cf.covariance[i, j]) for j, n in enumerate(names)}),
                "as_of_date": as_of_date, "model_version": MODEL_VERSION, "fitted_at": stamp,
            })
    frame = pd.DataFrame(rows, columns=PARAMETER_COLUMNS)
    frame["fitted_at"] = pd.to_datetime(frame["fitted_at"])
    return frame


def covariate_budget_problem(parameters: pd.DataFrame) -> str:
    """'' or the ``ml_model_status`` problem when the covariate fits stopped at their time budget."""
    if parameters.empty or "selection_reason" not in parameters.columns:
        return ""
    reasons = parameters.loc[parameters["is_selected"].astype(bool), "selection_reason"].astype(str)
    if not reasons.str.contains(BUDGET_STOP, regex=False).any():
        return ""
    return (f"covariates: the fits with covariates {BUDGET_STOP} (clv_covariate_time_budget), so the model"
            " without covariates is served; see ml_clv_parameters.selection_reason")


def served_covariate_model(parameters: pd.DataFrame) -> str | None:
    """The model with covariates ``ml_clv_parameters`` serves (None if none)."""
    if parameters.empty:
        return None
    rows = parameters.loc[parameters["model_name"].astype(str).str.endswith(SUFFIX) & parameters["is_selected"]]
    return str(rows["model_name"].iloc[0]) if len(rows) else None


def rebuild_covariate_fit(parameters: pd.DataFrame, name: str, design: CovariateDesign) -> CovariateFit:
    """The stored model with covariates; the design rebuilt from the data must match its columns."""
    rows = parameters.loc[parameters["model_name"] == name]
    base = name.removesuffix(SUFFIX)
    cf = CovariateFit(base=base, theta=np.zeros(0), covariance=np.zeros((0, 0)), design=design,
                      log_likelihood=float(rows["log_likelihood"].iloc[0]), base_log_likelihood=float("nan"),
                      n_customers=int(rows["n_customers"].iloc[0]), n_patterns=int(rows["n_patterns"].iloc[0]),
                      penalizer=float(rows["penalizer"].iloc[0]), time_unit=str(rows["time_unit"].iloc[0]))
    names = cf.parameter_names
    stored = list(rows["parameter"])
    if sorted(stored) != sorted(names):
        raise ClvDataError(
            f"ml_clv_parameters rows of {name} name covariate levels {sorted(set(stored) - set(names))} that"
            " dim_customers no longer gives (or the reverse). Fix: rebuild ml_clv_parameters with the same"
            " as_of_date and clv_covariates (dbt build --select ml_clv_parameters+)."
        )
    by_param = rows.set_index("parameter")
    est = by_param.loc[names, "estimate"].to_numpy(dtype=float)
    cf.theta = np.concatenate([np.log(est[:4]), est[4:]])
    cf.covariance = np.array([[json.loads(by_param.loc[a, "log_covariance"])[b] for b in names] for a in names])
    return cf
