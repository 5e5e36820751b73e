"""Forecast settings, output columns and the dbt vars they come from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm

from shoplens import __version__
from shoplens.settings import ConfigError, flag, read_var

SEASON = 7
MODEL_TAG = "forecast-v1"
MODEL_VERSION = f"{__version__}+{MODEL_TAG}"
LEVELS = ("total", "category", "product")
MEASURES = ("units", "revenue")
METHODS = ("combination", "sarima", "croston_sba", "seasonal_naive", "profile", "global_gbm")

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

#: weeks of zero sales at the shop total that make a weekday closed (``closures``)
CLOSED_WEEKS = 8
#: a calendar date without a sale at the shop total in each of this many years before is closed
CLOSED_YEARS = 2
#: a day above this many times its weekday's largest value around it is a spike (``spikes``)
SPIKE_RATIO = 3.0
#: weight of each calibration window's errors relative to the next one's (``selection``)
CALIBRATION_DECAY = 0.5

Z80 = float(norm.ppf(0.90))
Z95 = float(norm.ppf(0.975))


def normal_bounds(mean: np.ndarray, se: np.ndarray) -> dict[str, np.ndarray]:
    """The 80% and 95% bounds of a normal forecast (``SeriesForecast`` fields)."""
    return {"lower_80": mean - Z80 * se, "upper_80": mean + Z80 * se,
            "lower_95": mean - Z95 * se, "upper_95": mean + Z95 * se}

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
    "has_yearly_terms",
    "interval_method",
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
    "rmsse_scale",
    "method",
    "model_order",
    "is_closed",
]


#: What each setting allows (named in ConfigError messages); the dbt vars are
#: forecast_<name> for horizon_days, top_n, n_jobs, backtest_origins, time_budget_s.
ALLOWED = {
    "horizon_days": ">= 1 (var forecast_horizon_days)",
    "top_n": ">= 0 (var forecast_top_n)",
    "n_jobs": ">= 1 (var forecast_n_jobs)",
    "backtest_origins": ">= 1 (var forecast_backtest_origins)",
    "min_history_days": ">= 14",
    "intermittent_adi": ">= 1.0",
    "croston_alpha": "in (0, 1]",
    "max_train_days": ">= min_history_days",
    "time_budget_s": "> 0, or null for no wall-clock cap (var forecast_time_budget_s)",
    "candidate_orders": "at least one (p, q, P, Q)",
    "min_yearly_days": ">= 400",
    "max_yearly_harmonics": "1 to 10",
    "calibration_origins": ">= 0 (var forecast_calibration_origins)",
    "reference_models": "any of autoarima, autoets, mstl (var forecast_reference_models)",
    "global_model": "true or false (var forecast_global_model)",
    "closed_weeks": ">= 0 (var forecast_closed_weeks; 0: never closed)",
    "closed_years": ">= 0 (var forecast_closed_years; 0: no date is closed)",
    "calibration_decay": "in (0, 1] (var forecast_calibration_decay; 1: every window alike)",
    "spike_ratio": "0 (never a spike) or >= 2 (var forecast_spike_ratio)",
}
REFERENCE_MODELS = ("autoarima", "autoets", "mstl")


@dataclass(frozen=True)
class ForecastConfig:
    """Settings of the demand forecasts (dbt vars in brackets).

    horizon_days: days forecast after the last training day [forecast_horizon_days].
    top_n: products with the highest revenue that get their own series [forecast_top_n].
    n_jobs: worker processes for independent series; 1 runs in-process [forecast_n_jobs].
    backtest_origins: rolling origins, one horizon apart, ending at the last day.
    min_history_days: shorter series (after leading zeros) use seasonal naive,
        or Croston-SBA under two weeks (``sarima.forecast_series``).
    intermittent_adi: average days between selling days above which a series
        is intermittent (1.32, Syntetos-Boylan) and uses Croston-SBA.
    intermittent_window_days: recent window on which intermittency is judged.
    croston_alpha: smoothing constant of Croston's sizes and intervals.
    empirical_window_days: recent days whose quantiles give Croston's intervals.
    seasonal_strength_threshold: weekly seasonal strength from which a weekly
        difference is taken (0.64 as in auto.arima's seasonal heuristic).
    max_train_days: at most this many recent days are used to fit SARIMA.
    time_budget_s: seconds of order search per series fit before the search
        stops; None (the default) searches every candidate, so the chosen orders
        never depend on how busy the machine is.
    min_yearly_days: training days from which SARIMA gets yearly Fourier terms
        (a year and a half: each day of the year seen at least once, half of
        them twice); shorter series get the weekly model, flagged.
    max_yearly_harmonics: most yearly sine/cosine pairs; the number is chosen
        by AICc of the regression on the differenced series.
    calendar_regressors: False turns off the Fourier, holiday and promotion
        regressors (the weekly-only SARIMA of forecast-v1).
    calibration_origins: rolling origins before each forecast origin whose
        errors choose the served method and calibrate its intervals
        [forecast_calibration_origins].
    calibration_decay: weight of each calibration window's errors relative to the
        next window's (the latest weighs 1): recent errors describe the next
        window best; 1 weighs every window alike [forecast_calibration_decay].
    spike_ratio: a day above this many times the largest value of its weekday in
        the four weeks around it is a one-day spike, replaced by their median
        before the models are fitted (``spikes``); 0 turns it off
        [forecast_spike_ratio].
    reference_models: statsforecast models that join the candidates
        (``autoarima``, ``autoets``, ``mstl``) [forecast_reference_models].
    global_model: the global gradient-boosting model (``global_model.py``) joins
        the candidates and challenges the combination like the references
        [forecast_global_model].
    closed_weeks: a weekday without a sale at the shop total in each of this many
        weeks before an origin is closed, forecast 0 (``closures``); 0 turns it
        off [forecast_closed_weeks].
    closed_years: a calendar date (a Christmas closure) without a sale at the
        shop total in each of this many years before an origin, in a shop that
        sold on nearly every day around it, is closed, forecast 0
        (``closures``); 0 turns it off [forecast_closed_years].
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
    time_budget_s: float | None = None
    min_yearly_days: int = 548
    max_yearly_harmonics: int = 4
    calendar_regressors: bool = True
    calibration_origins: int = 4
    calibration_decay: float = CALIBRATION_DECAY
    spike_ratio: float = SPIKE_RATIO
    closed_weeks: int = CLOSED_WEEKS
    closed_years: int = CLOSED_YEARS
    reference_models: tuple[str, ...] = ()
    global_model: bool = False
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
            "time_budget_s": self.time_budget_s is None or self.time_budget_s > 0,
            "candidate_orders": len(self.candidate_orders) >= 1,
            "min_yearly_days": self.min_yearly_days >= 400,
            "max_yearly_harmonics": 1 <= self.max_yearly_harmonics <= 10,
            "calibration_origins": self.calibration_origins >= 0,
            "closed_weeks": self.closed_weeks >= 0,
            "closed_years": self.closed_years >= 0,
            "calibration_decay": 0.0 < self.calibration_decay <= 1.0,
            "spike_ratio": self.spike_ratio == 0 or self.spike_ratio >= 2,
            "reference_models": set(self.reference_models) <= set(REFERENCE_MODELS),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = {name: getattr(self, name) for name in bad}
            allowed = "; ".join(f"{name} {ALLOWED[name]}" for name in bad)
            raise ConfigError(f"invalid forecast settings: {values}; allowed: {allowed}")


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
    # SARIMA only: (d, D, (p, q, P, Q), free parameters, yearly harmonics), to
    # refit the same model at a later backtest origin
    spec: tuple | None = None
    # standard error of the point forecast per horizon day (the spread the
    # calibration rescales); None: read from the 80% upper bound
    se: np.ndarray | None = None
    has_yearly_terms: bool = False
    interval_method: str = "model"
    # the median of the calibrated predictive distribution (``forecast +
    # median standardised error * se``); None: the point forecast. Absolute
    # errors (MASE) are smallest for the median, expected demand is the mean
    median: np.ndarray | None = None
    # True on the horizon days that fall on a weekday the shop is closed (forecast 0
    # there, left out of the calibration's errors); None: open every day
    closed: np.ndarray | None = None


@dataclass(frozen=True)
class SeriesContext:
    """What the calendar regressors need about one series besides its values.

    start: the date of the first value (None: no calendar regressors).
    promotion: share of units sold at a discount per day, aligned with the values.
    country_weights: customers per country, for the public holiday share.
    events: the shop's own calendar (``calendar.events_from_frame``), for its event regressors.
    shop_open: True on the days the shop total sold, aligned with the values (None:
        unknown, every day counts as open); the gap since a series' last sale counts
        these days only (``methods.gap_decay``), so a shop-wide closure is no gap.
    """

    start: dt.date | None = None
    promotion: np.ndarray | None = None
    country_weights: Mapping[str, float] | None = None
    shop_open: np.ndarray | None = None
    events: Mapping[str, frozenset[dt.date]] | None = None

    def shifted(self, days: int) -> SeriesContext:
        """The context of the same series with its first ``days`` values dropped."""
        if days <= 0 or (self.start is None and self.promotion is None and self.shop_open is None):
            return self
        return SeriesContext(
            None if self.start is None else self.start + dt.timedelta(days=days),
            None if self.promotion is None else self.promotion[days:],
            self.country_weights,
            None if self.shop_open is None else self.shop_open[days:],
            self.events)

    def open_only(self) -> SeriesContext:
        """The same context without its calendar (no regressors), the shop's open days kept."""
        return SeriesContext(shop_open=self.shop_open)

def config_from_dbt(get: Callable[[str], object]) -> ForecastConfig:
    """Build the settings from a dbt Python model's ``dbt.config.get``."""

    def number(name: str, default: float) -> float:
        return read_var(get, name, default, float)  # type: ignore[return-value]

    return ForecastConfig(
        horizon_days=int(number("forecast_horizon_days", 28)),
        top_n=int(number("forecast_top_n", 100)),
        n_jobs=int(number("forecast_n_jobs", 1)),
        backtest_origins=int(number("forecast_backtest_origins", 4)),
        time_budget_s=read_var(get, "forecast_time_budget_s", None, float),  # type: ignore[arg-type]
        calibration_origins=int(number("forecast_calibration_origins", 4)),
        reference_models=read_var(get, "forecast_reference_models", (), _model_list),  # type: ignore[arg-type]
        global_model=read_var(get, "forecast_global_model", False, flag),  # type: ignore[arg-type]
        closed_weeks=int(number("forecast_closed_weeks", CLOSED_WEEKS)),
        closed_years=int(number("forecast_closed_years", CLOSED_YEARS)),
        calibration_decay=number("forecast_calibration_decay", CALIBRATION_DECAY),
        spike_ratio=number("forecast_spike_ratio", SPIKE_RATIO),
    )


def _model_list(value: object) -> tuple[str, ...]:
    """``"autoarima, mstl"`` (or a list) as a tuple of lower-case names."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(item).strip().lower() for item in items if str(item).strip())
