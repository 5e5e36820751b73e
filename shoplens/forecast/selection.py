"""Choosing the served method of a series and calibrating its intervals from its backtest.

For a forecast from origin ``o`` (a backtest origin, or ``as_of_date`` for
the production forecast), the ``calibration_origins`` rolling origins just
before ``o`` (each one horizon apart, so their windows end at ``o`` at the
latest) give every candidate method's errors on data it did not see:

- the default is the ``combination``: the equal-weight mean of the SARIMA
  backbone with calendar regressors, the same SARIMA without them
  (``backbone_weekly``, when the backbone has any), the quasi-Poisson
  ``profile`` model and the damped ``ets``. Averaging forecasts with different errors is robust
  (the M3/M4 competitions' main finding); choosing one member per series on
  four windows was not: on the benchmark the pick between the two SARIMA
  variants cost more than it gained;
- a challenger from outside the combination (the global gradient-boosting
  model ``global_gbm``, the statsforecast models of ``reference_models``)
  replaces it only if its daily absolute errors are lower by a one-sided
  Diebold-Mariano test at 5%, and only where it is a model in every window
  (a challenger's seasonal naive fallback never challenges, like seasonal naive);
- the intervals are split conformal intervals on the served forecast's
  standardised errors ``r = (actual - forecast) / se`` (``se``: the method's
  own standard error for that horizon day): the bounds are
  ``forecast + q * se`` with ``q`` the finite-sample corrected quantiles of
  ``r`` (Lei et al. 2018), so the width keeps the model's growth over the
  horizon and its level is what the errors showed. Bounds are clipped at
  zero like every forecast;
- the errors are weighted by their window's age: the latest window's
  weight 1, each earlier one ``calibration_decay`` (0.5) times the next.
  Demand errors are not exchangeable over months (a cohort that declines, a
  promotion season), and equal weights over-covered (at 80%, by 1.8 points
  on average over 35 shop-level cells, and by up to 10.6 on the real CDNOW
  files): recent errors describe the next window best. The quantiles
  are those of the weighted empirical distribution with the split conformal
  correction of ``n`` errors (the weights rescaled to mean 1; equal weights
  give the split conformal ranks exactly). Non-exchangeable conformal
  prediction (Barber, Candes, Ramdas and Tibshirani 2023) keeps the test
  point at weight 1 beside weights of at most 1; with four windows that
  pushes the 95% bounds to about the largest error, and it over-covered
  (docs/forecast.md, "Recent windows weigh more", has the figures);
- a window calibrates only when a sale came before its origin and its
  forecast has a spread (``has_spread``): a forecast from a run of zeros
  (a product before its launch, or months after its last sale) has a
  standard error of 0, and errors divided by it are not errors in units of
  any spread. Without a usable window, or when the served forecast itself
  has no spread, the served forecast keeps its own intervals (``model``),
  and ``fit_note`` says why.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from shoplens.forecast.closures import counted_days, rezero_closed
from shoplens.forecast.config import CALIBRATION_DECAY, Z80, SeriesForecast, normal_bounds
from shoplens.forecast.methods import _clip

#: the candidates that never challenge the default: its members, and seasonal
#: naive (the baseline every series is scored against; its copied zeros won
#: intermittent products' absolute errors by chance)
NOT_CHALLENGERS = ("backbone", "backbone_weekly", "profile", "ets", "combination", "seasonal_naive")
#: one-sided 5% critical value of the Diebold-Mariano statistic
DM_CRITICAL = 1.645
#: (bound name, nominal coverage) of the calibrated intervals
LEVELS_OF_BOUNDS = (("80", 0.80), ("95", 0.95))
#: a standard error at most this share of the largest training day is no spread: the
#: forecast neither calibrates others nor is calibrated (``has_spread``)
DEGENERATE_SE_SHARE = 1e-6


def _raw_standard_error(fc: SeriesForecast) -> np.ndarray:
    """The forecast's standard error per day as it stands (from the 80% upper bound if
    not stored), 0 where the method claims no spread."""
    if fc.se is not None:
        return np.asarray(fc.se, dtype="float64")
    return (np.asarray(fc.upper_80) - np.asarray(fc.mean)) / Z80


def standard_error(fc: SeriesForecast) -> np.ndarray:
    """The forecast's standard error per day (from the 80% upper bound if not stored),
    at least 1e-9."""
    return np.maximum(_raw_standard_error(fc), 1e-9)


def has_spread(train: np.ndarray, fc: SeriesForecast, n_days: int) -> bool:
    """True when ``fc``, forecast from ``train``, can be calibrated or calibrate: the
    training data had a sale, and on each of the first ``n_days`` days the forecast's
    standard error is more than ``DEGENERATE_SE_SHARE`` times the largest training day.

    A forecast from a history without variation (seasonal naive over weeks of
    zeros, Croston's method before the first sale) has a standard error of 0:
    an error divided by it is a division by the 1e-9 floor, and one sale in
    such a window made every conformal bound of a new product about 1e10.
    """
    largest = float(np.max(train)) if len(train) else 0.0
    if not largest > 0.0:
        return False
    se = _raw_standard_error(fc)[:n_days]
    if fc.closed is not None:  # a closed weekday's 0 is not a missing spread (``closures``)
        se = se[~np.asarray(fc.closed[: len(se)], dtype=bool)]
    return bool(np.all(se > DEGENERATE_SE_SHARE * largest))


#: the candidates whose mean forecast is the ``combination`` candidate
COMBINED = ("backbone", "backbone_weekly", "profile", "ets")


def combine(parts: list[SeriesForecast]) -> SeriesForecast:
    """The equal-weight mean of several forecasts (standard error: root mean variance).

    ``fit_note`` keeps the members' notes (a member's fallback stays visible).
    """
    mean = np.mean([fc.mean for fc in parts], axis=0)
    se = np.sqrt(np.mean([standard_error(fc) ** 2 for fc in parts], axis=0))
    notes = " | ".join(f"{fc.method}: {fc.note}" for fc in parts)
    return _clip(SeriesForecast(
        method="combination", model_order="MEAN(" + ", ".join(fc.model_order for fc in parts) + ")",
        mean=mean, **normal_bounds(mean, se), n_train_days=max(fc.n_train_days for fc in parts),
        note=f"mean of {len(parts)} forecasts ({notes})", se=se,
        has_yearly_terms=any(fc.has_yearly_terms for fc in parts),
    ))


def _upper_quantile(r: np.ndarray, w: np.ndarray, level: float) -> float:
    """The smallest error whose weighted share, the weights rescaled to mean 1 and one
    more at infinity (the split conformal ``n + 1``), reaches ``level`` (the largest
    error when none does)."""
    order = np.argsort(r, kind="stable")
    share = np.cumsum(w[order]) * (len(r) / w.sum()) / (len(r) + 1.0)
    k = int(np.searchsorted(share, level - 1e-12))
    return float(r[order][min(k, len(r) - 1)])


def conformal_quantiles(r: np.ndarray, coverage: float,
                        weights: np.ndarray | None = None) -> tuple[float, float]:
    """Lower and upper standardised-error quantiles for a two-sided ``coverage`` interval.

    ``weights`` (one per error; None: all 1) weight the errors' empirical
    distribution; with equal weights these are the split conformal ranks
    ``ceil((n + 1)(1 - tail))`` of ``n`` errors.
    """
    w = np.ones(len(r)) if weights is None else np.asarray(weights, dtype="float64")
    tail = (1.0 - coverage) / 2.0
    upper = _upper_quantile(r, w, 1.0 - tail)
    lower = -_upper_quantile(-r, w, 1.0 - tail)
    return lower, upper


def window_weights(lengths: list[int], decay: float) -> np.ndarray:
    """One weight per error of consecutive windows (the latest last, with ``lengths``
    errors each): 1 for the latest window's, ``decay`` times the next window's before."""
    age = len(lengths) - 1 - np.repeat(np.arange(len(lengths)), lengths)
    return decay ** age.astype("float64")


def _errors(y: np.ndarray, origins: list[int], fits: list[SeriesForecast],
            window: range, horizon: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Absolute and standardised errors of one candidate over the windows ``window``
    (the shop's closed days left out where they sold nothing), and how many errors
    each window gave."""
    abs_err, std_err = [], []
    for i in window:
        actual = y[origins[i] : origins[i] + horizon]
        fc = fits[i]
        err = actual - fc.mean[: len(actual)]
        scaled = err / standard_error(fc)[: len(actual)]
        if fc.closed is not None:
            counted = counted_days(fc.closed[: len(actual)], actual)
            err, scaled = err[counted], scaled[counted]
        abs_err.append(np.abs(err))
        std_err.append(scaled)
    return np.concatenate(abs_err), np.concatenate(std_err), [len(e) for e in std_err]


