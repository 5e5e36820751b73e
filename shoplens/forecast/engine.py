"""Many series: production forecasts and the rolling-origin backtest, in worker processes."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context

import numpy as np
import pandas as pd

from shoplens.forecast.calendar import Events, event_flags, regressors
from shoplens.forecast.closures import (
    closed_dates,
    closed_mask,
    closed_note,
    closed_weekdays,
    dates_note,
    zero_closed,
)
from shoplens.forecast.config import (
    BACKTEST_COLUMNS,
    FORECAST_COLUMNS,
    MODEL_VERSION,
    SEASON,
    ForecastConfig,
    SeriesContext,
    SeriesForecast,
)
from shoplens.forecast.ets import ETS_NAME, ets_fits
from shoplens.forecast.exog import levels_fit
from shoplens.forecast.global_model import GBM_NAME, GlobalSeries, calendar_table, global_forecasts
from shoplens.forecast.methods import (
    capped,
    decayed,
    first_sale,
    gap_decay,
    history_scales,
    seasonal_naive,
    seasonal_naive_point,
    supported_rate,
)
from shoplens.forecast.profile import profile_forecast, weekday_columns
from shoplens.forecast.reference import reference_forecast
from shoplens.forecast.sarima import forecast_series
from shoplens.forecast.selection import COMBINED, choose_and_calibrate, combine
from shoplens.forecast.series import Series, select_series
from shoplens.forecast.spikes import clean_spikes


@dataclass
class SeriesJob:
    """One series' values and calendar context, and the origins to forecast from.

    origins: training lengths, increasing; ``targets``: indexes into
    ``origins`` whose served forecast is wanted (the others only calibrate).
    search_origin: the training length at which the SARIMA order is searched,
    the job's first origin (so no scored, calibrating or served forecast uses
    data after its origin).
    """

    values: np.ndarray
    context: SeriesContext
    origins: list[int]
    targets: list[int]
    search_origin: int
    #: candidates fitted outside the worker (the global model), one forecast per origin
    extra: dict[str, list[SeriesForecast]] = field(default_factory=dict)
    #: the weekdays the shop is closed at each origin (``closures``); empty: open every day
    closed: list[frozenset[int]] = field(default_factory=list)
    #: per origin, True on the horizon days of a closed date (``closures.closed_dates``);
    #: empty or None: no closed date
    closed_dates: list[np.ndarray | None] = field(default_factory=list)
    #: how many of ``origins`` are backtest origins (the rest: the end, the production
    #: forecast); None: all of them
    n_backtest: int | None = None

    @property
    def backtest_origins(self) -> int:
        """How many of ``origins`` are backtest origins."""
        return len(self.origins) if self.n_backtest is None else self.n_backtest


@dataclass
class SeriesResult:
    """The served forecast per target origin and every candidate's forecasts."""

    served: list[SeriesForecast]
    candidates: dict[str, list[SeriesForecast]]


def _backbone_fits(job: SeriesJob, config: ForecastConfig,
                   trains: list[np.ndarray]) -> list[SeriesForecast]:
    """The backbone's forecast from every origin of ``job`` (order searched once) on the
    training values ``trains`` (one per origin)."""
    context = job.context if config.calendar_regressors else job.context.open_only()
    search_train = next((t for o, t in zip(job.origins, trains, strict=True)
                         if o == job.search_origin), job.values[: job.search_origin])
    search = forecast_series(search_train, config, None, context)
    spec = search.spec if search.method == "sarima" else None
    fits = []
    for origin, train in zip(job.origins, trains, strict=True):
        fc = search if origin == job.search_origin else forecast_series(
            train, config, spec, context)
        if spec is None and fc.method == "sarima":
            spec = fc.spec
        fits.append(fc)
    return fits


def _has_calendar_terms(fc: SeriesForecast) -> bool:
    tags = ("+fourier", "+public_holiday", "+shopping_event", "+promotion_share")
    return fc.method == "sarima" and any(tag in fc.model_order for tag in tags)


def _spike_cleaned(job: SeriesJob, config: ForecastConfig) -> list[tuple[np.ndarray, int]]:
    """Per origin, the training values with one-day spikes replaced and how many there
    were (``spikes``)."""
    return [clean_spikes(job.values[:o], job.context, config.spike_ratio) for o in job.origins]


