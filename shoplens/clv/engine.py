"""One maximum-likelihood fit per model: the fast engine (our likelihoods) or lifetimes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextvars import ContextVar

import numpy as np
import pandas as pd

from shoplens.clv.config import (
    PARAM_RANGE,
    PARAMETER_NAMES,
    SPEND_MODEL,
    TIME_SCALED,
    WARM_START_PATTERNS,
)
from shoplens.clv.models import MODELS


def _numeric_hessian(fun: Callable[[np.ndarray], float], x0: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of ``fun`` at ``x0``."""
    k = len(x0)
    hess = np.zeros((k, k))
    f0 = fun(x0)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = step
        hess[i, i] = (fun(x0 + ei) - 2 * f0 + fun(x0 - ei)) / step**2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = step
            val = (fun(x0 + ei + ej) - fun(x0 + ei - ej) - fun(x0 - ei + ej) + fun(x0 - ei - ej)) / (
                4 * step**2
            )
            hess[i, j] = hess[j, i] = val
    return hess


def _mean_nll(name: str, data: pd.DataFrame) -> Callable[[np.ndarray], float]:
    """Mean negative log-likelihood per customer of log-parameters (unpenalised, unscaled)."""
    return MODELS[name].mean_nll(data)


def _run_lifetimes(name: str, data: pd.DataFrame, penalizer: float, init: np.ndarray | None):
    """Fit one model with lifetimes; returns the params dict."""
    return MODELS[name].lifetimes_fit(data, penalizer, init)


# The packed data of the frames one fit_model call works on, so that the fit and
# its Hessian check do not pack the same patterns twice. It lives only inside
# ``problem_cache()`` (one fit_model call), never at module level.
_PROBLEMS: ContextVar[dict[tuple[str, int], tuple[pd.DataFrame, tuple]] | None] = ContextVar(
    "clv_fast_problems", default=None
)


@contextlib.contextmanager
def problem_cache():
    """Keep packed fast-engine problems for the frames seen inside the block."""
    token = _PROBLEMS.set({})
    try:
        yield
    finally:
        _PROBLEMS.reset(token)


def _fast_problem(name: str, data: pd.DataFrame):
    """(objective, packed data, time scale) of the fast engine for ``name``."""
    cache = _PROBLEMS.get()
    if cache is None:
        return _build_fast_problem(name, data)
    cached = cache.get((name, id(data)))
    if cached is not None and cached[0] is data:
        return cached[1]
    result = _build_fast_problem(name, data)
    cache[(name, id(data))] = (data, result)
    return result

def _build_fast_problem(name: str, data: pd.DataFrame):
    return MODELS[name].fast_problem(data)


def _run_fast(name: str, data: pd.DataFrame, penalizer: float, init: np.ndarray | None):
    """Maximise lifetimes' likelihood with the fast engine; returns the params dict."""
    params, _ = _run_fast_raw(name, data, penalizer, init)
    return params


class OptimiserError(RuntimeError):
    """The optimiser reported failure (the fast engine's ConvergenceError).

    ``params`` holds where it stopped, so that a run to a boundary is recognised.
    """

    def __init__(self, message: str, params: dict[str, float] | None = None) -> None:
        super().__init__(message)
        self.params = params or {}


def _run_fast_raw(name: str, data: pd.DataFrame, penalizer: float, init: np.ndarray | None):
    # lifetimes is not imported on this path: its import alone costs about a second
    from shoplens.clv import likelihood as lik

    fun, args, scale = _fast_problem(name, data)
    k = len(PARAMETER_NAMES[name])
    # rates (alpha, beta) are per scaled time unit (max T = 1) inside the objective
    scaled = np.array([name != SPEND_MODEL and p in TIME_SCALED for p in PARAMETER_NAMES[name]], dtype=float)
    x0 = MODELS[name].fast_start * np.ones(k) if init is None else init  # lifetimes' default start
    hess_inv0 = None
    if init is None and len(data) > WARM_START_PATTERNS:
        # Start from the fit of a random 3 % of the customers (binomial thinning of
        # the weights) and its inverse Hessian: same optimum, a few full-size steps.
        rng = np.random.default_rng(0)
        thinned = data.assign(weight=rng.binomial(data["weight"].to_numpy(), 0.03))
        thinned = thinned.loc[thinned["weight"] > 0]
        if thinned["weight"].sum() >= 1000:
            with contextlib.suppress(Exception):
                sub_params, sub_hess_inv = _run_fast_raw(name, thinned, penalizer, None)
                x0 = np.log(list(sub_params.values())) + np.log(scale) * scaled
                sym = (sub_hess_inv + sub_hess_inv.T) / 2
                if np.linalg.eigvalsh(sym).min() > 0:
                    hess_inv0 = sym

    def to_params(log_params: np.ndarray) -> dict[str, float]:
        values = np.exp(log_params - np.log(scale) * scaled)
        return dict(zip(PARAMETER_NAMES[name], values.astype(float), strict=True))

    guard = FitGuard(fun, name, to_params)
    with np.errstate(all="ignore"):
        try:
            out = lik.minimise(guard, x0, (*args, penalizer), hess_inv0=hess_inv0, callback=guard.callback)
        except FitStopped as stop:
            raise OptimiserError(str(stop), to_params(stop.log_params)) from None
    params = to_params(out.x)
    if not out.success and not _differenced_gradient_converged(name, out):
        raise OptimiserError(f"BFGS did not converge: {out.message}", params)
    return params, out.hess_inv


