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


def nonfinite_patterns(values: np.ndarray, data: pd.DataFrame, examples: int = 3) -> str:
    """'' when every value is finite, else which (frequency, recency, T) patterns are not.

    ``values`` has one entry per row of ``data`` (compressed patterns with a
    weight, or customers); the examples are the most frequent buyers among them.
    """
    bad = ~np.isfinite(np.asarray(values, dtype=float))
    if not bad.any():
        return ""
    rows = data.loc[bad].sort_values("frequency", ascending=False, kind="stable")
    shown = ", ".join(
        f"({int(f)}, {float(r):g}, {float(t):g})"
        for f, r, t in rows[["frequency", "recency", "T"]].head(examples).itertuples(index=False)
    )
    n_customers = int(rows["weight"].sum()) if "weight" in rows else len(rows)
    return f"{int(bad.sum())} (frequency, recency, T) patterns of {n_customers} customers, e.g. {shown}"


def _nonfinite_likelihood(name: str, params: dict[str, float], data: pd.DataFrame) -> str:
    """Which patterns have a non-finite log-likelihood at ``params`` ('' if none, or if the
    model has no per-row likelihood)."""
    rows = getattr(MODELS[name], "row_log_likelihood", None)
    if rows is None:
        return ""
    x, rec, age, _ = MODELS[name]._counts(data, dtype=float)
    with np.errstate(all="ignore"):
        return nonfinite_patterns(rows(params, x, rec, age), data)


def _nonfinite_error(name: str, where: str, patterns: str) -> ClvFitError:
    return ClvFitError(
        f"{name}: the log-likelihood is not finite at {where} for {patterns}. A penalizer cannot fix"
        " a non-finite likelihood: it is a numerical failure of the model's formula on these"
        " histories; please report it with these patterns."
    )


def _check_fit(name: str, params: dict[str, float], data: pd.DataFrame) -> tuple[np.ndarray, float, str]:
    """Covariance of log-parameters and log-likelihood; a non-empty string says what failed."""
    values = np.array([params[p] for p in PARAMETER_NAMES[name]])
    if not np.all(np.isfinite(values)) or values.min() < PARAM_RANGE[0] or values.max() > PARAM_RANGE[1]:
        return np.full((len(values), len(values)), np.nan), float("nan"), (
            "estimates ran to a boundary: "
            + ", ".join(f"{k} = {float(v):.6g}" for k, v in zip(PARAMETER_NAMES[name], values, strict=True))
        )
    n = float(data["weight"].sum())
    lp = np.log(values)
    if not (MODELS[name].has_fast_likelihood and MODELS[name].has_analytic_gradient):
        # second differences of the likelihood (a gradient from differences is too coarse to difference)
        nll = _mean_nll(name, data)
        mean_nll = nll(lp)
        if not np.isfinite(mean_nll):
            patterns = _nonfinite_likelihood(name, params, data)
            if patterns:
                raise _nonfinite_error(name, f"the estimates {_rounded(params)}", patterns)
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


def _rounded(params: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.4g}") for k, v in params.items()}


def _fit_with_ladder(name, data, penalizer, time_unit, init, ladder, engine) -> FittedModel:
    start = getattr(MODELS[name], "start_params", None)
    if init is None and start is not None:
        patterns = _nonfinite_likelihood(name, start(data), data)
        if patterns:
            raise _nonfinite_error(name, f"the start values {_rounded(start(data))}", patterns)
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
            hint = hint or (_boundary_hint(name, stopped) if stopped else "")
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
    fix = ("check customer_btyd_summary.monetary_value for outliers (a few customers with a huge"
           " mean spend: currency mix-ups, test orders)" if name == SPEND_MODEL else
           "check customer_btyd_summary for outliers (a few customers with huge frequency)"
           " or set a larger dbt var penalizer")
    raise ClvFitError(
        f"{name} did not converge with penalizers {tries}. {hint}Details: " + "; ".join(failures)
        + f". Fix: {fix}."
    )


#: Drop-out per purchase below which an estimate beyond PARAM_RANGE is the no-drop-out
#: boundary: a / (a + b) for BG/NBD and MBG/NBD, (s / beta) / (r / alpha) for Pareto/NBD.
NEGLIGIBLE_DROPOUT = 1e-4


def dropout_per_purchase(name: str, params: dict[str, float]) -> float:
    """Mean drop-out per purchase: a / (a + b) (BG/NBD, MBG/NBD); for Pareto/NBD the mean
    drop-out rate s / beta over the mean purchase rate r / alpha (the same ratio in its
    continuous-time form). NaN for a model without drop-out or unusable estimates."""
    churn = MODELS[name].churn
    if churn is None:
        return float("nan")
    shape, scale = (float(params.get(k, np.nan)) for k in churn)
    with np.errstate(all="ignore"):
        if name == "pareto_nbd":
            value = (shape / scale) / (float(params.get("r", np.nan)) / float(params.get("alpha", np.nan)))
        else:
            value = shape / (shape + scale)
    return float(value)


