"""Closed-form predictions (vectorised; checked against lifetimes in the tests)."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from shoplens.clv.config import DAYS_PER_MONTH, LIMIT_MODEL, ClvConfig
from shoplens.clv.engine import _lifetimes
from shoplens.clv.summary import _group


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
