"""Backtest and holdout metrics (MASE, RMSSE, sMAPE, coverage) as ``ml_model_evaluation`` rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.evaluation import evaluation_frame
from shoplens.forecast.closures import counted_days
from shoplens.forecast.config import MODEL_VERSION


def smape(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Pointwise symmetric APE in percent, 0 to 200; 0 when both are 0."""
    actual = np.asarray(actual, dtype="float64")
    forecast = np.asarray(forecast, dtype="float64")
    denom = np.abs(actual) + np.abs(forecast)
    out = np.zeros_like(denom)
    np.divide(200.0 * np.abs(actual - forecast), denom, out=out, where=denom > 0)
    return out


def series_metrics(backtest: pd.DataFrame) -> pd.DataFrame:
    """One row per series and measure: MASE, RMSSE and sMAPE of the model and
    of seasonal naive, and the share of actuals inside the 80% and 95% bounds.

    Coverage leaves out the shop's closed days that sold nothing (``is_closed``:
    its closed weekdays, where forecast and bounds are 0; ``closures``).
    MASE is the mean absolute error divided by the origin's seasonal (lag 7)
    in-sample scale, averaged over all backtest days; series whose scale is 0
    at an origin (no variation before it, or a week or less since the first
    sale: ``methods.history_scales``) get a NaN MASE and are left out of means.
    RMSSE (the M5 competition's accuracy measure, here with the weekly
    difference) is the root of the mean squared error divided by the origin's
    mean squared weekly difference (``rmsse_scale``; NaN without it). Absolute
    error is minimised by the median of the predictive distribution, squared
    error by its mean: for intermittent series MASE rewards forecasting zero,
    which is why M5 scored with RMSSE. ``mase_median`` is the MASE of the
    calibrated median (``median_forecast``; NaN without that column).
    """
    bt = backtest.copy()
    scale = bt["mase_scale"].where(bt["mase_scale"] > 0)
    bt["ase_model"] = (bt["actual"] - bt["point_forecast"]).abs() / scale
    bt["ase_naive"] = (bt["actual"] - bt["naive_forecast"]).abs() / scale
    # a frame without a median (the holdout's production forecast) has no median MASE,
    # rather than the point's under the median's name
    if "median_forecast" in bt.columns:
        bt["ase_median"] = (bt["actual"] - bt["median_forecast"]).abs() / scale
    else:
        bt["ase_median"] = np.nan
    squared = (bt["rmsse_scale"].where(bt["rmsse_scale"] > 0) if "rmsse_scale" in bt.columns
               else pd.Series(np.nan, index=bt.index))
    bt["sse_model"] = (bt["actual"] - bt["point_forecast"]) ** 2 / squared
    bt["sse_naive"] = (bt["actual"] - bt["naive_forecast"]) ** 2 / squared
    bt["sape_model"] = smape(bt["actual"], bt["point_forecast"])
    bt["sape_naive"] = smape(bt["actual"], bt["naive_forecast"])
    # the shop's closed days (forecast and bounds 0) say nothing of the intervals, unless
    # the shop sold after all: then they are misses
    closed = (bt["is_closed"].fillna(False).astype(bool) if "is_closed" in bt.columns
              else pd.Series(False, index=bt.index))
    is_open = counted_days(closed, bt["actual"])
    for level in ("80", "95"):
        inside = (bt["actual"] >= bt[f"lower_{level}"]) & (bt["actual"] <= bt[f"upper_{level}"])
        bt[f"in_{level}"] = inside.astype("float64").where(is_open)
    bt["is_open"] = is_open
    keys = ["series_level", "series_key", "measure"]
    grouped = bt.groupby(keys, sort=False)
    out = grouped.agg(
        mase_model=("ase_model", lambda s: s.mean() if s.notna().all() else np.nan),
        mase_naive=("ase_naive", lambda s: s.mean() if s.notna().all() else np.nan),
        mase_median=("ase_median", lambda s: s.mean() if s.notna().all() else np.nan),
        rmsse_model=("sse_model", lambda s: np.sqrt(s.mean()) if s.notna().all() else np.nan),
        rmsse_naive=("sse_naive", lambda s: np.sqrt(s.mean()) if s.notna().all() else np.nan),
        smape_model=("sape_model", "mean"),
        smape_naive=("sape_naive", "mean"),
        coverage_80=("in_80", "mean"),
        coverage_95=("in_95", "mean"),
        sum_forecast=("point_forecast", "sum"),
        sum_naive=("naive_forecast", "sum"),
        sum_actual=("actual", "sum"),
        n_obs=("actual", "size"),
        n_open=("is_open", "sum"),
        method=("method", "last"),
    ).reset_index()
    return out


