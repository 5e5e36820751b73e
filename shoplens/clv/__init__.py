"""Customer lifetime value: BTYD count models with Gamma-Gamma spend.

Layout (read DECISIONS.md "Package layout" first): ``config`` (constants,
columns, errors, :class:`ClvConfig`), ``fitted`` (fitted models as data),
``summary`` (input checks, compression), ``likelihood`` (the fast engine's
negative log-likelihoods), ``engine`` (one maximum-likelihood fit), ``fit``
(checks, penalizer ladder, boundaries, every model), ``spend`` (Gamma-Gamma
or its constant-value limit), ``closed_forms`` (predictions), ``predictive``
(posterior-predictive simulation), ``score`` (customers' rows), ``parameters`` (the parameters
table), ``evaluation`` (holdout/backtest rows, selection), ``calibration``
(interval coverage, median MAE) and ``pipeline`` (the
only entry point from dbt). The names below are the package's public API.
"""

from shoplens.clv.closed_forms import (  # noqa: F401
    discounted_purchases,
    expected_average_value,
    expected_purchases,
    expected_purchases_unconditional,
    probability_alive,
)
from shoplens.clv.config import (  # noqa: F401
    COUNT_MODELS,
    DAYS_PER_UNIT,
    DEFAULT_COUNT_MODEL,
    LIMIT_MODEL,
    MODEL_VERSION,
    PARAMETER_COLUMNS,
    PARAMETER_NAMES,
    PREDICTION_COLUMNS,
    SPEND_MODEL,
    ClvBoundaryError,
    ClvConfig,
    ClvDataError,
    ClvDeclined,
    ClvFitError,
)
from shoplens.clv.fit import fit_clv, fit_count_models, fit_model  # noqa: F401
from shoplens.clv.fitted import ClvFit, FittedModel  # noqa: F401
from shoplens.clv.parameters import fit_from_parameters, parameters_frame  # noqa: F401
from shoplens.clv.score import score_customers  # noqa: F401
from shoplens.clv.summary import compress_counts, compress_spend, validate_summary  # noqa: F401
