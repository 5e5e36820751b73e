"""Regression on calendar regressors with SARIMA errors: choosing and estimating the terms.

The regression is estimated on the differenced series and regressors (the
differencing the SARIMA errors use), which is the least-squares estimate of
a regression with ARIMA errors when the differenced errors are taken as
uncorrelated; the ARMA part is then fitted to what the regression leaves.
The number of yearly harmonics is chosen by AICc of that regression.
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


def _difference_columns(x: np.ndarray, d: int, seasonal_d: int, season: int = 7) -> np.ndarray:
    for _ in range(seasonal_d):
        x = x[season:] - x[:-season]
    for _ in range(d):
        x = np.diff(x, axis=0)
    return x


def _ols(w: np.ndarray, xw: np.ndarray, with_mean: bool) -> tuple[np.ndarray, float]:
    """Coefficients of ``xw`` (an intercept too when ``with_mean``) and the AICc."""
    design = np.column_stack([np.ones(len(w)), xw]) if with_mean else xw
    coef, *_ = np.linalg.lstsq(design, w, rcond=None)
    resid = w - design @ coef
    n, k = len(w), design.shape[1] + 1
    sigma2 = max(float(resid @ resid) / n, 1e-12)
    aicc = n * math.log(sigma2) + 2 * k + 2 * k * (k + 1) / max(n - k - 1, 1)
    return (coef[1:] if with_mean else coef), aicc


def _choose_k(y: np.ndarray, d: int, seasonal_d: int, context: SeriesContext,
              config: ForecastConfig, promotion: np.ndarray | None) -> int:
    """Yearly harmonics (1..max) with the lowest AICc; 0 for a series too short."""
    if len(y) < config.min_yearly_days:
        return 0
    w = _difference_columns(y, d, seasonal_d)
    best_k, best_aicc = 0, math.inf
    for k in range(1, config.max_yearly_harmonics + 1):
        x, _ = regressors(context.start, len(y), 0, yearly_k=k, promotion=promotion,
                          country_weights=context.country_weights)
        _, aicc = _ols(w, _difference_columns(x, d, seasonal_d), d + seasonal_d <= 1)
        if aicc < best_aicc:
            best_k, best_aicc = k, aicc
    return best_k


def calendar_regression(
    y: np.ndarray, d: int, seasonal_d: int, horizon: int, config: ForecastConfig,
    context: SeriesContext, yearly_k: int | None = None,
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
        yearly_k = _choose_k(y, d, seasonal_d, context, config, promotion)
    if n < config.min_yearly_days:
        yearly_k = 0
    x, names = regressors(context.start, n, horizon, yearly_k=yearly_k, promotion=promotion,
                          country_weights=context.country_weights)
    note = (f"yearly terms: {yearly_k} harmonics" if yearly_k else
            f"weekly model: {n} days < {config.min_yearly_days} for yearly terms")
    if x.shape[1] == 0:
        return CalendarRegression(np.zeros(n + horizon), [], 0, note)
    beta = _levels_fit(y, x[:n])
    return CalendarRegression(x @ beta, names, yearly_k, note)


def _levels_fit(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Coefficients of ``x`` in a least-squares fit of ``y`` on a line and ``x``."""
    t = np.arange(len(y), dtype="float64") / 365.25
    design = np.column_stack([np.ones(len(y)), t, x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef[2:]
