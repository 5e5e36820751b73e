"""Choosing the served method of a series and calibrating its intervals from its backtest.

For a forecast from origin ``o`` (a backtest origin, or ``as_of_date`` for
the production forecast), the ``calibration_origins`` rolling origins just
before ``o`` (each one horizon apart, so their windows end at ``o`` at the
latest) give every candidate method's errors on data it did not see:

- the backbone is the SARIMA with calendar regressors or without them
  (``backbone_weekly``), whichever had the smaller mean absolute error;
- the served method is the candidate with the smallest mean absolute error
  over those windows, where a challenger replaces the backbone only if its
  daily absolute errors are lower by a one-sided Diebold-Mariano test at 5%
  (four windows are few: without the test, noise picks the winner, and on
  intermittent products seasonal naive's zeros won by chance);
- its intervals are split conformal intervals on its standardised errors
  ``r = (actual - forecast) / se`` (``se``: the method's own standard error
  for that horizon day): the bounds are ``forecast + q * se`` with ``q`` the
  finite-sample corrected quantiles of ``r`` (Lei et al. 2018), so the width
  keeps the model's growth over the horizon and its level is what the
  errors showed. Bounds are clipped at zero like every forecast.

With fewer than one earlier window the backbone is served with its model
intervals (``interval_method = 'model'``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from shoplens.forecast.config import Z80, SeriesForecast
from shoplens.forecast.methods import _clip

#: the backbone's variants: the lower error of these is the default
BACKBONE_FAMILY = ("backbone", "backbone_weekly")
#: one-sided 5% critical value of the Diebold-Mariano statistic
DM_CRITICAL = 1.645
#: (bound name, nominal coverage) of the calibrated intervals
LEVELS_OF_BOUNDS = (("80", 0.80), ("95", 0.95))


def standard_error(fc: SeriesForecast) -> np.ndarray:
    """The forecast's standard error per day (from the 80% upper bound if not stored)."""
    if fc.se is not None:
        se = np.asarray(fc.se, dtype="float64")
    else:
        se = (np.asarray(fc.upper_80) - np.asarray(fc.mean)) / Z80
    return np.maximum(se, 1e-9)


def conformal_quantiles(r: np.ndarray, coverage: float) -> tuple[float, float]:
    """Lower and upper standardised-error quantiles for a two-sided ``coverage`` interval."""
    n = len(r)
    tail = (1.0 - coverage) / 2.0
    level = min(1.0, math.ceil((n + 1) * (1.0 - tail)) / n)
    upper = float(np.quantile(r, level, method="higher"))
    lower = -float(np.quantile(-r, level, method="higher"))
    return lower, upper


def _errors(y: np.ndarray, origins: list[int], fits: list[SeriesForecast],
            window: range, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Absolute and standardised errors of one candidate over the windows ``window``."""
    abs_err, std_err = [], []
    for i in window:
        actual = y[origins[i] : origins[i] + horizon]
        fc = fits[i]
        err = actual - fc.mean[: len(actual)]
        abs_err.append(np.abs(err))
        std_err.append(err / standard_error(fc)[: len(actual)])
    return np.concatenate(abs_err), np.concatenate(std_err)


def calibrate(fc: SeriesForecast, r: np.ndarray) -> SeriesForecast:
    """``fc`` with conformal bounds from the standardised errors ``r``."""
    se = standard_error(fc)
    bounds = {}
    for name, coverage in LEVELS_OF_BOUNDS:
        lower, upper = conformal_quantiles(r, coverage)
        bounds[f"lower_{name}"] = fc.mean + min(lower, 0.0) * se
        bounds[f"upper_{name}"] = fc.mean + max(upper, 0.0) * se
    out = replace(fc, **bounds, interval_method=f"conformal({len(r)} errors)")
    return _clip(out)


def _beats_backbone(challenger: np.ndarray, backbone: np.ndarray) -> bool:
    """True when the challenger's absolute errors are lower than the backbone's by a
    one-sided Diebold-Mariano test at 5% (``z > 1.645`` on the daily differences)."""
    diff = backbone - challenger
    spread = float(np.std(diff, ddof=1)) if len(diff) > 1 else 0.0
    if spread == 0.0:
        return False
    return float(diff.mean()) / (spread / math.sqrt(len(diff))) > DM_CRITICAL


def choose_and_calibrate(
    y: np.ndarray,
    origins: list[int],
    fits: dict[str, list[SeriesForecast]],
    target: int,
    horizon: int,
    n_calibration: int,
) -> SeriesForecast:
    """The served forecast from ``origins[target]``: the backtest winner, calibrated.

    ``fits[name][i]`` is candidate ``name``'s forecast from ``origins[i]``;
    the first candidate is the backbone. The windows ``target - n_calibration``
    to ``target - 1`` must end by ``origins[target]``.
    """
    names = list(fits)
    window = range(max(0, target - n_calibration), target)
    if not len(window):
        return fits[names[0]][target]
    errors = {name: _errors(y, origins, fits[name], window, horizon) for name in names}
    # the backbone with or without calendar terms, whichever erred less
    family = [n for n in names if n in BACKBONE_FAMILY and np.isfinite(errors[n][0]).all()]
    winner = min(family or names[:1], key=lambda n: (float(errors[n][0].mean()), names.index(n)))
    backbone_abs = errors[winner][0]
    best = float(backbone_abs.mean())
    for name in (n for n in names if n not in BACKBONE_FAMILY):
        abs_err, _ = errors[name]
        if (np.isfinite(abs_err).all() and float(abs_err.mean()) < best
                and _beats_backbone(abs_err, backbone_abs)):
            winner, best = name, float(abs_err.mean())
    std_err = errors[winner][1]
    fc = fits[winner][target]
    if not np.isfinite(std_err).all() or len(std_err) < 10:
        return fc
    chosen = calibrate(fc, std_err)
    chosen.note = f"{chosen.note}; served: backtest winner over {len(window)} origins".lstrip("; ")
    return chosen
