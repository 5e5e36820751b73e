"""Fitting BG/NBD and Pareto/NBD with covariates, their standard errors and group parameters."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2

from shoplens.clv.config import ClvConfig, ClvFitError
from shoplens.clv.covariate_likelihood import (
    BASE_NAMES,
    SIGNS,
    CovariateCounts,
    covariate_hessian,
    covariate_nll,
    group_log_params,
)
from shoplens.clv.covariates import CovariateDesign
from shoplens.clv.fitted import FittedModel
from shoplens.clv.likelihood import minimise

LOG = logging.getLogger("shoplens.clv")
SUFFIX = "_cov"
COVARIATE_MODELS = tuple(BASE_NAMES)
# Covariates are served only when the likelihood-ratio test against the model
# without them rejects "no effects" at this level (and the holdout agrees).
LR_TEST_LEVEL = 0.01
# Largest Newton move of any log-parameter or coefficient in one step.
MAX_STEP = 1.0


class CovariateBudgetExceeded(ClvFitError):
    """The covariate fits ran past ``clv_covariate_time_budget``; the model without covariates is served."""


#: The phrase ``ml_clv_parameters.selection_reason`` and ``ml_model_status`` carry when it happens.
BUDGET_STOP = "stopped at the time budget"


@dataclass
class TimeBudget:
    """Seconds the covariate fits of one step may take (dbt var ``clv_covariate_time_budget``).

    :meth:`check` is called after every objective or Hessian evaluation and raises
    :class:`CovariateBudgetExceeded` once ``seconds`` have passed since the budget
    was created. ``clock`` is injectable so that tests need no wall time; ``steps``
    counts the checks (Newton steps and evaluations) for the message.
    """

    seconds: float
    clock: Callable[[], float] = time.monotonic
    start: float = field(default=float("nan"))
    steps: int = 0
    used: float = 0.0  # seconds at the last check

    def __post_init__(self) -> None:
        self.start = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def check(self, model: str) -> None:
        self.steps += 1
        self.used = self.elapsed()
        if self.used >= self.seconds:
            raise CovariateBudgetExceeded(
                f"{BUDGET_STOP}: the covariate fits took {self.used:.1f} s of clv_covariate_time_budget="
                f"{self.seconds:g} s ({model}, {self.steps} evaluations); the model without covariates is served."
                " Fix: fewer covariate levels (clv_covariates), or raise the var"
            )


@dataclass
class CovariateFit:
    """One count model with covariates: packed log-parameters, their covariance, the design."""

    base: str
    theta: np.ndarray
    covariance: np.ndarray
    design: CovariateDesign
    log_likelihood: float
    base_log_likelihood: float
    n_customers: int
    n_patterns: int
    penalizer: float
    time_unit: str = "days"
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.base + SUFFIX

    @property
    def parameter_names(self) -> list[str]:
        """Base parameters (reference level), then ``<parameter>:<covariate>=<level>``."""
        base = list(BASE_NAMES[self.base])
        return base + [f"{p}:{c}" for p in base[1:] for c in self.design.columns]

    @property
    def standard_errors(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.covariance), 0, None))

    def lr_test(self) -> tuple[float, int, float]:
        """(statistic, degrees of freedom, p-value) against the model without covariates."""
        stat = max(0.0, 2 * (self.log_likelihood - self.base_log_likelihood))
        df = 3 * self.design.k
        return stat, df, float(chi2.sf(stat, df)) if df else 1.0

    def group_params(self, design: np.ndarray) -> list[dict[str, float]]:
        """Parameters of every design row (groups x k), in the time unit."""
        lp = group_log_params(self.theta, design, self.base)
        names = BASE_NAMES[self.base]
        return [dict(zip(names, np.exp(row), strict=True)) for row in lp]

    def group_model(self, z: np.ndarray) -> FittedModel:
        """The group's parameters as a :class:`FittedModel` of the base model (delta-method covariance)."""
        k = self.design.k
        jac = np.zeros((4, len(self.theta)))
        jac[np.arange(4), np.arange(4)] = 1.0
        for j, sign in enumerate(SIGNS[self.base]):
            jac[j + 1, 4 + j * k : 4 + (j + 1) * k] = sign * z
        return FittedModel(
            name=self.base, params=self.group_params(z[None, :])[0], log_covariance=jac @ self.covariance @ jac.T,
            log_likelihood=self.log_likelihood, n_customers=self.n_customers, n_patterns=self.n_patterns,
            converged=True, penalizer=self.penalizer, time_unit=self.time_unit,
        )


