"""Scoring customers: expected purchases, P(alive), CLV and its interval."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens.clv.closed_forms import (
    _discounted_time_part,
    _time_part,
    discounted_purchases,
    expected_purchases,
    probability_alive,
)
from shoplens.clv.config import (
    DAYS_PER_MONTH,
    MODEL_VERSION,
    PREDICTION_COLUMNS,
    ClvConfig,
    ClvFitError,
)
from shoplens.clv.fitted import ClvFit
from shoplens.clv.interval_calibration import IntervalCalibration
from shoplens.clv.predictive import customer_quantiles, customer_quantiles_at, discounted, simulate
from shoplens.clv.spend import spend_value
from shoplens.clv.summary import _group, validate_summary


def _patterns(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    uniq, inverse = _group(frame["frequency"], frame["recency"], frame["T"])
    return pd.DataFrame(uniq, columns=["frequency", "recency", "T"]), inverse


def score_customers(
    fit: ClvFit, summary: pd.DataFrame, config: ClvConfig, *, as_of_date: dt.date,
    calibration: IntervalCalibration | None = None,
) -> pd.DataFrame:
    """Per-customer predictions of the chosen count model with the spend model.

    Returns the columns of ``PREDICTION_COLUMNS``: probability alive, expected
    purchase days in the next 30/90/365 days, expected spend per purchase day,
    discounted CLV over ``horizon_months`` with its 10th-90th percentile (the
    posterior-predictive interval of :mod:`shoplens.clv.predictive`: parameter
    uncertainty and the customer's own purchases and spend), and the expected
    days to the next purchase (``(alpha + T) / (r + frequency)`` in days: the
    wait at the customer's posterior mean purchase rate, if still active).
    Values are checked finite and non-negative; a violation raises rather
    than reaching the table. With ``calibration``
    (:mod:`shoplens.clv.interval_calibration`) the interval runs between each
    customer's recalibrated levels instead of the 10th and 90th percentile.
    """
    frame = validate_summary(summary, config)
    pats, inv = _patterns(frame)
    x = frame["frequency"].to_numpy(dtype=float)
    m = frame["monetary_value"].to_numpy(dtype=float)
    out = _history_columns(frame, config, as_of_date)
    out = _point_columns(out, fit, pats, inv, x, m, config)
    interval_note = ""
    try:
        levels = calibration.customer_levels("revenue", out["clv"].to_numpy()) if calibration else None
        lo, hi = _clv_interval(fit, pats, inv, x, m, config, levels)
    except ClvFitError as exc:  # too uncertain for an interval: served as the point, flagged
        lo = hi = out["clv"].to_numpy()
        interval_note = f"clv interval: {exc}"
    out["clv_p10"] = lo
    out["clv_p90"] = hi
    out["clv_horizon_months"] = int(config.horizon_months)
    out["annual_discount_rate"] = float(config.annual_discount_rate)
    out["count_model"] = fit.count_model.name
    out["spend_model"] = fit.spend_model.name
    reasons = [f"{f.name}: {f.fallback_reason}" for f in (fit.count_model, fit.spend_model) if f.is_fallback]
    reasons += [interval_note] if interval_note else []
    out["is_fallback"] = bool(reasons)
    out["fallback_reason"] = "; ".join(reasons) if reasons else "none"
    out["model_version"] = MODEL_VERSION
    _assert_clean(out)
    return out.loc[:, PREDICTION_COLUMNS]


def point_clv(fit: ClvFit, frame: pd.DataFrame, config: ClvConfig) -> np.ndarray:
    """The served model's discounted CLV of every customer of the validated summary ``frame``."""
    pats, inv = _patterns(frame)
    model = fit.count_model
    px, prec, page = (pats[c].to_numpy() for c in ("frequency", "recency", "T"))
    value = spend_value(fit.spend_model, frame["frequency"].to_numpy(dtype=float),
                        frame["monetary_value"].to_numpy(dtype=float))
    return discounted_purchases(model.name, model.params, px, prec, page, config)[inv] * value


def _history_columns(frame: pd.DataFrame, config: ClvConfig, as_of_date: dt.date) -> pd.DataFrame:
    """The identifying and history columns of the predictions."""
    x = frame["frequency"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "as_of_date": as_of_date,
            "time_unit": config.time_unit,
            "frequency": frame["frequency"].to_numpy(dtype="int64"),
            "recency": frame["recency"].to_numpy(),
            "T": frame["T"].to_numpy(),
            "monetary_value": frame["monetary_value"].to_numpy(dtype=float),
            "has_repeat_purchase": x > 0,
        }
    )


def _point_columns(out, fit: ClvFit, pats, inv, x, m, config: ClvConfig) -> pd.DataFrame:
    """P(alive), expected purchases, spend per purchase day, the CLV and days to next purchase."""
    model = fit.count_model
    px, prec, page = (pats[c].to_numpy() for c in ("frequency", "recency", "T"))
    unit = config.days_per_unit
    out["probability_alive"] = probability_alive(model.name, model.params, px, prec, page)[inv]
    for days in (30, 90, 365):
        out[f"expected_purchases_{days}d"] = expected_purchases(
            model.name, model.params, days / unit, px, prec, page
        )[inv]
    value = spend_value(fit.spend_model, x, m)
    out["expected_avg_order_value"] = value
    out["clv"] = discounted_purchases(model.name, model.params, px, prec, page, config)[inv] * value
    r, alpha = model.params["r"], model.params["alpha"]
    out["expected_days_to_next_purchase"] = (alpha + out["T"].to_numpy()) / (r + x) * unit
    return out


def _clv_interval(
    fit: ClvFit, pats: pd.DataFrame, inv: np.ndarray, x: np.ndarray, m: np.ndarray, config: ClvConfig,
    levels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """10th and 90th percentile of each customer's discounted CLV (posterior predictive).

    Purchases over the horizon and their spend are simulated per pattern
    (:func:`shoplens.clv.predictive.simulate`); each draw's purchases are
    discounted by that draw's ratio of discounted to undiscounted expected
    purchases, so the interval's centre matches the closed-form CLV.
    ``levels`` (customers x 2) replace the nominal (0.1, 0.9).
    """
    px, prec, page = (pats[c].to_numpy() for c in ("frequency", "recency", "T"))
    horizon = config.horizon_months * DAYS_PER_MONTH / config.days_per_unit
    samples = simulate(fit, px, prec, page, horizon, config.n_draws, config.seed)
    samples = discounted(samples, _discount_factor(fit.count_model.name, samples.draws, px, page, horizon, config))
    if levels is not None:
        return customer_quantiles_at(samples, inv, x, m, levels)
    lo, hi = customer_quantiles(samples, inv, x, m, [10, 90])
    return lo, hi


def _discount_factor(name: str, draws, px, page, horizon: float, config: ClvConfig) -> np.ndarray:
    """Per pattern and draw: discounted / undiscounted expected purchases over the horizon."""
    pairs, pair_of = _group(px, page)
    factor = np.ones((len(px), len(draws)), dtype=np.float32)
    with np.errstate(all="ignore"):
        for k, draw in enumerate(draws):
            disc = _discounted_time_part(name, draw, pairs[:, 0], pairs[:, 1], config)
            plain = _time_part(name, draw, horizon, pairs[:, 0], pairs[:, 1])
            ratio = np.where((plain > 0) & np.isfinite(disc / plain), disc / plain, 1.0)
            factor[:, k] = np.clip(ratio, 0.0, 1.0)[pair_of]
    return factor


def _assert_clean(out: pd.DataFrame) -> None:
    prob = out["probability_alive"].to_numpy()
    bad = ~((prob >= 0) & (prob <= 1))  # NaN included
    if bad.any():
        raise ClvFitError(
            f"probability_alive outside [0, 1] or not finite for {int(bad.sum())} customers"
            f" (e.g. customer {out.loc[bad, 'customer_id'].iloc[0]!r}); this is a bug, please report it."
        )
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
