"""The adapter layer the dbt Python models call: vars, holdout vs backtest, shapes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shoplens import clv
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.clv.pipeline import (
    build_evaluation,
    build_interval_calibration,
    build_parameters,
    build_predictions,
    config_from_dbt,
)
from shoplens.evaluation import EVALUATION_COLUMNS
from shoplens.testing.clv_simulate import simulate_purchases


def test_config_from_dbt_strings():
    rendered = {
        "btyd_time_unit": "weeks", "penalizer": "0.01", "clv_horizon_months": "24",
        "annual_discount_rate": "0.08", "clv_candidates": "bgnbd, mbgnbd", "clv_min_customers": "50",
        "clv_interval_draws": "40", "clv_backtest_days": "90", "seed": "7", "clv_fit_engine": "lifetimes",
    }
    config, backtest = config_from_dbt(rendered.get)
    assert config == clv.ClvConfig(time_unit="weeks", penalizer=0.01, horizon_months=24,
                                   annual_discount_rate=0.08, candidates=("bgnbd", "mbgnbd"),
                                   min_customers=50, n_draws=40, seed=7, engine="lifetimes")
    assert backtest == 90
    defaults, days = config_from_dbt({"penalizer": "None"}.get)
    assert defaults == clv.ClvConfig() and days == 180
    with pytest.raises(clv.ClvDataError, match="dbt var penalizer has an invalid value 'abc'"):
        config_from_dbt({"penalizer": "abc"}.get)


def _marts(holdout_days: int):
    purchases, as_of = simulate_purchases(3000, 600, holdout_days=holdout_days, seed=8)
    purchases["is_purchase"] = True
    dates = pd.to_datetime(purchases["order_date"])
    orders = purchases.loc[dates <= pd.Timestamp(as_of)]
    holdout = purchases.loc[dates > pd.Timestamp(as_of)]
    summary = summary_from_purchases(orders, as_of, "days")
    end = as_of + dt.timedelta(days=holdout_days)
    as_of_frame = pd.DataFrame({"as_of_date": [pd.Timestamp(as_of)], "data_end_date": [pd.Timestamp(end)],
                                "has_holdout": [holdout_days > 0]})
    return summary, orders, holdout, as_of_frame, as_of


@pytest.mark.parametrize("holdout_days", [0, 90])
def test_three_steps(holdout_days):
    summary, orders, holdout, as_of_frame, as_of = _marts(holdout_days)
    config = clv.ClvConfig(candidates=("bgnbd", "mbgnbd"), n_draws=30)
    params = build_parameters(summary, as_of_frame, holdout, config)
    selected = params.loc[params["is_selected"] & (params["model_role"] == "count"), "model_name"].unique()
    assert len(selected) == 1
    reason = params["selection_reason"].iloc[0]
    if holdout_days:
        assert reason.startswith("lowest holdout customer-level MAE")
    else:
        assert selected[0] == "bgnbd" and reason.startswith("default: BG/NBD")
    pred = build_predictions(summary, params, as_of_frame, config)
    assert len(pred) == len(summary) and set(pred["count_model"]) == set(selected)
    ev = build_evaluation(summary, params, as_of_frame, orders, holdout, config, backtest_days=120)
    assert list(ev.columns) == EVALUATION_COLUMNS
    assert np.isfinite(ev["value"]).all()
    kind = "holdout" if holdout_days else "backtest"
    assert set(ev["evaluation_type"]) == {kind}
    start = ev["holdout_start_date"].iloc[0]
    assert start == (as_of + dt.timedelta(days=1) if holdout_days else as_of - dt.timedelta(days=119))
    assert set(ev["model_name"]) >= {"bgnbd", "mbgnbd", "gamma_gamma"}
    assert not ev.duplicated(["model_name", "task", "metric", "slice"]).any()
    bias = ev.set_index(["model_name", "task", "metric", "slice"])["value"]
    assert abs(bias[("bgnbd", "repeat_purchases", "bias_pct", "all")]) < 15


def test_time_unit_mismatch_is_refused():
    summary, _, holdout, as_of_frame, _ = _marts(0)
    params = build_parameters(summary, as_of_frame, holdout, clv.ClvConfig(candidates=("bgnbd",), n_draws=20))
    with pytest.raises(clv.ClvDataError, match="ml_clv_parameters is in \\['days'\\], the run in 'weeks'"):
        build_predictions(summary, params, as_of_frame, clv.ClvConfig(time_unit="weeks"))


def test_predictions_and_intervals_do_not_depend_on_row_order():
    """SQLMesh and Spark hand the same customers over in another order: same numbers, intervals included."""
    summary, orders, holdout, as_of_frame, _ = _marts(90)
    config = clv.ClvConfig(candidates=("bgnbd",), n_draws=40)
    params = build_parameters(summary, as_of_frame, holdout, config)

    def run(s, o):
        calibration = build_interval_calibration(s, params, as_of_frame, o, config)
        out = build_predictions(s, params, as_of_frame, config, calibration=calibration)
        return out.sort_values("customer_id").reset_index(drop=True)

    first = run(summary, orders)
    shuffled = run(summary.sample(frac=1, random_state=1), orders.sample(frac=1, random_state=2))
    pd.testing.assert_frame_equal(first, shuffled)
    assert first["clv_p90"].gt(first["clv_p10"]).any()
