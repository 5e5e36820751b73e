"""The three CLV steps as the dbt Python models call them (DataFrames in and out).

``python_models/clv/ml_clv_*.py`` only read their refs and call these:

* :func:`build_parameters` -> ``ml_clv_parameters`` (fit every candidate at
  ``as_of_date``; with a holdout, choose the count model by holdout MAE),
* :func:`build_predictions` -> ``ml_clv_predictions`` (score every customer
  from the stored parameters, no refit),
* :func:`build_evaluation` -> ``ml_clv_evaluation`` (holdout or backtest),
* :func:`build_status` -> ``ml_clv_status`` (one row: ok, degraded or declined),
* :func:`build_diagnostic` -> ``ml_clv_period_transactions``,
  ``ml_clv_calibration_holdout``, ``ml_clv_probability_alive_matrix`` and
  ``ml_clv_cumulative_purchases`` (calibration views of the served model).

Data that cannot support any CLV model (:class:`shoplens.clv.ClvDeclined`)
give empty tables, and ``ml_clv_status`` says why and what would fix it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pandas as pd

from shoplens.clv.config import (
    COUNT_MODELS,
    DAYS_PER_MONTH,
    DAYS_PER_UNIT,
    PARAMETER_COLUMNS,
    PREDICTION_COLUMNS,
    ClvConfig,
    ClvConfigError,
    ClvDataError,
    ClvDeclined,
)
from shoplens.clv.covariate_pipeline import (
    add_covariate_models,
    evaluation_with_covariates,
    predictions_with_covariates,
)
from shoplens.clv.covariate_serving import covariate_budget_problem, served_covariate_model
from shoplens.clv.covariates import covariate_columns, covariate_names_from_dbt
from shoplens.clv.diagnostics import build_diagnostic as _build_diagnostic
from shoplens.clv.diagnostics import holdout_note
from shoplens.clv.evaluation import (
    NAIVE_MODEL,
    count_model_errors,
    evaluate_clv,
    select_count_model,
    window_actuals,
)
from shoplens.clv.fit import fit_clv
from shoplens.clv.interval_calibration import (
    IntervalCalibration,
    decile_cut_points,
    inner_calibration,
)
from shoplens.clv.parameters import fit_from_parameters, parameters_frame
from shoplens.clv.score import point_clv, score_customers
from shoplens.clv.spend import fit_spend
from shoplens.clv.summary import validate_summary
from shoplens.evaluation import EVALUATION_COLUMNS
from shoplens.inputs import purchases_only, read_as_of
from shoplens.memory import returns_freed_memory
from shoplens.settings import read_var
from shoplens.status import empty_like, step_status

SETTINGS = (
    "btyd_time_unit",
    "penalizer",
    "clv_horizon_months",
    "annual_discount_rate",
    "clv_candidates",
    "clv_min_customers",
    "clv_min_repeat_customers",
    "clv_interval_draws",
    "clv_backtest_days",
    "clv_pareto_max_patterns",
    "clv_fit_engine",
    "seed",
    "clv_covariates",
    "clv_covariate_time_budget",
)


def config_from_dbt(get: Callable[[str], object]) -> tuple[ClvConfig, int]:
    """Build the config from dbt vars (rendered as strings); returns (config, backtest_days)."""

    def value(key: str, default: object, cast: Callable[[object], object]) -> object:
        return read_var(get, key, default, cast, error=ClvConfigError)

    candidates = value("clv_candidates", ",".join(COUNT_MODELS), str)
    config = ClvConfig(
        time_unit=str(value("btyd_time_unit", "days", str)).strip(),
        penalizer=float(value("penalizer", 0.0, float)),
        horizon_months=int(float(value("clv_horizon_months", 12, float))),
        annual_discount_rate=float(value("annual_discount_rate", 0.10, float)),
        candidates=tuple(c.strip() for c in str(candidates).strip("[]").replace("'", "").split(",") if c.strip()),
        min_customers=int(float(value("clv_min_customers", 100, float))),
        min_repeat_customers=int(float(value("clv_min_repeat_customers", 20, float))),
        n_draws=int(float(value("clv_interval_draws", 100, float))),
        seed=int(float(value("seed", 42, float))),
        pareto_max_patterns=int(float(value("clv_pareto_max_patterns", 10_000, float))),
        engine=str(value("clv_fit_engine", "fast", str)).strip(),
        covariate_time_budget=float(value("clv_covariate_time_budget", 60, float)),
    )
    return config, int(float(value("clv_backtest_days", 180, float)))


def _select_name(name: str) -> str:
    """``name`` for a select list: as it is when a plain identifier (Spark reads a double-quoted
    name as text), else double-quoted (DuckDB)."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def covariate_args(customers: Any, get: Callable[[str], object]) -> dict[str, object]:
    """Keyword arguments of the build_* functions for covariates (dbt var clv_covariates).

    ``customers``: ``dim_customers`` as a DataFrame, or as a relation (dbt-duckdb's
    ``dbt.ref``, or the Spark runner's stand-in), of which only the columns the covariates read
    are fetched (``covariate_columns``; at 1M customers 3 of 9 columns).
    With covariates off (``clv_covariates: ''``) no customers are read.
    """
    names = covariate_names_from_dbt(get)
    if not names:  # covariates off: the build_* functions need no customers
        return {"customers": None, "covariates": names}
    if not isinstance(customers, pd.DataFrame):
        columns = covariate_columns(names, list(customers.columns))
        # without customer_id the whole mart is read, for customer_covariates to name what is missing
        customers = (customers.project(", ".join(_select_name(c) for c in columns)).df()
                     if "customer_id" in columns else customers.df())
    return {"customers": customers, "covariates": names}


