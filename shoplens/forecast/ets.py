"""Damped-trend exponential smoothing (ETS), the fourth member of the combination.

statsforecast's ``AutoETS`` (weekly season) restricted to damped-trend
models (an additive damped trend; error and season additive or
multiplicative; a flat series gets a model without trend), chosen by AICc
and estimated at a job's first origin; at its later origins the same model
(form, smoothing parameters and initial states) is run over the longer
series (statsforecast's ``forward``), so its level, slope and weekly shape
follow the data up to each origin while nothing after it is read. A damped
trend follows a recent level and slope without extrapolating the slope over
the whole horizon, the forecast the M3 and M4 competitions found hard to
beat, and the member the combination lacked: the two SARIMAs and the
profile model carry a fixed weekly shape, the ETS a smoothed, moving one
(issue 12, fifth round; docs/forecast.md).

A series shorter than ``min_history_days`` (after leading zeros), one no
damped model fits, or a forecast whose 95% bound runs past
``RUNAWAY_FACTOR`` times the largest day of its training data (a bulk-order
spike can blow a multiplicative model's variance up), gets seasonal naive
(method ``seasonal_naive``), which the combination leaves out.

Known limit: statsforecast 2.1.1 computes the seasonal part of an
additive-season model's forecast variance with one value for the whole
horizon, so the first days' standard errors are somewhat too wide (about
a quarter on a test series); the conformal calibration of ``selection``
fixes their level over the horizon, not that shape.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np

from shoplens.forecast.config import SEASON, ForecastConfig, SeriesForecast
from shoplens.forecast.methods import first_sale, seasonal_naive
from shoplens.forecast.reference import LEVELS, from_prediction

#: the candidate's name (``ml_model_evaluation``'s model_name: ``ets_damped``)
ETS_NAME = "ets"
#: a 95% bound above this many times the largest training day is a runaway fit
RUNAWAY_FACTOR = 100.0


def _label(form: str) -> str:
    """``AAAD`` -> ``ETS(A,Ad,A)[7]`` (error, trend, season; D: damped)."""
    return f"ETS({form[0]},{form[1]}{'d' if form[3:] == 'D' else ''},{form[2]})[{SEASON}]"


def _window(values: np.ndarray, origin: int, config: ForecastConfig) -> int:
    """Index of the first day an ETS fitted at ``origin`` trains on (leading zeros
    dropped, at most ``max_train_days``); ``origin`` when nothing sold yet."""
    first = first_sale(values[:origin])
    return origin if first == origin else max(first, origin - config.max_train_days)


def _forecast(pred: dict, form: str, y: np.ndarray, started: float, note: str) -> SeriesForecast:
    """The ETS's ``SeriesForecast``; ValueError when not finite or a runaway interval."""
    if float(np.max(pred["hi-95"])) > RUNAWAY_FACTOR * max(float(np.max(y)), 1.0):
        raise ValueError("runaway interval")
    return from_prediction(pred, ETS_NAME, _label(form), len(y), started, note)


def ets_fits(values: np.ndarray, origins: Sequence[int], config: ForecastConfig,
             trains: Sequence[np.ndarray] | None = None) -> list[SeriesForecast]:
    """The damped ETS's forecast from every origin (training lengths, increasing) of ``values``.

    ``trains``: the training values to use at each origin instead of
    ``values[:origin]`` (the engine's, with spike days replaced).

    The model is searched and estimated at the first origin with enough
    history, on at most ``max_train_days``; from the later origins it is run
    forward from the same start day to the origin (so those windows are
    longer by the days between the origins). Any failure gives that origin
    seasonal naive, noted.
    """
    from statsforecast.models import AutoETS

    values = np.asarray(values, dtype="float64")
    horizon = config.horizon_days
    model, start, form = None, 0, ""
    fits = []
    for i, origin in enumerate(origins):
        started = time.perf_counter()
        source = values if trains is None else np.asarray(trains[i], dtype="float64")
        if model is None:
            start = _window(source, origin, config)
        y = source[start:origin]
        if len(y) < config.min_history_days:
            fits.append(seasonal_naive(y, horizon, note=f"ets: short history ({len(y)} days)"))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if model is None:
                    fitted = AutoETS(season_length=SEASON, damped=True).fit(y)
                    form = str(fitted.model_["components"])
                    fc = _forecast(fitted.predict(horizon, level=LEVELS), form, y, started,
                                   f"ETS, damped forms searched by AICc on {len(y)} days")
                    model = fitted
                else:
                    pred = model.forward(y, horizon, level=LEVELS)
                    fc = _forecast(pred, form, y, started,
                                   "ETS, the model of the first origin run forward")
        except Exception as exc:  # noqa: BLE001 - no damped model fits this series
            fc = seasonal_naive(y, horizon, note=f"ets failed: {type(exc).__name__}: {exc}"[:200])
        fits.append(fc)
    return fits
