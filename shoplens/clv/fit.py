"""Fitting with checks, the penalizer ladder, boundary detection and the default model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from shoplens.clv.config import (
    DEFAULT_COUNT_MODEL,
    LIMIT_MODEL,
    PARAM_RANGE,
    PARAMETER_NAMES,
    PENALIZER_LADDER,
    SPEND_MODEL,
    ClvBoundaryError,
    ClvConfig,
    ClvFitError,
)
from shoplens.clv.engine import (
    _fast_problem,
    _mean_nll,
    _numeric_hessian,
    _run_engine,
    problem_cache,
)
from shoplens.clv.fitted import ClvFit, FittedModel
from shoplens.clv.models import MODELS
from shoplens.clv.summary import compress_counts, validate_summary


def _check_fit(name: str, params: dict[str, float], data: pd.DataFrame) -> tuple[np.ndarray, float, str]:
    """Covariance of log-parameters and log-likelihood; a non-empty string says what failed."""
    values = np.array([params[p] for p in PARAMETER_NAMES[name]])
    if not np.all(np.isfinite(values)) or values.min() < PARAM_RANGE[0] or values.max() > PARAM_RANGE[1]:
        return np.full((len(values), len(values)), np.nan), float("nan"), (
            f"estimates ran to a boundary: {dict(zip(PARAMETER_NAMES[name], values.round(10), strict=True))}"
        )
    n = float(data["weight"].sum())
    lp = np.log(values)
    if not MODELS[name].has_fast_likelihood:
        nll = _mean_nll(name, data)
        mean_nll = nll(lp)
        hess = _numeric_hessian(nll, lp)
    else:  # log-likelihood and its Hessian from the analytic gradient
        from shoplens.clv.likelihood import hessian_from_gradient

        fun, args, scale = _fast_problem(name, data)
        lp_scaled = lp.copy()
        if name != SPEND_MODEL:
            lp_scaled[1] += np.log(scale)
        with np.errstate(all="ignore"):
            mean_nll = fun(lp_scaled, *args, 0.0)[0]
            hess = hessian_from_gradient(fun, lp_scaled, (*args, 0.0))
        if name != SPEND_MODEL:
            # rates measured per scaled time: each purchase contributes log(scale)
            w = data["weight"].to_numpy(dtype=float)
            mean_nll -= float(w @ data["frequency"].to_numpy(dtype=float)) * np.log(scale) / n
    try:
        eig = np.linalg.eigvalsh((hess + hess.T) / 2)
        if not np.all(np.isfinite(eig)) or eig.min() <= 0:
            raise np.linalg.LinAlgError("Hessian is not positive definite")
        cov = np.linalg.inv(hess) / n
    except np.linalg.LinAlgError as exc:
        return np.full((len(values), len(values)), np.nan), -mean_nll * n, f"no maximum found ({exc})"
    if not np.all(np.isfinite(cov)):
        return cov, -mean_nll * n, "standard errors are not finite"
    return cov, -mean_nll * n, ""


def fit_model(
    name: str,
    data: pd.DataFrame,
    *,
    penalizer: float = 0.0,
    time_unit: str = "days",
    init: np.ndarray | None = None,
    ladder: Sequence[float] = PENALIZER_LADDER,
    engine: str = "fast",
) -> FittedModel:
    """Fit one model on compressed data, retrying with a larger penalizer if it fails.

    ``data`` is the output of :func:`compress_counts` (count models) or
    :func:`compress_spend` (``gamma_gamma``). A fit is accepted when lifetimes
    reports convergence, the estimates lie in ``PARAM_RANGE`` and the
    log-likelihood Hessian is positive definite. Otherwise the penalizers in
    ``ladder`` above ``penalizer`` are tried in turn; the accepted fit then
    carries ``fallback_reason``. Raises :class:`ClvFitError` when all fail.
    """
    with problem_cache():
        return _fit_with_ladder(name, data, penalizer, time_unit, init, ladder, engine)


def _fit_with_ladder(name, data, penalizer, time_unit, init, ladder, engine) -> FittedModel:
    tries = [penalizer] + [p for p in ladder if p > penalizer]
    failures: list[str] = []
    hint = ""
    for pen in tries:
        try:
            params = _run_engine(name, data, pen, init, engine)
        except Exception as exc:  # lifetimes raises ConvergenceError, scipy may raise others
            failures.append(f"penalizer={pen}: {type(exc).__name__}: {str(exc).strip()}")
            stopped = getattr(exc, "params", {})
            if pen == penalizer and stopped and dropout_boundary(name, stopped):
                raise ClvBoundaryError(_boundary_message(name, stopped)) from exc
            continue
        cov, loglik, problem = _check_fit(name, params, data)
        if problem:
            if pen == penalizer and dropout_boundary(name, params):
                # The maximum sits at the boundary: a penalizer would only move it
                # off the maximum. The limit (NBD) is served instead.
                raise ClvBoundaryError(_boundary_message(name, params))
            failures.append(f"penalizer={pen}: {problem}")
            hint = hint or _boundary_hint(name, params)
            continue
        reason = "none"
        if failures:
            reason = (
                f"penalizer raised from {penalizer} to {pen} because the fit failed: {failures[0]}"
            )
        return FittedModel(
            name=name,
            params=params,
            log_covariance=cov,
            log_likelihood=float(loglik),
            n_customers=int(data["weight"].sum()),
            n_patterns=len(data),
            converged=True,
            penalizer=pen,
            fallback_reason=reason,
            time_unit=time_unit,
        )
    raise ClvFitError(
        f"{name} did not converge with penalizers {tries}. {hint}Details: " + "; ".join(failures)
        + ". Fix: check customer_btyd_summary for outliers (a few customers with huge frequency)"
        " or set a larger dbt var penalizer."
    )


def dropout_boundary(name: str, params: dict[str, float]) -> str:
    """Which drop-out parameter ran to the no-drop-out boundary ('' if none).

    BG/NBD and MBG/NBD: a -> 0 or b -> inf (drop-out probability a / (a + b)
    -> 0); Pareto/NBD: s -> 0 or beta -> inf (mean drop-out rate s / beta -> 0).
    In each case the likelihood tends to NBD's, so NBD is the limiting model.
    """
    if MODELS[name].churn is None:
        return ""
    lo, hi = PARAM_RANGE
    shape, scale = MODELS[name].churn
    a, b = params.get(shape, np.nan), params.get(scale, np.nan)
    if np.isfinite(a) and a < lo:
        return f"{shape} -> 0"
    if not np.isfinite(b) or b > hi:
        return f"{scale} -> inf"
    if np.isfinite(a) and np.isfinite(b) and a / (a + b) < lo:
        return f"{shape} / ({shape} + {scale}) -> 0"
    return ""


def _boundary_message(name: str, params: dict[str, float]) -> str:
    values = {k: float(f"{v:.4g}") for k, v in params.items()}
    return (
        f"{name} at the no-drop-out boundary ({dropout_boundary(name, params)}, estimates {values}):"
        " customers keep buying until as_of_date, the maximum-likelihood drop-out rate is 0,"
        f" and the limiting model is {LIMIT_MODEL.upper()} ({LIMIT_MODEL})"
    )


def _boundary_hint(name: str, params: dict[str, float]) -> str:
    """A readable cause for estimates that ran to a boundary."""
    lo, hi = PARAM_RANGE
    churn = MODELS[name].churn
    if churn is not None and (params[churn[0]] < lo or params[churn[1]] > hi):
        return (
            "Cause: the data show (almost) no drop-out, customers keep buying until as_of_date,"
            " so the churn parameters are not identified (a penalizer cannot fix that)."
            " Observe longer (a later as_of_date, more history) or check that lapsed customers"
            " were not filtered out of the orders. "
        )
    return ""


def fit_clv(summary: pd.DataFrame, config: ClvConfig) -> ClvFit:
    """Validate, compress and fit every candidate count model plus Gamma-Gamma.

    A count model must succeed (else :class:`ClvFitError`); another
    candidate that fails is left out and listed in ``ClvFit.excluded``. The
    spend model is Gamma-Gamma or its constant-value limit
    (:func:`shoplens.clv.spend.fit_spend`); Gamma-Gamma with ``q <= 1``
    raises :class:`ClvDeclined` (infinite mean spend).
    """
    from shoplens.clv.spend import fit_spend

    # The fit must not depend on the order the warehouse returns rows in: sums
    # over patterns in another order move a flat likelihood's optimum (e.g. at
    # the no-drop-out boundary) by more than rounding.
    frame = validate_summary(summary, config).sort_values("customer_id", kind="stable", ignore_index=True)
    counts = compress_counts(frame)
    models, excluded = fit_count_models(counts, config)
    fit = ClvFit(count_models=models, spend_model=fit_spend(frame, config), excluded=excluded)
    fit.selected = default_count_model(fit)
    return fit


def default_count_model(fit: ClvFit) -> str:
    """The count model served without holdout evidence: BG/NBD, else its NBD limit."""
    for name in (DEFAULT_COUNT_MODEL, LIMIT_MODEL, *fit.count_models):
        if name in fit.count_models:
            return name
    raise ClvFitError("no count model was fitted; this is a bug, please report it.")


def fit_count_models(counts: pd.DataFrame, config: ClvConfig) -> tuple[dict[str, FittedModel], dict[str, str]]:
    """Fit every candidate count model on compressed patterns.

    Returns (fitted models, excluded model -> reason). A candidate whose
    estimate runs to the no-drop-out boundary is excluded and NBD, its limit,
    is fitted in its place (flagged ``at_boundary``); another failure only
    excludes the candidate. Raises :class:`ClvFitError` when no model fits.
    """
    models: dict[str, FittedModel] = {}
    excluded: dict[str, str] = {}
    boundary: dict[str, str] = {}
    for name in config.candidates:
        if name == LIMIT_MODEL:
            continue
        if not MODELS[name].has_fast_likelihood and len(counts) > config.pareto_max_patterns:
            excluded[name] = (
                f"pareto_nbd skipped: {len(counts)} (frequency, recency, T) patterns exceed"
                f" clv_pareto_max_patterns={config.pareto_max_patterns} (lifetimes' Nelder-Mead fit"
                " would take many minutes); raise the var to fit it"
            )
            continue
        try:
            models[name] = fit_model(
                name, counts, penalizer=config.penalizer, time_unit=config.time_unit, engine=config.engine
            )
        except ClvBoundaryError as exc:
            boundary[name] = str(exc)
            excluded[name] = f"{exc}; served as {LIMIT_MODEL}"
        except ClvFitError as exc:
            excluded[name] = str(exc)
    if LIMIT_MODEL in config.candidates or boundary or not models:
        try:
            limit = fit_model(
                LIMIT_MODEL, counts, penalizer=config.penalizer, time_unit=config.time_unit,
                engine=config.engine,
            )
        except ClvFitError as exc:
            excluded[LIMIT_MODEL] = str(exc)
        else:
            if boundary:
                limit.at_boundary = True
                note = "boundary estimate: limit of " + ", ".join(
                    f"{k} ({dropout_boundary_text(v)})" for k, v in boundary.items()
                ) + ", the data show no drop-out"
                limit.fallback_reason = note if limit.fallback_reason == "none" else f"{note}; {limit.fallback_reason}"
            models[LIMIT_MODEL] = limit
    if not models:
        raise ClvFitError(
            "no count model could be fitted: " + "; ".join(f"{k}: {v}" for k, v in excluded.items())
        )
    return models, excluded


def dropout_boundary_text(message: str) -> str:
    """The 'a -> 0' part of a :class:`ClvBoundaryError` message."""
    start = message.find("(")
    return message[start + 1 : message.find(",", start)] if start >= 0 else "boundary"
