"""CLV constants, output columns, error types and the settings (:class:`ClvConfig`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shoplens import __version__
from shoplens.clv.models import MODELS
from shoplens.settings import ConfigError
from shoplens.status import StepDeclined

MODEL_TAG = "clv.1"
MODEL_VERSION = f"{__version__}+{MODEL_TAG}"

COUNT_MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto_nbd", "nbd")
SPEND_MODEL = "gamma_gamma"
# Gamma-Gamma's limit at constant spend (and, with value 0, "no spend to model").
CONSTANT_SPEND_MODEL = "constant_value"
DEFAULT_COUNT_MODEL = "bgnbd"
# The no-drop-out limit of BG/NBD (a -> 0), MBG/NBD (a -> 0) and Pareto/NBD
# (s -> 0): served when their likelihood is maximised at that boundary.
LIMIT_MODEL = "nbd"
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {name: m.parameter_names for name, m in MODELS.items()}
# Parameters measured in the summary's time unit (rates per unit of time).
TIME_SCALED = {"alpha", "beta"}
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0}
DAYS_PER_MONTH = 365.25 / 12
# Retried after the user's penalizer when an optimiser fails (docs/clv.md).
PENALIZER_LADDER: tuple[float, ...] = (0.001, 0.01, 0.1)
ENGINES = ("fast", "lifetimes")
# Above this many patterns the fast engine starts from a 3 % subsample's fit.
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


class ClvConfigError(ClvDataError, ConfigError):
    """A CLV dbt var has a value it does not allow (the message names both)."""


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
        this many unique (frequency, recency, T) patterns (with covariates,
        (group, frequency, recency, T) rows): its likelihood has two
        hypergeometric terms per pattern and a gradient by differences
        (``clv_pareto_max_patterns``).
    engine: ``fast`` maximises lifetimes' likelihood with shoplens.clv.likelihood
        (grouped terms, analytic gradient); ``lifetimes`` calls lifetimes'
        fitters on the compressed patterns. Same optimum, tested (``clv_fit_engine``).
    covariate_time_budget: seconds the fits with covariates may take in one step; past it
        they stop and the model without covariates is served, with the reason in
        ``ml_model_status`` (``clv_covariate_time_budget``).
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
    covariate_time_budget: float = 60.0

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ClvConfigError(f"clv_fit_engine must be one of {ENGINES}, got {self.engine!r}.")
        if self.time_unit not in DAYS_PER_UNIT:
            raise ClvConfigError(
                f"btyd_time_unit must be 'days' or 'weeks', got {self.time_unit!r}."
                " Fix: set --vars '{btyd_time_unit: weeks}' or days."
            )
        if not (math.isfinite(self.penalizer) and self.penalizer >= 0):
            raise ClvConfigError(f"penalizer must be a finite number >= 0, got {self.penalizer!r}.")
        if int(self.horizon_months) != self.horizon_months or not 1 <= self.horizon_months <= 600:
            raise ClvConfigError(
                f"clv_horizon_months must be a whole number of months in 1..600, got {self.horizon_months!r}."
            )
        if not (math.isfinite(self.annual_discount_rate) and 0 <= self.annual_discount_rate < 1):
            raise ClvConfigError(
                "annual_discount_rate must be a yearly rate in [0, 1), e.g. 0.10 for 10 %,"
                f" got {self.annual_discount_rate!r}."
            )
        unknown = set(self.candidates) - set(COUNT_MODELS)
        if unknown or not self.candidates:
            raise ClvConfigError(
                f"clv_candidates must be a non-empty list of {COUNT_MODELS}, got {self.candidates!r}."
                " Fix: set --vars '{clv_candidates: \"bgnbd,nbd\"}' or leave the default."
            )
        if not (math.isfinite(self.covariate_time_budget) and self.covariate_time_budget >= 0):
            raise ClvConfigError(
                f"clv_covariate_time_budget must be a number of seconds >= 0, got {self.covariate_time_budget!r}."
            )
        if self.n_draws < 10:
            raise ClvConfigError(f"clv_interval_draws must be >= 10, got {self.n_draws}.")
        if self.min_customers < 2 or self.min_repeat_customers < 2:
            raise ClvConfigError("clv_min_customers and clv_min_repeat_customers must be >= 2.")

    @property
    def days_per_unit(self) -> float:
        return DAYS_PER_UNIT[self.time_unit]
