"""The simple methods: seasonal naive and Croston with the Syntetos-Boylan correction."""

from __future__ import annotations

import math
from dataclasses import replace

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


#: the share of Croston's geometric intervals longer than the plausible gap: an open
#: gap (zero days since the last sale) longer than that decays the forecast
#: (``gap_decay``); a series that still sells as before is decayed at about one origin
#: in a hundred, and then mildly (``1 - alpha`` a day beyond it)
IMPLAUSIBLE_GAP_SHARE = 0.01


def plausible_gap(interval: float) -> float:
    """Zero days in a row that a series selling on one day in ``interval`` (geometric
    intervals, Croston's model) exceeds with probability ``IMPLAUSIBLE_GAP_SHARE``:
    ``ln(0.01) / ln(1 - 1/interval)`` (0 for a series that sold every day). About 4.5
    intervals for a slow seller (one sale in 20 days: 90 days), 3 days at one in 1.3."""
    if interval <= 1.0:
        return 0.0
    return math.log(IMPLAUSIBLE_GAP_SHARE) / math.log(1.0 - 1.0 / interval)


#: fewer selling days than this leave Croston no interval to smooth: one sale has no
#: interval at all, two have one, whose start (the first sale) is where the history was
#: cut; such a series is read as its selling days over its whole history
#: (``croston_estimates``), not as a steady seller
MIN_CROSTON_SALES = 3


def croston_estimates(y: np.ndarray, alpha: float, span: int | None = None) -> tuple[float, float]:
    """Croston's smoothed demand size and interval between selling days (constant
    ``alpha``), updated on selling days only; (0, inf) when nothing sold.

    ``y`` starts at or before the first sale; ``span`` is the number of days the
    series could have sold up to the end of ``y`` (its whole history, before its
    leading zeros were dropped; default ``len(y)``).

    The interval comes from the intervals between selling days, initialised at
    their mean (the "mean" initialisation of Syntetos and Boylan's studies and
    ``tsintermittent``). The days before the first sale are no interval: counted
    from a history cut at the first sale they were 1 day, so one sale read as
    demand every day (a bookcase sold once, 7 units, six days before the
    origin was forecast at 3.5 units a day). With fewer than
    ``MIN_CROSTON_SALES`` selling days there is no interval to smooth: the
    interval is the whole history per selling day (``span / n``) and the size
    their mean, the rate that history supports.
    """
    y = np.asarray(y, dtype="float64")
    nonzero = np.flatnonzero(y > 0)
    if len(nonzero) == 0:
        return 0.0, math.inf
    sizes = y[nonzero]
    if len(nonzero) < MIN_CROSTON_SALES:
        days = len(y) if span is None else max(int(span), len(y))
        return float(sizes.mean()), days / len(nonzero)
    gaps = np.diff(nonzero).astype("float64")
    size, gap = float(sizes[0]), float(gaps.mean())
    for s, g in zip(sizes[1:], gaps, strict=True):
        size += alpha * (s - size)
        gap += alpha * (g - gap)
    return size, gap


def gap_decay(y: np.ndarray, alpha: float, open_days: np.ndarray | None = None,
              span: int | None = None) -> tuple[float, str]:
    """The factor on a forecast from ``y`` for the open gap since its last sale, and a
    note saying why ("" when 1). ``span``: as in ``croston_estimates``.
    ``open_days`` (aligned with ``y``): True on the days
    the shop total sold; only those count in the gap, so a shop-wide closure (its
    closed weekdays, a Christmas shutdown) is no sign that a product stopped. None:
    every day counts.

    As in TSB (Teunter, Syntetos and Babai 2011), whose demand probability is
    multiplied by ``1 - alpha`` on every day without a sale, but only on the
    zero days beyond ``plausible_gap`` of the series' Croston interval: within
    a gap that the series' own selling frequency makes likely, the zeros say
    nothing new and the forecast stands. Beyond it the product has most
    likely stopped selling (discontinued, out of stock), and every day
    without a sale makes that likelier.
    """
    nonzero = np.flatnonzero(np.asarray(y) > 0)
    if len(nonzero) == 0:
        return 1.0, ""
    last = int(nonzero[-1])
    if open_days is None or len(open_days) < len(y):
        open_gap = len(y) - 1 - last  # zero days since the last sale
    else:  # the days since the last sale the shop was trading
        open_gap = int(np.asarray(open_days[last + 1 : len(y)], dtype=bool).sum())
    plausible = plausible_gap(croston_estimates(y, alpha, span)[1])
    beyond = open_gap - plausible
    if beyond <= 0:
        return 1.0, ""
    factor = (1.0 - alpha) ** beyond
    return factor, (f"no sale for {open_gap} days (plausible up to {plausible:.0f}):"
                    f" forecast x {factor:.2g}")


