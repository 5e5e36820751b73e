"""Customer lifetime value: BTYD count models plus Gamma-Gamma spend.

Input is ``customer_btyd_summary`` (one row per purchasing customer, see
docs/marts.md): ``frequency`` (repeat purchase days), ``recency`` and ``T`` in
the summary's ``time_unit`` (``days`` or ``weeks`` = days / 7), and
``monetary_value`` (mean repeat purchase-day total, 0 when frequency = 0).

What happens here:

1. :func:`validate_summary` rejects malformed or degenerate input with a
   :class:`ClvDataError` that names the cause and the fix.
2. :func:`fit_clv` compresses the customers to unique ``(frequency, recency, T)``
   patterns (and unique ``(frequency, monetary_value)`` for spend) with weights
   and maximises lifetimes' likelihoods of BG/NBD, MBG/NBD and Gamma-Gamma
   (engine ``fast``: shoplens.clv_likelihood, analytic gradient; engine
   ``lifetimes``: lifetimes' own fitters) and fits Pareto/NBD with lifetimes.
   The likelihood of compressed data is the likelihood of the customers, so
   the estimates equal a per-customer lifetimes fit (tested to 1e-4).
3. :func:`score_customers` turns the chosen count model plus Gamma-Gamma into
   per-customer predictions, with a CLV interval from the parameters' sampling
   distribution.

Degenerate data follow one rule (docs/clv.md, "Failure modes"): when the data
cannot identify a model (too few customers, no repeat buyers, constant or
non-positive spend, a Gamma-Gamma ``q <= 1`` that gives an infinite mean spend),
the build stops with a :class:`ClvDataError`. When only the optimiser fails, the
fit is retried with an increasing penalizer; a fit that needed this is flagged
(``fallback_reason``) in ``ml_clv_parameters`` and in every prediction row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import gammaln, hyp2f1

from shoplens import __version__
from shoplens.status import StepDeclined

MODEL_TAG = "clv.1"
MODEL_VERSION = f"{__version__}+{MODEL_TAG}"

COUNT_MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto_nbd", "nbd")
SPEND_MODEL = "gamma_gamma"
DEFAULT_COUNT_MODEL = "bgnbd"
# The no-drop-out limit of BG/NBD (a -> 0), MBG/NBD (a -> 0) and Pareto/NBD
# (s -> 0): served when their likelihood is maximised at that boundary.
LIMIT_MODEL = "nbd"
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
    "nbd": ("r", "alpha"),
    "gamma_gamma": ("p", "q", "v"),
}
# Parameters measured in the summary's time unit (rates per unit of time).
TIME_SCALED = {"alpha", "beta"}
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0}
DAYS_PER_MONTH = 365.25 / 12
# Retried after the user's penalizer when an optimiser fails (docs/clv.md).
PENALIZER_LADDER: tuple[float, ...] = (0.001, 0.01, 0.1)
ENGINES = ("fast", "lifetimes")
# Above this many patterns the fast engine starts from a 10 % subsample's fit.
WARM_START_PATTERNS = 50_000
# Estimates outside this range mean the optimiser ran to a boundary.
PARAM_RANGE = (1e-6, 1e6)
SUMMARY_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value")

PREDICTION_COLUMNS: list[str] = [
    "customer_id",
    "as_of_date",
    "time_unit",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "has_repeat_purchase",
    "probability_alive",
    "expected_purchases_30d",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "expected_avg_order_value",
    "clv",
    "clv_p10",
    "clv_p90",
    "clv_horizon_months",
    "annual_discount_rate",
    "expected_days_to_next_purchase",
    "count_model",
    "spend_model",
    "is_fallback",
    "fallback_reason",
    "model_version",
]

PARAMETER_COLUMNS: list[str] = [
    "model_name",
    "model_role",
    "parameter",
    "estimate",
    "standard_error",
    "lower_95",
    "upper_95",
    "log_likelihood",
    "n_customers",
    "n_patterns",
    "converged",
    "penalizer",
    "fallback_reason",
    "is_selected",
    "selection_reason",
    "at_boundary",
    "time_unit",
    "log_covariance",
    "as_of_date",
    "model_version",
    "fitted_at",
]


class ClvDataError(ValueError):
    """The data cannot support the CLV models; the message names cause and fix."""


class ClvDeclined(ClvDataError, StepDeclined):
    """Valid data that cannot identify any CLV model (too few customers, no repeat
    buyers, ...): the step declines and serves an empty table with this reason."""


class ClvFitError(RuntimeError):
    """A model did not converge even with the penalizer fallback."""


class ClvBoundaryError(ClvFitError):
    """The likelihood is maximised at the no-drop-out boundary; the limit is NBD."""


@dataclass(frozen=True)
class ClvConfig:
    """Settings of a CLV run (dbt vars in brackets).

    time_unit: unit of ``recency``/``T`` (``btyd_time_unit``), days or weeks.
    penalizer: L2 penalty on the parameters, lifetimes' ``penalizer_coef`` (``penalizer``).
    horizon_months: CLV horizon in months of 365.25/12 days (``clv_horizon_months``).
    annual_discount_rate: yearly rate; cash flows are discounted monthly at
        ``(1 + rate) ** (1/12) - 1`` (``annual_discount_rate``).
    candidates: count models to fit (any of ``COUNT_MODELS``); NBD, the
        no-drop-out limit, is added whenever another candidate's estimate
        runs to that boundary.
    min_customers / min_repeat_customers: below these the run stops
        (``clv_min_customers``, ``clv_min_repeat_customers``).
    n_draws: parameter draws for the CLV interval (``clv_interval_draws``).
    seed: seed of those draws (``seed``).
    pareto_max_patterns: Pareto/NBD is skipped (and the skip recorded) above
        this many unique (frequency, recency, T) patterns, because lifetimes
        fits it by Nelder-Mead over hypergeometric terms: about 5 minutes at
        80,000 patterns (``clv_pareto_max_patterns``).
    engine: ``fast`` maximises lifetimes' likelihood with shoplens.clv_likelihood
        (grouped terms, analytic gradient); ``lifetimes`` calls lifetimes'
        fitters on the compressed patterns. Same optimum (tested); Pareto/NBD
        always uses lifetimes (``clv_fit_engine``).
    """

    time_unit: str = "days"
    penalizer: float = 0.0
    horizon_months: int = 12
    annual_discount_rate: float = 0.10
    candidates: tuple[str, ...] = COUNT_MODELS
    min_customers: int = 100
    min_repeat_customers: int = 20
    n_draws: int = 100
    seed: int = 42
    pareto_max_patterns: int = 10_000
    engine: str = "fast"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ClvDataError(f"clv_fit_engine must be one of {ENGINES}, got {self.engine!r}.")
        if self.time_unit not in DAYS_PER_UNIT:
            raise ClvDataError(
                f"btyd_time_unit must be 'days' or 'weeks', got {self.time_unit!r}."
                " Fix: set --vars '{btyd_time_unit: weeks}' or days."
            )
        if not (math.isfinite(self.penalizer) and self.penalizer >= 0):
            raise ClvDataError(f"penalizer must be a finite number >= 0, got {self.penalizer!r}.")
        if int(self.horizon_months) != self.horizon_months or not 1 <= self.horizon_months <= 600:
            raise ClvDataError(
                f"clv_horizon_months must be a whole number of months in 1..600, got {self.horizon_months!r}."
            )
        if not (math.isfinite(self.annual_discount_rate) and 0 <= self.annual_discount_rate < 1):
            raise ClvDataError(
                "annual_discount_rate must be a yearly rate in [0, 1), e.g. 0.10 for 10 %,"
                f" got {self.annual_discount_rate!r}."
            )
        unknown = set(self.candidates) - set(COUNT_MODELS)
        if unknown or not self.candidates:
            raise ClvDataError(
                f"clv_candidates must be a non-empty list of {COUNT_MODELS}, got {self.candidates!r}."
                " Fix: set --vars '{clv_candidates: \"bgnbd,nbd\"}' or leave the default."
            )
        if self.n_draws < 10:
            raise ClvDataError(f"clv_interval_draws must be >= 10, got {self.n_draws}.")
        if self.min_customers < 2 or self.min_repeat_customers < 2:
            raise ClvDataError("clv_min_customers and clv_min_repeat_customers must be >= 2.")

    @property
    def days_per_unit(self) -> float:
        return DAYS_PER_UNIT[self.time_unit]


# --------------------------------------------------------------------------
# fitted models
# --------------------------------------------------------------------------


@dataclass
class FittedModel:
    """One fitted model: estimates in the summary's time unit plus diagnostics.

    ``log_covariance`` is the covariance of the log-parameters (inverse Hessian
    of the log-likelihood), used for standard errors and for parameter draws.
    """

    name: str
    params: dict[str, float]
    log_covariance: np.ndarray
    log_likelihood: float
    n_customers: int
    n_patterns: int
    converged: bool
    penalizer: float
    fallback_reason: str = "none"
    time_unit: str = "days"
    # True when this model stands in for candidates whose estimate ran to the
    # no-drop-out boundary (fallback_reason says which).
    at_boundary: bool = False

    @property
    def role(self) -> str:
        return "spend" if self.name == SPEND_MODEL else "count"

    @property
    def log_params(self) -> np.ndarray:
        return np.log([self.params[p] for p in PARAMETER_NAMES[self.name]])

    @property
    def standard_errors(self) -> dict[str, float]:
        sd = np.sqrt(np.clip(np.diag(self.log_covariance), 0, None))
        return {p: self.params[p] * s for p, s in zip(PARAMETER_NAMES[self.name], sd, strict=True)}

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason != "none" or self.at_boundary

    def draw(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        """Draws from the asymptotic normal distribution of the log-parameters."""
        names = PARAMETER_NAMES[self.name]
        cov = (self.log_covariance + self.log_covariance.T) / 2
        sample = rng.multivariate_normal(self.log_params, cov, size=n, method="eigh")
        return [dict(zip(names, np.exp(row), strict=True)) for row in sample]


@dataclass
class ClvFit:
    """All fitted models of one run and the chosen count model."""

    count_models: dict[str, FittedModel]
    spend_model: FittedModel
    selected: str = DEFAULT_COUNT_MODEL
    selection_reason: str = "default: BG/NBD (no holdout to compare candidates)"
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def count_model(self) -> FittedModel:
        return self.count_models[self.selected]


# --------------------------------------------------------------------------
# input checks and compression
# --------------------------------------------------------------------------


def validate_summary(summary: pd.DataFrame, config: ClvConfig) -> pd.DataFrame:
    """Check ``customer_btyd_summary`` and return it with clean dtypes.

    Raises :class:`ClvDataError` naming the cause and the fix for missing
    columns, NaNs, impossible values, too few customers, no or too few repeat
    buyers, and non-positive or constant spend among repeat buyers.
    """
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ClvDataError(
            f"customer_btyd_summary lacks columns {missing}. Fix: rebuild the marts"
            " (dbt build --select +customer_btyd_summary)."
        )
    # numeric columns are rebuilt below; customer_id is referenced, not copied
    frame = pd.DataFrame({"customer_id": summary["customer_id"].to_numpy()}, copy=False)
    if "time_unit" in summary.columns:
        units = set(summary["time_unit"].dropna().unique())
        if units and units != {config.time_unit}:
            raise ClvDataError(
                f"customer_btyd_summary is in {sorted(units)} but the CLV run expects"
                f" {config.time_unit!r}. Fix: rebuild the summary with the same btyd_time_unit."
            )
    for col in ("frequency", "recency", "T", "monetary_value"):
        column = summary[col]
        if not pd.api.types.is_numeric_dtype(column):
            column = pd.to_numeric(column, errors="coerce")
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        bad = int((~np.isfinite(values)).sum())
        if bad:
            raise ClvDataError(
                f"customer_btyd_summary.{col} has {bad} missing or non-finite values."
                " Fix: check the raw orders feeding customer_btyd_summary."
            )
        frame[col] = values
    if frame["customer_id"].isna().any() or not frame["customer_id"].is_unique:
        raise ClvDataError("customer_btyd_summary.customer_id must be unique and not null.")
    x, rec, age, m = (frame[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
    tol = 1e-9
    problems = {
        "frequency is negative or not a whole number": (x < 0) | (np.abs(x - np.round(x)) > tol),
        "recency is negative": rec < -tol,
        "recency exceeds T": rec > age + tol,
        "frequency > 0 but recency = 0": (x > 0) & (rec <= 0),
        "frequency = 0 but recency > 0": (x == 0) & (rec > tol),
    }
    for what, mask in problems.items():
        if mask.any():
            raise ClvDataError(
                f"customer_btyd_summary: {int(mask.sum())} customers where {what}"
                f" (e.g. customer {frame.loc[mask, 'customer_id'].iloc[0]!r})."
                " Fix: recompute the summary; recency and T must be measured from the first purchase day."
            )
    frame["frequency"] = np.round(x).astype("int64")
    n = len(frame)
    if n < config.min_customers:
        raise ClvDeclined(
            f"CLV needs at least {config.min_customers} purchasing customers, customer_btyd_summary"
            f" has {n}. Fix: choose a later as_of_date or load more history; for a small test shop"
            " lower the dbt var clv_min_customers."
        )
    repeat = x > 0
    n_repeat = int(repeat.sum())
    if n_repeat == 0:
        raise ClvDeclined(
            f"No repeat buyers: all {n} customers have frequency 0 (one purchase day each), so"
            " BG/NBD and Gamma-Gamma cannot be fitted. Fix: check that orders keep their"
            " customer_id and that as_of_date leaves time for second purchases."
        )
    if n_repeat < config.min_repeat_customers:
        raise ClvDeclined(
            f"Only {n_repeat} of {n} customers bought again; CLV needs at least"
            f" {config.min_repeat_customers} repeat buyers to fit Gamma-Gamma spend."
            " Fix: use a later as_of_date or more history, or lower clv_min_repeat_customers."
        )
    if (m[repeat] <= 0).any():
        raise ClvDataError(
            f"{int((m[repeat] <= 0).sum())} repeat buyers have monetary_value <= 0; Gamma-Gamma needs"
            " positive spend. Fix: exclude zero-value orders from purchases or check order_total."
        )
    spend = m[repeat]
    if np.ptp(spend) <= 1e-9 * max(1.0, float(np.abs(spend).max())):
        raise ClvDeclined(
            f"Constant spend: all {n_repeat} repeat buyers have monetary_value {spend[0]:.2f}, so"
            " Gamma-Gamma has no spend variation to fit. Fix: check order_total in the raw orders"
            " (a constant suggests a broken price column); with truly fixed prices use"
            " expected purchases x price instead of this model."
        )
    return frame


def compress_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """Unique ``(frequency, recency, T)`` patterns with ``weight`` = customers per pattern."""
    uniq, codes = _group(summary["frequency"], summary["recency"], summary["T"])
    out = pd.DataFrame(uniq, columns=["frequency", "recency", "T"])
    out["frequency"] = out["frequency"].astype("int64")
    out["weight"] = np.bincount(codes, minlength=len(out)).astype("int64")
    return out


def compress_spend(summary: pd.DataFrame) -> pd.DataFrame:
    """Unique ``(frequency, monetary_value)`` of repeat buyers with ``weight``."""
    repeat = summary.loc[summary["frequency"] > 0]
    grouped = repeat.groupby(["frequency", "monetary_value"], sort=True).size()
    out = grouped.reset_index(name="weight")
    out["weight"] = out["weight"].astype("int64")
    return out


# --------------------------------------------------------------------------
# fitting (lifetimes)
# --------------------------------------------------------------------------


def _lifetimes():
    import lifetimes  # imported lazily: autograd import costs ~1 s

    return lifetimes


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
    lt = _lifetimes()
    w = data["weight"].to_numpy(dtype=float)
    if name == SPEND_MODEL:
        x = data["frequency"].to_numpy(dtype=float)
        m = data["monetary_value"].to_numpy(dtype=float)
        return lambda lp: float(lt.GammaGammaFitter._negative_log_likelihood(lp, x, m, w, 0.0))
    x = data["frequency"].to_numpy(dtype=int)
    rec = data["recency"].to_numpy(dtype=float)
    age = data["T"].to_numpy(dtype=float)
    if name == "bgnbd":
        return lambda lp: float(lt.BetaGeoFitter._negative_log_likelihood(lp, x, rec, age, w, 0.0))
    if name == "mbgnbd":
        return lambda lp: float(lt.ModifiedBetaGeoFitter._negative_log_likelihood(lp, x, rec, age, w, 0.0))

    def pareto(lp: np.ndarray) -> float:
        ll = lt.ParetoNBDFitter._conditional_log_likelihood(np.exp(lp), x, rec, age)
        return float(-(w * ll).sum() / w.sum())

    return pareto


def _run_lifetimes(name: str, data: pd.DataFrame, penalizer: float, init: np.ndarray | None):
    """Fit one model with lifetimes; returns (params dict, fitter)."""
    lt = _lifetimes()
    w = data["weight"].to_numpy()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if name == SPEND_MODEL:
            fitter = lt.GammaGammaFitter(penalizer_coef=penalizer)
            fitter.fit(data["frequency"], data["monetary_value"], weights=w, initial_params=init)
            return {k: float(v) for k, v in fitter.params_.items()}
        args = (data["frequency"], data["recency"], data["T"])
        if name == "bgnbd":
            fitter = lt.BetaGeoFitter(penalizer_coef=penalizer)
            fitter.fit(*args, weights=w, initial_params=init)
        elif name == "mbgnbd":
            fitter = lt.ModifiedBetaGeoFitter(penalizer_coef=penalizer)
            fitter.fit(*args, weights=w, initial_params=init)
        else:
            fitter = lt.ParetoNBDFitter(penalizer_coef=penalizer)
            # A fixed start (lifetimes draws one at random) keeps the fit reproducible.
            start = np.ones(4) if init is None else init
            fitter.fit(*args, weights=w, initial_params=start, tol=1e-8, maxiter=4000)
    return {k: float(v) for k, v in fitter.params_.items()}


_PROBLEM_CACHE: dict[str, tuple[pd.DataFrame, tuple]] = {}


def _fast_problem(name: str, data: pd.DataFrame):
    """(objective, packed data, time scale) of the fast engine for ``name``.

    The packed data of the last frame seen per model are kept, so that the fit
    and its Hessian check do not pack the same patterns twice.
    """
    cached = _PROBLEM_CACHE.get(name)
    if cached is not None and cached[0] is data:
        return cached[1]
    result = _build_fast_problem(name, data)
    _PROBLEM_CACHE[name] = (data, result)
    return result


def _build_fast_problem(name: str, data: pd.DataFrame):
    from shoplens import clv_likelihood as lik

    if name == SPEND_MODEL:
        return lik.gamma_gamma_nll, (lik.SpendData.from_rows(data),), 1.0
    packed = lik.CountData.from_patterns(data)
    if name == LIMIT_MODEL:
        return lik.nbd_nll, (packed,), packed.scale
    if name == "mbgnbd":
        return (lambda lp, d, pen: lik.bgnbd_nll(lp, d, pen, modified=True)), (packed,), packed.scale
    return lik.bgnbd_nll, (packed,), packed.scale


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
    from shoplens import clv_likelihood as lik

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
    if (engine == "fast" and name != "pareto_nbd") or name == LIMIT_MODEL:
        return _run_fast(name, data, penalizer, init)  # lifetimes has no NBD fitter
    return _run_lifetimes(name, data, penalizer, init)


def _check_fit(name: str, params: dict[str, float], data: pd.DataFrame) -> tuple[np.ndarray, float, str]:
    """Covariance of log-parameters and log-likelihood; a non-empty string says what failed."""
    values = np.array([params[p] for p in PARAMETER_NAMES[name]])
    if not np.all(np.isfinite(values)) or values.min() < PARAM_RANGE[0] or values.max() > PARAM_RANGE[1]:
        return np.full((len(values), len(values)), np.nan), float("nan"), (
            f"estimates ran to a boundary: {dict(zip(PARAMETER_NAMES[name], values.round(10), strict=True))}"
        )
    n = float(data["weight"].sum())
    lp = np.log(values)
    if name == "pareto_nbd":
        nll = _mean_nll(name, data)
        mean_nll = nll(lp)
        hess = _numeric_hessian(nll, lp)
    else:  # log-likelihood and its Hessian from the analytic gradient
        from shoplens.clv_likelihood import hessian_from_gradient

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
    if name not in ("bgnbd", "mbgnbd", "pareto_nbd"):
        return ""
    lo, hi = PARAM_RANGE
    shape, scale = ("s", "beta") if name == "pareto_nbd" else ("a", "b")
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
    churn = ("s", "beta") if name == "pareto_nbd" else ("a", "b")
    if name != SPEND_MODEL and (params[churn[0]] < lo or params[churn[1]] > hi):
        return (
            "Cause: the data show (almost) no drop-out, customers keep buying until as_of_date,"
            " so the churn parameters are not identified (a penalizer cannot fix that)."
            " Observe longer (a later as_of_date, more history) or check that lapsed customers"
            " were not filtered out of the orders. "
        )
    return ""


def fit_clv(summary: pd.DataFrame, config: ClvConfig) -> ClvFit:
    """Validate, compress and fit every candidate count model plus Gamma-Gamma.

    BG/NBD and Gamma-Gamma must succeed (else :class:`ClvFitError`); another
    candidate that fails is left out and listed in ``ClvFit.excluded``.
    Gamma-Gamma with ``q <= 1`` raises :class:`ClvDataError` (infinite mean spend).
    """
    frame = validate_summary(summary, config)
    counts = compress_counts(frame)
    spend = compress_spend(frame)
    models, excluded = fit_count_models(counts, config)
    gg = fit_model(
        SPEND_MODEL, spend, penalizer=config.penalizer, time_unit=config.time_unit, engine=config.engine
    )
    if gg.params["q"] <= 1:
        raise ClvDeclined(
            f"Gamma-Gamma estimated q = {gg.params['q']:.3f} <= 1: the spend distribution is so"
            " heavy-tailed that its mean is infinite and no customer value can be computed."
            " Fix: look for outlier orders (currency mix-ups, test orders) in order_total and"
            " quarantine them, or cap extreme purchase totals before the summary."
        )
    fit = ClvFit(count_models=models, spend_model=gg, excluded=excluded)
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
        if name == "pareto_nbd" and len(counts) > config.pareto_max_patterns:
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


# --------------------------------------------------------------------------
# closed-form predictions (vectorised; checked against lifetimes in the tests)
# --------------------------------------------------------------------------


def _bg_denominator(name: str, p: dict[str, float], x, rec, age):
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    ratio = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + rec)))
    if name == "bgnbd":
        return 1.0 + np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * ratio, 0.0)
    return 1.0 + a / (b + x) * ratio


def _pareto_log_palive(p: dict[str, float], x, rec, age):
    lt = _lifetimes()
    r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
    loglik = lt.ParetoNBDFitter._conditional_log_likelihood((r, alpha, s, beta), x, rec, age)
    first = (
        gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        - (r + x) * np.log(alpha + age) - s * np.log(beta + age)
    )
    return np.minimum(first - loglik, 0.0)


def probability_alive(name: str, p: dict[str, float], x, rec, age) -> np.ndarray:
    """P(customer still active at T) given (frequency, recency, T)."""
    x, rec, age = (np.asarray(v, dtype=float) for v in (x, rec, age))
    if name == LIMIT_MODEL:
        return np.ones(np.broadcast(x, rec, age).shape)
    if name == "pareto_nbd":
        return np.exp(_pareto_log_palive(p, x, rec, age))
    return 1.0 / _bg_denominator(name, p, x, rec, age)


def _bg_numerator(name: str, p: dict[str, float], x, age, t):
    """Numerator of E[Y(t) | x, t_x, T]; depends on (x, T, t) only.

    Uses Euler's transformation of the hypergeometric term, whose first two
    arguments then no longer grow with x, so it stays finite for heavy buyers.
    """
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    z = t / (alpha + age + t)
    one_minus_z = (alpha + age) / (alpha + age + t)
    if name == "bgnbd":
        c = a + b + x - 1
        hyp = hyp2f1(a + b - 1 - r, a - 1, c, z)
    else:
        c = a + b + x
        hyp = hyp2f1(a + b - r, a - 1, c, z)
    return c / (a - 1) * (1.0 - one_minus_z ** (a - 1) * hyp)


def expected_purchases(name: str, p: dict[str, float], t, x, rec, age) -> np.ndarray:
    """E[repeat purchases in (T, T + t]] given (frequency, recency, T); t in the time unit."""
    x, rec, age = (np.asarray(v, dtype=float) for v in (x, rec, age))
    t = np.asarray(t, dtype=float)
    return _time_part(name, p, t, x, age) * _history_part(name, p, x, rec, age)


def expected_purchases_unconditional(name: str, p: dict[str, float], t) -> np.ndarray:
    """E[repeat purchases in (0, t]] for a customer just acquired (cumulative curve)."""
    t = np.asarray(t, dtype=float)
    if name == LIMIT_MODEL:
        return p["r"] * t / p["alpha"]
    if name == "pareto_nbd":
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    z = t / (alpha + t)
    if name == "bgnbd":
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    # MBG/NBD (Batislam et al. 2007): a customer may also drop out at time 0
    return b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, z))


def expected_average_value(p: dict[str, float], x, m) -> np.ndarray:
    """Gamma-Gamma E[spend per purchase day | x, m]; x = 0 gives the population mean."""
    pp, q, v = p["p"], p["q"], p["v"]
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    weight = pp * x / (pp * x + q - 1)
    return (1 - weight) * (v * pp / (q - 1)) + weight * m


def discounted_purchases(
    name: str, p: dict[str, float], x, rec, age, config: ClvConfig
) -> np.ndarray:
    """Sum over months i = 1..H of E[purchases in month i] / (1 + d_month) ** i.

    Every model's conditional expectation factors into a part that depends on
    (x, T, t) and a part that depends on (x, t_x, T) but not on t, so the
    monthly sum runs over unique (x, T) pairs only: at a million customers
    that is a few ten thousand hypergeometric terms per month instead of a
    million.
    """
    x, rec, age = (np.asarray(v, dtype=float) for v in (x, rec, age))
    pairs, inverse = _group(x, age)
    return _discounted_time_part(name, p, pairs[:, 0], pairs[:, 1], config)[inverse] * _history_part(
        name, p, x, rec, age
    )


def _discounted_time_part(name: str, p: dict[str, float], ux, uage, config: ClvConfig) -> np.ndarray:
    """Discounted monthly sum of the t-dependent factor, on unique (x, T) pairs."""
    month = DAYS_PER_MONTH / config.days_per_unit
    d_month = (1 + config.annual_discount_rate) ** (1 / 12) - 1
    total = np.zeros(len(ux))
    previous = np.zeros(len(ux))
    for i in range(1, config.horizon_months + 1):
        current = _time_part(name, p, i * month, ux, uage)
        total += (current - previous) / (1 + d_month) ** i
        previous = current
    return total


def _time_part(name: str, p: dict[str, float], t, x, age):
    """The factor of E[Y(t) | x, t_x, T] that depends on t (and x, T)."""
    if name == LIMIT_MODEL:  # NBD: the posterior mean rate (r + x) / (alpha + T) times t
        return (p["r"] + x) * t / (p["alpha"] + age)
    if name == "pareto_nbd":
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        if abs(s - 1) < 1e-9:
            tail = np.log((beta + age + t) / (beta + age))
        else:
            tail = (1 - ((beta + age) / (beta + age + t)) ** (s - 1)) / (s - 1)
        return (r + x) * (beta + age) / (alpha + age) * tail
    return _bg_numerator(name, p, x, age, t)


def _history_part(name: str, p: dict[str, float], x, rec, age):
    """The factor of E[Y(t) | x, t_x, T] that does not depend on t."""
    if name == LIMIT_MODEL:  # no drop-out: alive for sure
        return np.ones(np.broadcast(x, rec, age).shape)
    if name == "pareto_nbd":
        return np.exp(_pareto_log_palive(p, x, rec, age))
    return 1.0 / _bg_denominator(name, p, x, rec, age)


# --------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------


def _group(*columns) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of (frequency, recency, T)-like columns and each row's index into them.

    Ages measured in whole days (days, or days / 7 for weeks) are packed into
    one integer key and factorised (a hash, ~0.1 s at a million rows); other
    values fall back to a pandas grouping on the floats.
    """
    values = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    sevenths = np.round(values * 7.0)
    if len(values) and np.all(np.abs(values * 7.0 - sevenths) < 1e-6) and sevenths.min() >= 0:
        ints = sevenths.astype(np.int64)
        base = ints.max(axis=0) + 1
        if np.prod(base.astype(float)) < 2**62:
            key = np.zeros(len(values), dtype=np.int64)
            for j in range(values.shape[1]):
                key = key * base[j] + ints[:, j]
            codes, _ = pd.factorize(key)
        else:
            codes = None
    else:
        codes = None
    if codes is None:
        frame = pd.DataFrame(values)
        codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    first = np.full(codes.max() + 1 if len(codes) else 0, -1)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return values[first], codes