#: (model_name of the served forecast or the baseline, metric, series_metrics column)
SERVED_SPECS = (
    ("demand_forecast", "mase", "mase_model"),
    ("demand_forecast", "smape", "smape_model"),
    ("demand_forecast", "coverage_80", "coverage_80"),
    ("demand_forecast", "coverage_95", "coverage_95"),
    ("seasonal_naive", "mase", "mase_naive"),
    ("demand_forecast_median", "mase", "mase_median"),
    ("seasonal_naive", "smape", "smape_naive"),
    ("demand_forecast", "rmsse", "rmsse_model"),
    ("seasonal_naive", "rmsse", "rmsse_naive"),
    ("demand_forecast", "bias", "sum_forecast"),
    ("seasonal_naive", "bias", "sum_naive"),
)
#: backtest candidates and the model_name their rows carry in ml_model_evaluation
CANDIDATE_NAMES = {
    "backbone": "sarima",
    "backbone_weekly": "sarima_weekly",
    "profile": "profile_poisson",
    "ets": "ets_damped",
    "combination": "combination",
    "autoarima": "statsforecast_autoarima",
    "autoets": "statsforecast_autoets",
    "mstl": "statsforecast_mstl",
}


def _summary_rows(task: str, slice_name: str, part: pd.DataFrame, specs, model_version: str):
    """Evaluation rows of one slice: means over series, coverage pooled over days."""
    rows = []
    for model_name, metric, column in specs:
        values = part[column].dropna()
        if values.empty:
            continue
        if metric == "bias":
            # the forecast's total over the actual total, less 1 (pooled over the series and
            # days of the slice): +0.26 is 26% too high; none where nothing sold
            actual = float(part["sum_actual"].sum())
            if actual <= 0:
                continue
            value = float(part[column].sum()) / actual - 1.0
        elif column.startswith("coverage"):
            # pooled over all open backtest days, not a mean of series shares
            value = float((part[column] * part["n_open"]).sum() / part["n_open"].sum())
        else:
            value = float(values.mean())
        rows.append({
            "model_name": model_name,
            "model_version": f"{__version__}+snaive" if model_name == "seasonal_naive"
            else model_version,
            "task": task, "metric": metric, "slice": slice_name, "value": value,
            "n_obs": int(part.loc[values.index,
                                  "n_open" if column.startswith("coverage") else "n_obs"].sum()),
        })
    return rows


def _slices(metrics: pd.DataFrame, per_series: bool):
    """(task, slice name, rows) for all, each level, each method and (optionally) each series."""
    for measure, by_measure in metrics.groupby("measure", sort=False):
        task = f"demand_{measure}"
        yield task, "all", by_measure
        for level, part in by_measure.groupby("series_level", sort=False):
            yield task, f"level={level}", part
        if not per_series:
            continue
        for method, part in by_measure.groupby("method", sort=False):
            yield task, f"method={method}", part
        for i in range(len(by_measure)):
            row = by_measure.iloc[[i]]
            yield task, f"{row['series_level'].iloc[0]}={row['series_key'].iloc[0]}", row


def _candidate_rows(candidates: pd.DataFrame, model_version: str) -> list[dict[str, object]]:
    """Rows of every backtest candidate but seasonal naive (the baseline rows cover it)."""
    rows: list[dict[str, object]] = []
    for candidate, part in candidates.groupby("candidate", sort=True):
        name = CANDIDATE_NAMES.get(str(candidate))
        if name is None:
            continue
        specs = [(name, metric, column) for _, metric, column in SERVED_SPECS[:4]]
        for task, slice_name, sliced in _slices(series_metrics(part), per_series=False):
            rows += _summary_rows(task, slice_name, sliced, specs, f"{model_version}:{candidate}")
    return rows


def evaluation_rows(
    backtest: pd.DataFrame,
    *,
    as_of_date: dt.date,
    evaluation_type: str = "backtest",
    model_version: str = MODEL_VERSION,
    candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Long evaluation rows (``shoplens.evaluation``) from a backtest frame.

    model_name ``demand_forecast`` (the served method per series) and
    ``seasonal_naive`` (baseline), and ``demand_forecast_median`` (MASE of the
    calibrated median) when ``backtest`` has a ``median_forecast`` column (the
    backtest's; the holdout frame has none, so no such row); task
    ``demand_units`` / ``demand_revenue``;
    metrics ``mase``, ``rmsse``, ``smape``, ``bias`` (both models: total forecast
    over total actual, less 1) and ``coverage_80``, ``coverage_95`` (the forecast). Slices: ``all``, ``level=<level>``,
    ``method=<method>`` (means over series) and ``<level>=<key>`` per series.
    With ``candidates`` (from ``backtest_candidates``): rows of every
    candidate on the same origins (``sarima``, ``statsforecast_*``; slices
    ``all`` and ``level=<level>``, their own uncalibrated intervals).
    """
    if backtest.empty:
        raise ValueError(
            "the backtest is empty: no series has enough history for one origin (a series"
            " needs at least 14 days before the last horizon; lower forecast_horizon_days"
            " or forecast_backtest_origins, or load more history)"
        )
    rows: list[dict[str, object]] = []
    for task, slice_name, part in _slices(series_metrics(backtest), per_series=True):
        rows += _summary_rows(task, slice_name, part, SERVED_SPECS, model_version)
    if candidates is not None and not candidates.empty:
        rows += _candidate_rows(candidates, model_version)
    start = pd.to_datetime(backtest["target_date"]).min().date()
    end = pd.to_datetime(backtest["target_date"]).max().date()
    return evaluation_frame(
        rows,
        as_of_date=as_of_date,
        holdout_start_date=start,
        holdout_end_date=end,
        evaluation_type=evaluation_type,
    )
