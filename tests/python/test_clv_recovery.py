"""Parameter recovery and holdout accuracy on the synthetic shop (shoplens.datagen).

Tolerance: the generator draws purchase times from BG/NBD and spend from
Gamma-Gamma, so the maximum-likelihood estimates are asymptotically normal
around the truth with the standard errors the fit reports. At 20,000
customers and 610 calibration days those are 2-3 % of r and alpha and 3-10 %
of a, b, p, q and v (asserted below 15 %, as 1/sqrt(n) predicts). We accept
|estimate - truth| <= 4 standard errors (false alarm < 1e-4 per parameter).
Day precision (two purchases on one day count once) biases alpha upwards by
about 2 standard errors at this size, which the band still holds; a second
bound, 15 % relative, keeps the test meaningful if the SEs ever came out wide.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from clv_fixtures import shop_purchases

from shoplens import clv
from shoplens.clv.evaluation import evaluate_clv, summary_from_purchases
from shoplens.datagen import generate_shop

N_CUSTOMERS = 20_000


@pytest.fixture(scope="module")
def shop():
    tables = generate_shop(n_customers=N_CUSTOMERS, n_days=730, n_products=20, seed=1, events=False,
                           holdout_days=120)
    purchases = shop_purchases(tables)
    truth = tables["ground_truth"]
    return purchases, truth


@pytest.fixture(scope="module")
def fit_at_calibration_end(shop):
    purchases, truth = shop
    as_of = pd.Timestamp(truth["calibration_end_date"]).date()
    summary = summary_from_purchases(purchases, as_of, "days")
    config = clv.ClvConfig(candidates=("bgnbd", "mbgnbd"))
    return summary, as_of, config, clv.fit_clv(summary, config)


def test_recovers_bgnbd_and_gamma_gamma(fit_at_calibration_end, shop):
    _, truth = shop
    _, _, _, fit = fit_at_calibration_end
    for model, true_params in ((fit.count_models["bgnbd"], truth["bgnbd"]),
                               (fit.spend_model, truth["gamma_gamma"])):
        se = model.standard_errors
        for name, true_value in true_params.items():
            est = model.params[name]
            assert se[name] < 0.15 * true_value, f"{model.name}.{name}: SE {se[name]:.4f} too wide"
            assert abs(est - true_value) <= 4 * se[name], (
                f"{model.name}.{name} = {est:.4f}, truth {true_value}, SE {se[name]:.4f}"
            )
            assert abs(est / true_value - 1) < 0.15
        assert model.converged and not model.is_fallback


def test_holdout_totals_auc_and_selection(fit_at_calibration_end, shop):
    purchases, truth = shop
    summary, as_of, config, fit = fit_at_calibration_end
    end = pd.Timestamp(truth["end_date"]).date()
    dates = pd.to_datetime(purchases["order_date"])
    ev = evaluate_clv(
        fit, summary, purchases.loc[dates <= pd.Timestamp(as_of)], purchases.loc[dates > pd.Timestamp(as_of)],
        as_of_date=as_of, data_end_date=end, config=config,
    )
    assert set(ev["evaluation_type"]) == {"holdout"}
    assert ev["holdout_start_date"].iloc[0] == as_of + dt.timedelta(days=1)
    allrows = ev.loc[ev["slice"] == "all"].set_index(["model_name", "task", "metric"])["value"]
    for model in ("bgnbd", "mbgnbd"):
        # 120 days of holdout: the aggregate forecast is within 10 % of what happened
        assert abs(allrows[(model, "repeat_purchases", "bias_pct")]) < 10
        assert allrows[(model, "repeat_purchases", "auc")] > 0.75
        low, high = allrows[(model, "repeat_purchases", "auc_ci_low")], allrows[(model, "repeat_purchases", "auc_ci_high")]
        assert low < allrows[(model, "repeat_purchases", "auc")] < high < low + 0.1  # thousands of customers: narrow
        assert allrows[(model, "repeat_purchases", "mae")] < allrows[(model, "repeat_purchases", "rmse")]
    # per frequency bucket, the means track each other (Fader-Hardie calibration chart)
    buckets = ev.loc[(ev["model_name"] == "bgnbd") & (ev["slice"] != "all")]
    pred = buckets.loc[buckets["metric"] == "predicted_mean"].set_index("slice")["value"]
    act = buckets.loc[buckets["metric"] == "actual_mean"].set_index("slice")["value"]
    assert list(pred.index) == [f"frequency={k}" for k in range(7)] + ["frequency=7+"]
    assert np.corrcoef(pred, act)[0, 1] > 0.95
    assert abs(allrows[("gamma_gamma", "avg_order_value", "bias_pct")]) < 10


def test_predictions_bounded_and_interval_ordered(fit_at_calibration_end):
    summary, as_of, config, fit = fit_at_calibration_end
    pred = clv.score_customers(fit, summary, config, as_of_date=as_of)
    assert len(pred) == len(summary) and pred["customer_id"].is_unique
    assert pred["probability_alive"].between(0, 1).all()
    numeric = pred.select_dtypes("number")
    assert np.isfinite(numeric.to_numpy()).all() and (numeric.to_numpy() >= 0).all()
    assert (pred["expected_purchases_30d"] <= pred["expected_purchases_90d"]).all()
    assert (pred["expected_purchases_90d"] <= pred["expected_purchases_365d"]).all()
    assert (pred["clv_p10"] <= pred["clv_p90"]).all()
    # The interval is the customer's predictive distribution (no purchase is
    # likely for many), so the mean may sit above p90 but not below p10.
    inside = (pred["clv"] >= pred["clv_p10"]) & (pred["clv"] <= pred["clv_p90"])
    assert inside.mean() > 0.8
    assert (pred["clv"] >= pred["clv_p10"]).mean() > 0.999
    likely_alive = (pred["frequency"] >= 5) & (pred["probability_alive"] > 0.95)
    assert (pred.loc[likely_alive, "clv_p10"] > 0).mean() > 0.5
    # no repeat purchase -> Gamma-Gamma population mean
    gg = fit.spend_model.params
    one_timers = pred.loc[~pred["has_repeat_purchase"], "expected_avg_order_value"]
    np.testing.assert_allclose(one_timers, gg["p"] * gg["v"] / (gg["q"] - 1), rtol=1e-12)
    assert set(pred["count_model"]) == {fit.selected}