def _patterns(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    uniq, inverse = _group(frame["frequency"], frame["recency"], frame["T"])
    return pd.DataFrame(uniq, columns=["frequency", "recency", "T"]), inverse


def score_customers(
    fit: ClvFit, summary: pd.DataFrame, config: ClvConfig, *, as_of_date: dt.date
) -> pd.DataFrame:
    """Per-customer predictions of the chosen count model with Gamma-Gamma spend.

    Returns the columns of ``PREDICTION_COLUMNS``: probability alive, expected
    purchase days in the next 30/90/365 days, expected spend per purchase day,
    discounted CLV over ``horizon_months`` with its 10th-90th percentile over
    ``n_draws`` parameter draws, and the expected days to the next purchase
    (``(alpha + T) / (r + frequency)`` in days: the wait at the customer's
    posterior mean purchase rate, if still active). Values are checked finite
    and non-negative; a violation raises rather than reaching the table.
    """
    frame = validate_summary(summary, config)
    model = fit.count_model
    gg = fit.spend_model
    pats, inv = _patterns(frame)
    px, prec, page = (pats[c].to_numpy() for c in ("frequency", "recency", "T"))
    x = frame["frequency"].to_numpy(dtype=float)
    m = frame["monetary_value"].to_numpy(dtype=float)
    unit = config.days_per_unit
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "as_of_date": as_of_date,
            "time_unit": config.time_unit,
            "frequency": frame["frequency"].to_numpy(dtype="int64"),
            "recency": frame["recency"].to_numpy(),
            "T": frame["T"].to_numpy(),
            "monetary_value": m,
            "has_repeat_purchase": x > 0,
        }
    )
    out["probability_alive"] = probability_alive(model.name, model.params, px, prec, page)[inv]
    for days in (30, 90, 365):
        out[f"expected_purchases_{days}d"] = expected_purchases(
            model.name, model.params, days / unit, px, prec, page
        )[inv]
    value = expected_average_value(gg.params, x, m)
    out["expected_avg_order_value"] = value
    dep = discounted_purchases(model.name, model.params, px, prec, page, config)
    out["clv"] = dep[inv] * value
    interval_note = ""
    try:
        lo, hi = _clv_interval(fit, pats, inv, x, m, config)
    except ClvFitError as exc:  # too uncertain for an interval: served as the point, flagged
        lo = hi = out["clv"].to_numpy()
        interval_note = f"clv interval: {exc}"
    out["clv_p10"] = lo
    out["clv_p90"] = hi
    out["clv_horizon_months"] = int(config.horizon_months)
    out["annual_discount_rate"] = float(config.annual_discount_rate)
    r, alpha = model.params["r"], model.params["alpha"]
    out["expected_days_to_next_purchase"] = (alpha + frame["T"].to_numpy()) / (r + x) * unit
    out["count_model"] = model.name
    out["spend_model"] = SPEND_MODEL
    reasons = [f"{f.name}: {f.fallback_reason}" for f in (model, gg) if f.is_fallback]
    reasons += [interval_note] if interval_note else []
    out["is_fallback"] = bool(reasons)
    out["fallback_reason"] = "; ".join(reasons) if reasons else "none"
    out["model_version"] = MODEL_VERSION
    _assert_clean(out)
    return out.loc[:, PREDICTION_COLUMNS]