def _candidate_fits(job: SeriesJob, config: ForecastConfig,
                    cleaned: list[tuple[np.ndarray, int]] | None = None,
                    ) -> dict[str, list[SeriesForecast]]:
    """Every candidate's forecast from every origin of ``job`` (backbone first).

    ``backbone_weekly`` (the SARIMA without calendar regressors) joins the
    combination from an origin where the backbone fits a SARIMA with them (a
    shop total, where the categories' yearly cycles cancel, does better
    without; ``_weekly_joins``); ``profile`` is the
    quasi-Poisson calendar model, ``ets`` the damped exponential smoothing and
    ``combination`` the mean of those members, the default served forecast (``selection``); ``global_gbm``, the global
    gradient-boosting model fitted across series beforehand (``job.extra``),
    challenges it like the statsforecast models.
    """
    # the members are fitted on the training values with one-day spikes replaced
    # (``cleaned``: ``_spike_cleaned``'s, computed here when not given)
    trains = [train for train, _ in (cleaned or _spike_cleaned(job, config))]
    fits: dict[str, list[SeriesForecast]] = {"backbone": _backbone_fits(job, config, trains)}
    # the members without calendar regressors see the shop's own events (a planned sale)
    # as an effect taken out before they are fitted and added to their forecasts
    effects = _event_effects(job, config, trains)
    blind = [t if e is None else np.maximum(t - e[: len(t)], 0.0) for t, e in zip(trains, effects, strict=True)]
    joins = _weekly_joins(fits["backbone"])
    if any(joins):
        fits["backbone_weekly"] = _with_events(_backbone_fits(
            job, replace(config, calendar_regressors=False), blind), job, effects)
    fits["seasonal_naive"] = []
    for origin in job.origins:
        train = job.values[:origin]
        trimmed = train[first_sale(train) :]
        fits["seasonal_naive"].append(
            seasonal_naive(trimmed if len(trimmed) >= SEASON else train, config.horizon_days))
    fits["profile"] = [profile_forecast(t, config, job.context) for t in trains]
    fits[ETS_NAME] = _with_events(ets_fits(job.values, job.origins, config, blind), job, effects)
    fits = _gap_decayed(job, config, fits)
    fits = _supported(job, fits)
    fits.update(job.extra)
    # the members are closed before they are combined (a flat-rate member keeps its demand)
    masks = _closed_masks(job, config.horizon_days)
    fits = _close(fits, masks)
    fits["combination"] = [_combination(fits, i, joins[i]) for i in range(len(job.origins))]
    for name in config.reference_models:
        fits[name] = [reference_forecast(name, job.values[:o], config) for o in job.origins]
    return _close(fits, masks)


def _event_effects(job: SeriesJob, config: ForecastConfig,
                   trains: list[np.ndarray]) -> list[np.ndarray | None]:
    """Per origin, the additive effect of the shop's own events on every training and
    forecast day (``calendar.event_flags``: one coefficient per event name with two
    days in the fitted window); None without such an event.

    The coefficients come from a least-squares fit of the training values from the
    first sale, over the last ``max_train_days`` (the window the members train on), on
    an intercept, a linear trend, weekday dummies, the public holidays, the Black Friday
    weekend and the event flags: an event held on one weekday must not take that
    weekday's own level for its lift, nor a launch's zeros. Nothing after the origin is
    read but the calendar, which is known in advance."""
    events, start = job.context.events, job.context.start
    if not events or start is None:
        return [None] * len(trains)
    h = config.horizon_days
    # every origin's flags are the first origin + horizon days of these (one start)
    all_flags = [col for _, col in event_flags(start, len(job.values) + h, events)]
    out: list[np.ndarray | None] = []
    for train in trains:
        y = np.asarray(train, dtype="float64")
        n = len(y)
        lo = max(first_sale(y), n - config.max_train_days)
        flags = [col[: n + h] for col in all_flags if np.count_nonzero(col[lo:n]) >= 2]
        if not flags or n - lo < config.min_history_days:
            out.append(None)
            continue
        x = np.column_stack(flags)
        window_start = start + dt.timedelta(days=lo)
        calendar, _ = regressors(window_start, n - lo, 0, yearly_k=0,
                                 country_weights=job.context.country_weights)
        beta, _ = levels_fit(y[lo:], np.column_stack([x[lo:n], weekday_columns(window_start, n - lo), calendar]))
        out.append(x @ beta[: x.shape[1]])
    return out


