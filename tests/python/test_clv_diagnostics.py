"""The CLV diagnostic tables against lifetimes' own functions, on CDNOW (fast: no dbt).

The models are fitted once on the CDNOW sample (as of 1997-09-30, weeks,
39-week holdout); every table is built through ``pipeline.build_diagnostic``
from the parameters table, as dbt builds it, and its numbers are recomputed
with lifetimes' fitters carrying the same parameters.
"""

from __future__ import annotations

import datetime as dt

import lifetimes
import numpy as np
import pandas as pd
import pytest
from clv_fixtures import cdnow_transactions
from scipy.special import gammaln

from shoplens import clv
from shoplens.clv import diagnostics
from shoplens.clv.evaluation import summary_from_purchases, window_actuals
from shoplens.clv.pipeline import build_diagnostic, build_parameters
from shoplens.testing.cdnow import CDNOW_AS_OF, CDNOW_WINDOW_DAYS

CONFIG = clv.ClvConfig(time_unit="weeks", candidates=("bgnbd", "mbgnbd", "pareto_nbd", "nbd"), n_draws=10)
END = CDNOW_AS_OF + dt.timedelta(days=CDNOW_WINDOW_DAYS)


@pytest.fixture(scope="module")
def cdnow():
    raw = cdnow_transactions()
    purchases = pd.DataFrame({"customer_id": raw["customer_id"], "order_date": raw["order_date"],
                              "order_total": raw["dollars"], "is_purchase": True})
    dates = pd.to_datetime(purchases["order_date"])
    calibration = purchases.loc[dates <= pd.Timestamp(CDNOW_AS_OF)]
    holdout = purchases.loc[dates > pd.Timestamp(CDNOW_AS_OF)]
    summary = summary_from_purchases(calibration, CDNOW_AS_OF, "weeks")
    as_of = pd.DataFrame({"as_of_date": [pd.Timestamp(CDNOW_AS_OF)], "data_end_date": [pd.Timestamp(END)],
                          "has_holdout": [True]})
    params = build_parameters(summary, as_of, holdout, CONFIG)
    return summary, holdout, as_of, params


def _served(params: pd.DataFrame, name: str) -> pd.DataFrame:
    """The parameters table with ``name`` as the served count model."""
    out = params.copy()
    out["is_selected"] = out["model_name"].isin([name, "gamma_gamma"])
    return out


def _fitter(params: pd.DataFrame, name: str):
    """A lifetimes fitter carrying our stored estimates of ``name``."""
    cls = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter,
           "pareto_nbd": lifetimes.ParetoNBDFitter}[name]
    rows = params.loc[params["model_name"] == name]
    fitter = cls()
    fitter.params_ = pd.Series(dict(zip(rows["parameter"], rows["estimate"], strict=True)))
    return fitter


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd"])
def test_period_transactions_match_lifetimes(cdnow, name):
    summary, holdout, as_of, params = cdnow
    table = build_diagnostic("period_transactions", summary, _served(params, name), as_of, holdout, CONFIG)
    fitter = _fitter(params, name)
    ages = summary["T"].to_numpy()
    expected = [sum(float(fitter.probability_of_n_purchases_up_to_time(a, n)) for a in ages) for n in range(7)]
    assert np.allclose(table["n_customers_expected"].to_numpy()[:7], expected, rtol=1e-6, atol=1e-6)
    actual = np.bincount(np.minimum(summary["frequency"], 7), minlength=8)
    assert table["n_customers_actual"].tolist() == actual.tolist()
    assert table["n_customers_actual"].sum() == len(summary) == 2357
    assert table["n_customers_expected"].sum() == pytest.approx(2357, abs=1e-6)
    assert table["frequency_bucket"].tolist()[-1] == "7+" and set(table["count_model"]) == {name}


@pytest.mark.parametrize("name", ["pareto_nbd", "nbd"])
def test_count_distribution_sums_to_the_expectation(cdnow, name):
    """Pareto/NBD (quadrature) and NBD have no lifetimes pmf: their P(X(t) = n)
    must sum to 1 and give the closed-form E[X(t)] as its mean."""
    p = dict(_served(cdnow[3], name).query("model_name == @name")[["parameter", "estimate"]].values)
    t = np.array([0.5, 12.0, 38.9, 150.0])
    probs = diagnostics.purchase_count_probabilities(name, p, t, 400)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-8)
    mean = probs @ np.arange(401)
    assert np.allclose(mean, clv.expected_purchases_unconditional(name, p, t), rtol=1e-6)
    if name == "nbd":  # the textbook pmf at n = 2
        r, a, tt = p["r"], p["alpha"], t[2]
        pmf2 = np.exp(gammaln(r + 2) - gammaln(r) - np.log(2) + r * np.log(a / (a + tt)) + 2 * np.log(tt / (a + tt)))
        assert probs[2, 2] == pytest.approx(pmf2, rel=1e-10)


