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


def forecast_status(forecasts: pd.DataFrame, evaluation: pd.DataFrame, as_of_date: dt.date) -> StepStatus:
    """ok (SARIMA on the shop total and a backtest), degraded (the total falls back
    to seasonal naive or Croston, or there is no backtest) or declined (no rows)."""
    if forecasts.empty:
        return step_status("forecast", as_of_date, served_model="none", rows_written=0,
                           decline_reason=NO_DEMAND)
    total = forecasts.loc[forecasts["series_level"] == "total"]
    methods = sorted(set(total["method"])) or sorted(set(forecasts["method"]))
    served = "total: " + ",".join(methods)
    problems = []
    if methods != ["sarima"]:
        note = ""
        if "fit_note" in total.columns and len(total):
            note = f" ({total['fit_note'].iloc[0]})"
        problems.append(
            f"the shop total is forecast with {', '.join(methods)} instead of SARIMA{note};"
            " SARIMA needs more history: load more, or use a later as_of_date"
        )
    kinds = set(evaluation["evaluation_type"]) if len(evaluation) else set()
    if "backtest" not in kinds:
        problems.append(NO_BACKTEST)
    counts = forecasts.drop_duplicates(["series_level", "series_key", "measure"])["method"].value_counts()
    notes = ["series per method: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    return step_status("forecast", as_of_date, served_model=served, rows_written=len(forecasts),
                       problems=problems, notes=notes)
