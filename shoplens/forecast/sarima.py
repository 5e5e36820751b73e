"""Seasonal ARIMA for one series: differencing tests, CSS order search, SARIMAX forecast."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

from shoplens.forecast.config import (
    SEASON,
    ForecastConfig,
    SeriesContext,
    SeriesForecast,
    normal_bounds,
)
from shoplens.forecast.exog import calendar_regression
from shoplens.forecast.methods import _clip, croston_sba, first_sale, seasonal_naive


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
    if len(x) == 0:
        return x
    if len(x) == 1:
        return np.tanh(x)
    # imported after the short cases: the residuals call this ~100 times a fit
    from statsmodels.tsa.statespace.tools import constrain_stationary_univariate

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


def _unpack(
    x: np.ndarray, with_mean: bool, orders: tuple[int, int, int, int]
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Free parameters to (mean, ar, ma, sar, sma); AR and MA kept stationary/invertible."""
    p, q, sp, sq = orders
    i = int(with_mean)
    mu = float(x[0]) if with_mean else 0.0
    ar = _constrain(x[i : i + p])
    ma = -_constrain(x[i + p : i + p + q])
    sar = _constrain(x[i + p + q : i + p + q + sp])
    sma = -_constrain(x[i + p + q + sp : i + p + q + sp + sq])
    return mu, ar, ma, sar, sma


def _css_residuals(
    x: np.ndarray, z: np.ndarray, with_mean: bool, orders: tuple[int, int, int, int], n_cond: int
) -> np.ndarray:
    """``phi(B) Phi(B^7) (z - mu) / (theta(B) Theta(B^7))`` after the first ``n_cond``."""
    mu, ar, ma, sar, sma = _unpack(x, with_mean, orders)
    # the residuals run ~100 times per fit: the lag polynomials' product is built directly (numpy
    # calls, not arithmetic, were most of the forecast's CPU at 1M customers)
    ar_poly = _seasonal_product(ar, sar, -1.0)
    ma_poly = _seasonal_product(ma, sma, 1.0)
    return lfilter(ar_poly, ma_poly, z - mu)[n_cond:]


def _seasonal_product(c: np.ndarray, s: np.ndarray, sign: float) -> np.ndarray:
    """``(1 + sign (c1 B + ...)) (1 + sign (s1 B^7 + ...))`` as coefficients: the same values as
    ``np.convolve`` of the two lag polynomials. With fewer than ``SEASON`` non-seasonal terms no
    two products land on one power, so each coefficient is one product (convolve adds only
    zeros to it); otherwise convolve itself."""
    p, sp = len(c), len(s)
    if p >= SEASON:
        return np.convolve(_lag_poly(c, 1, sign), _lag_poly(s, SEASON, sign))
    poly = np.zeros(p + SEASON * sp + 1)
    poly[0] = 1.0
    signed_c = sign * c
    poly[1 : p + 1] = signed_c
    for j in range(sp):
        base = SEASON * (j + 1)
        seasonal = sign * s[j]
        poly[base] = seasonal
        poly[base + 1 : base + p + 1] = signed_c * seasonal
    return poly


def _start_values(
    k: int, with_mean: bool, orders: tuple[int, int, int, int], x0: np.ndarray | None
) -> np.ndarray:
    """An earlier fit's parameters (warm start) or zeros with the MA terms away from zero."""
    if x0 is not None and len(x0) == k:
        return np.asarray(x0, dtype="float64").copy()
    p, q, sp, _ = orders
    i = int(with_mean)
    start = np.zeros(k)
    # daily demand usually needs MA terms: start them away from zero
    start[i + p : i + p + q] = 0.3
    start[i + p + q + sp : k] = 0.5
    return start


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
    x = _start_values(k, with_mean, orders, x0)
    if k:
        sol = least_squares(_css_residuals, x, args=(z, with_mean, orders, n_cond),
                            method="lm", xtol=1e-6, ftol=1e-6, max_nfev=200 * k)
        x = sol.x
    resid = _css_residuals(x, z, with_mean, orders, n_cond)
    sigma2 = float(np.sum(resid**2)) / n_eff * scale**2
    if not math.isfinite(sigma2) or sigma2 <= 0:
        return None
    # the intervals use the recent residual variance: demand grows and its
    # noise with it, so the whole-history variance is too small at the end
    recent_sigma2 = float(np.mean(resid[-recent_days:] ** 2)) * scale**2
    n_par = k + 1
    loglik = -0.5 * n_eff * (math.log(2 * math.pi * sigma2) + 1.0)
    aicc = -2 * loglik + 2 * n_par + 2 * n_par * (n_par + 1) / max(n_eff - n_par - 1, 1)
    mu, ar, ma, sar, sma = _unpack(x, with_mean, orders)
    return CssFit(
        order=(p, d, q), seasonal_order=(sp, seasonal_d, sq, SEASON),
        mean=centre + mu * scale, ar=ar, ma=ma, sar=sar, sma=sma, sigma2=sigma2, aicc=aicc,
        n_eff=n_eff, recent_sigma2=max(recent_sigma2, sigma2) if widen else sigma2,
        x=np.asarray(x, dtype="float64"),
    )


