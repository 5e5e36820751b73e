"""Scoring customers with a count model with covariates: each group's own parameters.

:func:`shoplens.clv.score.score_customers` scores every customer with the
model without covariates (spend, checks, columns); the columns that depend on
the count model are then recomputed group by group with the group's
parameters, and the CLV interval with draws of the group's parameters (their
covariance by the delta method from the coefficients' covariance), the
count part linearised in them (see :func:`_score_group`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoplens.clv.closed_forms import discounted_purchases, expected_purchases, probability_alive
from shoplens.clv.config import ClvConfig, ClvFitError
from shoplens.clv.covariate_fit import CovariateFit
from shoplens.clv.fitted import ClvFit
from shoplens.clv.score import _assert_clean
from shoplens.clv.summary import _group

CHUNK = 50_000
MODEL_COLUMNS = (
    "probability_alive", "expected_purchases_30d", "expected_purchases_90d", "expected_purchases_365d",
    "clv", "clv_p10", "clv_p90", "expected_days_to_next_purchase",
)


def _spend_draws(fit: ClvFit, config: ClvConfig, rng: np.random.Generator) -> np.ndarray:
    """(3 x n_draws) Gamma-Gamma draws p, q, v with q > 1 (finite mean spend), as score_customers."""
    draws: list[dict[str, float]] = []
    for _ in range(50):
        draws += [d for d in fit.spend_model.draw(config.n_draws, rng) if d["q"] > 1.0001]
        if len(draws) >= config.n_draws:
            return np.array([[d[k] for d in draws[: config.n_draws]] for k in ("p", "q", "v")])
    raise ClvFitError("Gamma-Gamma draws keep giving q <= 1: too uncertain for a CLV interval.")


def _log_dep_gradient(name: str, params: dict, px, prec, page, config: ClvConfig, step: float = 1e-4):
    """(discounted purchases per pattern, d log of it / d log-parameters: patterns x 4)."""
    dep = discounted_purchases(name, params, px, prec, page, config)
    grad = np.zeros((len(px), len(params)))
    positive = dep > 0
    for j, key in enumerate(params):
        moved = dict(params, **{key: params[key] * np.exp(step)})
        dep_j = discounted_purchases(name, moved, px, prec, page, config)
        grad[positive, j] = (np.log(dep_j[positive]) - np.log(dep[positive])) / step
    return dep, np.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)


def _score_group(cf: CovariateFit, z: np.ndarray, part: pd.DataFrame, config: ClvConfig,
                 rng: np.random.Generator, spend: np.ndarray) -> dict:
    """The model-dependent columns for the customers ``part`` of one covariate group.

    The CLV interval takes ``n_draws`` joint draws of the group's count
    parameters (delta-method covariance from the coefficients') and of the
    spend parameters; the count part is linearised in the log-parameters
    (log CLV moves by gradient x draw), so the hypergeometric sums are
    evaluated 5 times per group instead of once per draw.
    """
    model = cf.group_model(z)
    p, name = model.params, cf.base
    x, rec, age = (part[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    uniq, inv = _group(x, rec, age)
    px, prec, page = uniq[:, 0], uniq[:, 1], uniq[:, 2]
    unit = config.days_per_unit
    cols = {"probability_alive": probability_alive(name, p, px, prec, page)[inv]}
    for days in (30, 90, 365):
        cols[f"expected_purchases_{days}d"] = expected_purchases(name, p, days / unit, px, prec, page)[inv]
    dep, grad = _log_dep_gradient(name, p, px, prec, page, config)
    cols["clv"] = dep[inv] * part["expected_avg_order_value"].to_numpy(dtype=float)
    cov = (model.log_covariance + model.log_covariance.T) / 2
    shift = rng.multivariate_normal(np.zeros(4), cov, size=config.n_draws, method="eigh").T  # 4 x draws
    pp, q, v = spend
    pop = v * pp / (q - 1)
    m = part["monetary_value"].to_numpy(dtype=float)
    lo, hi = np.empty(len(x)), np.empty(len(x))
    for start in range(0, len(x), CHUNK):
        sl = slice(start, start + CHUNK)
        weight = pp * x[sl, None] / (pp * x[sl, None] + q - 1)
        value = (1 - weight) * pop + weight * m[sl, None]
        draws = dep[inv[sl], None] * np.exp(np.clip(grad[inv[sl]] @ shift, -50, 50)) * value
        lo[sl], hi[sl] = np.percentile(np.maximum(draws, 0.0), [10, 90], axis=1)
    cols["clv_p10"], cols["clv_p90"] = lo, hi
    cols["expected_days_to_next_purchase"] = (p["alpha"] + age) / (p["r"] + x) * unit
    return cols


def score_with_covariates(
    scored: pd.DataFrame, fit: ClvFit, cf: CovariateFit, groups: np.ndarray, matrix: np.ndarray,
    config: ClvConfig,
) -> pd.DataFrame:
    """``scored`` (rows of score_customers, same customer order as ``groups``) with covariate scores."""
    out = scored.copy()
    rng = np.random.default_rng(config.seed)
    spend = _spend_draws(fit, config, rng)
    values = {col: out[col].to_numpy(dtype=float).copy() for col in MODEL_COLUMNS}
    for g in range(matrix.shape[0]):
        idx = np.flatnonzero(groups == g)
        if len(idx):
            cols = _score_group(cf, matrix[g], out.iloc[idx], config, rng, spend)
            for col in MODEL_COLUMNS:
                values[col][idx] = cols[col]
    for col in MODEL_COLUMNS:
        out[col] = values[col]
    out["count_model"] = cf.name
    _assert_clean(out)
    return out
