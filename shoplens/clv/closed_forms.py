"""Closed-form predictions (vectorised; checked against lifetimes in the tests)."""

from __future__ import annotations

import numpy as np

from shoplens.clv.config import DAYS_PER_MONTH, ClvConfig
from shoplens.clv.models import MODELS, GammaGamma
from shoplens.clv.summary import _group


def probability_alive(name: str, p: dict[str, float], x, rec, age) -> np.ndarray:
    """P(customer still active at T) given (frequency, recency, T)."""
    x, rec, age = (np.asarray(v, dtype=float) for v in (x, rec, age))
    return MODELS[name].probability_alive(p, x, rec, age)


def expected_purchases(name: str, p: dict[str, float], t, x, rec, age) -> np.ndarray:
    """E[repeat purchases in (T, T + t]] given (frequency, recency, T); t in the time unit."""
    x, rec, age = (np.asarray(v, dtype=float) for v in (x, rec, age))
    t = np.asarray(t, dtype=float)
    return _time_part(name, p, t, x, age) * _history_part(name, p, x, rec, age)


def expected_purchases_unconditional(name: str, p: dict[str, float], t) -> np.ndarray:
    """E[repeat purchases in (0, t]] for a customer just acquired (cumulative curve)."""
    return MODELS[name].unconditional(p, np.asarray(t, dtype=float))


def expected_average_value(p: dict[str, float], x, m) -> np.ndarray:
    """Gamma-Gamma E[spend per purchase day | x, m]; x = 0 gives the population mean."""
    return GammaGamma.expected_average_value(p, x, m)


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
    return MODELS[name].time_part(p, t, x, age)


def _history_part(name: str, p: dict[str, float], x, rec, age):
    """The factor of E[Y(t) | x, t_x, T] that does not depend on t."""
    return MODELS[name].history_part(p, x, rec, age)
