"""The simple methods: seasonal naive and Croston with the Syntetos-Boylan correction."""

from __future__ import annotations

import numpy as np

from shoplens.forecast.config import SEASON, SeriesForecast, normal_bounds


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


def weekly_change_scales(y: np.ndarray) -> tuple[float, float]:
    """The MASE and RMSSE scales of a history: the mean absolute and the mean squared
    weekly (lag 7) difference; (0, 0) for a week or less."""
    if len(y) <= SEASON:
        return 0.0, 0.0
    change = np.asarray(y[SEASON:], dtype="float64") - y[:-SEASON]
    return float(np.mean(np.abs(change))), float(np.mean(change**2))


def first_sale(y: np.ndarray) -> int:
    """Index of a series' first day with a sale (``len(y)`` when it never sold): the
    models, the references and the MASE scales all start there, because ``demand_daily``
    fills every series with zeros back to the shop's first day."""
    nonzero = np.flatnonzero(np.asarray(y) > 0)
    return int(nonzero[0]) if len(nonzero) else len(y)


def history_scales(y: np.ndarray) -> tuple[float, float]:
    """The MASE and RMSSE scales of a series' history before an origin
    (``weekly_change_scales``) from its first sale on: ``demand_daily`` fills
    every series with zeros back to the shop's first day, and a late product's
    weeks of zeros before its launch would shrink its scale. (0, 0), no scale,
    when a week or less has passed since the first sale: there is no weekly
    change of its demand to scale by (a year of zeros and three selling days
    gave a scale of 0.03 and a MASE of 13)."""
    y = np.asarray(y, dtype="float64")
    return weekly_change_scales(y[first_sale(y) :])


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
            **normal_bounds(mean, se),
            n_train_days=len(y),
            note=note,
            se=se,
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
            se=np.full(horizon, float(np.std(recent))),
        )
    )
