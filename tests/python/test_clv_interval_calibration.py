"""Recalibration of the CLV predictive intervals on an inner split (shoplens.clv.interval_calibration).

* The coverage of a randomised PIT interval, averaged over the
  randomisation, equals the Monte Carlo share of the randomised one.
* Levels learnt on one sample of a miscalibrated forecast (too narrow and
  biased, more so for one end of the predictions) bring a fresh sample's
  coverage to 80 %, overall and per decile, where the raw interval misses.
* The inner split uses only purchases up to the fitting date, keeps levels
  near nominal for a well-specified BG/NBD shop, and falls back to nominal
  levels (with the reason) when the history is too short to split.
* The served clv_p10/clv_p90 run between the levels of each customer's
  decile of the point CLV (fixed cut points, so a subset of customers gets
  the same levels), and nominal levels give the model's own interval.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import stats

from shoplens import clv
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.clv.interval_calibration import (
    NOMINAL,
    IntervalCalibration,
    decile_levels,
    expected_coverage,
    inner_calibration,
)
from shoplens.clv.pipeline import build_interval_calibration, build_parameters, build_predictions
from shoplens.evaluation import deciles
from shoplens.testing.clv_simulate import simulate_purchases as simulate_shop


def test_expected_coverage_is_the_mean_of_the_randomised_pit():
    rng = np.random.default_rng(0)
    n = 20_000
    lo = rng.uniform(0, 1, n) ** 2
    hi = np.where(rng.random(n) < 0.3, lo, np.minimum(1, lo + rng.uniform(0, 0.8, n)))  # 30 % without ties
    u = lo + rng.random(n) * (hi - lo)
    randomised = ((u >= 0.1) & (u <= 0.9)).mean()
    expected = expected_coverage(lo, hi, 0.1, 0.9)
    assert expected.min() >= 0 and expected.max() <= 1
    assert abs(expected.mean() - randomised) < 4 * np.sqrt(0.16 / n)
    # a point mass at lo counts fully inside or fully outside
    assert expected_coverage(np.array([0.05, 0.5]), np.array([0.05, 0.5]), 0.1, 0.9).tolist() == [0.0, 1.0]


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PIT values of a N(0, 1) forecast when the truth is N(mu(s), 1.3) with mu rising in the score s."""
    rng = np.random.default_rng(seed)
    score = rng.uniform(0, 1, n)
    y = rng.normal(0.6 * (1 - score), 1.3)  # low scores (decile 10) under-forecast most
    return stats.norm.cdf(y), score


def test_levels_from_one_sample_calibrate_a_fresh_one():
    u, score = _miscalibrated(30_000, 1)
    levels = decile_levels(u, u, deciles(score))
    assert levels[9, 1] > levels[0, 1] > NOMINAL[1]  # widen upwards, most for the lowest decile
    fresh, fresh_score = _miscalibrated(30_000, 2)
    dec = deciles(fresh_score)
    raw = expected_coverage(fresh, fresh, *NOMINAL)
    calibrated = expected_coverage(fresh, fresh, levels[dec - 1, 0], levels[dec - 1, 1])
    assert raw.mean() < 0.72 and min(raw[dec == d].mean() for d in range(1, 11)) < 0.65  # the test can fail
    assert abs(calibrated.mean() - 0.8) < 0.015
    per_decile = [calibrated[dec == d].mean() for d in range(1, 11)]
    assert max(abs(c - 0.8) for c in per_decile) < 0.04, per_decile


def _shop(n: int = 2000, seed: int = 5):
    purchases, as_of = simulate_shop(n, 500, holdout_days=90, seed=seed)
    return purchases, as_of


