"""Scoring customers: expected purchases, P(alive), CLV and its interval."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens.clv.closed_forms import (
    _discounted_time_part,
    _history_part,
    discounted_purchases,
    expected_average_value,
    expected_purchases,
    probability_alive,
)
from shoplens.clv.config import (
    MODEL_VERSION,
    PREDICTION_COLUMNS,
    SPEND_MODEL,
    ClvConfig,
    ClvFitError,
)
from shoplens.clv.fitted import ClvFit
from shoplens.clv.summary import _group, validate_summary


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
