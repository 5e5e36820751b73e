"""Zero-total purchases, the constant-value spend limit and the predictive intervals.

* A shop whose every order totals 0.00 still gets purchase predictions, a
  CLV of 0 and a status that says there is no spend to model.
* The posterior-predictive simulation agrees with the closed-form
  expectations (Monte Carlo error bounds), and on BG/NBD data the 80 %
  intervals of holdout revenue cover 80 % of customers (within 5 points).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from clv_fixtures import shop_purchases

from shoplens import clv
from shoplens.clv.closed_forms import expected_purchases
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.clv.pipeline import (
    build_evaluation,
    build_parameters,
    build_predictions,
    build_status,
)
from shoplens.clv.predictive import simulate_purchases
from shoplens.datagen import generate_shop
from shoplens.testing.clv_simulate import simulate_purchases as simulate_shop

HOLDOUT_DAYS = 90


def _marts(total: float | None, seed: int = 8, n: int = 3000):
    purchases, as_of = simulate_shop(n, 600, holdout_days=HOLDOUT_DAYS, seed=seed)
    if total is not None:  # one order per purchase day, so every purchase day totals ``total``
        purchases = purchases.drop_duplicates(["customer_id", "order_date"]).assign(order_total=total)
    purchases["is_purchase"] = True
    dates = pd.to_datetime(purchases["order_date"])
    orders = purchases.loc[dates <= pd.Timestamp(as_of)]
    holdout = purchases.loc[dates > pd.Timestamp(as_of)]
    summary = summary_from_purchases(orders, as_of, "days")
    end = as_of + dt.timedelta(days=HOLDOUT_DAYS)
    as_of_frame = pd.DataFrame({"as_of_date": [pd.Timestamp(as_of)], "data_end_date": [pd.Timestamp(end)],
                                "has_holdout": [True]})
    return summary, orders, holdout, as_of_frame


def _run(marts, config):
    summary, orders, holdout, as_of_frame = marts
    params = build_parameters(summary, as_of_frame, holdout, config)
    pred = build_predictions(summary, params, as_of_frame, config)
    ev = build_evaluation(summary, params, as_of_frame, orders, holdout, config)
    status = build_status(summary, params, pred, ev, as_of_frame, config)
    return params, pred, ev, status.iloc[0]


@pytest.fixture(scope="module")
def bgnbd_run():
    marts = _marts(None, seed=8)
    return marts, _run(marts, clv.ClvConfig(candidates=("bgnbd", "nbd"), n_draws=200))


def test_every_order_free_gives_purchase_predictions_and_zero_clv():
    marts = _marts(0.0)
    params, pred, ev, status = _run(marts, clv.ClvConfig(candidates=("bgnbd",), n_draws=30))
    spend = params.loc[params["model_role"] == "spend"]
    assert list(spend["model_name"]) == ["constant_value"] and spend["estimate"].iloc[0] == 0.0
    assert len(pred) == len(marts[0]) and (pred["spend_model"] == "constant_value").all()
    assert (pred["clv"] == 0).all() and (pred["clv_p90"] == 0).all()
    assert (pred["expected_purchases_365d"] > 0).all() and np.isfinite(pred["probability_alive"]).all()
    assert status["status"] == "degraded" and "no spend to model" in status["reason"]
    rev = ev.loc[(ev["task"] == "revenue") & (ev["slice"] == "all")].set_index("metric")["value"]
    assert rev["interval_coverage_80_closed"] == 1.0  # revenue 0 predicted, 0 observed
    # the randomised PIT of a point mass predicted and observed is U(0, 1): exactly 80 % on average,
    # and the inner split learns the nominal levels
    assert abs(rev["interval_coverage_80_model"] - 0.8) < 1e-9
    assert abs(rev["interval_coverage_80"] - 0.8) < 1e-6


def test_constant_spend_recorded_at_the_boundary():
    params, pred, _, status = _run(_marts(25.0), clv.ClvConfig(candidates=("bgnbd",), n_draws=30))
    spend = params.loc[params["model_role"] == "spend"].iloc[0]
    assert spend["model_name"] == "constant_value" and spend["estimate"] == 25.0 and spend["at_boundary"]
    assert spend["is_selected"] and spend["standard_error"] == 0.0
    assert (pred["expected_avg_order_value"] == 25.0).all()
    np.testing.assert_allclose(pred["clv"] / 25.0, pred["clv"] / pred["expected_avg_order_value"])
    assert status["status"] == "degraded" and "constant spend" in status["reason"]


@pytest.mark.parametrize("name, params", [
    ("nbd", {"r": 0.3, "alpha": 20.0}),
    ("bgnbd", {"r": 0.3, "alpha": 20.0, "a": 0.8, "b": 2.5}),
    ("mbgnbd", {"r": 0.3, "alpha": 20.0, "a": 0.8, "b": 2.5}),
    ("pareto_nbd", {"r": 0.3, "alpha": 20.0, "s": 0.6, "beta": 40.0}),
])
def test_simulated_purchases_match_the_closed_form(name, params):
    rng = np.random.default_rng(3)
    n = 200_000
    x, rec, age = np.full(n, 3.0), np.full(n, 150.0), np.full(n, 300.0)
    draws = simulate_purchases(name, params, x, rec, age, 120.0, rng)
    exact = expected_purchases(name, params, 120.0, x[:1], rec[:1], age[:1])[0]
    se = draws.std() / np.sqrt(n)
    assert abs(draws.mean() - exact) < 4 * se, (name, draws.mean(), exact, se)


def test_holdout_intervals_cover_eighty_percent(bgnbd_run):
    _, (_, pred, ev, _) = bgnbd_run
    cov = ev.loc[ev["metric"] == "interval_coverage_80"].set_index(["task", "slice"])["value"]
    assert abs(cov[("revenue", "all")] - 0.8) < 0.05
    assert abs(cov[("repeat_purchases", "all")] - 0.8) < 0.05
    per_decile = cov.loc["revenue"].drop("all")
    assert len(per_decile) == 10 and per_decile.between(0.65, 0.95).all()  # 300 customers each: SE 0.023
    # the plain closed interval over-covers: revenue 0 is a point mass at p10
    closed = ev.loc[ev["metric"] == "interval_coverage_80_closed", "value"].iloc[0]
    assert closed > cov[("revenue", "all")]
    # the levels come from the inner split (90-day window before as_of_date), near nominal on BG/NBD data
    window = ev.loc[ev["metric"] == "interval_calibration_window_days", "value"].iloc[0]
    assert window == HOLDOUT_DAYS
    levels = ev.loc[ev["metric"].isin(["interval_level_low", "interval_level_high"])]
    assert len(levels) == 40 and levels["value"].sub(np.where(levels["metric"] == "interval_level_low", 0.1, 0.9)).abs().max() < 0.06
    model = ev.loc[ev["metric"] == "interval_coverage_80_model"].set_index(["task", "slice"])["value"]
    assert abs(model[("revenue", "all")] - 0.8) < 0.05 and len(model) == 22
    # the interval covers the customer's own randomness, not only the parameters'
    assert (pred["clv_p90"] - pred["clv_p10"]).median() > 0.5 * pred["clv"].median()


def test_median_is_the_absolute_error_forecast(bgnbd_run):
    _, (_, _, ev, _) = bgnbd_run
    rows = ev.loc[(ev["task"] == "repeat_purchases") & (ev["slice"] == "all")]
    mae = rows.set_index(["model_name", "metric"])["value"]
    for model in ("bgnbd", "nbd"):
        assert mae[(model, "mae_median")] < mae[(model, "mae")]


def test_no_drop_out_median_is_within_five_percent_of_the_naive_rate():
    """Issue 19's target at 4,000 customers, one year, 30-day holdout (package path).

    Judged with the predictive median, the forecast absolute error rewards;
    the conditional mean loses to the naive rate's zeros (docs/clv.md).
    """
    tables = generate_shop(n_customers=4000, n_days=365, n_products=20, seed=7, events=False,
                           holdout_days=30, shape="no_dropout")
    purchases = shop_purchases(tables)
    as_of = pd.Timestamp(tables["ground_truth"]["calibration_end_date"]).date()
    dates = pd.to_datetime(purchases["order_date"])
    orders, holdout = purchases.loc[dates <= pd.Timestamp(as_of)], purchases.loc[dates > pd.Timestamp(as_of)]
    end = dates.max().date()
    as_of_frame = pd.DataFrame({"as_of_date": [pd.Timestamp(as_of)], "data_end_date": [pd.Timestamp(end)],
                                "has_holdout": [True]})
    marts = (summary_from_purchases(orders, as_of, "days"), orders, holdout, as_of_frame)
    params, _, ev, _ = _run(marts, clv.ClvConfig(candidates=("bgnbd", "nbd"), n_draws=100))
    served = params.loc[params["is_selected"] & (params["model_role"] == "count"), "model_name"].iloc[0]
    mae = ev.loc[(ev["task"] == "repeat_purchases") & (ev["slice"] == "all")].set_index(
        ["model_name", "metric"])["value"]
    best = min(mae[("naive_rate", "mae")], mae[("nbd", "mae_median")])
    assert mae[(served, "mae_median")] <= 1.05 * best
    assert mae[(served, "mae")] > mae[("naive_rate", "mae")]  # why the median is needed


def test_a_horizon_far_past_the_history_is_named_in_the_status():
    """A 4-month export (Ta Feng) priced 12 months of CLV, 3.7 times what the shop sold in its
    3 months, and the status said nothing of it. 600 days of history: quiet at 12 months."""
    from shoplens.clv.pipeline import horizon_note

    summary = _marts(None, seed=8, n=300)[0]
    history = float(summary["T"].max())
    assert horizon_note(summary, clv.ClvConfig()) == ""
    short = summary.assign(T=summary["T"] * 92 / history, recency=summary["recency"] * 92 / history)
    note = horizon_note(short, clv.ClvConfig())
    assert note.startswith("the 12-month CLV horizon is 4.0 times the 92 days of purchase history")
    assert "clv_horizon_months" in note
    assert horizon_note(short, clv.ClvConfig(horizon_months=6)) == ""  # 183 days: under twice 92
    weeks = short.assign(T=short["T"] / 7)  # the same history measured in weeks
    assert horizon_note(weeks, clv.ClvConfig(time_unit="weeks")) == note
