"""The propensity family's only entry point from dbt (and later SQLMesh, Spark).

Each ``build_*`` takes the refs as DataFrames and the dbt vars as a mapping
and returns the table the dbt model writes: ``ml_purchase_propensity``,
``ml_propensity_evaluation`` and ``ml_propensity_status``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pandas as pd

from shoplens.evaluation import EVALUATION_COLUMNS
from shoplens.propensity.config import InsufficientHistoryError, config_from_dbt
from shoplens.propensity.evaluation import evaluate_scores, evaluation_plan, purchase_outcomes
from shoplens.propensity.score import (
    SCORE_COLUMNS,
    decline_reason,
    propensity_status,
    run_propensity,
)
from shoplens.status import empty_like


def _flag(value: object) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes"}


def build_scores(
    as_of: pd.DataFrame,
    orders: pd.DataFrame,
    sessions: pd.DataFrame,
    customers: pd.DataFrame,
    settings: Mapping[str, object],
) -> pd.DataFrame:
    """``ml_purchase_propensity``: empty when the data are too short to train
    (ml_propensity_status says why)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        scores, _ = run_propensity(
            orders,
            sessions,
            customers,
            as_of_date=as_of["as_of_date"].iloc[0],
            has_holdout=bool(as_of["has_holdout"].iloc[0]),
            cfg=config_from_dbt(settings),
            model_dir=str(settings.get("model_dir")),
            retrain=_flag(settings.get("retrain")),
        )
    except InsufficientHistoryError:
        return empty_like(SCORE_COLUMNS, {"customer_id": "object"})
    scores["customer_id"] = scores["customer_id"].astype(str)
    return scores


def build_evaluation(
    as_of: pd.DataFrame,
    scores: pd.DataFrame,
    holdout_orders: pd.DataFrame,
    fct_orders: pd.DataFrame,
    settings: Mapping[str, object],
) -> pd.DataFrame:
    """``ml_propensity_evaluation``: with a holdout, the scores at ``as_of_date``
    against ``holdout_orders`` in the window after it; without one, the backtest
    scores against ``fct_orders`` between the backtest cut-off and ``as_of_date``."""
    if scores.empty:  # the step declined (ml_propensity_status says why)
        return pd.DataFrame(columns=EVALUATION_COLUMNS)
    as_of_date = as_of["as_of_date"].iloc[0]
    has_holdout = bool(as_of["has_holdout"].iloc[0])
    window = int(scores["window_days"].iloc[0]) if len(scores) else int(settings["window_days"])  # type: ignore[arg-type]
    plan = evaluation_plan(as_of_date, as_of["data_end_date"].iloc[0], has_holdout, window)
    orders = holdout_orders if has_holdout else fct_orders
    outcomes = purchase_outcomes(orders, plan["start"], plan["end"])
    outcomes["customer_id"] = outcomes["customer_id"].astype(str)
    scores = scores.copy()
    scores["score_date"] = pd.to_datetime(scores["score_date"]).dt.date
    scored = scores.loc[scores["score_date"] == plan["score_date"]]
    frame = evaluate_scores(
        scored,
        outcomes,
        as_of_date=plan["score_date"] if not has_holdout else as_of_date,
        window_start=plan["start"],
        window_end=plan["end"],
        evaluation_type=plan["evaluation_type"],
    )
    return frame[EVALUATION_COLUMNS]


def build_status(
    as_of: pd.DataFrame,
    scores: pd.DataFrame,
    orders: pd.DataFrame,
    sessions: pd.DataFrame,
    customers: pd.DataFrame,
    settings: Mapping[str, object],
) -> pd.DataFrame:
    """``ml_propensity_status``: ok when the GRU was trained and scored (dropped
    baselines are noted), declined with the fix when the history is too short."""
    as_of_date = as_of["as_of_date"].iloc[0]
    reason = ""
    if scores.empty:  # rebuild the cheap checks only when the step declined
        has_holdout = bool(as_of["has_holdout"].iloc[0])
        cfg = config_from_dbt(settings)
        reason = decline_reason(orders, sessions, customers, as_of_date, has_holdout, cfg)
    return propensity_status(scores, as_of_date, reason).frame()
