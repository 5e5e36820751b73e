"""Regression on calendar regressors with SARIMA errors: choosing and estimating the terms.

Two steps: the regressors' coefficients come from a least-squares fit of
the series' levels on an intercept, a linear trend and the regressors (on
levels, not on the differenced series: a weekly or first difference leaves
little of a slow yearly cycle to estimate it from); the SARIMA is then fitted
to the series minus the regressors' effect (intercept and trend stay in the
series, for the SARIMA's own differencing, mean or drift). The number of
yearly harmonics is chosen by AICc of the levels fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from shoplens.forecast.calendar import regressors
from shoplens.forecast.config import ForecastConfig, SeriesContext


@dataclass
class CalendarRegression:
    """The regression effect per training and forecast day, and how it was made."""

    effect: np.ndarray
    names: list[str]
    yearly_k: int
    note: str


def _levels_design(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Intercept, a linear trend (per year) and the regressors."""
    t = np.arange(len(y), dtype="float64") / 365.25
    return np.column_stack([np.ones(len(y)), t, x])


def levels_fit(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Coefficients of ``x`` in a least-squares fit of ``y`` on a line and ``x``, and its AICc."""
    design = _levels_design(y, x)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    n, k = len(y), design.shape[1] + 1
    sigma2 = max(float(resid @ resid) / n, 1e-12)
    aicc = n * math.log(sigma2) + 2 * k + 2 * k * (k + 1) / max(n - k - 1, 1)
    return coef[2:], aicc


def _choose_k(y: np.ndarray, context: SeriesContext, config: ForecastConfig) -> int:
    """Yearly harmonics (1..max) with the lowest AICc; 0 for a series too short."""
    if len(y) < config.min_yearly_days:
        return 0
    best_k, best_aicc = 0, math.inf
    for k in range(1, config.max_yearly_harmonics + 1):
        x, _ = regressors(context.start, len(y), 0, yearly_k=k, promotion=context.promotion,
                          country_weights=context.country_weights, events=context.events)
        _, aicc = levels_fit(y, x)
        if aicc < best_aicc:
            best_k, best_aicc = k, aicc
    return best_k


def calendar_regression(
    y: np.ndarray, horizon: int, config: ForecastConfig, context: SeriesContext,
    yearly_k: int | None = None,
) -> CalendarRegression:
    """Estimate the calendar regressors' effect on ``y`` (zeros when there are none).

    ``yearly_k`` None chooses the number of yearly harmonics; an int keeps it
    (a later backtest origin refits an earlier choice). A series shorter than
    ``config.min_yearly_days`` gets no yearly terms and is flagged in ``note``.
    """
    n = len(y)
    if not config.calendar_regressors or context.start is None:
        return CalendarRegression(np.zeros(n + horizon), [], 0, "no calendar regressors")
    promotion = context.promotion
    if yearly_k is None:
        yearly_k = _choose_k(y, context, config)
    if n < config.min_yearly_days:
        yearly_k = 0
    x, names = regressors(context.start, n, horizon, yearly_k=yearly_k, promotion=promotion,
                          country_weights=context.country_weights, events=context.events)
    note = (f"yearly terms: {yearly_k} harmonics" if yearly_k else
            f"weekly model: {n} days < {config.min_yearly_days} for yearly terms")
    if x.shape[1] == 0:
        return CalendarRegression(np.zeros(n + horizon), [], 0, note)
    beta, _ = levels_fit(y, x[:n])
    return CalendarRegression(x @ beta, names, yearly_k, note)
