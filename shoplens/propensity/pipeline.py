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
from shoplens.memory import returns_freed_memory
from shoplens.propensity.config import InsufficientHistoryError, config_from_dbt
from shoplens.propensity.evaluation import (
    evaluate_scores,
    evaluation_plan,
    purchase_outcomes,
    selection_rows,
)
from shoplens.propensity.parts import ScorePlan, plan_scores
from shoplens.propensity.score import (
    SCORE_COLUMNS,
    decline_reason,
    fallback_reason,
    propensity_status,
    run_propensity,
    scored_selection,
)
from shoplens.propensity.served import read_metadata
from shoplens.status import empty_like

#: Columns of ``ml_feature_importance``.
IMPORTANCE_COLUMNS: list[str] = ["model_name", "model_version", "feature", "importance", "method", "rank"]


def _flag(value: object) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes"}


def _run_args(as_of: pd.DataFrame, settings: Mapping[str, object]) -> dict:
    """run_propensity's arguments from the as_of row and the dbt vars."""
    return {"as_of_date": as_of["as_of_date"].iloc[0], "has_holdout": bool(as_of["has_holdout"].iloc[0]),
            "cfg": config_from_dbt(settings), "model_dir": str(settings.get("model_dir")),
            "retrain": _flag(settings.get("retrain"))}


def empty_scores() -> pd.DataFrame:
    """``ml_purchase_propensity`` when the step declines."""
    return empty_like(SCORE_COLUMNS, {"customer_id": "object"})


@returns_freed_memory
def build_scores(
    as_of: pd.DataFrame,
    orders: pd.DataFrame,
    sessions: pd.DataFrame,
    customers: pd.DataFrame,
    settings: Mapping[str, object],
) -> pd.DataFrame:
    """``ml_purchase_propensity``: empty when the data are too short to train
    (ml_propensity_status says why). ``orders``, ``sessions`` and ``customers`` may
    also be readers (functions of no arguments returning the frame): each is read
    when the history is built and freed after it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        scores, _ = run_propensity(orders, sessions, customers, **_run_args(as_of, settings))
    except InsufficientHistoryError:
        return empty_scores()
    scores["customer_id"] = scores["customer_id"].astype(str)
    return scores


def plan_scores_from(as_of: pd.DataFrame, orders: pd.DataFrame, sessions: pd.DataFrame,
                     customers: pd.DataFrame, settings: Mapping[str, object]) -> ScorePlan | None:
    """The global fits of :func:`build_scores` (same arguments) for scoring the customers in
    parts (:mod:`shoplens.propensity.parts`); None when the data are too short to train."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return plan_scores(orders, sessions, customers, **_run_args(as_of, settings))
    except InsufficientHistoryError:
        return None


def _saved_metadata(scores: pd.DataFrame, settings: Mapping[str, object]) -> dict:
    """The metadata saved with the model that wrote ``scores`` ({} without a model_dir)."""
    model_dir = settings.get("model_dir")
    if scores.empty or model_dir in (None, "", "None"):
        return {}
    return read_metadata(str(model_dir), str(scores["model_version"].iloc[0]))


#: The columns of ``ml_purchase_propensity`` that :func:`build_evaluation` reads (those the table has).
EVALUATED_SCORE_COLUMNS: list[str] = [
    "customer_id", "score_date", "window_days", "served_model", "model_version", "btyd_baseline_model",
    "has_purchased", "purchase_probability", "expected_purchases", "p_rnn_gru", "expected_purchases_rnn_gru",
    "p_bgnbd", "expected_purchases_bgnbd", "p_rfm_heuristic", "p_logreg", "p_naive_rate",
    "expected_purchases_naive_rate",
]


