"""Many series: production forecasts and the rolling-origin backtest, in worker processes."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pandas as pd

from shoplens.forecast.config import (
    BACKTEST_COLUMNS,
    FORECAST_COLUMNS,
    MODEL_VERSION,
    SEASON,
    ForecastConfig,
    SeriesForecast,
)
from shoplens.forecast.methods import seasonal_naive_point
from shoplens.forecast.sarima import forecast_series
from shoplens.forecast.series import select_series


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