def calibrate(fc: SeriesForecast, r: np.ndarray, lengths: list[int] | None = None,
              decay: float = 1.0) -> SeriesForecast:
    """``fc`` with conformal bounds from the standardised errors ``r`` and its median.

    ``lengths``: how many errors each window gave, the latest last; with them each
    window's errors weigh ``decay`` times the next window's (``window_weights``, see the
    module's docstring). Without them every error weighs alike.

    The median takes every error alike: a location estimate gains from all of
    them, and the recency weights made the median's MASE worse in 28 of 35
    shop-level cells (docs/forecast.md, "Recent windows weigh more").
    """
    se = standard_error(fc)
    weights = None if lengths is None else window_weights(lengths, decay)
    bounds = {}
    for name, coverage in LEVELS_OF_BOUNDS:
        lower, upper = conformal_quantiles(r, coverage, weights)
        bounds[f"lower_{name}"] = fc.mean + min(lower, 0.0) * se
        bounds[f"upper_{name}"] = fc.mean + max(upper, 0.0) * se
    median = np.maximum(fc.mean + float(np.median(r)) * se, 0.0)
    how = (f"{len(r)} errors" if weights is None or decay == 1.0
           else f"{len(r)} errors, decay {decay:g}")
    out = replace(fc, **bounds, interval_method=f"conformal({how})", median=median)
    return rezero_closed(_clip(out))


