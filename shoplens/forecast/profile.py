"""A multiplicative profile model: quasi-Poisson regression on the calendar (log link).

``log E[y_t] = level + trend * t + weekday_t + yearly Fourier terms +
holidays + shopping event + the shop's own events`` (no promotion share, see
``profile_design``),
fitted by iteratively reweighted least squares with recency weights
(half-life ``PROFILE_HALF_LIFE_DAYS``), so the weekly and yearly shapes are
estimated from the whole history while the level follows recent data; the
trend places the level at the last training day and is not extrapolated, and the
forecast takes the level of the last eight weeks (``relevel_factor``). The log link
makes every effect a factor (a December peak scales with the level, as
retail seasonality does), and the Poisson variance handles zero days and
sparse series without a transform; revenue (not a count) is fitted by the
same estimating equations (quasi-likelihood). The standard error per day is
``sqrt(phi * mu)`` with the Pearson dispersion ``phi`` of the recent
residuals, which the conformal calibration of ``selection`` then rescales.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from shoplens.forecast.calendar import regressors
from shoplens.forecast.config import (
    SEASON,
    ForecastConfig,
    SeriesContext,
    SeriesForecast,
    normal_bounds,
)
from shoplens.forecast.methods import _clip, first_sale, seasonal_naive

#: recency weight halves every this many days (the level and trend follow recent data)
PROFILE_HALF_LIFE_DAYS = 91.0
#: recent days whose Pearson residuals give the dispersion
DISPERSION_WINDOW_DAYS = 91
#: log-scale bound on the linear predictor (keeps exp finite on degenerate fits)
ETA_BOUND = 30.0
#: the forecast's level is re-set on this many recent days (eight whole weeks)
RELEVEL_DAYS = 56


def weekday_columns(start: dt.date | None, n_days: int) -> np.ndarray:
    """Six weekday indicators (the start's weekday, or day 0, is the reference)."""
    first = start.weekday() if start is not None else 0
    day = (np.arange(n_days) + first) % SEASON
    return np.column_stack([(day == k).astype("float64") for k in range(1, SEASON)])


def profile_design(
    n_train: int, horizon: int, context: SeriesContext, yearly_k: int
) -> np.ndarray:
    """Intercept, trend (per year, flat over the forecast days), weekdays and the calendar
    regressors: training rows, then forecast rows."""
    n = n_train + horizon
    # years to the last training day; the forecast days hold that day's level
    # (the trend places the level, it is not extrapolated: a log-linear trend
    # overshot a shop whose growth slows, a fully damped trend in Gardner's terms)
    t = np.minimum(np.arange(n, dtype="float64") - (n_train - 1), 0.0) / 365.25
    cols = [np.ones(n), t, weekday_columns(context.start, n)]
    if context.start is not None:
        # no promotion share: a share of the day's own units is 0 on every day
        # without sales, so on a sparse series it separates selling days
        # perfectly and its log-link coefficient runs off to infinity
        x, _ = regressors(context.start, n_train, horizon, yearly_k=yearly_k,
                          country_weights=context.country_weights, events=context.events)
        cols.append(x)
    return np.column_stack(cols)


def poisson_irls(
    y: np.ndarray, x: np.ndarray, weights: np.ndarray, iterations: int = 30
) -> np.ndarray:
    """Coefficients of a (quasi-)Poisson log-link regression by IRLS, lightly ridged."""
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(max(float(np.average(y, weights=weights)), 1e-9))
    ridge = 1e-6 * np.eye(x.shape[1])
    ridge[0, 0] = 0.0
    for _ in range(iterations):
        eta = np.clip(x @ beta, -ETA_BOUND, ETA_BOUND)
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        wx = x * (weights * mu)[:, None]
        new = np.linalg.solve(x.T @ wx + ridge * max(float(np.trace(x.T @ wx)), 1.0), wx.T @ z)
        if not np.isfinite(new).all():
            break
        done = float(np.max(np.abs(new - beta))) < 1e-6
        beta = new
        if done:
            break
    return beta


def _deviance(y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> float:
    """Weighted Poisson deviance."""
    ratio = np.where(y > 0, y / np.maximum(mu, 1e-12), 1.0)
    return float(2.0 * np.sum(weights * (y * np.log(ratio) - (y - mu))))


def _dispersion(y: np.ndarray, mu: np.ndarray, weights: np.ndarray, n_params: int) -> float:
    """Weighted Pearson dispersion (at least a tiny positive number)."""
    pearson = float(np.sum(weights * (y - mu) ** 2 / np.maximum(mu, 1e-9)))
    return max(pearson / max(float(weights.sum()) - n_params, 1.0), 1e-9)


def _columns(x: np.ndarray, max_k: int, k: int) -> np.ndarray:
    """The design of ``profile_design(..., max_k)`` with only the first ``k`` harmonics."""
    base = 2 + SEASON - 1
    keep = [*range(base + 2 * k), *range(base + 2 * max_k, x.shape[1])]
    return x[:, keep]


def _fit(y: np.ndarray, x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Fitted means (train then forecast rows of ``x``), weighted deviance, parameter count."""
    beta = poisson_irls(y, x[: len(y)], weights)
    mu = np.exp(np.clip(x @ beta, -ETA_BOUND, ETA_BOUND))
    return mu, _deviance(y, mu[: len(y)], weights), x.shape[1]


def _choose(fits: list[tuple[np.ndarray, float, int]], y: np.ndarray,
            weights: np.ndarray) -> int:
    """Index of the fit with the lowest QAIC (deviance over the largest fit's dispersion
    plus twice the parameters: revenue's currency scale must not favour big models)."""
    mu, _, p = fits[-1]
    phi = _dispersion(y, mu[: len(y)], weights, p)
    return min(range(len(fits)), key=lambda i: fits[i][1] / phi + 2.0 * fits[i][2])


def relevel_factor(y: np.ndarray, fitted: np.ndarray, days: int = RELEVEL_DAYS) -> float:
    """Actual over fitted demand of the last ``days`` training days (1 without fitted demand).

    The fit's weekday, yearly and holiday shape comes from the whole history,
    but its level is a recency-weighted compromise over months (half-life
    ``PROFILE_HALF_LIFE_DAYS``) and lags a level that moved in the last weeks;
    the forecast keeps the shape and takes the level of the last eight whole
    weeks (every weekday counted equally), a local level in the sense of
    exponential smoothing (issue 12).
    """
    expected = float(fitted[-days:].sum())
    return float(y[-days:].sum()) / expected if expected > 0 else 1.0


def profile_forecast(
    y: np.ndarray, config: ForecastConfig, context: SeriesContext | None = None
) -> SeriesForecast:
    """The profile model's forecast of ``y`` (leading zeros dropped, last
    ``max_train_days`` used); the yearly harmonics (0 below
    ``min_yearly_days``, else up to ``max_yearly_harmonics``) by QAIC."""
    horizon = config.horizon_days
    y = np.asarray(y, dtype="float64")
    first = first_sale(y)
    context = (context or SeriesContext()).shifted(first)
    y = y[first:]
    if len(y) < config.min_history_days:
        return seasonal_naive(y, horizon, note=f"short history ({len(y)} days)")
    drop = max(len(y) - config.max_train_days, 0)
    y, context = y[drop:], context.shifted(drop)
    n = len(y)
    weights = 0.5 ** ((n - 1 - np.arange(n)) / PROFILE_HALF_LIFE_DAYS)
    max_k = config.max_yearly_harmonics if (
        n >= config.min_yearly_days and context.start is not None) else 0
    x = profile_design(n, horizon, context, max_k)
    fits = [_fit(y, _columns(x, max_k, k), weights) for k in range(max_k + 1)]
    k = _choose(fits, y, weights)
    mu = fits[k][0]
    recent = slice(max(n - DISPERSION_WINDOW_DAYS, 0), n)
    pearson = (y[recent] - mu[recent]) ** 2 / np.maximum(mu[recent], 1e-9)
    phi = max(float(pearson.mean()), 1e-9)
    # a mean above twice the largest day seen is a runaway fit, not a forecast
    mean = np.minimum(mu[n:] * relevel_factor(y, mu[:n]), 2.0 * float(y.max()))
    se = np.sqrt(phi * np.maximum(mean, 1e-9))
    return _clip(SeriesForecast(
        method="profile", model_order=f"PROFILE(weekday,yearly_k={k},log)", mean=mean,
        **normal_bounds(mean, se), n_train_days=n,
        note=f"quasi-Poisson profile, dispersion {phi:.2f}", se=se, has_yearly_terms=k > 0,
    ))
