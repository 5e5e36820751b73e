"""statsforecast's AutoARIMA, AutoETS and MSTL as candidates of the per-series backtest.

statsforecast is optional (slow: AutoARIMA takes seconds per two-year daily
series): it is imported only when ``ForecastConfig.reference_models`` names
a model. Each returns a ``SeriesForecast`` with its own 80/95% intervals and
the standard error read from its 80% interval, so its intervals can be
calibrated like ours. A model that fails on a series falls back to seasonal
naive, noted.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from shoplens.forecast.config import SEASON, Z80, ForecastConfig, SeriesForecast
from shoplens.forecast.methods import _clip, first_sale, seasonal_naive

YEAR = 365
#: prediction interval levels read from a model (its 80% one gives the standard error)
LEVELS = [80, 95]


def _model(name: str, n_days: int):
    from statsforecast.models import MSTL, AutoARIMA, AutoETS

    if name == "autoarima":
        return AutoARIMA(season_length=SEASON), f"AutoARIMA[{SEASON}]"
    if name == "autoets":
        return AutoETS(season_length=SEASON), f"AutoETS[{SEASON}]"
    seasons = [SEASON, YEAR] if n_days >= 2 * YEAR else [SEASON]
    return MSTL(season_length=seasons), f"MSTL{seasons}"


def reference_forecast(name: str, y: np.ndarray, config: ForecastConfig) -> SeriesForecast:
    """Forecast ``y`` (leading zeros dropped) with statsforecast model ``name``."""
    started = time.perf_counter()
    y = np.asarray(y, dtype="float64")
    y = y[first_sale(y) :]
    y = y[-config.max_train_days :]
    horizon = config.horizon_days
    if len(y) < config.min_history_days:
        fc = seasonal_naive(y, horizon, note=f"{name}: short history")
        fc.method = name
        return fc
    model, label = _model(name, len(y))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = model.fit(y).predict(horizon, level=LEVELS)
        return from_prediction(pred, name, label, len(y), started)
    except Exception as exc:  # noqa: BLE001 - any failure of a reference falls back
        fc = seasonal_naive(y, horizon, note=f"{name} failed: {type(exc).__name__}")
        fc.method = name
        return fc


def from_prediction(pred: dict, method: str, label: str, n_train: int, started: float,
                    note: str = "") -> SeriesForecast:
    """A statsforecast prediction with ``LEVELS`` intervals as a ``SeriesForecast``, its
    standard error read from the 80% interval; ValueError when any value is not finite."""
    out = {key: np.asarray(pred[key], dtype="float64")
           for key in ("mean", "lo-80", "hi-80", "lo-95", "hi-95")}
    if not all(np.isfinite(v).all() for v in out.values()):
        raise ValueError("non-finite forecast")
    se = np.maximum((out["hi-80"] - out["lo-80"]) / (2 * Z80), 0.0)
    return _clip(SeriesForecast(
        method=method, model_order=label, mean=out["mean"], lower_80=out["lo-80"],
        upper_80=out["hi-80"], lower_95=out["lo-95"], upper_95=out["hi-95"],
        n_train_days=n_train, fit_seconds=time.perf_counter() - started, se=se, note=note,
    ))