def _with_events(fits: list[SeriesForecast], job: SeriesJob,
                 effects: list[np.ndarray | None]) -> list[SeriesForecast]:
    """Forecasts of a member fitted without the events, with their effect over each
    origin's horizon added (point, median and bounds; never below 0)."""
    out = []
    for fc, origin, effect in zip(fits, job.origins, effects, strict=True):
        if effect is None:
            out.append(fc)
            continue
        shift = effect[origin : origin + len(fc.mean)]

        def add(values: np.ndarray | None, shift: np.ndarray = shift) -> np.ndarray | None:
            return None if values is None else np.maximum(np.asarray(values) + shift, 0.0)

        out.append(replace(fc, mean=add(fc.mean), lower_80=add(fc.lower_80), upper_80=add(fc.upper_80),
                           lower_95=add(fc.lower_95), upper_95=add(fc.upper_95), median=add(fc.median),
                           model_order=fc.model_order + "+events"))
    return out


def _gap_decayed(job: SeriesJob, config: ForecastConfig,
                 fits: dict[str, list[SeriesForecast]]) -> dict[str, list[SeriesForecast]]:
    """The combination's members with the open gap since the series' last sale before
    each origin let in (``methods.gap_decay``): a SARIMA or a damped ETS whose
    smoothing was estimated while the product sold every day follows months of
    zeros only slowly (an ETS searched before a stop still forecast half the old
    rate 150 days after it). Croston's method decays itself; seasonal naive copies
    the zeros and is no member.
    """
    decays = []
    shop_open = job.context.shop_open
    for origin in job.origins:
        train = job.values[:origin]
        first = first_sale(train)
        decays.append(gap_decay(train[first:], config.croston_alpha,
                                None if shop_open is None else shop_open[first:origin],
                                span=origin))
    return {name: [fc if name not in COMBINED or fc.method in ("croston_sba", "seasonal_naive")
                   else decayed(fc, *decays[i]) for i, fc in enumerate(forecasts)]
            for name, forecasts in fits.items()}


def _supported(job: SeriesJob,
               fits: dict[str, list[SeriesForecast]]) -> dict[str, list[SeriesForecast]]:
    """The combination's members of an intermittent series (Croston the backbone at an
    origin) capped at the mean daily demand its history before that origin supports
    (``methods.supported_rate``): the profile model and the damped ETS follow the last
    sale of a product that sold on 3 days in two years, and forecast it at 18 times
    its rate (a Superstore-shaped probe: $3,719 over 28 days from $9,229 in four
    years). Series with a SARIMA backbone sell on most days and are left as they are.
    """
    out = {name: list(forecasts) for name, forecasts in fits.items()}
    for i, origin in enumerate(job.origins):
        if fits["backbone"][i].method != "croston_sba":
            continue
        train = job.values[:origin]
        rate, n, days = supported_rate(train[first_sale(train):], span=origin)
        why = f"above what {n} selling days in {days} support ({rate:.3g} a day)"
        for name in COMBINED:
            if name in out and out[name][i].method != "seasonal_naive":
                out[name][i] = capped(out[name][i], rate, why)
    return out


def _weekly_joins(backbone: list[SeriesForecast]) -> list[bool]:
    """Per origin, whether ``backbone_weekly`` joins the combination there: when the
    backbone's fit from that origin has calendar terms. Without them the two are the
    same SARIMA, which would count twice; and an origin decides from its own fit
    alone, so no later origin (nor the end) changes an earlier forecast.
    """
    return [_has_calendar_terms(fc) for fc in backbone]


def _combination(fits: dict[str, list[SeriesForecast]], i: int,
                 weekly: bool = True) -> SeriesForecast:
    """The mean of the combined candidates from origin ``i`` (``backbone_weekly`` only when
    ``weekly``); the backbone itself when fewer than two of them are models (a short
    series' seasonal naive fallbacks)."""
    members = [fits[name][i] for name in COMBINED
               if name in fits and (weekly or name != "backbone_weekly")
               and fits[name][i].method != "seasonal_naive"]
    return combine(members) if len(members) >= 2 else fits["backbone"][i]