def _clv_interval(
    fit: ClvFit, pats: pd.DataFrame, inv: np.ndarray, x: np.ndarray, m: np.ndarray, config: ClvConfig
) -> tuple[np.ndarray, np.ndarray]:
    """10th and 90th percentile of CLV over joint draws of both models' parameters.

    Draws of Gamma-Gamma with q <= 1 (infinite mean spend) are redrawn.
    Customers are processed in chunks to bound memory at 1M customers.
    """
    rng = np.random.default_rng(config.seed)
    model = fit.count_model
    count_draws = model.draw(config.n_draws, rng)
    spend_draws: list[dict[str, float]] = []
    for _ in range(50):
        spend_draws += [d for d in fit.spend_model.draw(config.n_draws, rng) if d["q"] > 1.0001]
        if len(spend_draws) >= config.n_draws:
            break
    if len(spend_draws) < config.n_draws:
        raise ClvFitError(
            "Gamma-Gamma draws keep giving q <= 1: the spend model is too uncertain for a CLV"
            " interval. Fix: more repeat buyers (later as_of_date) or a penalizer."
        )
    spend_draws = spend_draws[: config.n_draws]
    px, prec, page = (pats[c].to_numpy() for c in ("frequency", "recency", "T"))
    pairs, pair_of = _group(px, page)
    dep = np.empty((len(pats), config.n_draws))
    with np.errstate(all="ignore"):
        for k, draw in enumerate(count_draws):
            timed = _discounted_time_part(model.name, draw, pairs[:, 0], pairs[:, 1], config)
            dep[:, k] = timed[pair_of] * _history_part(model.name, draw, px, prec, page)
    usable = np.all(np.isfinite(dep), axis=0)
    if usable.sum() < max(10, config.n_draws // 2):
        raise ClvFitError(
            f"Only {int(usable.sum())} of {config.n_draws} parameter draws of {model.name} give"
            " finite expectations; the fit is too uncertain for a CLV interval."
            " Fix: more history (later as_of_date) or a penalizer."
        )
    dep = dep[:, usable]
    pp = np.array([d["p"] for d in spend_draws])[usable]
    q = np.array([d["q"] for d in spend_draws])[usable]
    v = np.array([d["v"] for d in spend_draws])[usable]
    lo = np.empty(len(x))
    hi = np.empty(len(x))
    # Without repeat purchases the value is the population mean of the draw, so
    # the CLV depends on the (x, t_x, T) pattern only: percentiles per pattern.
    one_time = x == 0
    pop = v * pp / (q - 1)
    pat_one = np.unique(inv[one_time])
    if len(pat_one):
        per_pattern = np.percentile(np.maximum(dep[pat_one] * pop, 0.0), [10, 90], axis=1)
        where = np.searchsorted(pat_one, inv[one_time])
        lo[one_time] = per_pattern[0][where]
        hi[one_time] = per_pattern[1][where]
    rows = np.flatnonzero(~one_time)
    # value = pop * (1 - w(x)) + w(x) * m with w(x) = p x / (p x + q - 1): tabulate per
    # distinct frequency and draw, then work in float32 (percentiles of 100 draws
    # need no more) to halve the memory traffic at a million customers.
    ux, xi = np.unique(x[rows], return_inverse=True)
    weight = pp * ux[:, None] / (pp * ux[:, None] + q - 1)
    base = ((1 - weight) * pop).astype(np.float32)
    slope = weight.astype(np.float32)
    dep32 = dep.astype(np.float32)
    m32 = m.astype(np.float32)
    chunk = 50_000
    for start in range(0, len(rows), chunk):
        idx = rows[start : start + chunk]
        k = xi[start : start + chunk]
        clv = dep32[inv[idx]] * (base[k] + slope[k] * m32[idx, None])
        np.maximum(clv, 0.0, out=clv)
        lo[idx], hi[idx] = np.percentile(clv, [10, 90], axis=1)
    return lo, hi


def _assert_clean(out: pd.DataFrame) -> None:
    prob = out["probability_alive"].to_numpy()
    if not np.all((prob >= 0) & (prob <= 1)):
        raise ClvFitError("probability_alive outside [0, 1]; this is a bug, please report it.")
    cols = [
        "expected_purchases_30d",
        "expected_purchases_90d",
        "expected_purchases_365d",
        "expected_avg_order_value",
        "clv",
        "clv_p10",
        "clv_p90",
        "expected_days_to_next_purchase",
    ]
    for col in cols:
        vals = out[col].to_numpy(dtype=float)
        bad = ~np.isfinite(vals) | (vals < -1e-9)
        if bad.any():
            raise ClvFitError(
                f"{col} has {int(bad.sum())} non-finite or negative values"
                f" (e.g. customer {out.loc[bad, 'customer_id'].iloc[0]!r}); refusing to write them."
            )
        out[col] = np.maximum(vals, 0.0)


# --------------------------------------------------------------------------
# the parameters table and back
# --------------------------------------------------------------------------


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
        selected = model.name in (fit.selected, SPEND_MODEL)
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
    """Rebuild a :class:`ClvFit` from ``ml_clv_parameters`` (no refit)."""
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
    if SPEND_MODEL not in models or len(models) < 2:
        raise ClvDataError(
            "ml_clv_parameters lacks a count model or gamma_gamma rows."
            " Fix: rebuild it (dbt build --select ml_clv_parameters+)."
        )
    spend = models.pop(SPEND_MODEL)
    fit = ClvFit(count_models=models, spend_model=spend)
    selected_rows = parameters.loc[(parameters["model_role"] == "count") & parameters["is_selected"]]
    fit.selected = str(selected_rows["model_name"].iloc[0]) if len(selected_rows) else default_count_model(fit)
    fit.selection_reason = str(selected_rows["selection_reason"].iloc[0]) if len(selected_rows) else ""
    return fit