def scores_to_evaluate(as_of: pd.DataFrame, scores) -> pd.DataFrame:
    """What :func:`build_evaluation` reads of ``scores`` (a DataFrame, or a DuckDB relation
    read now): the rows of the score date it evaluates and :data:`EVALUATED_SCORE_COLUMNS`.

    At 1M customers the whole table is two score dates of 1M rows with three reason
    strings each; reading it all held 3.5 GiB for a step that needs one date's
    probabilities. The evaluated date is the earliest one (the backtest cut-off, or
    ``as_of_date`` with a holdout), so the selection rows' fallback date is unchanged."""
    import duckdb

    if isinstance(scores, pd.DataFrame):
        return scores
    if not isinstance(scores, duckdb.DuckDBPyRelation):  # e.g. the Spark runner's ref: read as it is
        return scores.df()
    first = scores.project("window_days").limit(1).fetchall()
    if not first:  # the step declined: an empty table evaluates to no rows
        return scores.limit(0).df()
    plan = evaluation_plan(as_of["as_of_date"].iloc[0], as_of["data_end_date"].iloc[0],
                           bool(as_of["has_holdout"].iloc[0]), int(first[0][0]))
    columns = ", ".join(c for c in EVALUATED_SCORE_COLUMNS if c in scores.columns)
    return scores.filter(f"score_date = DATE '{plan['score_date']:%Y-%m-%d}'").project(columns).df()


#: The columns of ``ml_purchase_propensity`` that :func:`build_status` reads.
STATUS_SCORE_COLUMNS: list[str] = ["is_current", "served_model", "baseline_notes", "model_version"]


def scores_for_status(scores) -> pd.DataFrame:
    """What :func:`build_status` reads of ``scores`` (a DataFrame, or a DuckDB relation read
    now): :data:`STATUS_SCORE_COLUMNS`, the text ones dictionary-encoded (at 1M customers the
    whole table is 2M rows with three reason strings each, 3.4 GiB as a DataFrame)."""
    if isinstance(scores, pd.DataFrame):
        return scores
    from shoplens.inputs import read_with_categorical_ids

    return read_with_categorical_ids(scores.project(", ".join(STATUS_SCORE_COLUMNS)),
                                     {"served_model", "baseline_notes", "model_version"})


