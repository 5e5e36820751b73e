"""ml_propensity_evaluation: holdout (or backtest) metrics of the propensity scores.

Thin adapter over ``shoplens.propensity.evaluate_scores``: one row per model,
task, metric and slice, in the shared ``EVALUATION_COLUMNS`` shape. With a
holdout, the scores at ``as_of_date`` meet the purchases of ``holdout_orders``
in the window after it; without one, the backtest scores meet the purchases
of ``fct_orders`` between the backtest cut-off and ``as_of_date``.
"""


def model(dbt, session):
    import pandas as pd

    from shoplens.evaluation import EVALUATION_COLUMNS
    from shoplens.propensity import evaluate_scores, evaluation_plan, purchase_outcomes

    as_of = dbt.ref("as_of").df()
    scores = dbt.ref("ml_purchase_propensity").df()
    if scores.empty:  # the step declined (ml_propensity_status says why)
        return pd.DataFrame(columns=EVALUATION_COLUMNS)
    as_of_date = as_of["as_of_date"].iloc[0]
    has_holdout = bool(as_of["has_holdout"].iloc[0])
    window = int(scores["window_days"].iloc[0]) if len(scores) else int(dbt.config.get("window_days"))
    plan = evaluation_plan(as_of_date, as_of["data_end_date"].iloc[0], has_holdout, window)
    holdout_orders = dbt.ref("holdout_orders")
    fct_orders = dbt.ref("fct_orders")
    source = holdout_orders if has_holdout else fct_orders
    orders = source.project("customer_id, ordered_at, is_purchase").df()
    outcomes = purchase_outcomes(orders, plan["start"], plan["end"])
    outcomes["customer_id"] = outcomes["customer_id"].astype(str)
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
