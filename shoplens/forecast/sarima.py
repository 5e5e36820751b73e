"""Seasonal ARIMA for one series: differencing tests, CSS order search, SARIMAX forecast."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

from shoplens.forecast.config import SEASON, ForecastConfig, SeriesForecast, normal_bounds
from shoplens.forecast.methods import _clip, croston_sba, seasonal_naive


def difference(y: np.ndarray, d: int, seasonal_d: int) -> np.ndarray:
    """Apply ``(1 - B)^d (1 - B^7)^D`` to ``y`` (the result is shorter)."""
    w = np.asarray(y, dtype="float64")
    for _ in range(seasonal_d):
        w = w[SEASON:] - w[:-SEASON]
    for _ in range(d):
        w = np.diff(w)
    return w


def seasonal_strength(y: np.ndarray) -> float:
    """Weekly seasonal strength in [0, 1] (Wang, Smith and Hyndman's F_s).

    Trend: centred 7-day moving average; season: mean detrended value per
    weekday; strength ``max(0, 1 - var(remainder) / var(season + remainder))``.
    """
    y = np.asarray(y[-364:], dtype="float64")
    if len(y) < 3 * SEASON:
        return 0.0
    trend = np.convolve(y, np.ones(SEASON) / SEASON, mode="valid")
    half = SEASON // 2
    detrended = y[half : half + len(trend)] - trend
    phase = (np.arange(len(detrended)) + half) % SEASON
    means = np.array([detrended[phase == k].mean() for k in range(SEASON)])
    means -= means.mean()
    remainder = detrended - means[phase]
    total = float(np.var(detrended))
    if total <= 0:
        return 0.0
    return float(max(0.0, 1.0 - np.var(remainder) / total))


def _kpss_rejects(w: np.ndarray) -> bool:
    """True when KPSS rejects level stationarity of ``w`` at 5%."""
    from statsmodels.tsa.stattools import kpss

    if len(w) < 3 * SEASON or np.ptp(w) == 0:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, pvalue, *_ = kpss(w, regression="c", nlags="auto")
    return bool(pvalue < 0.05)


def choose_differencing(y: np.ndarray, threshold: float) -> tuple[int, int]:
    """(d, D): weekly difference if seasonal, then a first difference if KPSS says so."""
    seasonal_d = 1 if seasonal_strength(y) >= threshold else 0
    w = difference(y, 0, seasonal_d)
    d = 1 if _kpss_rejects(w) else 0
    return d, seasonal_d


def _constrain(x: np.ndarray) -> np.ndarray:
    """Map free parameters to coefficients of a stationary AR polynomial."""
    from statsmodels.tsa.statespace.tools import constrain_stationary_univariate

    if len(x) == 0:
        return x
    if len(x) == 1:
        return np.tanh(x)
    return constrain_stationary_univariate(x)


def _lag_poly(coefs: np.ndarray, step: int, sign: float) -> np.ndarray:
    """``1 + sign * (c1 B^step + c2 B^(2 step) + ...)`` as a coefficient array."""
    poly = np.zeros(len(coefs) * step + 1)
    poly[0] = 1.0
    poly[step::step] = sign * coefs
    return poly


@dataclass
class CssFit:
    """A SARIMA fit by conditional sum of squares."""

    order: tuple[int, int, int]
    seasonal_order: tuple[int, int, int, int]
    mean: float
    ar: np.ndarray
    ma: np.ndarray
    sar: np.ndarray
    sma: np.ndarray
    sigma2: float
    aicc: float
    n_eff: int
    recent_sigma2: float
    x: np.ndarray


def _css_fit(
    w: np.ndarray,
    d: int,
    seasonal_d: int,
    orders: tuple[int, int, int, int],
    n_cond: int,
    recent_days: int = 91,
    widen: bool = True,
    x0: np.ndarray | None = None,
) -> CssFit | None:
    """Fit ARMA(p,q)(P,Q)_7 to the differenced series ``w`` by least squares.

    Residuals come from ``e = phi(B) Phi(B^7) (w - mu) / (theta(B) Theta(B^7))``
    with zero pre-sample values; the first ``n_cond`` residuals are dropped
    (the same number for every candidate, so the AICc values compare).
    A mean (or drift, when d + D = 1) is estimated when d + D <= 1.
    """
    p, q, sp, sq = orders
    with_mean = d + seasonal_d <= 1
    k = int(with_mean) + p + q + sp + sq
    n_eff = len(w) - n_cond
    if n_eff <= k + 3:
        return None
    centre = float(w.mean()) if with_mean else 0.0
    scale = float(w.std()) or 1.0
    z = (w - centre) / scale

    def unpack(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        i = int(with_mean)
        mu = float(x[0]) if with_mean else 0.0
        ar = _constrain(x[i : i + p])
        ma = -_constrain(x[i + p : i + p + q])
        sar = _constrain(x[i + p + q : i + p + q + sp])
        sma = -_constrain(x[i + p + q + sp : i + k])
        return mu, ar, ma, sar, sma

    def residuals(x: np.ndarray) -> np.ndarray:
        mu, ar, ma, sar, sma = unpack(x)
        ar_poly = np.polymul(_lag_poly(ar, 1, -1.0), _lag_poly(sar, SEASON, -1.0))
        ma_poly = np.polymul(_lag_poly(ma, 1, 1.0), _lag_poly(sma, SEASON, 1.0))
        return lfilter(ar_poly, ma_poly, z - mu)[n_cond:]

    if x0 is not None and len(x0) == k:
        x0 = np.asarray(x0, dtype="float64").copy()  # warm start from an earlier fit
    else:
        x0 = np.zeros(k)
        # start the MA terms away from zero: daily demand usually needs them
        x0[int(with_mean) + p : int(with_mean) + p + q] = 0.3
        x0[int(with_mean) + p + q + sp : k] = 0.5
    if k == 0:
        resid = residuals(x0)
        x = x0
    else:
        sol = least_squares(residuals, x0, method="lm", xtol=1e-6, ftol=1e-6, max_nfev=200 * k)
        x = sol.x
        resid = sol.fun
    sse = float(np.sum(resid**2))
    mu, ar, ma, sar, sma = unpack(x)
    sigma2 = sse / n_eff * scale**2
    # the intervals use the recent residual variance: demand grows and its
    # noise with it, so the whole-history variance is too small at the end
    recent_sigma2 = float(np.mean(resid[-recent_days:] ** 2)) * scale**2
    if not math.isfinite(sigma2) or sigma2 <= 0:
        return None
    loglik = -0.5 * n_eff * (math.log(2 * math.pi * sigma2) + 1.0)
    n_par = k + 1
    aicc = -2 * loglik + 2 * n_par + 2 * n_par * (n_par + 1) / max(n_eff - n_par - 1, 1)
    return CssFit(
        order=(p, d, q),
        seasonal_order=(sp, seasonal_d, sq, SEASON),
        mean=centre + mu * scale,
        ar=ar,
        ma=ma,
        sar=sar,
        sma=sma,
        sigma2=sigma2,
        aicc=aicc,
        n_eff=n_eff,
        recent_sigma2=max(recent_sigma2, sigma2) if widen else sigma2,
        x=np.asarray(x, dtype="float64"),
    )


def _order_label(fit: CssFit) -> str:
    p, d, q = fit.order
    sp, sd, sq, s = fit.seasonal_order
    label = f"SARIMA({p},{d},{q})({sp},{sd},{sq})[{s}]"
    if d + sd == 0:
        label += "+mean"
    elif d + sd == 1:
        label += "+drift"
    return label


def _sarimax_forecast(y: np.ndarray, fit: CssFit, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Point forecast and its variance from the statsmodels SARIMAX filter.

    The mean (or drift) is removed first as a deterministic level (or line),
    so that the state-space model has no time-varying intercept, and added
    back to the forecast.
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    n = len(y)
    d, seasonal_d = fit.order[1], fit.seasonal_order[1]
    if d + seasonal_d == 0:
        det = np.full(n + horizon, fit.mean)
    elif d + seasonal_d == 1:
        slope = fit.mean / (SEASON if seasonal_d else 1)
        det = slope * np.arange(n + horizon)
    else:
        det = np.zeros(n + horizon)
    model = SARIMAX(
        y - det[:n],
        order=fit.order,
        seasonal_order=fit.seasonal_order,
        trend="n",
        enforce_stationarity=False,
        enforce_invertibility=False,
    )
    params = np.concatenate([fit.ar, fit.ma, fit.sar, fit.sma, [fit.recent_sigma2]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.filter(params, cov_type="none")
        pred = res.get_forecast(horizon)
        mean = np.asarray(pred.predicted_mean, dtype="float64") + det[n:]
        var = np.asarray(pred.var_pred_mean, dtype="float64")
    return mean, var


def sarima_forecast(
    y: np.ndarray, horizon: int, config: ForecastConfig, spec: tuple | None = None
) -> SeriesForecast:
    """Search the candidate orders by AICc (CSS) and forecast with the best.

    With ``spec`` (from an earlier fit's ``SeriesForecast.spec``) the
    differencing and order are kept and only the parameters re-estimated,
    starting from the earlier ones. Falls back to seasonal naive, flagged in
    ``note``, when no candidate fits or the forecast is not finite.
    """
    started = time.perf_counter()
    y = np.asarray(y[-config.max_train_days :], dtype="float64")
    n_cond = max(p + SEASON * sp for p, _, sp, _ in config.candidate_orders)
    if spec is None:
        d, seasonal_d = choose_differencing(y, config.seasonal_strength_threshold)
        candidates = [(orders, None) for orders in config.candidate_orders]
    else:
        d, seasonal_d, orders, x_prev = spec
        candidates = [(tuple(orders), x_prev)]
        n_cond = max(n_cond, orders[0] + SEASON * orders[2])
    w = difference(y, d, seasonal_d)
    best: CssFit | None = None
    tried = 0
    for orders, x0 in candidates:
        budget = config.time_budget_s
        if tried and budget is not None and time.perf_counter() - started > budget:
            break
        tried += 1
        try:
            fit = _css_fit(w, d, seasonal_d, orders, n_cond, x0=x0)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            fit = None
        if fit is not None and (best is None or fit.aicc < best.aicc):
            best = fit
    if spec is None:
        note = f"{tried}/{len(config.candidate_orders)} candidates"
    else:
        note = "order kept from the first backtest origin"
    if best is None:
        return seasonal_naive(y, horizon, note="fallback: no SARIMA candidate fitted")
    mean, var = _sarimax_forecast(y, best, horizon)
    if not (np.isfinite(mean).all() and np.isfinite(var).all()):
        return seasonal_naive(y, horizon, note="fallback: SARIMA forecast not finite")
    se = np.sqrt(np.maximum(var, 0.0))
    return _clip(
        SeriesForecast(
            method="sarima",
            model_order=_order_label(best),
            mean=mean,
            **normal_bounds(mean, se),
            n_train_days=len(y),
            aicc=best.aicc,
            fit_seconds=time.perf_counter() - started,
            note=note,
            spec=(
                d,
                seasonal_d,
                (best.order[0], best.order[2], best.seasonal_order[0], best.seasonal_order[2]),
                best.x,
            ),
        )
    )


def average_demand_interval(y: np.ndarray) -> float:
    """Mean number of days between selling days (inf when nothing sold)."""
    n_selling = int(np.count_nonzero(y > 0))
    return math.inf if n_selling == 0 else len(y) / n_selling


def forecast_series(
    y: np.ndarray, config: ForecastConfig, spec: tuple | None = None
) -> SeriesForecast:
    """Forecast one daily series ``horizon_days`` ahead (method chosen here).

    ``spec``: keep an earlier SARIMA fit's differencing and order (see
    ``sarima_forecast``) if this series is fitted by SARIMA again.
    """
    started = time.perf_counter()
    y = np.asarray(y, dtype="float64")
    nonzero = np.flatnonzero(y > 0)
    y = y[nonzero[0] :] if len(nonzero) else y[len(y) :]
    horizon = config.horizon_days
    recent = y[-config.intermittent_window_days :]
    if len(y) < config.min_history_days and len(y) >= 2 * SEASON:
        fc = seasonal_naive(y, horizon, note=f"short history ({len(y)} days)")
    elif len(y) < config.min_history_days:
        fc = croston_sba(
            y, horizon, config.croston_alpha, config.empirical_window_days,
            note=f"short history ({len(y)} days)",
        )
    elif average_demand_interval(recent) > config.intermittent_adi:
        adi = average_demand_interval(recent)
        fc = croston_sba(
            y, horizon, config.croston_alpha, config.empirical_window_days,
            note=f"intermittent (ADI {adi:.2f})",
        )
    else:
        fc = sarima_forecast(y, horizon, config, spec)
    fc.fit_seconds = time.perf_counter() - started
    return fc