def _closed_masks(job: SeriesJob, horizon: int) -> list[tuple[np.ndarray | None, np.ndarray | None]] | None:
    """Per origin, (True on the horizon days of a closed weekday or date, True on those of
    a closed weekday) (``closures``); None when the shop is open every day at every origin."""
    dates = job.closed_dates or [None] * len(job.origins)
    if (not any(job.closed) and all(d is None for d in dates)) or job.context.start is None:
        return None
    out = []
    for origin, closed, closed_on in zip(job.origins, job.closed or [frozenset()] * len(job.origins),
                                         dates, strict=True):
        weekdays = closed_mask(job.context.start + dt.timedelta(days=origin), horizon, closed)
        if closed_on is None:
            out.append((weekdays, weekdays))
        else:
            either = closed_on if weekdays is None else closed_on | weekdays
            out.append((either, np.zeros(horizon, dtype=bool) if weekdays is None else weekdays))
    return out


def _close(fits: dict[str, list[SeriesForecast]],
           masks: list[tuple[np.ndarray | None, np.ndarray | None]] | None,
           ) -> dict[str, list[SeriesForecast]]:
    """Every candidate's forecasts with zeros on the shop's closed weekdays and dates (a
    forecast already closed is kept as it is)."""
    if masks is None:
        return fits
    return {name: [zero_closed(fc, *masks[i]) for i, fc in enumerate(forecasts)]
            for name, forecasts in fits.items()}


def _served(job: SeriesJob, fits: dict[str, list[SeriesForecast]], spikes: list[int],
            target: int, config: ForecastConfig) -> SeriesForecast:
    """The served forecast from ``job.origins[target]`` (``choose_and_calibrate``), with its notes.

    A copy: the candidates' own forecasts stay as fitted (the backtest reuses them).
    """
    fc = replace(choose_and_calibrate(job.values, job.origins, fits, target, config.horizon_days,
                                      config.calibration_origins, config.calibration_decay))
    n_spikes = spikes[target]
    # a challenger (global model, statsforecast) is fitted on the actual values
    if n_spikes and fc.method not in (GBM_NAME, *config.reference_models):
        fc.note = (f"{fc.note}; {n_spikes} spike day(s) replaced by their weekday's"
                   " median for fitting").lstrip("; ")
    if job.closed and job.closed[target]:
        fc.note = f"{fc.note}; {closed_note(job.closed[target], config.closed_weeks)}".lstrip("; ")
    dates = job.closed_dates[target] if job.closed_dates else None
    if dates is not None and job.context.start is not None:
        # fc.closed: the closed dates and weekdays, which the note's runs bridge
        first_day = job.context.start + dt.timedelta(days=job.origins[target])
        fc.note = f"{fc.note}; {dates_note(first_day, dates, config.closed_years, fc.closed)}".lstrip("; ")
    return fc


def _series_task(args: tuple[list[SeriesJob], ForecastConfig]) -> list[SeriesResult]:
    jobs, config = args
    out = []
    for job in jobs:
        started = time.perf_counter()
        cleaned = _spike_cleaned(job, config)
        spikes = [n for _, n in cleaned]
        fits = _candidate_fits(job, config, cleaned)
        served = [_served(job, fits, spikes, t, config) for t in job.targets]
        seconds = time.perf_counter() - started
        for fc in served:
            fc.fit_seconds = seconds
        out.append(SeriesResult(served, fits))
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
    task: Callable[[tuple[list, ForecastConfig]], list],
    values: Sequence,
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
    """Training lengths of the scored rolling origins: the last ``backtest_origins`` horizons.

    Origin k (k = B..1) trains on days ``[0, n - k h)`` and is scored on the
    next ``h`` days; origins leaving under two weeks of training are skipped.
    """
    origins = _all_origins(n_days, config)
    return origins[len(origins) - min(config.backtest_origins, len(origins)) :]