@returns_freed_memory
def build_evaluation(
    as_of: pd.DataFrame,
    scores: pd.DataFrame,
    holdout_orders: pd.DataFrame,
    fct_orders: pd.DataFrame,
    settings: Mapping[str, object],
    unseen_customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``ml_propensity_evaluation``: with a holdout, the scores at ``as_of_date``
    against ``holdout_orders`` in the window after it; without one, the backtest
    scores against ``fct_orders`` between the backtest cut-off and ``as_of_date``.
    Precision / recall / F1 use each model's threshold chosen on the validation
    cut-off; the selection's validation evidence is added (task model_selection).

    ``unseen_customers`` (column customer_id; the dbt model int_customers_unseen_on_as_of):
    the customers of the customers file with no sign-up date and no order or session
    up to ``as_of_date``. Scored at ``as_of_date`` as new customers, they are left out of
    its holdout evaluation: nothing says they existed on that date (a customers file
    exported after it holds the customers who first bought in the holdout, and they
    were the holdout's buyers), so the outcome would measure the export's date."""
    if scores.empty:  # the step declined (ml_propensity_status says why)
        return pd.DataFrame(columns=EVALUATION_COLUMNS)
    as_of_date = as_of["as_of_date"].iloc[0]
    has_holdout = bool(as_of["has_holdout"].iloc[0])
    window = int(scores["window_days"].iloc[0])
    plan = evaluation_plan(as_of_date, as_of["data_end_date"].iloc[0], has_holdout, window)
    outcomes = purchase_outcomes(holdout_orders if has_holdout else fct_orders, plan["start"], plan["end"])
    outcomes["customer_id"] = outcomes["customer_id"].astype(str)
    scores = scores.copy()
    scores["score_date"] = pd.to_datetime(scores["score_date"]).dt.date
    # each model's deciles break ties by row order: rank in customer order (as score_snapshot
    # writes the rows), whatever order the engine returns the table in
    scores = scores.sort_values(["score_date", "customer_id"], kind="stable", ignore_index=True)
    if has_holdout and unseen_customers is not None and len(unseen_customers):
        unseen = scores["customer_id"].astype(str).isin(set(unseen_customers["customer_id"].astype(str)))
        scores = scores.loc[~(unseen.to_numpy() & ~scores["has_purchased"].to_numpy(bool))]
    meta = _saved_metadata(scores, settings)
    selection = meta.get("selection", {})
    thresholds = {m: v["f1_threshold"] for m, v in selection.get("validation", {}).items()}
    if int(meta.get("label_window_days", window)) != window:
        thresholds = {}  # chosen on the label window's probabilities: another scale than these scores
    frame = evaluate_scores(
        scores.loc[scores["score_date"] == plan["score_date"]], outcomes,
        as_of_date=plan["score_date"] if not has_holdout else as_of_date,
        window_start=plan["start"], window_end=plan["end"], evaluation_type=plan["evaluation_type"],
        thresholds=thresholds,
    )
    return pd.concat([frame, _selection_frame(selection, scores)], ignore_index=True)[EVALUATION_COLUMNS]


def _selection_frame(selection: dict, scores: pd.DataFrame) -> pd.DataFrame:
    """The model_selection rows, dated at the validation cut-off (evaluation_type backtest)."""
    from shoplens.evaluation import evaluation_frame

    version = str(scores["model_version"].iloc[0])
    selection = scored_selection(scores, selection)  # the model that scored is the selected one
    rows = selection_rows(selection, version) if selection else []
    if not rows:  # no validation cut-off: the served baseline, selected without comparison
        served = str(scores["served_model"].iloc[0])
        rows = [dict(model_name=served, model_version=version, task="model_selection", metric="is_selected",
                     slice="all", value=1.0, n_obs=0)]
    cut = pd.Timestamp(selection.get("validation_cutoff") or scores["score_date"].min()).date()
    end = pd.Timestamp(selection.get("validation_end") or cut).date()
    return evaluation_frame(rows, as_of_date=cut, holdout_start_date=cut + pd.Timedelta(days=1),
                            holdout_end_date=end, evaluation_type="backtest")


def scores_for_importance(scores) -> pd.DataFrame:
    """What :func:`build_feature_importance` reads of ``scores``: the saved model's version,
    from one row of a DuckDB relation (a DataFrame, or another engine's ref, is read as it is)."""
    import duckdb

    if isinstance(scores, pd.DataFrame):
        return scores
    if isinstance(scores, duckdb.DuckDBPyRelation):
        return scores.project("model_version").limit(1).df()
    return scores.df()


def build_feature_importance(scores: pd.DataFrame, settings: Mapping[str, object]) -> pd.DataFrame:
    """``ml_feature_importance``: permutation importance on the validation cut-off, ranked per model."""
    importance = _saved_metadata(scores, settings).get("selection", {}).get("feature_importance", [])
    if not importance:
        return empty_like(IMPORTANCE_COLUMNS, {"importance": "float64", "rank": "int64"})
    frame = pd.DataFrame(importance)
    frame["model_version"] = str(scores["model_version"].iloc[0])
    frame = frame.sort_values(["model_name", "importance", "feature"], ascending=[True, False, True])
    frame["rank"] = frame.groupby("model_name").cumcount().astype("int64") + 1
    return frame[IMPORTANCE_COLUMNS].reset_index(drop=True)


def _frame(table) -> pd.DataFrame:
    """A DataFrame, or a relation (anything with ``.df()``, e.g. DuckDB's) read now."""
    return table if isinstance(table, pd.DataFrame) else table.df()


def build_status(
    as_of: pd.DataFrame,
    scores: pd.DataFrame,
    orders,
    sessions,
    customers,
    settings: Mapping[str, object],
) -> pd.DataFrame:
    """``ml_propensity_status``: ok when the chosen model was trained and scored (the
    choice, its reason, dropped baselines and a time-budget stop of the first pass or of the
    full GRU fit are noted), degraded when the validation's choice is not served
    (``fallback_reason``), declined with the fix when the history is too short.

    ``orders``, ``sessions`` and ``customers`` are DataFrames or relations with
    ``.df()``: they are read only when the step declined (at 1M customers the
    sessions alone are ~10M rows the status would otherwise load for nothing)."""
    as_of_date = as_of["as_of_date"].iloc[0]
    meta = _saved_metadata(scores, settings)
    selection = meta.get("selection", {})
    reason = ""
    if scores.empty:  # rebuild the cheap checks only when the step declined
        has_holdout = bool(as_of["has_holdout"].iloc[0])
        cfg = config_from_dbt(settings)
        reason = decline_reason(_frame(orders), _frame(sessions), _frame(customers), as_of_date,
                                has_holdout, cfg)
    frame = propensity_status(scores, as_of_date, reason, selection, meta.get("training_metrics")).frame()
    frame["fallback_reason"] = fallback_reason(scores, selection)
    return frame