def newton(start: np.ndarray, args: tuple, tol: float = 1e-9, max_iter: int = 60,
           budget: TimeBudget | None = None) -> np.ndarray:
    """Damped Newton steps on :func:`covariate_nll` with its 5-evaluation Hessian.

    From the fit without covariates it converges in a handful of steps where
    BFGS needs hundreds of gradients. Raises :class:`ClvFitError` when a step
    cannot decrease the objective (the caller then tries BFGS), and
    :class:`CovariateBudgetExceeded` when ``budget`` runs out.
    """
    def check() -> None:
        if budget is not None:
            budget.check(args[2])

    theta = start.copy()
    value, grad = covariate_nll(theta, *args)
    check()
    for step in range(max_iter):
        if budget is not None:  # a progress line per step (logging level INFO)
            LOG.info("shoplens.clv: %s with covariates, Newton step %d, mean -loglik %.6f, |gradient| %.2e,"
                     " %.1f s of %g s", args[2], step, value, np.abs(grad).max(), budget.used, budget.seconds)
        if np.abs(grad).max() < tol:
            return theta
        hess = covariate_hessian(theta, *args)
        check()
        if not np.all(np.isfinite(hess)):
            raise ClvFitError("the Hessian is not finite")
        eig = np.linalg.eigvalsh(hess)
        ridge = 0.0 if eig.min() > 1e-10 else 1e-6 - eig.min()
        try:
            direction = np.linalg.solve(hess + ridge * np.eye(len(theta)), grad)
        except np.linalg.LinAlgError as exc:
            raise ClvFitError(f"Newton step failed: {exc}") from exc
        t = min(1.0, MAX_STEP / np.abs(direction).max())  # a trust region in log-parameters
        while t > 1e-8:
            new_value, new_grad = covariate_nll(theta - t * direction, *args)
            check()
            if new_value <= value - 1e-4 * t * (grad @ direction):
                break
            t /= 2
        else:
            if np.abs(grad).max() < 1e-6:
                return theta  # no decrease left within rounding: at the optimum
            raise ClvFitError("Newton step could not decrease the negative log-likelihood")
        theta, value, grad = theta - t * direction, new_value, new_grad
    raise ClvFitError(f"Newton did not converge in {max_iter} steps")


def compress_groups(frame: pd.DataFrame, groups: np.ndarray) -> pd.DataFrame:
    """Unique (group, frequency, recency, T) rows with ``weight`` = customers per row."""
    rows = pd.DataFrame({"group": groups, "frequency": frame["frequency"].to_numpy(),
                         "recency": frame["recency"].to_numpy(dtype=float), "T": frame["T"].to_numpy(dtype=float)})
    out = rows.groupby(["group", "frequency", "recency", "T"], sort=True).size().reset_index(name="weight")
    return out


def fit_covariate_model(
    base: FittedModel, frame: pd.DataFrame, groups: np.ndarray, design_matrix: np.ndarray,
    design: CovariateDesign, config: ClvConfig, budget: TimeBudget | None = None,
) -> CovariateFit:
    """Maximum likelihood from the fit without covariates (coefficients 0) as the start.

    Standard errors come from the Hessian of the log-likelihood at the
    optimum (forward differences of the gradient). Raises :class:`ClvFitError`
    when BFGS fails or the Hessian is not positive definite, and
    :class:`CovariateBudgetExceeded` when ``budget`` runs out (checked after every
    evaluation, so the overrun is at most one evaluation).
    """
    rows = compress_groups(frame, groups)
    data = CovariateCounts.from_rows(rows, design_matrix)
    time_scaled = [1] + ([3] if base.name == "pareto_nbd" else [])
    start = np.concatenate([base.log_params, np.zeros(3 * design.k)])
    start[time_scaled] += np.log(data.scale)
    args = (data, config.penalizer, base.name)
    try:
        x_hat = newton(start, args, budget=budget)
    except CovariateBudgetExceeded:
        raise
    except ClvFitError:  # Newton stalled: BFGS from the same start
        def timed(theta, *a):
            if budget is not None:
                budget.check(base.name)
            return covariate_nll(theta, *a)

        res = minimise(timed, start, args)
        if not np.isfinite(res.fun) or (not res.success and np.linalg.norm(res.jac) > 1e-4):
            raise ClvFitError(f"did not converge: {res.message}") from None
        x_hat = res.x
    hess = covariate_hessian(x_hat, data, 0.0, base.name)
    eig = np.linalg.eigvalsh(hess) if np.all(np.isfinite(hess)) else np.array([np.nan])
    if not np.all(np.isfinite(eig)) or eig.min() <= 0:
        raise ClvFitError("no maximum found (Hessian not positive definite): a level too small to identify its drop-out")
    cov = np.linalg.inv(hess) / data.total
    theta = x_hat.copy()
    theta[time_scaled] -= np.log(data.scale)
    sum_wx = float(data.w @ data.x)
    nll0 = covariate_nll(x_hat, data, 0.0, base.name, np.inf)[0]  # the log-likelihood, no prior
    loglik = -nll0 * data.total + sum_wx * np.log(data.scale)  # density per unscaled time
    return CovariateFit(
        base=base.name, theta=theta, covariance=(cov + cov.T) / 2, design=design,
        log_likelihood=float(loglik), base_log_likelihood=base.log_likelihood,
        n_customers=int(data.total), n_patterns=len(rows), penalizer=config.penalizer,
        time_unit=config.time_unit,
    )
