"""Scoring customers with a count model with covariates: each group's own parameters.

:func:`shoplens.clv.score.score_customers` scores every customer with the
model without covariates (spend, checks, columns); the columns that depend on
the count model are then recomputed group by group with the group's
parameters, and the CLV interval is the same posterior-predictive one as
without covariates (:func:`shoplens.clv.score._clv_interval`), drawn from the
group's parameters (their covariance by the delta method from the
coefficients' covariance) and the customers' own futures.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from shoplens.clv.closed_forms import discounted_purchases, expected_purchases, probability_alive
from shoplens.clv.config import DAYS_PER_MONTH, ClvConfig, ClvFitError
from shoplens.clv.covariate_fit import CovariateFit
from shoplens.clv.fitted import ClvFit
from shoplens.clv.interval_calibration import IntervalCalibration
from shoplens.clv.predictive import customer_quantiles, customer_quantiles_at, discounted, simulate
from shoplens.clv.score import _assert_clean, _discount_factor
from shoplens.clv.summary import _group

MODEL_COLUMNS = (
    "probability_alive", "expected_purchases_30d", "expected_purchases_90d", "expected_purchases_365d",
    "clv", "clv_p10", "clv_p90", "expected_days_to_next_purchase",
)


def _score_group(cf: CovariateFit, z: np.ndarray, part: pd.DataFrame, config: ClvConfig, fit: ClvFit,
                 calibration: IntervalCalibration | None = None) -> dict:
    """The model-dependent columns for the customers ``part`` of one covariate group.

    The CLV interval simulates each pattern's future from draws of the
    group's count parameters (delta-method covariance from the
    coefficients') and of the spend model, as for a model without covariates.
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
    dep = discounted_purchases(name, p, px, prec, page, config)
    cols["clv"] = dep[inv] * part["expected_avg_order_value"].to_numpy(dtype=float)
    group_fit = ClvFit(count_models={name: model}, spend_model=fit.spend_model, selected=name)
    m = part["monetary_value"].to_numpy(dtype=float)
    try:
        levels = calibration.customer_levels("revenue", cols["clv"]) if calibration else None
        cols["clv_p10"], cols["clv_p90"] = _group_interval(group_fit, uniq, inv, x, m, config, levels)
    except ClvFitError:  # too uncertain for an interval: the point, as score_customers does
        cols["clv_p10"] = cols["clv_p90"] = cols["clv"]
    cols["expected_days_to_next_purchase"] = (p["alpha"] + age) / (p["r"] + x) * unit
    return cols


def _group_interval(group_fit: ClvFit, uniq: np.ndarray, inv, x, m, config: ClvConfig, levels=None):
    """10th and 90th percentile of the group's customers' discounted CLV (posterior predictive).

    As :func:`shoplens.clv.score._clv_interval`, except that the discount
    ratio (discounted / undiscounted expected purchases) is taken at the
    group's estimates for every draw instead of per draw: it moves little
    between draws, and per draw it would cost the hypergeometric sums
    ``n_draws`` times for every group.
    """
    px, prec, page = uniq[:, 0], uniq[:, 1], uniq[:, 2]
    model = group_fit.count_model
    horizon = config.horizon_months * DAYS_PER_MONTH / config.days_per_unit
    samples = simulate(group_fit, px, prec, page, horizon, config.n_draws, config.seed)
    samples = discounted(samples, _discount_factor(model.name, [model.params], px, page, horizon, config))
    if levels is not None:  # recalibrated levels per customer (shoplens.clv.interval_calibration)
        return customer_quantiles_at(samples, inv, x, m, levels)
    lo, hi = customer_quantiles(samples, inv, x, m, [10, 90])
    return lo, hi


def score_with_covariates(
    scored: pd.DataFrame, fit: ClvFit, cf: CovariateFit, groups: np.ndarray, matrix: np.ndarray,
    config: ClvConfig, calibration: IntervalCalibration | None = None,
) -> pd.DataFrame:
    """``scored`` (rows of score_customers, same customer order as ``groups``) with covariate scores."""
    out = scored.copy()
    values = {col: out[col].to_numpy(dtype=float).copy() for col in MODEL_COLUMNS}
    for g in range(matrix.shape[0]):
        idx = np.flatnonzero(groups == g)
        if len(idx):
            cols = _score_group(cf, matrix[g], out.iloc[idx], replace(config, seed=config.seed + g), fit,
                                calibration)
            for col in MODEL_COLUMNS:
                values[col][idx] = cols[col]
    for col in MODEL_COLUMNS:
        out[col] = values[col]
    out["count_model"] = cf.name
    _assert_clean(out)
    return out