@pytest.mark.parametrize("name", ["bgnbd", "pareto_nbd"])
def test_calibration_holdout_matches_lifetimes(cdnow, name):
    summary, holdout, as_of, params = cdnow
    table = build_diagnostic("calibration_holdout", summary, _served(params, name), as_of, holdout, CONFIG)
    fitter = _fitter(params, name)
    pred = fitter.conditional_expected_number_of_purchases_up_to_time(
        CDNOW_WINDOW_DAYS / 7, summary["frequency"], summary["recency"], summary["T"])
    actual = window_actuals(holdout, CDNOW_AS_OF + dt.timedelta(days=1), END)["actual_purchases"]
    frame = summary.assign(pred=np.asarray(pred), act=summary["customer_id"].map(actual).fillna(0),
                           bucket=np.minimum(summary["frequency"], 7))
    means = frame.groupby("bucket")[["pred", "act"]].mean()
    assert np.allclose(table["predicted_mean_purchases"], means["pred"], rtol=1e-6)
    assert np.allclose(table["actual_mean_purchases"], means["act"], rtol=1e-12)
    assert table["n_customers"].sum() == 2357
    assert table["actual_total_purchases"].sum() == len(holdout.groupby(["customer_id", "order_date"]))


def test_probability_alive_matrix_matches_lifetimes(cdnow):
    summary, holdout, as_of, params = cdnow
    table = build_diagnostic("probability_alive_matrix", summary, _served(params, "bgnbd"), as_of, holdout, CONFIG)
    fitter = _fitter(params, "bgnbd")
    ref = fitter.conditional_probability_alive(table["frequency"], table["recency"], table["T"])
    assert np.allclose(table["probability_alive"], ref, rtol=1e-9)
    assert table["frequency"].max() == summary["frequency"].max()
    assert table["T"].iloc[0] == pytest.approx(summary["T"].max())
    assert table["recency"].nunique() == diagnostics.ALIVE_RECENCIES


def test_cumulative_purchases_match_lifetimes(cdnow):
    summary, holdout, as_of, params = cdnow
    table = build_diagnostic("cumulative_purchases", summary, _served(params, "bgnbd"), as_of, holdout, CONFIG)
    fitter = _fitter(params, "bgnbd")
    t = (table["period_end_date"] - pd.Timestamp(CDNOW_AS_OF)).dt.days.to_numpy() / 7
    assert len(table) == 39 and t[-1] == 39
    x, rec, age = summary["frequency"], summary["recency"], summary["T"]
    conditional = [fitter.conditional_expected_number_of_purchases_up_to_time(tk, x, rec, age).sum() for tk in t]
    uncond = [(fitter.expected_number_of_purchases_up_to_time(age + tk)
               - fitter.expected_number_of_purchases_up_to_time(age)).sum() for tk in t]
    assert np.allclose(table["predicted_cumulative"], conditional, rtol=1e-6)
    assert np.allclose(table["predicted_cumulative_unconditional"], uncond, rtol=1e-6)
    repeat_days = len(holdout.groupby(["customer_id", "order_date"]))
    assert table["actual_cumulative"].iloc[-1] == repeat_days
    assert np.allclose(table["actual_cumulative"], table["actual_purchases"].cumsum())


def test_no_holdout_or_declined_gives_empty_tables(cdnow):
    summary, holdout, as_of, params = cdnow
    no_holdout = as_of.assign(data_end_date=as_of["as_of_date"], has_holdout=False)
    for kind in diagnostics.COLUMNS:
        table = build_diagnostic(kind, summary, params, no_holdout, holdout.iloc[0:0], CONFIG)
        assert table.empty == (kind in diagnostics.HOLDOUT_KINDS), kind
        assert list(table.columns) == list(diagnostics.COLUMNS[kind])
        declined = build_diagnostic(kind, summary, params.iloc[0:0], as_of, holdout, CONFIG)
        assert declined.empty and list(declined.columns) == list(diagnostics.COLUMNS[kind])
    note = diagnostics.holdout_note(CDNOW_AS_OF, CDNOW_AS_OF, False)
    assert "ml_clv_calibration_holdout" in note and "no orders after as_of_date" in note
    assert diagnostics.holdout_note(CDNOW_AS_OF, END, True) == ""