#: the upper end of the two-sided 95% Poisson interval of a series' count of selling
#: days, the most its history supports (``supported_rate``)
SUPPORTED_LEVEL = 0.975


def supported_rate(y: np.ndarray, span: int | None = None) -> tuple[float, int, int]:
    """The highest mean daily demand that an intermittent series' history supports,
    with the selling days and the days it counts them over (inf, 0, 0 without a sale).

    ``y`` starts at the first sale, ``span`` as in ``croston_estimates``: the
    days are those since the first sale, or the whole ``span`` with fewer than
    ``MIN_CROSTON_SALES`` selling days (where the first sale is no evidence of a
    launch). The bound is the upper ``SUPPORTED_LEVEL`` Poisson bound of the count
    of selling days (``chi2.ppf(0.975, 2n + 2) / 2``: 5.6 for one, 8.8 for three)
    over those days, times the mean size of a selling day. A product that sold on
    3 days in 728 supports at most 0.012 selling days a day; its profile model
    and damped ETS, pulled up by a sale 6 days before the origin, forecast 18
    times its rate.
    """
    from scipy.stats import chi2

    y = np.asarray(y, dtype="float64")
    nonzero = np.flatnonzero(y > 0)
    if len(nonzero) == 0:
        return math.inf, 0, 0
    n = len(nonzero)
    days = len(y) - int(nonzero[0])
    if n < MIN_CROSTON_SALES and span is not None:
        days = max(int(span), days)
    upper = float(chi2.ppf(SUPPORTED_LEVEL, 2 * n + 2)) / 2.0
    return upper / days * float(y[nonzero].mean()), n, days


def capped(fc: SeriesForecast, rate: float, why: str) -> SeriesForecast:
    """``fc`` scaled down (``decayed``) so its mean daily forecast over the horizon is at
    most ``rate`` (``supported_rate``); unchanged when it is already."""
    level = float(np.mean(fc.mean)) if len(fc.mean) else 0.0
    if not math.isfinite(rate) or level <= rate:
        return fc
    factor = rate / level
    return decayed(fc, factor, f"{why}: forecast x {factor:.2g}")


def decayed(fc: SeriesForecast, factor: float, why: str) -> SeriesForecast:
    """``fc`` with its point, bounds and spread times ``factor`` (``gap_decay``)."""
    if factor >= 1.0:
        return fc
    scaled = {name: np.asarray(getattr(fc, name)) * factor
              for name in ("mean", "lower_80", "upper_80", "lower_95", "upper_95")}
    se = None if fc.se is None else np.asarray(fc.se) * factor
    return replace(fc, **scaled, se=se, note=f"{fc.note}; {why}".lstrip("; "))


def croston_sba(
    y: np.ndarray, horizon: int, alpha: float, window: int, note: str = "",
    open_days: np.ndarray | None = None, span: int | None = None,
) -> SeriesForecast:
    """Croston's method with the Syntetos-Boylan bias correction, its rate decayed
    over an implausibly long gap since the last sale (``gap_decay``).

    Demand sizes and the intervals between selling days are smoothed
    separately (constant ``alpha``); the daily rate is
    ``(1 - alpha/2) * size / interval``, flat over the horizon. Croston's
    estimates change only on selling days, so on their own they carry the
    last rate over any run of zero days after the last sale, forever (a
    product last sold 618 days before was forecast at 112 units a day);
    ``gap_decay`` lets the open gap in. The bounds are empirical quantiles of
    the last ``window`` days' demand (10/90% and 2.5/97.5%), which is what a
    day of intermittent demand looks like. ``span``: the days the series could
    have sold (``croston_estimates``).
    """
    size, gap = croston_estimates(y, alpha, span)
    if size == 0.0:
        zeros = np.zeros(horizon)
        return SeriesForecast(
            "croston_sba", f"SBA(alpha={alpha:g})", zeros, zeros, zeros, zeros, zeros,
            n_train_days=len(y), note=(note + "; no sales yet").lstrip("; "),
        )
    factor, why = gap_decay(y, alpha, open_days, span)
    rate = (1.0 - alpha / 2.0) * size / max(gap, 1.0) * factor
    note = f"{note}; {why}".lstrip("; ") if why else note
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
