"""Fitted models as data: :class:`FittedModel` (one model) and :class:`ClvFit` (all of them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shoplens.clv.config import DEFAULT_COUNT_MODEL, PARAMETER_NAMES
from shoplens.clv.models import MODELS


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
        return MODELS[self.name].role

    @property
    def log_params(self) -> np.ndarray:
        with np.errstate(divide="ignore"):  # a constant spend of 0.00 has log -inf
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