def dropout_boundary(name: str, params: dict[str, float]) -> str:
    """Which drop-out parameter ran to the no-drop-out boundary ('' if none).

    The boundary is a drop-out that vanishes: a / (a + b) -> 0 for BG/NBD and
    MBG/NBD (a -> 0, or b -> inf with a bounded), s / beta -> 0 for Pareto/NBD
    (s -> 0, or beta -> inf with s bounded). In each case the likelihood tends
    to NBD's, so NBD is the limiting model. A scale parameter beyond
    PARAM_RANGE is that boundary only when the drop-out per purchase
    (:func:`dropout_per_purchase`) is negligible too: shape and scale large
    together with a moderate ratio (a / (a + b) = 0.965 at a = 7.6e7,
    b = 2.8e6) is a drop-out probability (rate) almost the same for every
    customer, heavy or light, not its absence.
    """
    if MODELS[name].churn is None:
        return ""
    lo, hi = PARAM_RANGE
    shape, scale = MODELS[name].churn
    a, b = params.get(shape, np.nan), params.get(scale, np.nan)
    if np.isfinite(a) and a < lo:
        return f"{shape} -> 0"
    per_purchase = dropout_per_purchase(name, params)
    if (not np.isfinite(b) or b > hi) and per_purchase < NEGLIGIBLE_DROPOUT:
        return f"{scale} -> inf"
    if per_purchase < lo:
        return f"{shape} / {scale} -> 0" if name == "pareto_nbd" else f"{shape} / ({shape} + {scale}) -> 0"
    return ""


def _boundary_message(name: str, params: dict[str, float]) -> str:
    values = _rounded(params)
    return (
        f"{name} at the no-drop-out boundary ({dropout_boundary(name, params)}, estimates {values}):"
        " customers keep buying until as_of_date, the maximum-likelihood drop-out rate is 0,"
        f" and the limiting model is {LIMIT_MODEL.upper()} ({LIMIT_MODEL})"
    )


def _boundary_hint(name: str, params: dict[str, float]) -> str:
    """A readable cause for estimates that ran to a boundary."""
    hi = PARAM_RANGE[1]
    churn = MODELS[name].churn
    if churn is None:
        return ""
    if dropout_boundary(name, params):
        return (
            "Cause: the data show (almost) no drop-out, customers keep buying until as_of_date,"
            " so the churn parameters are not identified (a penalizer cannot fix that)."
            " Observe longer (a later as_of_date, more history) or check that lapsed customers"
            " were not filtered out of the orders. "
        )
    shape, scale = churn
    if params[shape] > hi or params[scale] > hi:
        per_purchase = dropout_per_purchase(name, params)
        what = f"{shape} / ({shape} + {scale})" if name != "pareto_nbd" else f"({shape} / {scale}) / (r / alpha)"
        grew = (f"{shape} and {scale} grew large together" if params[shape] > hi and params[scale] > hi
                else f"{shape if params[shape] > hi else scale} grew large")
        return (
            f"Cause: {grew} with a drop-out per purchase"
            f" {what} = {per_purchase:.3g}: the drop-out is almost the same for every customer"
            " and its spread across customers is not identified (typical when nearly every"
            " customer buys once); this is not the no-drop-out boundary. "
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
        if not MODELS[name].has_analytic_gradient and len(counts) > config.pareto_max_patterns:
            excluded[name] = (
                f"pareto_nbd skipped: {len(counts)} (frequency, recency, T) patterns exceed"
                f" clv_pareto_max_patterns={config.pareto_max_patterns} (its likelihood has two"
                " hypergeometric terms per pattern and no analytic gradient); raise the var to fit it"
            )
            continue
        try:
            fitted = fit_model(
                name, counts, penalizer=config.penalizer, time_unit=config.time_unit, engine=config.engine
            )
            unusable = unusable_predictions(name, fitted.params, counts, config)
            if unusable:
                raise ClvFitError(f"{name} not served: {unusable}")
            models[name] = fitted
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


def unusable_predictions(name: str, params: dict[str, float], data: pd.DataFrame, config: ClvConfig) -> str:
    """'' when P(alive) lies in [0, 1] and the expected purchases over a year are finite and
    non-negative for every (frequency, recency, T) row of ``data``; else which rows fail.

    A model that cannot score some of the customers it was fitted on is not a
    candidate: its non-finite values would reach the predictions as NULLs.
    """
    model = MODELS[name]
    x, rec, age, _ = model._counts(data, dtype=float)
    with np.errstate(all="ignore"):
        alive = model.probability_alive(params, x, rec, age)
        purchases = model.time_part(params, 365.0 / config.days_per_unit, x, age) * model.history_part(
            params, x, rec, age
        )
    problems = []
    bad_alive = np.where((alive >= 0) & (alive <= 1), 0.0, np.nan)
    if (patterns := nonfinite_patterns(bad_alive, data)):
        problems.append(f"P(alive) is not finite or outside [0, 1] for {patterns}")
    bad_purchases = np.where(purchases >= 0, purchases, np.nan)
    if (patterns := nonfinite_patterns(bad_purchases, data)):
        problems.append(f"expected purchases are not finite or negative for {patterns}")
    return "; ".join(problems)


def dropout_boundary_text(message: str) -> str:
    """The 'a -> 0' part of a :class:`ClvBoundaryError` message."""
    start = message.find("(")
    return message[start + 1 : message.find(",", start)] if start >= 0 else "boundary"