def _all_origins(n_days: int, config: ForecastConfig) -> list[int]:
    """The scored origins and the ``calibration_origins`` before them (the earliest first)."""
    h = config.horizon_days
    n_origins = config.backtest_origins + config.calibration_origins
    origins = [n_days - k * h for k in range(n_origins, 0, -1)]
    # a short series scores the origins it has and calibrates on fewer
    return [o for o in origins if o >= 2 * SEASON]


def _job(series: Series, config: ForecastConfig) -> SeriesJob:
    """What to fit for one series: one chain of origins, the backtest's and then the end.

    The backtest's origins (``_all_origins``) and the series' end, the order
    searched at the first of them; served from the scored backtest origins
    (each chosen and calibrated on the ``calibration_origins`` before it) and
    from the end (the production forecast, chosen and calibrated on the last
    ``calibration_origins`` backtest origins). So the production forecast is
    the next step of the procedure the backtest scores, and the backtest
    costs no fits of its own.
    """
    n = len(series.values)
    origins = [*_all_origins(n, config), n]
    context = SeriesContext(series.start, series.promotion, series.country_weights, events=series.events)
    n_scored = min(config.backtest_origins, len(origins) - 1)
    targets = list(range(len(origins) - 1 - n_scored, len(origins)))
    return SeriesJob(series.values, context, origins, targets, origins[0],
                     n_backtest=len(origins) - 1)


def _prepare(demand_daily: pd.DataFrame, config: ForecastConfig, as_of_date: dt.date | None,
             country_weights: Mapping[str, float] | None, shop_total: pd.DataFrame | None,
             events: Events | None = None,
             ) -> tuple[list[Series], Series | None]:
    """The selected series and the shop total's units, which decide the closed weekdays."""
    series = select_series(demand_daily, config.top_n, as_of_date, country_weights, events=events)
    # a caller that forecasts some series at a time (Spark, one group per series) passes
    # the shop total in ``shop_total``
    candidates = series if shop_total is None else select_series(shop_total, 0, as_of_date)
    total = next((s for s in candidates if s.level == "total" and s.measure == "units"), None)
    return series, total


def _fit_jobs(series: list[Series], jobs: list[SeriesJob], total: Series | None,
              config: ForecastConfig, country_weights: Mapping[str, float] | None,
              ) -> list[SeriesResult]:
    """Every job's candidate fits and served forecasts, in ``config.n_jobs`` processes."""
    if total is not None:
        # the closures depend on the forecast's first day only: once per day, not per series
        closures: dict[dt.date, tuple[frozenset[int], np.ndarray | None]] = {}
        for s, job in zip(series, jobs, strict=True):
            days = [s.start + dt.timedelta(days=origin) for origin in job.origins]
            for day in days:
                if day not in closures:
                    closed = closed_weekdays(total, day, config.closed_weeks)
                    closures[day] = (closed, closed_dates(total, day, config.horizon_days,
                                                          config.closed_years, closed))
            job.closed = [closures[day][0] for day in days]
            job.closed_dates = [closures[day][1] for day in days]
            job.context = replace(job.context, shop_open=_shop_open(total, s))
    if config.global_model and series:
        _add_global_fits(series, jobs, config, country_weights)
    return _parallel_map(_series_task, jobs, config)


def _shop_open(total: Series, s: Series) -> np.ndarray:
    """True on the days of ``s`` the shop total sold (days outside the total: open)."""
    offset = (s.start - total.start).days
    index = offset + np.arange(len(s.values))
    inside = (index >= 0) & (index < len(total.values))
    sold = np.ones(len(s.values), dtype=bool)
    sold[inside] = total.values[index[inside]] > 0
    return sold


def _digest(series: list[Series], total: Series | None) -> str:
    """A digest of everything the fits read from the series (values, calendar, weights)."""
    h = hashlib.blake2b(digest_size=16)
    for s in [*series, *([total] if total is not None else [])]:
        weights = sorted((s.country_weights or {}).items())
        events = sorted((name, sorted(days)) for name, days in (s.events or {}).items())
        h.update(repr((s.level, s.key, s.measure, s.start.isoformat(), len(s.values), weights,
                       s.promotion is None, events)).encode())
        h.update(np.ascontiguousarray(s.values, dtype="float64").tobytes())
        if s.promotion is not None:
            h.update(np.ascontiguousarray(s.promotion, dtype="float64").tobytes())
    return h.hexdigest()