#: Largest |gradient| (mean log-likelihood per customer, in log-parameters) at which a fit
#: whose gradient comes from differences (Pareto/NBD) is accepted when BFGS stops on
#: "precision loss": that gradient carries ~1e-8 of rounding from the hypergeometric terms,
#: so BFGS's 1e-7 can be out of reach although the point is the optimum (the fit check
#: still requires a positive definite Hessian and estimates within PARAM_RANGE).
DIFFERENCED_GRADIENT_TOL = 1e-4


def _differenced_gradient_converged(name: str, out) -> bool:
    return (not MODELS[name].has_analytic_gradient and "precision loss" in str(out.message)
            and bool(np.all(np.isfinite(out.jac))) and float(np.abs(out.jac).max()) < DIFFERENCED_GRADIENT_TOL)


#: Consecutive iterations at a boundary after which a fit is stopped: inside the no-drop-out
#: region (``fit.dropout_boundary``), where it can only crawl on towards the limit whose model
#: (NBD) is served anyway, or with an estimate outside PARAM_RANGE (a ridge such as Pareto/NBD's
#: s, beta -> inf), which the fit check rejects wherever the crawl ends. Iterating on would
#: change nothing but the time (a REES46-shaped shop: 156 evaluations, most of 78 s, on the ridge).
BOUNDARY_ITERATIONS = 3


class FitStopped(RuntimeError):
    """A fast-engine fit stopped by :class:`FitGuard`; ``log_params`` is where it stood."""

    def __init__(self, message: str, log_params: np.ndarray) -> None:
        super().__init__(message)
        self.log_params = np.array(log_params, dtype=float)


class FitGuard:
    """The objective of one fit, counted, and the optimiser's callback.

    Stops the fit (raises :class:`FitStopped`) after ``max_evaluations``
    objective evaluations (default: the model's ``max_evaluations``), or after
    ``boundary_iterations`` iterations in a row at the no-drop-out boundary or
    outside PARAM_RANGE. ``evaluations`` is kept for the tests and the bench.
    """

    def __init__(self, fun: Callable, name: str, to_params: Callable[[np.ndarray], dict[str, float]],
                 max_evaluations: int | None = None, boundary_iterations: int | None = None) -> None:
        self.fun, self.name, self.to_params = fun, name, to_params
        self.max_evaluations = MODELS[name].max_evaluations if max_evaluations is None else max_evaluations
        self.boundary_iterations = BOUNDARY_ITERATIONS if boundary_iterations is None else boundary_iterations
        self.evaluations = 0
        self.at_boundary = 0
        self.last = None

    def __call__(self, log_params: np.ndarray, *args):
        if self.evaluations >= self.max_evaluations:
            where = self.last if self.last is not None else log_params
            raise FitStopped(f"stopped after {self.evaluations} likelihood evaluations (the cap)", where)
        self.evaluations += 1
        self.last = np.array(log_params, dtype=float)
        return self.fun(log_params, *args)

    def callback(self, log_params: np.ndarray) -> None:
        from shoplens.clv.fit import dropout_boundary

        params = self.to_params(np.asarray(log_params, dtype=float))
        side = dropout_boundary(self.name, params)
        if side:
            side = f"the no-drop-out boundary ({side})"
        else:
            outside = [k for k, v in params.items() if not PARAM_RANGE[0] <= v <= PARAM_RANGE[1]]
            side = f"{', '.join(outside)} outside {PARAM_RANGE}" if outside else ""
        self.at_boundary = self.at_boundary + 1 if side else 0
        if side and self.at_boundary >= self.boundary_iterations:
            raise FitStopped(f"stopped at {side} after {self.evaluations} likelihood evaluations", log_params)


def _run_engine(name: str, data: pd.DataFrame, penalizer: float, init: np.ndarray | None, engine: str):
    """One maximum-likelihood fit; raises on non-convergence (lifetimes' ConvergenceError)."""
    model = MODELS[name]
    if (engine == "fast" and model.has_fast_likelihood) or not model.has_lifetimes_fitter:
        return _run_fast(name, data, penalizer, init)
    return _run_lifetimes(name, data, penalizer, init)
