"""The forecast step's status row (ml_forecast_status), from what it wrote.

Kept apart from shoplens.forecast (the numerics): this module only reads the
step's outputs and applies the shared rule of shoplens.status.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from shoplens.status import StepDeclined, StepStatus, step_status

NO_DEMAND = (
    "demand_daily has no rows on or before as_of_date: the export has no valid order lines"
    " (order_items) to count units from. Fix: add an order_items file to raw_data_dir"
)
NO_BACKTEST = (
    "no backtest: no series has 14 days of history before the last forecast_horizon_days"
    " window. Fix: lower the vars forecast_horizon_days or forecast_backtest_origins,"
    " or load more history"
)


class ForecastDeclined(StepDeclined):
    """demand_daily holds nothing to forecast (no order lines up to as_of_date)."""


def check_demand(demand: pd.DataFrame, as_of_date: dt.date) -> None:
    """Raise :class:`ForecastDeclined` when no demand row lies on or before ``as_of_date``."""
    if demand.empty or (pd.to_datetime(demand["demand_date"]) <= pd.Timestamp(as_of_date)).sum() == 0:
        raise ForecastDeclined(NO_DEMAND)


def _notes(forecasts: pd.DataFrame) -> list[str]:
    """Series per served method, on the weekly model, and with calibrated intervals."""
    series = forecasts.drop_duplicates(["series_level", "series_key", "measure"])
    counts = series["method"].value_counts()
    notes = ["series per method: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    if "has_yearly_terms" in series.columns and "fit_note" in series.columns:
        # SARIMA served alone or as a member of the combination
        orders = series["model_order"].astype(str) if "model_order" in series.columns else (
            series["method"].astype(str).str.upper())
        sarima = series[orders.str.contains("SARIMA", regex=False)]
        yearly = int(sarima["has_yearly_terms"].astype(bool).sum())
        short = int(sarima["fit_note"].astype(str).str.contains("weekly model:").sum())
        notes.append(f"series with a SARIMA: {len(sarima)}, with yearly terms: {yearly}; on the"
                     f" weekly model because the history is too short for yearly terms: {short}")
    if "interval_method" in series.columns:
        calibrated = int(series["interval_method"].astype(str).str.startswith("conformal").sum())
        notes.append(f"series with conformal intervals: {calibrated} of {len(series)}")
    return notes


#: product forecasts summing above this many times the shop total's are incoherent: each
#: series is fitted on its own, so where the products are (nearly) the whole shop their sum
#: falls on either side of the total by chance (an 8-product shop: up to 1.02 times)
INCOHERENT_SUM = 1.2


def incoherent_products(forecasts: pd.DataFrame) -> list[str]:
    """Per measure, a problem when the product series' forecasts over the horizon sum to
    more than ``INCOHERENT_SUM`` times the shop total's, or one product's alone to more
    than the total's: the products are a part of the shop, so their sum well above the
    whole says some product is forecast beyond what it sells (a Superstore-shaped probe:
    two products sold once each were forecast at 1.8 times the whole shop, and the step
    said ok)."""
    problems = []
    if not {"measure", "point_forecast"} <= set(forecasts.columns):
        return problems
    for measure, part in forecasts.groupby("measure", sort=True):
        total = float(part.loc[part["series_level"] == "total", "point_forecast"].sum())
        products = part.loc[part["series_level"] == "product"]
        if products.empty or not (part["series_level"] == "total").any():
            continue
        by_product = products.groupby("series_key")["point_forecast"].sum().sort_values()
        if by_product.sum() <= INCOHERENT_SUM * total and by_product.iloc[-1] <= total:
            continue
        top = ", ".join(f"{key} {value:,.1f}" for key, value in by_product.iloc[::-1][:3].items())
        problems.append(
            f"the product forecasts of {measure} sum to {by_product.sum():,.1f} over the horizon,"
            f" {by_product.sum() / total:.2f} times the shop total's {total:,.1f}"
            if total > 0 else f"the product forecasts of {measure} sum to"
            f" {by_product.sum():,.1f} over the horizon, the shop total's to 0")
        problems[-1] += (f" (largest: {top}); a product is forecast beyond its history:"
                         " check its fit_note in ml_demand_forecast")
    return problems


def forecast_status(forecasts: pd.DataFrame, evaluation: pd.DataFrame, as_of_date: dt.date) -> StepStatus:
    """ok (the shop total modelled, a backtest), degraded (the total falls back to
    seasonal naive or Croston for want of history, there is no backtest, or the
    product forecasts sum above the shop total's: ``incoherent_products``) or
    declined (no rows). A total served by the method that won its backtest is ok."""
    if forecasts.empty:
        return step_status("forecast", as_of_date, served_model="none", rows_written=0,
                           decline_reason=NO_DEMAND)
    total = forecasts.loc[forecasts["series_level"] == "total"]
    methods = sorted(set(total["method"])) or sorted(set(forecasts["method"]))
    served = "total: " + ",".join(methods)
    problems = []
    notes_of_total = total["fit_note"].astype(str) if "fit_note" in total.columns else pd.Series()
    fell_back = notes_of_total.str.contains("short history|fallback").any() or not len(total)
    if fell_back and methods != ["sarima"]:
        note = f" ({notes_of_total.iloc[0]})" if len(notes_of_total) else ""
        problems.append(
            f"the shop total is forecast with {', '.join(methods)} instead of SARIMA{note};"
            " SARIMA needs more history: load more, or use a later as_of_date"
        )
    problems += incoherent_products(forecasts)
    kinds = set(evaluation["evaluation_type"]) if len(evaluation) else set()
    if "backtest" not in kinds:
        problems.append(NO_BACKTEST)
    return step_status("forecast", as_of_date, served_model=served, rows_written=len(forecasts),
                       problems=problems, notes=_notes(forecasts))