#: the last run's fits, by the content of their inputs (see :func:`_fitted`)
_FITTED: dict[tuple, tuple[list[Series], list[SeriesJob], list[SeriesResult]]] = {}


def _fitted(demand_daily: pd.DataFrame, config: ForecastConfig, as_of_date: dt.date | None,
            country_weights: Mapping[str, float] | None, shop_total: pd.DataFrame | None = None,
            events: Events | None = None,
            ) -> tuple[list[Series], list[SeriesJob], list[SeriesResult]]:
    """Every series' chain of fits (``_job``) and its served forecasts.

    The last run is kept in memory by the content of what the fits read:
    dbt-duckdb runs ``ml_demand_forecast`` and then ``ml_forecast_evaluation``
    in one process, and the backtest reads the production step's fits
    instead of repeating them. A caller in another process fits them again,
    with the same result (unless ``time_budget_s`` cuts an order search
    short, which depends on the clock).
    """
    series, total = _prepare(demand_daily, config, as_of_date, country_weights, shop_total, events)
    key = (config, _digest(series, total))
    kept = _FITTED.get(key)
    if kept is None:
        jobs = [_job(s, config) for s in series]
        kept = (series, jobs, _fit_jobs(series, jobs, total, config, country_weights))
        _FITTED.clear()
        _FITTED[key] = kept
    return kept


def forget_fits() -> None:
    """Drop the kept fits (``ml_forecast_evaluation`` is their last reader in a build)."""
    _FITTED.clear()


def _add_global_fits(series: list[Series], jobs: list[SeriesJob], config: ForecastConfig,
                     country_weights: Mapping[str, float] | None) -> None:
    """The global model's forecast from every origin of every job (``job.extra``).

    One model per measure and origin (all levels together, each series scaled
    by its recent mean); origins are matched by their distance to the end.
    """
    start = min(s.start for s in series)
    offsets = [(s.start - start).days for s in series]
    n_days = max(o + len(s.values) for o, s in zip(offsets, series, strict=True))
    calendar = calendar_table(start, n_days + config.horizon_days, country_weights)
    for measure in sorted({s.measure for s in series}):
        members = [i for i, s in enumerate(series) if s.measure == measure]
        group = [GlobalSeries(series[i].values, offsets[i], series[i].level, series[i].promotion)
                 for i in members]
        lags = sorted({len(series[i].values) - o for i in members for o in jobs[i].origins})
        fits = global_forecasts(group, calendar, lags, config)
        for k, i in enumerate(members):
            n = len(series[i].values)
            jobs[i].extra[GBM_NAME] = [fits[n - o][k] for o in jobs[i].origins]


def forecast_demand(
    demand_daily: pd.DataFrame, config: ForecastConfig, as_of_date: dt.date | None = None,
    country_weights: Mapping[str, float] | None = None, shop_total: pd.DataFrame | None = None,
    events: Events | None = None,
) -> pd.DataFrame:
    """Forecast every selected series ``config.horizon_days`` past its last day.

    Returns one row per series, measure and forecast date with the columns
    ``FORECAST_COLUMNS``. ``as_of_date`` (the last training day) defaults to
    the last date in the data; series that stop earlier are zero-filled to it.
    Each series is served by the winner of its last ``calibration_origins``
    backtest windows, with intervals calibrated on them (``selection``).
    """
    series, _, results = _fitted(demand_daily, config, as_of_date, country_weights, shop_total, events)
    as_of = series[0].start + dt.timedelta(days=len(series[0].values) - 1)
    h = config.horizon_days
    dates = [as_of + dt.timedelta(days=i) for i in range(1, h + 1)]
    parts = [
        pd.DataFrame({
            "series_level": s.level, "series_key": s.key, "measure": s.measure,
            "forecast_date": dates, "horizon_day": np.arange(1, h + 1),
            "point_forecast": fc.mean, "lower_80": fc.lower_80, "upper_80": fc.upper_80,
            "lower_95": fc.lower_95, "upper_95": fc.upper_95, "method": fc.method,
            "model_order": fc.model_order, "as_of_date": as_of, "model_version": MODEL_VERSION,
            "n_train_days": fc.n_train_days, "aicc": fc.aicc,
            "fit_seconds": round(fc.fit_seconds, 4), "fit_note": fc.note,
            "has_yearly_terms": fc.has_yearly_terms, "interval_method": fc.interval_method,
        })
        for s, fc in ((s, r.served[-1]) for s, r in zip(series, results, strict=True))
    ]
    out = pd.concat(parts, ignore_index=True)[FORECAST_COLUMNS]
    # AICc exists for SARIMA fits only: NULL (not NaN) for the other methods
    out["aicc"] = out["aicc"].astype("Float64").mask(out["aicc"].isna())
    out["horizon_day"] = out["horizon_day"].astype("int64")
    out["n_train_days"] = out["n_train_days"].astype("int64")
    return out