def _beats_backbone(challenger: np.ndarray, backbone: np.ndarray) -> bool:
    """True when the challenger's absolute errors are lower than the backbone's by a
    one-sided Diebold-Mariano test at 5% (``z > 1.645`` on the daily differences)."""
    diff = backbone - challenger
    spread = float(np.std(diff, ddof=1)) if len(diff) > 1 else 0.0
    if spread == 0.0:
        return False
    return float(diff.mean()) / (spread / math.sqrt(len(diff))) > DM_CRITICAL


def _falls_back(fits: list[SeriesForecast]) -> bool:
    """True when any of a candidate's forecasts is its seasonal naive fallback (a
    statsforecast model that failed or had too short a history keeps its own name as
    ``method``; its ``model_order`` says seasonal naive)."""
    return any(fc.method == "seasonal_naive" or fc.model_order.startswith("SNAIVE[") for fc in fits)


def choose_and_calibrate(
    y: np.ndarray,
    origins: list[int],
    fits: dict[str, list[SeriesForecast]],
    target: int,
    horizon: int,
    n_calibration: int,
    decay: float = CALIBRATION_DECAY,
) -> SeriesForecast:
    """The served forecast from ``origins[target]``: the backtest winner, calibrated.

    ``fits[name][i]`` is candidate ``name``'s forecast from ``origins[i]``;
    the default is ``combination`` (else the first candidate). The windows
    ``target - n_calibration`` to ``target - 1`` must end by ``origins[target]``;
    ``decay``: each window's errors weigh ``decay`` times the next window's.
    """
    names = list(fits)
    default = "combination" if "combination" in fits else names[0]
    window = range(max(0, target - n_calibration), target)
    if not len(window):
        return fits[default][target]
    errors = {name: _errors(y, origins, fits[name], window, horizon) for name in names}
    winner = default
    default_abs = errors[default][0]
    best = float(default_abs.mean())
    used = [*window, target]  # never a later origin's fit
    for name in (n for n in names if n not in NOT_CHALLENGERS
                 and not _falls_back([fits[n][i] for i in used])):
        abs_err = errors[name][0]
        if (np.isfinite(abs_err).all() and float(abs_err.mean()) < best
                and _beats_backbone(abs_err, default_abs)):
            winner, best = name, float(abs_err.mean())
    fc = fits[winner][target]
    std_err, lengths, left_out = _calibration_errors(y, origins, fits[winner], window, horizon,
                                                     errors[winner][1:])
    if not has_spread(y[: origins[target]], fc, horizon):
        return _uncalibrated(fc, "the forecast has no spread to calibrate")
    if left_out and len(std_err) < 10:
        usable = len(window) - left_out
        why = (f"none of the {len(window)} calibration windows" if not usable else
               f"{usable} of the {len(window)} calibration windows ({len(std_err)} errors, fewer than 10)")
        return _uncalibrated(fc, f"{why} had a sale before it and a forecast with a spread")
    if not np.isfinite(std_err).all() or len(std_err) < 10:
        return fc
    chosen = calibrate(fc, std_err, lengths, decay)
    chosen.note = f"{chosen.note}; served: backtest winner over {len(window)} origins".lstrip("; ")
    if left_out:
        chosen.note += (f"; intervals from {len(window) - left_out} of them ({left_out} left out:"
                        " no sale before the origin, or a forecast without spread)")
    return chosen


def _calibration_errors(y: np.ndarray, origins: list[int], fits: list[SeriesForecast],
                        window: range, horizon: int, errors: tuple[np.ndarray, list[int]],
                        ) -> tuple[np.ndarray, list[int], int]:
    """The served candidate's standardised ``errors`` (``_errors``' and its per-window
    counts) without the windows that cannot calibrate (``has_spread``): those count 0
    errors, so the others keep their age's weight. Also how many were left out."""
    std_err, lengths = errors
    usable = [has_spread(y[: origins[i]], fits[i], horizon) for i in window]
    if all(usable):
        return std_err, lengths, 0
    parts = np.split(std_err, np.cumsum(lengths)[:-1])
    kept = [part for part, ok in zip(parts, usable, strict=True) if ok]
    return (np.concatenate(kept) if kept else np.zeros(0),
            [n if ok else 0 for n, ok in zip(lengths, usable, strict=True)],
            usable.count(False))


def _uncalibrated(fc: SeriesForecast, why: str) -> SeriesForecast:
    """``fc`` with its own (model) intervals and ``why`` in its note."""
    return replace(fc, note=f"{fc.note}; model intervals: {why}".lstrip("; "))