def _as_of(as_of: pd.DataFrame) -> tuple[dt.date, dt.date, bool]:
    row = read_as_of(as_of, error=ClvDataError)
    return row.as_of_date, row.data_end_date, row.has_holdout


#: The columns of fct_orders / holdout_orders the CLV steps read (adapters project them).
ORDER_COLUMNS = "customer_id, order_date, order_total, is_purchase"


def _purchases(orders: pd.DataFrame) -> pd.DataFrame:
    if "is_purchase" in orders.columns:
        orders = purchases_only(orders)
    return orders.loc[:, ["customer_id", "order_date", "order_total"]]

def build_parameters(
    summary: pd.DataFrame,
    as_of: pd.DataFrame,
    holdout_orders: pd.DataFrame,
    config: ClvConfig,
    fitted_at: dt.datetime | None = None,
    customers: pd.DataFrame | None = None,
    covariates: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Fit all candidates at as_of_date and record which count model is used and why.

    With ``customers`` (dim_customers) and ``covariates`` named, the count
    models are also fitted with covariates (shoplens.clv.covariate_pipeline).
    """
    as_of_date, data_end, has_holdout = _as_of(as_of)
    try:
        fit = fit_clv(summary, config)
    except ClvDeclined:
        return empty_like(PARAMETER_COLUMNS)
    errors = window = None
    holdout = _purchases(holdout_orders)
    if has_holdout and len(holdout) and data_end > as_of_date:
        actual = window_actuals(holdout, as_of_date + dt.timedelta(days=1), data_end)
        window = (actual, (data_end - as_of_date).days)
        errors = count_model_errors(fit, summary, actual, window[1], config)
    select_count_model(fit, errors)
    frame = parameters_frame(fit, as_of_date=as_of_date, fitted_at=fitted_at)
    if customers is None or not covariates:
        return frame
    return add_covariate_models(frame, fit, summary, customers, covariates, config, as_of_date, window, errors)


@returns_freed_memory
def build_predictions(
    summary: pd.DataFrame, parameters: pd.DataFrame, as_of: pd.DataFrame, config: ClvConfig,
    customers: pd.DataFrame | None = None, covariates: tuple[str, ...] = (),
    calibration: IntervalCalibration | None = None,
) -> pd.DataFrame:
    """Score every customer of the summary with the parameters of ``ml_clv_parameters``

    (each customer with its covariate group's parameters when a model with
    covariates is served). With ``calibration`` (:func:`build_interval_calibration`,
    computed once for all customers) clv_p10/clv_p90 are the recalibrated
    interval; without it, the model's own 10th and 90th percentiles."""
    as_of_date, _, _ = _as_of(as_of)
    if parameters.empty:  # the step declined: no stale scores
        return empty_like(PREDICTION_COLUMNS)
    stored = set(parameters["time_unit"])
    if stored != {config.time_unit}:
        raise ClvDataError(
            f"ml_clv_parameters is in {sorted(stored)}, the run in {config.time_unit!r}."
            " Fix: rebuild ml_clv_parameters with the same btyd_time_unit."
        )
    fit = fit_from_parameters(parameters)
    scored = score_customers(fit, summary, config, as_of_date=as_of_date, calibration=calibration)
    return predictions_with_covariates(scored, fit, parameters, summary, customers, covariates, config, as_of_date,
                                       calibration)


def build_interval_calibration(
    summary: pd.DataFrame, parameters: pd.DataFrame, as_of: pd.DataFrame, orders: pd.DataFrame, config: ClvConfig,
) -> IntervalCalibration:
    """Levels of the served CLV interval, learnt on the inner split of the orders up to as_of_date.

    The window is the CLV horizon (at most half the history); the deciles
    are those of the served model's point CLV over all of ``summary``, kept
    as cut points so that any subset of customers (a Spark partition) gets
    the levels it would get in the whole. Nominal levels when the step
    declined (``parameters`` empty) or the split is impossible.
    """
    as_of_date, _, _ = _as_of(as_of)
    if parameters.empty:
        return IntervalCalibration(reason="not calibrated: the CLV step declined")
    fit = fit_from_parameters(parameters)
    horizon_days = int(round(config.horizon_months * DAYS_PER_MONTH))
    calibration = inner_calibration(_purchases(orders), as_of_date, horizon_days, fit.selected, config)
    frame = validate_summary(summary, config)
    clv_point = point_clv(fit, frame, config)
    calibration.cut_points = {"revenue": decile_cut_points(clv_point)}
    return calibration


@returns_freed_memory
def build_evaluation(
    summary: pd.DataFrame,
    parameters: pd.DataFrame,
    as_of: pd.DataFrame,
    orders: pd.DataFrame,
    holdout_orders: pd.DataFrame,
    config: ClvConfig,
    backtest_days: int = 180,
    customers: pd.DataFrame | None = None,
    covariates: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Evaluation rows for every candidate (holdout if data follow as_of_date, else backtest)."""
    as_of_date, data_end, has_holdout = _as_of(as_of)
    if parameters.empty:
        return empty_like(EVALUATION_COLUMNS)
    fit = fit_from_parameters(parameters)
    holdout = _purchases(holdout_orders) if has_holdout else _purchases(holdout_orders).iloc[0:0]
    purchases = _purchases(orders)
    purchases = purchases.loc[pd.to_datetime(purchases["order_date"]) <= pd.Timestamp(as_of_date)]
    try:
        evaluation = evaluate_clv(
            fit,
            summary,
            purchases,
            holdout,
            as_of_date=as_of_date,
            data_end_date=data_end,
            config=config,
            backtest_days=backtest_days,
        )
    except ClvDeclined:  # the backtest refit declined; build_status says why
        return empty_like(EVALUATION_COLUMNS)
    covs = covariates if customers is not None else ()
    return evaluation_with_covariates(evaluation, parameters, summary, customers, covs, config, holdout)


def decline_reason(summary: pd.DataFrame, config: ClvConfig) -> str:
    """Why CLV declines on ``summary`` ('' if it does not): the checks of ``fit_clv``.

    Runs the data checks and the Gamma-Gamma fit (cheap: unique spend rows),
    the two sources of :class:`ClvDeclined`.
    """
    try:
        fit_spend(validate_summary(summary, config), config)
    except ClvDeclined as exc:
        return str(exc)
    return ""


def build_status(
    summary: pd.DataFrame,
    parameters: pd.DataFrame,
    predictions: pd.DataFrame,
    evaluation: pd.DataFrame,
    as_of: pd.DataFrame,
    config: ClvConfig,
    backtest_days: int = 180,
) -> pd.DataFrame:
    """``ml_clv_status``: ok, degraded (boundary or fallback model served) or declined."""
    as_of_date, _, _ = _as_of(as_of)
    if parameters.empty:
        return step_status("clv", as_of_date, served_model="none", rows_written=0,
                           decline_reason=decline_reason(summary, config)).frame()
    fit = fit_from_parameters(parameters)
    count, spend = fit.count_model, fit.spend_model
    problems = [f"{m.name}: {m.fallback_reason}" for m in (count, spend) if m.is_fallback]
    if "fallback_reason" in predictions.columns:  # e.g. a CLV interval too uncertain to draw
        problems += [r for r in predictions["fallback_reason"].unique() if "clv interval:" in str(r)][:1]
    problems.append(covariate_budget_problem(parameters))
    if evaluation.empty:
        problems.append(
            f"no evaluation rows: the backtest refit at as_of_date - clv_backtest_days ({backtest_days}"
            " days) declined; keep orders after as_of_date for a holdout or set a smaller clv_backtest_days"
        )
    served = served_covariate_model(parameters) or count.name
    return step_status("clv", as_of_date, served_model=f"{served}+{spend.name}",
                       rows_written=len(predictions), problems=problems,
                       notes=[_naive_rate_note(evaluation, count.name), horizon_note(summary, config),
                              holdout_note(*_as_of(as_of))]).frame()


#: A horizon more than this many times the history the models saw is named in the status.
HORIZON_HISTORY_RATIO = 2.0


def horizon_note(summary: pd.DataFrame, config: ClvConfig) -> str:
    """'' or a note that ``clv_horizon_months`` reaches far past the purchase history the models
    were fitted on (a 12-month value from a 4-month export: a Ta Feng-shaped shop's 12-month
    CLV summed to 3.7 times what it sold in its 3 months, its status silent about it)."""
    if summary.empty or "T" not in summary.columns:
        return ""
    history_days = float(pd.to_numeric(summary["T"], errors="coerce").max()) * DAYS_PER_UNIT[config.time_unit]
    horizon_days = config.horizon_months * DAYS_PER_MONTH
    if not history_days > 0 or horizon_days <= HORIZON_HISTORY_RATIO * history_days:
        return ""
    return (
        f"the {config.horizon_months}-month CLV horizon is {horizon_days / history_days:.1f} times the"
        f" {history_days:.0f} days of purchase history the models were fitted on: the value extrapolates"
        " the customers' habits that far (a shorter var clv_horizon_months stays closer to what was seen)"
    )


def _naive_rate_note(evaluation: pd.DataFrame, served: str) -> str:
    """'' or a note that the naive-rate baseline beats the served model on holdout MAE.

    The served model is judged with its predictive median when that is on
    the table (``mae_median``: the point forecast absolute error rewards,
    Gneiting 2011), else with its mean (``mae``).
    """
    if evaluation.empty or "metric" not in evaluation.columns:
        return ""
    rows = evaluation.loc[(evaluation["task"] == "repeat_purchases") & evaluation["metric"].isin(["mae", "mae_median"])
                          & (evaluation["slice"] == "all")]
    # the median's MAE where there is one (set by the loss, not picked on the holdout)
    rows = rows.sort_values("metric", key=lambda m: m.eq("mae_median"))
    mae = {name: float(value) for name, value in zip(rows["model_name"], rows["value"], strict=True)}
    if NAIVE_MODEL in mae and served in mae and mae[NAIVE_MODEL] < mae[served]:
        kind = str(evaluation["evaluation_type"].iloc[0])
        return (
            f"the naive-rate baseline beats {served} on {kind} MAE of repeat purchases"
            f" ({mae[NAIVE_MODEL]:.4f} vs {mae[served]:.4f}; see ml_clv_evaluation)"
        )
    return ""


def build_diagnostic(
    kind: str,
    summary: pd.DataFrame,
    parameters: pd.DataFrame,
    as_of: pd.DataFrame,
    holdout_orders: pd.DataFrame,
    config: ClvConfig,
) -> pd.DataFrame:
    """A calibration diagnostic of the served count model (``kind``: see shoplens.clv.diagnostics)."""
    return _build_diagnostic(kind, summary, parameters, _as_of(as_of), _purchases(holdout_orders), config)