def _backtest_part(s: Series, origin: int, fc: SeriesForecast, h: int) -> pd.DataFrame:
    """Backtest rows of one series, origin and forecast (``BACKTEST_COLUMNS``)."""
    y = s.values
    train = y[:origin]
    scale, squared_scale = history_scales(train)
    origin_date = s.start + dt.timedelta(days=origin - 1)
    return pd.DataFrame({
        "series_level": s.level, "series_key": s.key, "measure": s.measure,
        "origin_date": origin_date,
        "target_date": [origin_date + dt.timedelta(days=i) for i in range(1, h + 1)],
        "horizon_day": np.arange(1, h + 1), "actual": y[origin : origin + h],
        "point_forecast": fc.mean, "lower_80": fc.lower_80, "upper_80": fc.upper_80,
        "lower_95": fc.lower_95, "upper_95": fc.upper_95,
        "naive_forecast": seasonal_naive_point(train, h), "mase_scale": scale,
        "rmsse_scale": squared_scale, "method": fc.method, "model_order": fc.model_order,
        "median_forecast": fc.mean if fc.median is None else fc.median,
        "is_closed": False if fc.closed is None else fc.closed,
    })


def backtest_candidates(
    demand_daily: pd.DataFrame, config: ForecastConfig, as_of_date: dt.date | None = None,
    country_weights: Mapping[str, float] | None = None, events: Events | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rolling-origin backtest: (served, candidates).

    ``served``: one row per series, measure, scored origin and target date
    (``BACKTEST_COLUMNS``): the actual value, the served forecast (chosen and
    calibrated on the origins before, never on its own window) with its
    bounds, the seasonal naive forecast from the same origin, and the MASE
    and RMSSE scales (mean absolute and mean squared weekly difference of
    the training data before the origin). ``candidates``: the same rows for every candidate method on the
    same origins with its own bounds, plus a ``candidate`` column
    (``backbone``, ``seasonal_naive``, the statsforecast models).
    """
    series, jobs, results = _fitted(demand_daily, config, as_of_date, country_weights, events=events)
    h = config.horizon_days
    served, candidates = [], []
    for s, job, result in zip(series, jobs, results, strict=True):
        # a member only the end brings is not the backtest's (``_weekly_joins``)
        in_backtest = any(_weekly_joins(result.candidates["backbone"][:job.backtest_origins]))
        scored = {name: fits for name, fits in result.candidates.items()
                  if in_backtest or name != "backbone_weekly"}
        # the last target is the end (the production forecast): nothing to score
        for t, fc in zip(job.targets[:-1], result.served[:-1], strict=True):
            served.append(_backtest_part(s, job.origins[t], fc, h))
            for name, fits in scored.items():
                part = _backtest_part(s, job.origins[t], fits[t], h)
                candidates.append(part.assign(candidate=name))
    if not served:
        empty = pd.DataFrame(columns=BACKTEST_COLUMNS)
        return empty, empty.assign(candidate=pd.Series(dtype="object"))
    return (pd.concat(served, ignore_index=True)[[*BACKTEST_COLUMNS, "median_forecast"]],
            pd.concat(candidates, ignore_index=True))


def backtest_demand(
    demand_daily: pd.DataFrame, config: ForecastConfig, as_of_date: dt.date | None = None
) -> pd.DataFrame:
    """The served forecasts of the rolling-origin backtest (see :func:`backtest_candidates`)."""
    return backtest_candidates(demand_daily, config, as_of_date)[0]