#: the smallest modulus a fitted non-seasonal AR polynomial's roots may have (the
#: forecast package's auto.arima rejects models with any AR or MA root inside 1.01)
MIN_AR_ROOT = 1.01


def ar_root_modulus(ar: np.ndarray) -> float:
    """The smallest modulus of the roots of ``1 - ar1 B - ar2 B^2 - ...`` (inf without terms).

    A root near the unit circle is a level the model no longer reverts to:
    with a mean (d + D = 0) the mean is then not identified (least squares
    put it at 37,000 for a series of about 3,300 a day, CDNOW 1997-06-10),
    and on differences it continues the last weeks' slope, as an undamped
    trend, over the horizon.
    """
    coefs = np.asarray(ar, dtype="float64")
    if not len(coefs) or not np.any(np.abs(coefs) > 1e-8):
        return math.inf
    roots = np.roots(_lag_poly(coefs, 1, -1.0)[::-1])
    return float(np.min(np.abs(roots))) if len(roots) else math.inf


def _order_label(fit: CssFit, exog_names: list[str]) -> str:
    p, d, q = fit.order
    sp, sd, sq, s = fit.seasonal_order
    label = f"SARIMA({p},{d},{q})({sp},{sd},{sq})[{s}]"
    if d + sd == 0:
        label += "+mean"
    elif d + sd == 1:
        label += "+drift"
    n_fourier = sum(name.startswith("year_sin") for name in exog_names)
    if n_fourier:
        label += f"+fourier{n_fourier}[365.25]"
    label += "".join(f"+{name}" for name in exog_names if not name.startswith("year_"))
    return label


def _deterministic(fit: CssFit, n: int, horizon: int) -> np.ndarray:
    """The mean (d + D = 0), drift line (d + D = 1) or zeros, over training and horizon."""
    d, seasonal_d = fit.order[1], fit.seasonal_order[1]
    if d + seasonal_d == 0:
        return np.full(n + horizon, fit.mean)
    if d + seasonal_d == 1:
        return fit.mean / (SEASON if seasonal_d else 1) * np.arange(n + horizon)
    return np.zeros(n + horizon)


