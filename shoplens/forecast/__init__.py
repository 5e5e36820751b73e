"""Daily demand forecasts: SARIMA per series with documented fallbacks.

Input is the ``demand_daily`` mart (one row per series per day, zero days
filled): ``series_level`` (``total``/``category``/``product``), ``series_key``,
``demand_date``, ``units``, ``revenue``. Each (series, measure) pair is one
daily time series; the measures are ``units`` (items sold per day) and
``revenue`` (shop currency per day).

How one series is forecast (see ``docs/forecast.md`` for the reasons):

1. Leading zero days (before the series' first sale) are dropped.
2. Fewer than ``min_history_days`` days left: seasonal naive (``seasonal_naive``).
   Intermittent demand (average interval between selling days over the last
   ``intermittent_window_days`` above ``intermittent_adi``): Croston's method
   with the Syntetos-Boylan correction (``croston_sba``), its rate decayed once the
   gap since the last sale is longer than Croston's model makes plausible.
3. Otherwise a seasonal ARIMA with weekly season (s = 7): the differencing is
   chosen by tests (weekly difference when the weekly seasonal strength is at
   least ``seasonal_strength_threshold``; a first difference when KPSS rejects
   level stationarity at 5%), then the ARMA orders by AICc over
   ``CANDIDATE_ORDERS``, each estimated by conditional sum of squares (fast,
   the approximation auto.arima uses during its search). The chosen model's
   forecast and its intervals come from the statsmodels ``SARIMAX`` Kalman
   filter run with those parameters over the whole training series. The order
   search stops once ``time_budget_s`` is spent on a series.
   The SARIMA is the error model of a regression on calendar regressors
   (``calendar``, ``exog``: yearly Fourier terms from ``min_yearly_days``,
   public holidays weighted by the customers' countries, Black Friday
   weekend, the promotion share when the input has it).
4. The served method is the winner of the series' own rolling-origin
   backtest over the ``calibration_origins`` before the forecast, among the
   backbone with and without calendar terms, seasonal naive and the optional
   statsforecast models (``reference``); its intervals are split conformal
   intervals on those windows' standardised errors (``selection``).
5. Forecasts and bounds are clipped at zero (demand cannot be negative).

Backtest: a rolling origin over the last ``backtest_origins`` horizons, each
served as in 4 from the ``calibration_origins`` before it. One chain of
origins per series (``engine``): the backtest's origins, then the end (the
production forecast); the method is chosen at every origin, the SARIMA
order searched at the first and re-estimated at the later ones, always on
the data before the origin only. Each forecast is compared with what
followed; the seasonal naive forecast from the same origin is the baseline.
The forecast step and the evaluation share the chain's fits.

Layout: ``config`` (settings, columns, dbt vars), ``series`` (input),
``methods`` (seasonal naive, Croston SBA), ``sarima`` (order search and
forecast of one series), ``calendar`` and ``exog`` (calendar regressors),
``selection`` (served method, conformal intervals), ``closures`` (closed
weekdays and dates), ``reference``
(statsforecast candidates), ``engine`` (many series, backtest), ``metrics``
(evaluation rows), ``holdout`` (production forecast vs later demand),
``status`` (ml_forecast_status) and ``pipeline`` (the only entry from dbt).
"""

from shoplens.forecast.config import (  # noqa: F401
    BACKTEST_COLUMNS,
    CALIBRATION_DECAY,
    CANDIDATE_ORDERS,
    CLOSED_WEEKS,
    CLOSED_YEARS,
    FORECAST_COLUMNS,
    LEVELS,
    MEASURES,
    METHODS,
    MODEL_TAG,
    MODEL_VERSION,
    SEASON,
    SPIKE_RATIO,
    Z80,
    Z95,
    ForecastConfig,
    SeriesContext,
    SeriesForecast,
    config_from_dbt,
)
from shoplens.forecast.engine import (  # noqa: F401
    backtest_candidates,
    backtest_demand,
    backtest_origins,
    forecast_demand,
)
from shoplens.forecast.holdout import (  # noqa: F401
    actuals_from_holdout_demand,
    holdout_frame,
    total_actuals_from_orders,
)
from shoplens.forecast.methods import (  # noqa: F401
    croston_sba,
    plausible_gap,
    seasonal_naive,
    seasonal_naive_point,
)
from shoplens.forecast.metrics import (  # noqa: F401
    evaluation_rows,
    series_metrics,
    smape,
)
from shoplens.forecast.sarima import (  # noqa: F401
    CssFit,
    average_demand_interval,
    choose_differencing,
    difference,
    forecast_series,
    sarima_forecast,
    seasonal_strength,
)
from shoplens.forecast.series import (  # noqa: F401
    REQUIRED_COLUMNS,
    Series,
    select_series,
)