def test_inner_split_ignores_the_holdout_and_stays_near_nominal_on_bgnbd_data():
    purchases, as_of = _shop()
    config = clv.ClvConfig(candidates=("bgnbd",), n_draws=60)
    before = purchases.loc[pd.to_datetime(purchases["order_date"]) <= pd.Timestamp(as_of)]
    with_holdout = inner_calibration(purchases, as_of, 90, "bgnbd", config)
    without = inner_calibration(before, as_of, 90, "bgnbd", config)
    assert with_holdout.window_days == 90 and with_holdout.cut_date == as_of - dt.timedelta(days=90)
    for task in ("repeat_purchases", "revenue"):
        np.testing.assert_array_equal(with_holdout.levels[task], without.levels[task])
        assert np.abs(with_holdout.levels[task] - np.array(NOMINAL)).max() < 0.06, with_holdout.levels[task]
    # a long target window is cut to half the history, so the inner fit keeps most of it
    first = pd.to_datetime(before["order_date"]).min().date()
    assert inner_calibration(before, as_of, 10_000, "bgnbd", config).window_days == (as_of - first).days // 2


def test_too_short_a_history_keeps_the_model_intervals():
    purchases, as_of = _shop(300)
    before = purchases.loc[pd.to_datetime(purchases["order_date"]) <= pd.Timestamp(as_of)]
    first = pd.to_datetime(before["order_date"]).min().date()
    # a fitting date two days after the first purchase: one day to split
    early = inner_calibration(before, first + dt.timedelta(days=2), 90, "bgnbd", clv.ClvConfig())
    assert early.window_days == 0 and early.reason.startswith("not calibrated")
    for task in ("repeat_purchases", "revenue"):
        np.testing.assert_array_equal(early.levels[task], np.tile(NOMINAL, (10, 1)))


def test_served_clv_interval_follows_the_levels_of_each_customers_decile():
    purchases, as_of = _shop(1500, seed=9)
    purchases["is_purchase"] = True
    dates = pd.to_datetime(purchases["order_date"])
    orders, holdout = purchases.loc[dates <= pd.Timestamp(as_of)], purchases.loc[dates > pd.Timestamp(as_of)]
    summary = summary_from_purchases(orders, as_of, "days")
    as_of_frame = pd.DataFrame({"as_of_date": [pd.Timestamp(as_of)],
                                "data_end_date": [pd.Timestamp(as_of + dt.timedelta(days=90))], "has_holdout": [True]})
    config = clv.ClvConfig(candidates=("bgnbd",), n_draws=60)
    params = build_parameters(summary, as_of_frame, holdout, config)
    learnt = build_interval_calibration(summary, params, as_of_frame, orders, config)
    first = pd.to_datetime(orders["order_date"]).min().date()
    assert learnt.window_days == min(365, (as_of - first).days // 2)
    cuts = learnt.cut_points["revenue"]
    assert len(cuts) == 9 and np.all(np.diff(cuts) <= 0)
    nominal = build_predictions(summary, params, as_of_frame, config)
    same = build_predictions(summary, params, as_of_frame, config,
                             calibration=IntervalCalibration(cut_points=learnt.cut_points))
    np.testing.assert_allclose(same[["clv_p10", "clv_p90"]], nominal[["clv_p10", "clv_p90"]])
    wide_levels = np.tile([0.02, 0.98], (10, 1))
    wide_levels[:5] = [0.1, 0.9]  # only the lower half of the customers (deciles 6-10) is widened
    wide = IntervalCalibration(levels={"repeat_purchases": wide_levels, "revenue": wide_levels},
                               cut_points=learnt.cut_points)
    widened = build_predictions(summary, params, as_of_frame, config, calibration=wide)
    low_half = wide.customer_levels("revenue", nominal["clv"].to_numpy())[:, 0] == 0.02
    assert 0.4 < low_half.mean() < 0.6
    assert (widened["clv_p10"] <= nominal["clv_p10"] + 1e-9).all() and (widened["clv_p90"] >= nominal["clv_p90"] - 1e-9).all()
    assert (widened["clv_p90"] - nominal["clv_p90"])[low_half].sum() > 0
    np.testing.assert_allclose(widened.loc[~low_half, ["clv_p10", "clv_p90"]], nominal.loc[~low_half, ["clv_p10", "clv_p90"]])
    # a customer's decile comes from the stored cut points: the same in any subset of customers (a Spark partition)
    part = nominal["clv"].to_numpy()[::7]
    np.testing.assert_array_equal(wide.customer_levels("revenue", part),
                                  wide.customer_levels("revenue", nominal["clv"].to_numpy())[::7])