def _sarimax_forecast(
    y: np.ndarray, fit: CssFit, horizon: int, regression: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Point forecast and its variance from the statsmodels SARIMAX filter.

    The mean (or drift) and the regression effect (``regression``: one value
    per training and forecast day) are removed first as deterministic parts,
    so that the state-space model has no time-varying intercept, and added
    back to the forecast.
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    n = len(y)
    det = _deterministic(fit, n, horizon)
    if regression is not None:
        det = det + regression
    model = SARIMAX(y - det[:n], order=fit.order, seasonal_order=fit.seasonal_order,
                    trend="n", enforce_stationarity=False, enforce_invertibility=False)
    params = np.concatenate([fit.ar, fit.ma, fit.sar, fit.sma, [fit.recent_sigma2]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = model.filter(params, cov_type="none").get_forecast(horizon)
        mean = np.asarray(pred.predicted_mean, dtype="float64") + det[n:]
        var = np.asarray(pred.var_pred_mean, dtype="float64")
    return mean, var


def _search(
    w: np.ndarray, d: int, seasonal_d: int, candidates: list, n_cond: int,
    budget: float | None, started: float,
) -> tuple[CssFit | None, int]:
    """The candidate with the lowest AICc, and how many were tried before the budget ran out.

    A fit whose non-seasonal AR polynomial has a root inside ``MIN_AR_ROOT``
    is rejected (see ``ar_root_modulus``). The seasonal factor is not
    checked: a weekly AR near 1 with a weekly MA near -1 is a stable weekly
    shape: the bound on every factor, as auto.arima applies it (on the weekly
    AR |SAR| <= 1.01 ** -7 = 0.93), moved the bench shop's categories from
    0.736 to 0.797 of seasonal naive (issue 12, seventh round;
    docs/forecast.md, Real data).
    """
    best: CssFit | None = None
    tried = 0
    for orders, x0 in candidates:
        if tried and budget is not None and time.perf_counter() - started > budget:
            break
        tried += 1
        try:
            fit = _css_fit(w, d, seasonal_d, orders, n_cond, x0=x0)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            fit = None
        if fit is not None and ar_root_modulus(fit.ar) < MIN_AR_ROOT:
            fit = None
        if fit is not None and (best is None or fit.aicc < best.aicc):
            best = fit
    return best, tried


def sarima_forecast(
    y: np.ndarray,
    horizon: int,
    config: ForecastConfig,
    spec: tuple | None = None,
    context: SeriesContext | None = None,
) -> SeriesForecast:
    """Search the candidate orders by AICc (CSS) and forecast with the best.

    Calendar regressors (``shoplens.forecast.exog``) enter as a regression
    with SARIMA errors when ``context`` gives the series' start date. With
    ``spec`` (an earlier fit's ``SeriesForecast.spec``) the differencing,
    order and yearly terms are kept and only the parameters re-estimated;
    if that refit is rejected (a near-unit AR root) or fails, every
    candidate order is searched again at this origin, with the kept
    differencing. Falls back to seasonal naive, flagged in ``note``, when no
    candidate fits or the forecast is not finite.
    """
    started = time.perf_counter()
    n_all = len(y)
    y = np.asarray(y[-config.max_train_days :], dtype="float64")
    context = (context or SeriesContext()).shifted(n_all - len(y))
    n_cond = max(p + SEASON * sp for p, _, sp, _ in config.candidate_orders)
    if spec is None:
        d, seasonal_d = choose_differencing(y, config.seasonal_strength_threshold)
        candidates = [(orders, None) for orders in config.candidate_orders]
        yearly_k = None
    else:
        d, seasonal_d, orders, x_prev, yearly_k = spec
        candidates = [(tuple(orders), x_prev)]
        n_cond = max(n_cond, orders[0] + SEASON * orders[2])
    exog = calendar_regression(y, horizon, config, context, yearly_k)
    w = difference(y - exog.effect[: len(y)], d, seasonal_d)
    best, tried = _search(w, d, seasonal_d, candidates, n_cond, config.time_budget_s, started)
    searched_again = best is None and spec is not None
    if searched_again:
        n_cond = max(p + SEASON * sp for p, _, sp, _ in config.candidate_orders)
        best, tried = _search(w, d, seasonal_d, [(o, None) for o in config.candidate_orders],
                              n_cond, config.time_budget_s, started)
    if best is None:
        return seasonal_naive(y, horizon, note="fallback: no SARIMA candidate fitted")
    mean, var = _sarimax_forecast(y, best, horizon, exog.effect)
    if not (np.isfinite(mean).all() and np.isfinite(var).all()):
        return seasonal_naive(y, horizon, note="fallback: SARIMA forecast not finite")
    se = np.sqrt(np.maximum(var, 0.0))
    if spec is None or searched_again:
        again = "the kept order's refit was rejected, searched again: " if searched_again else ""
        note = f"{again}{tried}/{len(config.candidate_orders)} candidates; {exog.note}"
    else:
        note = f"order kept from the first backtest origin; {exog.note}"
    orders = (best.order[0], best.order[2], best.seasonal_order[0], best.seasonal_order[2])
    return _clip(SeriesForecast(
        method="sarima", model_order=_order_label(best, exog.names), mean=mean,
        **normal_bounds(mean, se), n_train_days=len(y), aicc=best.aicc,
        fit_seconds=time.perf_counter() - started, note=note,
        # a series too short for yearly terms chooses them again once it is long enough
        spec=(d, seasonal_d, orders, best.x,
              exog.yearly_k if len(y) >= config.min_yearly_days else None), se=se,
        has_yearly_terms=exog.yearly_k > 0,
    ))


def average_demand_interval(y: np.ndarray) -> float:
    """Mean number of days between selling days (inf when nothing sold)."""
    n_selling = int(np.count_nonzero(y > 0))
    return math.inf if n_selling == 0 else len(y) / n_selling


def forecast_series(
    y: np.ndarray,
    config: ForecastConfig,
    spec: tuple | None = None,
    context: SeriesContext | None = None,
) -> SeriesForecast:
    """Forecast one daily series ``horizon_days`` ahead (method chosen here).

    ``spec``: keep an earlier SARIMA fit's differencing and order (see
    ``sarima_forecast``) if this series is fitted by SARIMA again.
    ``context``: the series' first date and promotion shares, for the
    calendar regressors (none without it).
    """
    started = time.perf_counter()
    y = np.asarray(y, dtype="float64")
    first = first_sale(y)
    span = len(y)  # the days the series could have sold: Croston's few-sale interval
    y = y[first:]
    horizon = config.horizon_days
    recent = y[-config.intermittent_window_days :]
    short = f"short history ({len(y)} days)"
    if len(y) < config.min_history_days and len(y) >= 2 * SEASON:
        fc = seasonal_naive(y, horizon, note=short)
    elif len(y) < config.min_history_days or (
        average_demand_interval(recent) > config.intermittent_adi
    ):
        note = short if len(y) < config.min_history_days else (
            f"intermittent (ADI {average_demand_interval(recent):.2f})")
        open_days = None if context is None else context.shifted(first).shop_open
        fc = croston_sba(y, horizon, config.croston_alpha, config.empirical_window_days, note=note,
                         open_days=open_days, span=span)
    else:
        shifted = context.shifted(first) if context is not None else None
        fc = sarima_forecast(y, horizon, config, spec, shifted)
    fc.fit_seconds = time.perf_counter() - started
    return fc
