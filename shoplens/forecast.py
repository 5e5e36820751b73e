"""Daily demand forecasts: SARIMA per series with documented fallbacks.

Input is the ``demand_daily`` mart (one row per series per day, zero days
filled): ``series_level`` (``total``/``category``/``product``), ``series_key``,
``demand_date``, ``units``, ``revenue``. Each (series, measure) pair is one
daily time series; the measures are ``units`` (items sold per day) and
``revenue`` (shop currency per day).

How one series is forecast (see ``docs/forecast.md`` for the reasons):

1. Leading zero days (before the series' first sale) are dropped.
2. Fewer than ``min_history_days`` days left: seasonal naive (``seasonal_naive``).
   Intermittent demand (average interval between selling days over the last
   ``intermittent_window_days`` above ``intermittent_adi``): Croston's method
   with the Syntetos-Boylan correction (``croston_sba``).
3. Otherwise a seasonal ARIMA with weekly season (s = 7): the differencing is
   chosen by tests (weekly difference when the weekly seasonal strength is at
   least ``seasonal_strength_threshold``; a first difference when KPSS rejects
   level stationarity at 5%), then the ARMA orders by AICc over
   ``CANDIDATE_ORDERS``, each estimated by conditional sum of squares (fast,
   the approximation auto.arima uses during its search). The chosen model's
   forecast and its intervals come from the statsmodels ``SARIMAX`` Kalman
   filter run with those parameters over the whole training series. The order
   search stops once ``time_budget_s`` is spent on a series.
4. Forecasts and bounds are clipped at zero (demand cannot be negative).

Backtest: a rolling origin over the last ``backtest_origins`` horizons. At
each origin the whole procedure above (method choice, order search,
estimation) runs on the data before the origin only, and its forecast is
compared with what followed; the seasonal naive forecast from the same origin
is the baseline.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.signal import lfilter
from scipy.stats import norm

from shoplens import __version__
from shoplens.evaluation import evaluation_frame

SEASON = 7
MODEL_TAG = "forecast-v1"
MODEL_VERSION = f"{__version__}+{MODEL_TAG}"
LEVELS = ("total", "category", "product")
MEASURES = ("units", "revenue")
METHODS = ("sarima", "croston_sba", "seasonal_naive")

# (p, q, P, Q): the ARMA orders tried for every series, in this order. The
# differencing (d, D) is fixed per series before the search.
CANDIDATE_ORDERS: tuple[tuple[int, int, int, int], ...] = (
    (0, 1, 0, 1),
    (1, 0, 0, 1),
    (1, 1, 0, 1),
    (2, 0, 0, 1),
    (1, 0, 1, 0),
    (1, 1, 1, 1),
    (2, 1, 0, 1),
    (1, 1, 0, 0),
)

Z80 = float(norm.ppf(0.90))
Z95 = float(norm.ppf(0.975))

FORECAST_COLUMNS = [
    "series_level",
    "series_key",
    "measure",
    "forecast_date",
    "horizon_day",
    "point_forecast",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "method",
    "model_order",
    "as_of_date",
    "model_version",
    "n_train_days",
    "aicc",
    "fit_seconds",
    "fit_note",
]

BACKTEST_COLUMNS = [
    "series_level",
    "series_key",
    "measure",
    "origin_date",
    "target_date",
    "horizon_day",
    "actual",
    "point_forecast",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "naive_forecast",
    "mase_scale",
    "method",
    "model_order",
]


@dataclass(frozen=True)
class ForecastConfig:
    """Settings of the demand forecasts (dbt vars in brackets).

    horizon_days: days forecast after the last training day [forecast_horizon_days].
    top_n: products with the highest revenue that get their own series [forecast_top_n].
    n_jobs: worker processes for independent series; 1 runs in-process [forecast_n_jobs].
    backtest_origins: rolling origins, one horizon apart, ending at the last day.
    min_history_days: shorter series (after leading zeros) use seasonal naive.
    intermittent_adi: average days between selling days above which a series
        is intermittent (1.32, Syntetos-Boylan) and uses Croston-SBA.
    intermittent_window_days: recent window on which intermittency is judged.
    croston_alpha: smoothing constant of Croston's sizes and intervals.
    empirical_window_days: recent days whose quantiles give Croston's intervals.
    seasonal_strength_threshold: weekly seasonal strength from which a weekly
        difference is taken (0.64 as in auto.arima's seasonal heuristic).
    max_train_days: at most this many recent days are used to fit SARIMA.
    time_budget_s: seconds of order search per series fit before the search stops.
    """

    horizon_days: int = 28
    top_n: int = 100
    n_jobs: int = 1
    backtest_origins: int = 4
    min_history_days: int = 91
    intermittent_adi: float = 1.32
    intermittent_window_days: int = 182
    croston_alpha: float = 0.1
    empirical_window_days: int = 91
    seasonal_strength_threshold: float = 0.64
    max_train_days: int = 730
    time_budget_s: float = 2.0
    candidate_orders: tuple[tuple[int, int, int, int], ...] = field(
        default=CANDIDATE_ORDERS
    )

    def __post_init__(self) -> None:
        checks = {
            "horizon_days": self.horizon_days >= 1,
            "top_n": self.top_n >= 0,
            "n_jobs": self.n_jobs >= 1,
            "backtest_origins": self.backtest_origins >= 1,
            "min_history_days": self.min_history_days >= 2 * SEASON,
            "intermittent_adi": self.intermittent_adi >= 1.0,
            "croston_alpha": 0.0 < self.croston_alpha <= 1.0,
            "max_train_days": self.max_train_days >= self.min_history_days,
            "time_budget_s": self.time_budget_s > 0,
            "candidate_orders": len(self.candidate_orders) >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = {name: getattr(self, name) for name in bad}
            raise ValueError(f"invalid forecast settings: {values}")


@dataclass
class SeriesForecast:
    """One series' forecast: arrays of length ``horizon`` and how it was made."""

    method: str
    model_order: str
    mean: np.ndarray
    lower_80: np.ndarray
    upper_80: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray
    n_train_days: int
    aicc: float = float("nan")
    fit_seconds: float = 0.0
    note: str = ""
    # SARIMA only: (d, D, (p, q, P, Q), free parameters), to refit the same
    # model at a later backtest origin
    spec: tuple | None = None


# --------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------

REQUIRED_COLUMNS = ("series_level", "series_key", "demand_date", "units", "revenue")


@dataclass
class Series:
    """One daily series: ``values[i]`` is the demand on ``start + i`` days."""

    level: str
    key: str
    measure: str
    start: dt.date
    values: np.ndarray


def select_series(
    demand_daily: pd.DataFrame, top_n: int, end_date: dt.date | None = None
) -> list[Series]:
    """Turn ``demand_daily`` into the series to forecast.

    Keeps the total, every category and the ``top_n`` products by revenue over
    the whole history (ties by key), each for units and revenue. Every series
    runs from its first row to ``end_date`` (default: the last date in the
    data); missing days are read as zero demand and later days are dropped. Raises ``ValueError`` on missing
    columns, unknown levels, negative or non-finite demand.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in demand_daily.columns]
    if missing:
        raise ValueError(f"demand_daily is missing columns {missing}")
    if demand_daily.empty:
        raise ValueError("demand_daily is empty: nothing to forecast")
    frame = demand_daily.loc[:, list(REQUIRED_COLUMNS)].copy()
    unknown = sorted(set(frame["series_level"]) - set(LEVELS))
    if unknown:
        raise ValueError(f"demand_daily has unknown series_level values {unknown}")
    frame["series_key"] = frame["series_key"].astype(str)
    frame["demand_date"] = pd.to_datetime(frame["demand_date"]).dt.normalize()
    end = pd.Timestamp(end_date) if end_date is not None else frame["demand_date"].max()
    frame = frame[frame["demand_date"] <= end]
    if frame.empty:
        raise ValueError(f"demand_daily has no rows on or before {end.date()}")
    for measure in MEASURES:
        values = pd.to_numeric(frame[measure], errors="coerce").astype("float64")
        if not np.isfinite(values).all():
            raise ValueError(f"demand_daily.{measure} has missing or non-finite values")
        if (values < 0).any():
            raise ValueError(f"demand_daily.{measure} has negative values")
        frame[measure] = values
    if frame.duplicated(["series_level", "series_key", "demand_date"]).any():
        raise ValueError("demand_daily has more than one row per series and day")

    products = frame[frame["series_level"] == "product"]
    revenue = products.groupby("series_key")["revenue"].sum().reset_index()
    revenue = revenue.sort_values(["revenue", "series_key"], ascending=[False, True])
    top = set(revenue["series_key"].head(top_n))
    keep = (frame["series_level"] != "product") | frame["series_key"].isin(top)
    frame = frame[keep]

    out: list[Series] = []
    level_rank = {level: i for i, level in enumerate(LEVELS)}
    groups = sorted(
        frame.groupby(["series_level", "series_key"], sort=False),
        key=lambda item: (level_rank[item[0][0]], item[0][1]),
    )
    for (level, key), group in groups:
        group = group.set_index("demand_date").sort_index()
        days = pd.date_range(group.index.min(), end, freq="D")
        group = group.reindex(days, fill_value=0.0)
        for measure in MEASURES:
            out.append(
                Series(
                    level=str(level),
                    key=str(key),
                    measure=measure,
                    start=days[0].date(),
                    values=group[measure].to_numpy(dtype="float64"),
                )
            )
    return out


# --------------------------------------------------------------------------
# Simple methods
# --------------------------------------------------------------------------


def _clip(fc: SeriesForecast) -> SeriesForecast:
    """Demand is non-negative: clip, and keep the point inside its bounds."""
    fc.mean = np.maximum(fc.mean, 0.0)
    fc.lower_80 = np.minimum(np.maximum(fc.lower_80, 0.0), fc.mean)
    fc.lower_95 = np.minimum(np.maximum(fc.lower_95, 0.0), fc.lower_80)
    fc.upper_80 = np.maximum(fc.upper_80, fc.mean)
    fc.upper_95 = np.maximum(fc.upper_95, fc.upper_80)
    return fc


def seasonal_naive_point(y: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last observed week: forecast for day T+h is y[T+h-7k]."""
    if len(y) == 0:
        return np.zeros(horizon)
    if len(y) < SEASON:
        return np.full(horizon, float(np.mean(y)))
    last_week = y[-SEASON:]
    return last_week[np.arange(horizon) % SEASON].astype("float64")


def seasonal_naive(y: np.ndarray, horizon: int, note: str = "") -> SeriesForecast:
    """Seasonal naive forecast with normal intervals.

    The spread is the standard deviation of the weekly differences
    ``y[t] - y[t-7]`` over the last year; at horizon h it grows with the number
    of weeks ahead, ``ceil(h / 7)``, as a seasonal random walk's does.
    """
    mean = seasonal_naive_point(y, horizon)
    recent = y[-365:]
    if len(recent) > SEASON + 1:
        sigma = float(np.std(recent[SEASON:] - recent[:-SEASON], ddof=1))
    elif len(recent) > 1:
        sigma = float(np.std(recent, ddof=1))
    else:
        sigma = 0.0
    se = sigma * np.sqrt(np.ceil(np.arange(1, horizon + 1) / SEASON))
    return _clip(
        SeriesForecast(
            method="seasonal_naive",
            model_order=f"SNAIVE[{SEASON}]",
            mean=mean,
            lower_80=mean - Z80 * se,
            upper_80=mean + Z80 * se,
            lower_95=mean - Z95 * se,
            upper_95=mean + Z95 * se,
            n_train_days=len(y),
            note=note,
        )
    )


def croston_sba(
    y: np.ndarray, horizon: int, alpha: float, window: int, note: str = ""
) -> SeriesForecast:
    """Croston's method with the Syntetos-Boylan bias correction.

    Demand sizes and the intervals between selling days are smoothed
    separately (constant ``alpha``); the daily rate is
    ``(1 - alpha/2) * size / interval``, flat over the horizon. The bounds are
    empirical quantiles of the last ``window`` days' demand (10/90% and
    2.5/97.5%), which is what a day of intermittent demand looks like.
    """
    nonzero = np.flatnonzero(y > 0)
    if len(nonzero) == 0:
        zeros = np.zeros(horizon)
        return SeriesForecast(
            "croston_sba", f"SBA(alpha={alpha:g})", zeros, zeros, zeros, zeros, zeros,
            n_train_days=len(y), note=(note + "; no sales yet").lstrip("; "),
        )
    sizes = y[nonzero]
    gaps = np.diff(np.concatenate([[-1], nonzero])).astype("float64")
    size, gap = float(sizes[0]), float(gaps[0])
    for s, g in zip(sizes[1:], gaps[1:], strict=True):
        size += alpha * (s - size)
        gap += alpha * (g - gap)
    rate = (1.0 - alpha / 2.0) * size / max(gap, 1.0)
    mean = np.full(horizon, rate)
    recent = y[-window:]
    q = np.quantile(recent, [0.025, 0.10, 0.90, 0.975])
    return _clip(
        SeriesForecast(
            method="croston_sba",
            model_order=f"SBA(alpha={alpha:g})",
            mean=mean,
            lower_80=np.full(horizon, q[1]),
            upper_80=np.full(horizon, q[2]),
            lower_95=np.full(horizon, q[0]),
            upper_95=np.full(horizon, q[3]),
            n_train_days=len(y),
            note=note,
        )
    )


# --------------------------------------------------------------------------
# SARIMA
# --------------------------------------------------------------------------


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
        if tried and time.perf_counter() - started > config.time_budget_s:
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
            lower_80=mean - Z80 * se,
            upper_80=mean + Z80 * se,
            lower_95=mean - Z95 * se,
            upper_95=mean + Z95 * se,
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


# --------------------------------------------------------------------------
# Many series: forecasts and backtests
# --------------------------------------------------------------------------


def _forecast_task(args: tuple[list[np.ndarray], ForecastConfig]) -> list[SeriesForecast]:
    values, config = args
    return [forecast_series(y, config) for y in values]


def _backtest_task(args: tuple[list[np.ndarray], ForecastConfig]) -> list[list[SeriesForecast]]:
    values, config = args
    out = []
    for y in values:
        fits: list[SeriesForecast] = []
        spec = None
        for origin in backtest_origins(len(y), config):
            fc = forecast_series(y[:origin], config, spec)
            if spec is None and fc.method == "sarima":
                spec = fc.spec
            fits.append(fc)
        out.append(fits)
    return out


def _die_with_parent(parent_pid: int) -> None:
    """Worker initialiser: end this worker when the process that started it dies.

    On Linux the kernel sends SIGKILL to the worker when its parent exits
    (``PR_SET_PDEATHSIG``), so a killed build leaves no forecast workers
    behind; if the parent is already gone the worker stops at once.
    Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def _parallel_map(
    task: Callable[[tuple[list[np.ndarray], ForecastConfig]], list],
    values: Sequence[np.ndarray],
    config: ForecastConfig,
) -> list:
    """Run ``task`` over the series, in ``config.n_jobs`` processes when > 1.

    Series are dealt round-robin into chunks (big and small series mix); the
    workers are spawned (not forked) so they are safe inside a threaded host
    such as dbt, and each keeps BLAS single-threaded. Workers die with the
    process that started them (see :func:`_die_with_parent`).
    """
    values = list(values)
    n_jobs = min(config.n_jobs, max(len(values), 1))
    if n_jobs <= 1:
        return task((values, config))
    n_chunks = n_jobs * 4
    chunks = [list(range(i, len(values), n_chunks)) for i in range(n_chunks)]
    chunks = [c for c in chunks if c]
    # workers inherit the environment when they start: one BLAS thread each,
    # and the host's own settings are put back afterwards
    blas_vars = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {var: os.environ.get(var) for var in blas_vars}
    results: list = [None] * len(values)
    try:
        for var in blas_vars:
            os.environ[var] = "1"
        with ProcessPoolExecutor(
            max_workers=n_jobs,
            mp_context=get_context("spawn"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            jobs = [(c, pool.submit(task, ([values[i] for i in c], config))) for c in chunks]
            for chunk, job in jobs:
                for i, result in zip(chunk, job.result(), strict=True):
                    results[i] = result
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    return results


def backtest_origins(n_days: int, config: ForecastConfig) -> list[int]:
    """Training lengths of the rolling origins: the last ``backtest_origins`` horizons.

    Origin k (k = B..1) trains on days ``[0, n - k h)`` and is scored on the
    next ``h`` days; origins leaving under two weeks of training are skipped.
    """
    h = config.horizon_days
    origins = [n_days - k * h for k in range(config.backtest_origins, 0, -1)]
    return [o for o in origins if o >= 2 * SEASON]


def forecast_demand(
    demand_daily: pd.DataFrame, config: ForecastConfig, as_of_date: dt.date | None = None
) -> pd.DataFrame:
    """Forecast every selected series ``config.horizon_days`` past its last day.

    Returns one row per series, measure and forecast date with the columns
    ``FORECAST_COLUMNS``. ``as_of_date`` (the last training day) defaults to
    the last date in the data; series that stop earlier are zero-filled to it.
    """
    series = select_series(demand_daily, config.top_n, as_of_date)
    as_of = series[0].start + dt.timedelta(days=len(series[0].values) - 1)
    fits = _parallel_map(_forecast_task, [s.values for s in series], config)
    h = config.horizon_days
    dates = [as_of + dt.timedelta(days=i) for i in range(1, h + 1)]
    parts = []
    for s, fc in zip(series, fits, strict=True):
        parts.append(
            pd.DataFrame(
                {
                    "series_level": s.level,
                    "series_key": s.key,
                    "measure": s.measure,
                    "forecast_date": dates,
                    "horizon_day": np.arange(1, h + 1),
                    "point_forecast": fc.mean,
                    "lower_80": fc.lower_80,
                    "upper_80": fc.upper_80,
                    "lower_95": fc.lower_95,
                    "upper_95": fc.upper_95,
                    "method": fc.method,
                    "model_order": fc.model_order,
                    "as_of_date": as_of,
                    "model_version": MODEL_VERSION,
                    "n_train_days": fc.n_train_days,
                    "aicc": fc.aicc,
                    "fit_seconds": round(fc.fit_seconds, 4),
                    "fit_note": fc.note,
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)[FORECAST_COLUMNS]
    # AICc exists for SARIMA fits only: NULL (not NaN) for the other methods
    out["aicc"] = out["aicc"].astype("Float64").mask(out["aicc"].isna())
    out["horizon_day"] = out["horizon_day"].astype("int64")
    out["n_train_days"] = out["n_train_days"].astype("int64")
    return out


def backtest_demand(
    demand_daily: pd.DataFrame, config: ForecastConfig, as_of_date: dt.date | None = None
) -> pd.DataFrame:
    """Rolling-origin backtest of every selected series.

    Returns one row per series, measure, origin and target date
    (``BACKTEST_COLUMNS``): the actual value, the forecast with its bounds,
    the seasonal naive forecast from the same origin, and the MASE scale (mean
    absolute weekly difference of the training data before the origin).
    """
    series = select_series(demand_daily, config.top_n, as_of_date)
    fits = _parallel_map(_backtest_task, [s.values for s in series], config)
    h = config.horizon_days
    parts = []
    for s, per_origin in zip(series, fits, strict=True):
        y = s.values
        for origin, fc in zip(backtest_origins(len(y), config), per_origin, strict=True):
            train = y[:origin]
            actual = y[origin : origin + h]
            nonzero = np.flatnonzero(train > 0)
            trimmed = train[nonzero[0] :] if len(nonzero) else train[len(train) :]
            scale_data = trimmed if len(trimmed) > SEASON else train
            scale = float(np.mean(np.abs(scale_data[SEASON:] - scale_data[:-SEASON])))
            origin_date = s.start + dt.timedelta(days=origin - 1)
            parts.append(
                pd.DataFrame(
                    {
                        "series_level": s.level,
                        "series_key": s.key,
                        "measure": s.measure,
                        "origin_date": origin_date,
                        "target_date": [
                            origin_date + dt.timedelta(days=i) for i in range(1, h + 1)
                        ],
                        "horizon_day": np.arange(1, h + 1),
                        "actual": actual,
                        "point_forecast": fc.mean,
                        "lower_80": fc.lower_80,
                        "upper_80": fc.upper_80,
                        "lower_95": fc.lower_95,
                        "upper_95": fc.upper_95,
                        "naive_forecast": seasonal_naive_point(train, h),
                        "mase_scale": scale,
                        "method": fc.method,
                        "model_order": fc.model_order,
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    return pd.concat(parts, ignore_index=True)[BACKTEST_COLUMNS]


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def smape(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Pointwise symmetric APE in percent, 0 to 200; 0 when both are 0."""
    actual = np.asarray(actual, dtype="float64")
    forecast = np.asarray(forecast, dtype="float64")
    denom = np.abs(actual) + np.abs(forecast)
    out = np.zeros_like(denom)
    np.divide(200.0 * np.abs(actual - forecast), denom, out=out, where=denom > 0)
    return out


def series_metrics(backtest: pd.DataFrame) -> pd.DataFrame:
    """One row per series and measure: MASE and sMAPE of the model and of
    seasonal naive, and the share of actuals inside the 80% and 95% bounds.

    MASE is the mean absolute error divided by the origin's seasonal (lag 7)
    in-sample scale, averaged over all backtest days; series whose scale is 0
    (no variation before the origin) get a NaN MASE and are left out of means.
    """
    bt = backtest.copy()
    scale = bt["mase_scale"].where(bt["mase_scale"] > 0)
    bt["ase_model"] = (bt["actual"] - bt["point_forecast"]).abs() / scale
    bt["ase_naive"] = (bt["actual"] - bt["naive_forecast"]).abs() / scale
    bt["sape_model"] = smape(bt["actual"], bt["point_forecast"])
    bt["sape_naive"] = smape(bt["actual"], bt["naive_forecast"])
    bt["in_80"] = (bt["actual"] >= bt["lower_80"]) & (bt["actual"] <= bt["upper_80"])
    bt["in_95"] = (bt["actual"] >= bt["lower_95"]) & (bt["actual"] <= bt["upper_95"])
    keys = ["series_level", "series_key", "measure"]
    grouped = bt.groupby(keys, sort=False)
    out = grouped.agg(
        mase_model=("ase_model", lambda s: s.mean() if s.notna().all() else np.nan),
        mase_naive=("ase_naive", lambda s: s.mean() if s.notna().all() else np.nan),
        smape_model=("sape_model", "mean"),
        smape_naive=("sape_naive", "mean"),
        coverage_80=("in_80", "mean"),
        coverage_95=("in_95", "mean"),
        n_obs=("actual", "size"),
        method=("method", "last"),
    ).reset_index()
    return out


def evaluation_rows(
    backtest: pd.DataFrame,
    *,
    as_of_date: dt.date,
    evaluation_type: str = "backtest",
    model_version: str = MODEL_VERSION,
) -> pd.DataFrame:
    """Long evaluation rows (``shoplens.evaluation``) from a backtest frame.

    model_name ``demand_forecast`` (the chosen method per series) and
    ``seasonal_naive`` (baseline); task ``demand_units`` / ``demand_revenue``;
    metrics ``mase``, ``smape`` (both models) and ``coverage_80``,
    ``coverage_95`` (the forecast). Slices: ``all``, ``level=<level>``,
    ``method=<method>`` (means over series) and ``<level>=<key>`` per series.
    """
    if backtest.empty:
        raise ValueError(
            "the backtest is empty: no series has enough history for one origin (a series"
            " needs at least 14 days before the last horizon; lower forecast_horizon_days"
            " or forecast_backtest_origins, or load more history)"
        )
    metrics = series_metrics(backtest)
    rows: list[dict[str, object]] = []

    def add(task: str, slice_name: str, part: pd.DataFrame) -> None:
        n_points = int(part["n_obs"].sum())
        specs = [
            ("demand_forecast", "mase", "mase_model"),
            ("demand_forecast", "smape", "smape_model"),
            ("demand_forecast", "coverage_80", "coverage_80"),
            ("demand_forecast", "coverage_95", "coverage_95"),
            ("seasonal_naive", "mase", "mase_naive"),
            ("seasonal_naive", "smape", "smape_naive"),
        ]
        for model_name, metric, column in specs:
            values = part[column].dropna()
            if values.empty:
                continue
            if column.startswith("coverage"):
                # pooled over all backtest days, not a mean of series shares
                value = float((part[column] * part["n_obs"]).sum() / part["n_obs"].sum())
            else:
                value = float(values.mean())
            n_obs = n_points if len(values) == len(part) else int(
                part.loc[values.index, "n_obs"].sum()
            )
            rows.append(
                {
                    "model_name": model_name,
                    "model_version": model_version if model_name != "seasonal_naive"
                    else f"{__version__}+snaive",
                    "task": task,
                    "metric": metric,
                    "slice": slice_name,
                    "value": value,
                    "n_obs": n_obs,
                }
            )

    for measure, by_measure in metrics.groupby("measure", sort=False):
        task = f"demand_{measure}"
        add(task, "all", by_measure)
        for level, part in by_measure.groupby("series_level", sort=False):
            add(task, f"level={level}", part)
        for method, part in by_measure.groupby("method", sort=False):
            add(task, f"method={method}", part)
        for _, row in by_measure.iterrows():
            add(task, f"{row['series_level']}={row['series_key']}", pd.DataFrame([row]))

    start = pd.to_datetime(backtest["target_date"]).min().date()
    end = pd.to_datetime(backtest["target_date"]).max().date()
    return evaluation_frame(
        rows,
        as_of_date=as_of_date,
        holdout_start_date=start,
        holdout_end_date=end,
        evaluation_type=evaluation_type,
    )


def config_from_dbt(get: Callable[[str], object]) -> ForecastConfig:
    """Build the settings from a dbt Python model's ``dbt.config.get``."""

    def number(name: str, default: float) -> float:
        value = get(name)
        if value is None or value == "" or str(value).lower() == "none":
            return default
        return float(value)  # type: ignore[arg-type]

    return ForecastConfig(
        horizon_days=int(number("forecast_horizon_days", 28)),
        top_n=int(number("forecast_top_n", 100)),
        n_jobs=int(number("forecast_n_jobs", 1)),
        backtest_origins=int(number("forecast_backtest_origins", 4)),
        time_budget_s=number("forecast_time_budget_s", 2.0),
    )


def describe_config(config: ForecastConfig) -> dict[str, object]:
    """The settings as a plain dict (for logs and reports)."""
    return asdict(config)


def holdout_frame(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    demand_daily: pd.DataFrame,
    *,
    as_of_date: dt.date,
    last_actual_date: dt.date,
) -> pd.DataFrame:
    """Line the production forecasts up with what happened after ``as_of_date``.

    ``actuals`` has ``series_level, series_key, measure, demand_date, actual``
    for the series whose later demand is known; days from ``as_of_date + 1``
    to ``last_actual_date`` missing from it count as zero demand. Returns a
    frame shaped like ``backtest_demand`` (one origin, ``as_of_date``), so
    ``evaluation_rows(..., evaluation_type="holdout")`` scores it. Series with
    no actuals are left out.
    """
    if forecasts.empty or actuals.empty:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    keys = ["series_level", "series_key", "measure"]
    wanted = actuals[keys].drop_duplicates()
    fc = forecasts.merge(wanted, on=keys)
    fc = fc[pd.to_datetime(fc["forecast_date"]) <= pd.Timestamp(last_actual_date)]
    if fc.empty:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    act = actuals.assign(demand_date=pd.to_datetime(actuals["demand_date"]).dt.date)
    act = act.groupby([*keys, "demand_date"], as_index=False)["actual"].sum()
    fc = fc.assign(target_date=pd.to_datetime(fc["forecast_date"]).dt.date)
    fc = fc.merge(
        act.rename(columns={"demand_date": "target_date"}), on=[*keys, "target_date"], how="left"
    )
    fc["actual"] = fc["actual"].fillna(0.0).astype("float64")
    history = select_series(demand_daily, top_n=10**9, end_date=as_of_date)
    by_key = {(s.level, s.key, s.measure): s.values for s in history}
    naive, scales = [], []
    for row in fc.itertuples(index=False):
        y = by_key.get((row.series_level, row.series_key, row.measure), np.zeros(0))
        naive.append(seasonal_naive_point(y, int(row.horizon_day))[-1])
        scales.append(
            float(np.mean(np.abs(y[SEASON:] - y[:-SEASON]))) if len(y) > SEASON else 0.0
        )
    fc["naive_forecast"] = naive
    fc["mase_scale"] = scales
    fc["origin_date"] = as_of_date
    return fc[BACKTEST_COLUMNS].reset_index(drop=True)

def actuals_from_holdout_demand(holdout_demand: pd.DataFrame) -> pd.DataFrame:
    """Actuals for :func:`holdout_frame` from the ``holdout_demand_daily`` mart.

    ``holdout_demand`` has ``series_level, series_key, demand_date, units,
    revenue`` for every series and day with sales after ``as_of_date`` (days
    without sales are absent, and ``holdout_frame`` counts them as zero).
    Returns ``series_level, series_key, measure, demand_date, actual``.
    """
    needed = ["series_level", "series_key", "demand_date", "units", "revenue"]
    missing = [c for c in needed if c not in holdout_demand.columns]
    if missing:
        raise ValueError(f"holdout_demand_daily is missing columns {missing}")
    out = holdout_demand[needed].melt(
        id_vars=["series_level", "series_key", "demand_date"], value_vars=["units", "revenue"],
        var_name="measure", value_name="actual",
    )
    out["actual"] = out["actual"].astype("float64")
    return out[["series_level", "series_key", "measure", "demand_date", "actual"]]


def total_actuals_from_orders(holdout_orders: pd.DataFrame) -> pd.DataFrame:
    """Daily total units and revenue from ``holdout_orders`` (purchases only).

    Units are ``n_units`` and revenue ``order_total`` summed per
    ``order_date``: the total series is the only one whose later demand the
    order-level holdout table can give.
    """
    needed = ["order_date", "is_purchase", "n_units", "order_total"]
    missing = [c for c in needed if c not in holdout_orders.columns]
    if missing:
        raise ValueError(f"holdout_orders is missing columns {missing}")
    purchases = holdout_orders[holdout_orders["is_purchase"].astype(bool)]
    daily = purchases.groupby("order_date").agg(
        units=("n_units", "sum"), revenue=("order_total", "sum")
    )
    out = daily.reset_index().melt(
        id_vars="order_date", value_vars=["units", "revenue"], var_name="measure",
        value_name="actual",
    )
    out = out.rename(columns={"order_date": "demand_date"})
    out.insert(0, "series_key", "all")
    out.insert(0, "series_level", "total")
    out["actual"] = out["actual"].astype("float64")
    return out
