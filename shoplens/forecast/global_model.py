"""A global gradient-boosting candidate: one model over all series of a measure.

M5-style: instead of one model per series, a single
``HistGradientBoostingRegressor`` learns from every series of a measure
(total, categories and products together) how demand moves relative to the
series' own recent level. Each training row is one (series, anchor day,
horizon day): the target is the demand ``h`` days after the anchor divided by
the series' mean over the ``SCALE_DAYS`` days before the anchor (the
series-scale normalisation, so a product and the shop total share the
model); the features are known at forecast time for the whole horizon (direct
multi-horizon, no recursive lags inside it):

- the horizon day, the target's weekday and day of the year (yearly Fourier
  terms), the project's calendar regressors (public-holiday share, Black
  Friday to Cyber Monday) on the target day;
- the series' recent level as of the anchor (trailing 7/91-day means over the
  56-day scale, the log of the scale), its weekly profile (the mean of the
  target's weekday over the last 8 weeks over the scale), last year's move
  from the anchor's to the target's time of year, the level of the series
  (total/category/product) and the recent promotion share.

The loss is Poisson (log link): the prediction is the expected demand, so
the served ``point_forecast`` stays a mean (see docs/forecast.md on the mean
and MASE). Anchors are every ``ANCHOR_STEP`` days back from the forecast
origin (the same weekday as the origin); the model is seeded and uses no
early stopping, so two runs on the same data give the same forecast. Its
standard error per day is ``sqrt(phi * mean)`` with the series' Pearson
dispersion ``phi`` on its training rows, which ``selection`` then calibrates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from shoplens.forecast.calendar import fourier_terms, holiday_share, shopping_event
from shoplens.forecast.config import (
    LEVELS,
    SEASON,
    ForecastConfig,
    SeriesForecast,
    normal_bounds,
)
from shoplens.forecast.methods import _clip, seasonal_naive

GBM_NAME = "global_gbm"
#: days whose mean is a series' scale (the normaliser) as of an anchor
SCALE_DAYS = 56
#: days between training anchors (a multiple of the week: anchors share the origin's weekday)
ANCHOR_STEP = 14
#: the lag of "the same time last year" (52 weeks: the same weekday)
YEAR_LAG = 364
#: HistGradientBoostingRegressor settings (seeded, no early stopping: reproducible)
GBM_PARAMS = {
    "loss": "poisson", "learning_rate": 0.05, "max_iter": 150, "max_leaf_nodes": 15,
    "min_samples_leaf": 200, "l2_regularization": 1.0, "early_stopping": False,
    "random_state": 12,
}
FEATURES = ("horizon", "weekday", "year_sin_1", "year_cos_1", "year_sin_2", "year_cos_2",
            "public_holiday", "shopping_event", "log_scale", "mean_7", "mean_91",
            "weekday_profile", "last_year_move", "level", "promotion_91")


@dataclass
class GlobalSeries:
    """One series for the global model: its values and where it sits in the calendar.

    offset: days from the calendar's first day to ``values[0]``.
    """

    values: np.ndarray
    offset: int
    level: str
    promotion: np.ndarray | None = None


def calendar_table(start: dt.date, n_days: int,
                   country_weights: Mapping[str, float] | None) -> np.ndarray:
    """Weekday, two yearly harmonics, holiday share and shopping event per day from ``start``."""
    weekday = (np.arange(n_days) + start.weekday()) % SEASON
    fourier, _ = fourier_terms(start, n_days, 2)
    return np.column_stack([weekday, fourier, holiday_share(start, n_days, country_weights),
                            shopping_event(start, n_days)]).astype("float64")


def _window_mean(csum: np.ndarray, end: np.ndarray, days: int) -> np.ndarray:
    """Mean of ``y[end - days : end]`` from its cumulative sum (NaN where it starts before 0)."""
    start = end - days
    ok = start >= 0
    out = np.full(end.shape, np.nan)
    out[ok] = (csum[end[ok]] - csum[start[ok]]) / days
    return out


def _features(s: GlobalSeries, calendar: np.ndarray, anchors: np.ndarray,
              horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (anchor-major, then horizon day) and the scale per row.

    ``anchors`` are training lengths in the series' own days; every value used
    lies before its anchor, except the calendar of the target day.
    """
    y = s.values
    csum = np.concatenate([[0.0], np.cumsum(y)])
    scale = _window_mean(csum, anchors, SCALE_DAYS)
    h = np.tile(np.arange(1, horizon + 1), len(anchors))
    a = np.repeat(anchors, horizon)
    t = a + h - 1
    rep_scale = np.repeat(scale, horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the target's weekday over the last 8 weeks (days t - 7m before the anchor)
        first = t - SEASON * ((t - (a - 8 * SEASON)) // SEASON)
        idx = first[:, None] + SEASON * np.arange(8)[None, :]
        profile = np.where(idx.min(axis=1) >= 0, y[np.clip(idx, 0, None)].mean(axis=1), np.nan)
        then = _window_mean(csum, a - YEAR_LAG, 28)
        ly_target = _window_mean(csum, np.minimum(t - YEAR_LAG + 4, a), 7)
        promo = np.zeros(len(a))  # no promotion data: no promotions
        if s.promotion is not None:
            pcs = np.concatenate([[0.0], np.cumsum(s.promotion)])
            promo = _window_mean(pcs, a, 91)
        cols = [h, *calendar[s.offset + t].T, np.log(rep_scale),
                np.repeat(_window_mean(csum, anchors, 7) / scale, horizon),
                np.repeat(_window_mean(csum, anchors, 91) / scale, horizon),
                profile / rep_scale, ly_target / then,
                np.full(len(a), float(LEVELS.index(s.level))), promo]
    x = np.column_stack(cols)
    x[~np.isfinite(x)] = np.nan
    return x, rep_scale


def _training_rows(s: GlobalSeries, calendar: np.ndarray, origin: int,
                   horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and normalised targets of the anchors whose horizon ends by ``origin``."""
    last = origin - horizon
    anchors = np.arange(last, SCALE_DAYS - 1, -ANCHOR_STEP)[::-1]
    if len(anchors) == 0:
        return np.zeros((0, len(FEATURES))), np.zeros(0)
    x, scale = _features(s, calendar, anchors, horizon)
    t = np.repeat(anchors, horizon) + np.tile(np.arange(horizon), len(anchors))
    keep = scale > 0
    return x[keep], s.values[t][keep] / scale[keep]


def _fit(x: np.ndarray, z: np.ndarray):
    from sklearn.ensemble import HistGradientBoostingRegressor

    x = x.copy()
    # a feature without any value (no year of history: last year's move) is left
    # constant; histogram binning fails on an all-missing column
    x[:, np.isnan(x).all(axis=0)] = 0.0
    categorical = [FEATURES.index("weekday"), FEATURES.index("level")]
    model = HistGradientBoostingRegressor(categorical_features=categorical, **GBM_PARAMS)
    return model.fit(x, z)


def _forecast_one(model, s: GlobalSeries, calendar: np.ndarray, origin: int,
                  config: ForecastConfig, train: tuple[np.ndarray, np.ndarray]) -> SeriesForecast:
    """The model's forecast of one series from ``origin`` (seasonal naive if it has no
    scale); ``train``: the series' training rows, for its dispersion."""
    h = config.horizon_days
    y = s.values[:origin]
    if origin < max(config.min_history_days, SCALE_DAYS) or y[-SCALE_DAYS:].sum() <= 0:
        return seasonal_naive(y, h, note=f"{GBM_NAME}: no recent demand or short history")
    x, scale = _features(s, calendar, np.array([origin]), h)
    mean = model.predict(x) * scale
    xt, zt = train
    phi = 1.0
    if len(zt):
        fitted = np.maximum(model.predict(xt), 1e-9)
        phi = max(float(np.mean((zt - fitted) ** 2 / fitted)), 1e-6)
    se = np.sqrt(phi * np.maximum(mean, 1e-9) * scale)
    return _clip(SeriesForecast(
        method=GBM_NAME, model_order=f"HGB(poisson,{GBM_PARAMS['max_iter']} trees,global)",
        mean=mean, **normal_bounds(mean, se), n_train_days=origin, se=se,
        has_yearly_terms=True, note=f"global model over series of the measure; phi={phi:.3g}",
    ))


def global_forecasts(group: list[GlobalSeries], calendar: np.ndarray, lags: list[int],
                     config: ForecastConfig) -> dict[int, list[SeriesForecast]]:
    """Per lag (days between an origin and the series' end), one model over ``group``
    trained on data before that origin, and its forecast of every series of the group."""
    import sklearn.ensemble  # noqa: F401 - loads OpenMP before it is limited
    from threadpoolctl import threadpool_limits

    # one OpenMP thread: on a shared 2-core machine the busy-waiting threads of a
    # parallel fit were 30 times slower than one, and the series workers use the cores
    with threadpool_limits(limits=1, user_api="openmp"):
        return {lag: _forecasts_at(group, calendar, lag, config) for lag in lags}


def _forecasts_at(group: list[GlobalSeries], calendar: np.ndarray, lag: int,
                  config: ForecastConfig) -> list[SeriesForecast]:
    """One model over ``group`` on the data ``lag`` days before each series' end, and its
    forecast of every series from there."""
    h = config.horizon_days
    parts = [_training_rows(s, calendar, len(s.values) - lag, h) for s in group]
    x = np.concatenate([p[0] for p in parts])
    z = np.concatenate([p[1] for p in parts])
    model = _fit(x, z) if len(z) >= GBM_PARAMS["min_samples_leaf"] * 2 else None
    return [
        _forecast_one(model, s, calendar, len(s.values) - lag, config, part) if model else
        _no_model(s.values[: len(s.values) - lag], config)
        for s, part in zip(group, parts, strict=True)
    ]


def _no_model(y: np.ndarray, config: ForecastConfig) -> SeriesForecast:
    return seasonal_naive(y, config.horizon_days, note=f"{GBM_NAME}: too few training rows")
