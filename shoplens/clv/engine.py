"""One maximum-likelihood fit per model: the fast engine (our likelihoods) or lifetimes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextvars import ContextVar

import numpy as np
import pandas as pd

from shoplens.clv.config import PARAMETER_NAMES, SPEND_MODEL, WARM_START_PATTERNS
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
    x0 = 0.1 * np.ones(k) if init is None else init  # lifetimes' default start
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
                start = np.log(list(sub_params.values()))
                if name != SPEND_MODEL:
                    start[1] += np.log(scale)
                x0 = start
                sym = (sub_hess_inv + sub_hess_inv.T) / 2
                if np.linalg.eigvalsh(sym).min() > 0:
                    hess_inv0 = sym
    with np.errstate(all="ignore"):
        out = lik.minimise(fun, x0, (*args, penalizer), hess_inv0=hess_inv0)
    values = np.exp(out.x)
    if name != SPEND_MODEL:
        values[1] /= scale
    params = dict(zip(PARAMETER_NAMES[name], values.astype(float), strict=True))
    if not out.success:
        raise OptimiserError(f"BFGS did not converge: {out.message}", params)
    return params, out.hess_inv


def _run_engine(name: str, data: pd.DataFrame, penalizer: float, init: np.ndarray | None, engine: str):
    """One maximum-likelihood fit; raises on non-convergence (lifetimes' ConvergenceError)."""
    model = MODELS[name]
    if (engine == "fast" and model.has_fast_likelihood) or not model.has_lifetimes_fitter:
        return _run_fast(name, data, penalizer, init)
    return _run_lifetimes(name, data, penalizer, init)
