"""Valid shops that break models build green through dbt, and say what they served.

Each generated shape (shoplens.datagen ``shape``, or a tiny shop) is built
with dbt and must: exit 0, write its ``ml_*_status`` row(s), and give either
finite predictions for every customer with a purchase or an empty table
whose status row says why and what would fix it. One dbt invocation per
shape, limited to the models the assertion needs (the two-week shop runs the
whole ``dbt build``, as a nightly CI would); small customer counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import query, run_dbt

from shoplens import datagen

pytestmark = [pytest.mark.slow, pytest.mark.shapes]

CLV_ONLY = ["--select", "+ml_clv_status"]
PRED_COLUMNS = [
    "probability_alive", "expected_purchases_30d", "expected_purchases_365d",
    "expected_avg_order_value", "clv", "clv_p10", "clv_p90", "expected_days_to_next_purchase",
]


def _shop(root, name: str, *, customers: int, days: int, holdout: int = 0, shape: str = "standard",
          seed: int = 19, products: int = 12):
    tables = datagen.generate_shop(
        n_customers=customers, n_days=days, n_products=products, seed=seed, holdout_days=holdout,
        shape=shape,
    )
    raw = datagen.write_shop(tables, root / name, fmt="parquet")
    truth = tables["ground_truth"]
    variables = {"export_date": truth["export_date"]}
    if holdout:
        variables["as_of_date"] = truth["calibration_end_date"]
    return raw, variables, tables


def _status(db, step: str) -> dict:
    rows = query(db, f"select * from ml_{step}_status").to_dict("records")
    assert len(rows) == 1, rows
    return rows[0]


def _assert_served_everyone(db) -> None:
    pred = query(db, "select * from ml_clv_predictions")
    buyers = query(db, "select count(*) as n from customer_btyd_summary")["n"].item()
    assert len(pred) == buyers > 0
    assert np.isfinite(pred[PRED_COLUMNS].to_numpy(dtype=float)).all()


def test_two_weeks_of_history_builds_green_and_every_step_reports(tmp_path):
    # seed 3: 18 of 300 customers buy twice in the two weeks, under clv_min_repeat_customers
    raw, variables, _ = _shop(tmp_path, "raw", customers=300, days=14, seed=3)
    db = tmp_path / "w.duckdb"
    proc = run_dbt("build", db, raw, variables)
    status = query(db, "select * from ml_model_status order by model_step").set_index("model_step")
    assert list(status.index) == ["clv", "forecast", "profiles", "propensity", "recommend"]
    assert dict(status["status"].drop("profiles")) == {
        "clv": "declined", "forecast": "degraded", "propensity": "declined", "recommend": "degraded"}
    assert "recommend_validation_days" in status.loc["recommend", "reason"]
    assert "clv_min_repeat_customers" in status.loc["clv", "reason"]
    assert "propensity_train_window_days" in status.loc["propensity", "reason"]
    assert "forecast_horizon_days" in status.loc["forecast", "reason"]
    # one warning line per step that is not ok, in the build output
    warnings = [line for line in proc.stdout.splitlines() if "WARNING shoplens model step" in line]
    assert len(warnings) == (status["status"] != "ok").sum()
    assert all(s in "".join(warnings) for s in ("clv declined", "forecast degraded", "recommend degraded"))
    # declined: empty, never stale; degraded: served with the fallback
    assert query(db, "select count(*) as n from pred_customer_ltv")["n"].item() == 0
    assert query(db, "select count(*) as n from pred_purchase_propensity")["n"].item() == 0
    fc = query(db, "select point_forecast, method from pred_demand_forecast")
    assert len(fc) == status.loc["forecast", "rows_written"] > 0 and np.isfinite(fc["point_forecast"]).all()
    # the advice works: the var the clv reason names lets CLV serve these data
    run_dbt("run", db, raw, {**variables, "clv_min_repeat_customers": 10},
            ["--select", "ml_clv_parameters", "ml_clv_predictions", "ml_clv_evaluation", "ml_clv_status"])
    assert _status(db, "clv")["status"] in ("ok", "degraded")
    _assert_served_everyone(db)
    # on_model_decline: error turns a declined step into a failed build that names the var
    failed = run_dbt("run", db, raw, {**variables, "on_model_decline": "error"},
                     ["--select", "ml_model_status"], check=False)
    assert failed.returncode == 1
    assert "propensity" in failed.stdout and "on_model_decline is 'error'" in failed.stdout


def test_no_drop_out_shop_serves_the_nbd_limit(tmp_path):
    raw, variables, _ = _shop(tmp_path, "raw", customers=500, days=365, holdout=30, shape="no_dropout")
    db = tmp_path / "w.duckdb"
    run_dbt("run", db, raw, variables, CLV_ONLY)
    status = _status(db, "clv")
    assert status["status"] == "degraded" and status["served_model"] == "nbd+gamma_gamma"
    assert "boundary estimate: limit of bgnbd" in status["reason"]
    _assert_served_everyone(db)
    assert (query(db, "select probability_alive from ml_clv_predictions")["probability_alive"] == 1).all()
    params = query(db, "select * from ml_clv_parameters where model_name = 'nbd'")
    assert params["at_boundary"].all() and params["is_selected"].all()
    mae = query(db, "select model_name, value from ml_clv_evaluation"
                    " where task = 'repeat_purchases' and metric in ('mae', 'mae_median') and slice = 'all'")
    assert {"nbd", "naive_rate"} <= set(mae["model_name"])
    assert (mae["model_name"] == "nbd").sum() == 2  # the mean's and the median's MAE


def test_every_order_free_serves_purchases_and_says_there_is_no_spend(tmp_path):
    """Only negative totals are rejected: a shop of 0.00 orders is a shop of purchases."""
    _, variables, tables = _shop(tmp_path, "gen", customers=400, days=365, holdout=60)
    tables["orders"] = tables["orders"].assign(order_total=0.0)
    raw = datagen.write_shop(tables, tmp_path / "raw", fmt="parquet")
    db = tmp_path / "w.duckdb"
    run_dbt("run", db, raw, variables, CLV_ONLY)
    assert query(db, "select count(*) as n from stg_shop__orders where order_total = 0")["n"].item() > 0
    status = _status(db, "clv")
    assert status["status"] == "degraded" and status["served_model"].endswith("+constant_value")
    assert "no spend to model" in status["reason"]
    _assert_served_everyone(db)
    pred = query(db, "select clv, clv_p90, expected_purchases_365d from ml_clv_predictions")
    assert (pred["clv"] == 0).all() and (pred["clv_p90"] == 0).all()
    assert (pred["expected_purchases_365d"] > 0).all()


def test_heavy_repeaters_build_with_finite_predictions(tmp_path):
    raw, variables, tables = _shop(tmp_path, "raw", customers=600, days=365, holdout=30,
                                   shape="heavy_repeaters")
    days = tables["orders"].assign(d=tables["orders"]["ordered_at"].astype(str).str[:10])
    per_customer = days.groupby("customer_id")["d"].nunique()
    assert (per_customer >= 100).sum() >= 3  # the shape holds what it promises
    db = tmp_path / "w.duckdb"
    run_dbt("run", db, raw, variables, CLV_ONLY)
    assert _status(db, "clv")["status"] in ("ok", "degraded")
    _assert_served_everyone(db)
    top = query(db, "select max(frequency) as f from ml_clv_predictions")["f"].item()
    assert top >= 100


def test_only_one_time_buyers_decline_clv_with_the_reason(tmp_path):
    raw, variables, _ = _shop(tmp_path, "raw", customers=300, days=120, shape="one_time_buyers")
    db = tmp_path / "w.duckdb"
    run_dbt("run", db, raw, variables, CLV_ONLY)
    status = _status(db, "clv")
    assert (status["status"], status["served_model"], status["rows_written"]) == ("declined", "none", 0)
    assert "No repeat buyers: all 300 customers have frequency 0" in status["reason"]
    assert "Fix:" in status["reason"]
    for table in ("ml_clv_predictions", "ml_clv_parameters", "ml_clv_evaluation"):
        assert query(db, f"select count(*) as n from {table}")["n"].item() == 0


def test_a_single_customer_builds_and_every_step_reports(tmp_path):
    raw, variables, _ = _shop(tmp_path, "raw", customers=1, days=120)
    db = tmp_path / "w.duckdb"
    run_dbt("run", db, raw, {**variables, "forecast_top_n": 2}, ["--select", "+ml_model_status"])
    status = query(db, "select * from ml_model_status").set_index("model_step")
    assert status.loc["clv", "status"] == status.loc["propensity", "status"] == "declined"
    assert "CLV needs at least 100 purchasing customers, customer_btyd_summary has 1" in status.loc["clv", "reason"]
    assert "Fix:" in status.loc["propensity", "reason"]
    assert status.loc["forecast", "status"] in ("ok", "degraded")  # one order is still a demand series
    fc = query(db, "select point_forecast from ml_demand_forecast")["point_forecast"]
    assert len(fc) == status.loc["forecast", "rows_written"] > 0 and np.isfinite(fc).all()
    for table in ("ml_clv_predictions", "ml_purchase_propensity"):
        assert query(db, f"select count(*) as n from {table}")["n"].item() == 0
