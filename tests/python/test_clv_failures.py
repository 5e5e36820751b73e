"""Degenerate data end in a clear error or in a flagged fallback (docs/clv.md).

Rule under test: data that cannot identify a model -> ClvDataError / ClvFitError
naming cause and fix; an optimiser failure that a larger penalizer cures ->
fallback flagged in ml_clv_parameters and in every prediction row.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import ConvergenceError

from shoplens import clv
from shoplens.clv import fit as clv_fit
from shoplens.clv import score as clv_score
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.testing.clv_simulate import simulate_purchases

AS_OF = dt.date(2025, 12, 30)


@pytest.fixture(scope="module")
def summary():
    purchases, as_of = simulate_purchases(1500, 730, seed=21)
    return summary_from_purchases(purchases, as_of, "days")


def _config(**kw):
    return clv.ClvConfig(candidates=("bgnbd",), n_draws=20, **kw)


def test_too_few_customers(summary):
    with pytest.raises(clv.ClvDataError, match=r"at least 100 purchasing customers.*has 40.*clv_min_customers"):
        clv.fit_clv(summary.head(40), _config())


def test_no_repeat_buyers(summary):
    one_timers = summary.assign(frequency=0, recency=0.0, monetary_value=0.0)
    with pytest.raises(clv.ClvDataError, match=r"No repeat buyers: all 1500 customers have frequency 0"):
        clv.fit_clv(one_timers, _config())


def test_too_few_repeat_buyers(summary):
    few = summary.copy()
    repeat = few.index[few["frequency"] > 0]
    few.loc[repeat[5:], ["frequency", "recency", "monetary_value"]] = [0, 0.0, 0.0]
    with pytest.raises(clv.ClvDataError, match=r"Only 5 of 1500 customers bought again.*at least 20"):
        clv.fit_clv(few, _config())


def test_constant_spend_serves_the_limiting_model(summary):
    flat = summary.copy()
    flat.loc[flat["frequency"] > 0, "monetary_value"] = 25.0
    fit = clv.fit_clv(flat, _config())
    spend = fit.spend_model
    assert spend.name == "constant_value" and spend.params == {"value": 25.0} and spend.at_boundary
    assert "constant spend" in spend.fallback_reason and "boundary" in spend.fallback_reason
    pred = clv.score_customers(fit, flat, _config(), as_of_date=AS_OF)
    assert (pred["expected_avg_order_value"] == 25.0).all() and (pred["spend_model"] == "constant_value").all()
    assert pred["is_fallback"].all() and (pred["clv_p10"] <= pred["clv_p90"]).all()


def test_zero_spend_repeat_buyers_leave_the_spend_fit(summary):
    some = summary.copy()
    zeros = some.index[some["frequency"] > 0][:3]
    some.loc[zeros, "monetary_value"] = 0.0
    fit = clv.fit_clv(some, _config())
    n_spend = int(((summary["frequency"] > 0)).sum()) - 3
    assert fit.spend_model.name == "gamma_gamma" and fit.spend_model.n_customers == n_spend
    pred = clv.score_customers(fit, some, _config(), as_of_date=AS_OF).set_index("customer_id")
    assert np.isfinite(pred["clv"]).all()
    assert (pred.loc[some.loc[zeros, "customer_id"], "expected_purchases_90d"] > 0).all()


def test_negative_spend_is_refused(summary):
    bad = summary.copy()
    bad.loc[bad.index[bad["frequency"] > 0][:3], "monetary_value"] = -1.0
    with pytest.raises(clv.ClvDataError, match=r"3 customers have monetary_value < 0.*order_total_negative"):
        clv.fit_clv(bad, _config())


def test_gamma_gamma_q_at_most_one(summary):
    heavy = summary.copy()
    repeat = heavy["frequency"] > 0
    rng = np.random.default_rng(0)
    # Pareto tail index 0.7: the mean spend does not exist, so q lands below 1
    heavy.loc[repeat, "monetary_value"] = (rng.pareto(0.7, int(repeat.sum())) + 1) * 10
    with pytest.raises(clv.ClvDataError, match=r"Gamma-Gamma estimated q = 0\.\d+ <= 1.*outlier orders"):
        clv.fit_clv(heavy, _config())


def test_malformed_summary(summary):
    bad = summary.copy()
    bad.loc[0, "recency"] = bad.loc[0, "T"] + 5
    with pytest.raises(clv.ClvDataError, match=r"1 customers where recency exceeds T"):
        clv.fit_clv(bad, _config())
    with pytest.raises(clv.ClvDataError, match=r"lacks columns \['T'\]"):
        clv.fit_clv(summary.drop(columns="T"), _config())
    nan = summary.copy()
    nan.loc[3, "monetary_value"] = np.nan
    with pytest.raises(clv.ClvDataError, match=r"monetary_value has 1 missing"):
        clv.fit_clv(nan, _config())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"time_unit": "months"}, "btyd_time_unit must be 'days' or 'weeks'"),
        ({"annual_discount_rate": 10.0}, r"annual_discount_rate must be a yearly rate in \[0, 1\)"),
        ({"penalizer": -1.0}, "penalizer must be a finite number >= 0"),
        ({"horizon_months": 0}, "clv_horizon_months must be a whole number"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(clv.ClvDataError, match=match):
        clv.ClvConfig(**kwargs)


def test_no_dropout_serves_the_nbd_limit_flagged_at_the_boundary():
    """Customers who never churn: BG/NBD's maximum sits at a -> 0; its limit NBD is served."""
    purchases, as_of = simulate_purchases(3000, 730, a=0.02, b=200.0, seed=5)
    summary = summary_from_purchases(purchases, as_of, "days")
    config = _config()
    fit = clv.fit_clv(summary, config)
    assert set(fit.count_models) == {"nbd"} and fit.selected == "nbd"
    assert "bgnbd at the no-drop-out boundary" in fit.excluded["bgnbd"]
    nbd = fit.count_models["nbd"]
    assert nbd.at_boundary and nbd.fallback_reason.startswith("boundary estimate: limit of bgnbd")
    params = clv.parameters_frame(fit, as_of_date=AS_OF)
    assert params.loc[params["model_name"] == "nbd", "at_boundary"].all()
    pred = clv.score_customers(fit, summary, config, as_of_date=AS_OF)
    assert len(pred) == len(summary) and (pred["probability_alive"] == 1).all()
    assert np.isfinite(pred[["clv", "clv_p10", "clv_p90", "expected_purchases_365d"]].to_numpy()).all()
    assert pred["is_fallback"].all() and (pred["count_model"] == "nbd").all()


def test_optimiser_failure_falls_back_to_penalizer_and_is_flagged(summary, monkeypatch):
    real = clv_fit._run_engine

    def failing_without_penalty(name, data, penalizer, init, engine):
        if penalizer == 0:  # what lifetimes raises when scipy reports no convergence
            raise ConvergenceError("The model did not converge.")
        return real(name, data, penalizer, init, engine)

    monkeypatch.setattr(clv_fit, "_run_engine", failing_without_penalty)
    config = _config()
    fit = clv.fit_clv(summary, config)
    bg = fit.count_models["bgnbd"]
    assert bg.penalizer == 0.001 and bg.converged
    assert bg.fallback_reason.startswith("penalizer raised from 0.0 to 0.001")
    params = clv.parameters_frame(fit, as_of_date=AS_OF)
    assert params.loc[params["model_name"] == "bgnbd", "fallback_reason"].str.contains("penalizer raised").all()
    assert (params["penalizer"] == 0.001).all()
    pred = clv.score_customers(fit, summary, config, as_of_date=AS_OF)
    assert pred["is_fallback"].all()
    assert pred["fallback_reason"].str.startswith("bgnbd: penalizer raised").all()
    assert pred["probability_alive"].between(0, 1).all()


def test_all_penalizers_fail_is_an_error(summary, monkeypatch):
    def never(name, data, penalizer, init, engine):
        raise ConvergenceError("The model did not converge.")

    monkeypatch.setattr(clv_fit, "_run_engine", never)
    with pytest.raises(clv.ClvFitError, match=r"bgnbd did not converge with penalizers \[0.0, 0.001, 0.01, 0.1\]"):
        clv.fit_clv(summary, _config())


def _fails_to_converge(monkeypatch, model: str) -> None:
    """Every fit of ``model`` raises what lifetimes raises when scipy reports no convergence."""
    real = clv_fit._run_engine

    def failing(name, data, penalizer, init, engine):
        if name == model:
            raise ConvergenceError("The model did not converge.")
        return real(name, data, penalizer, init, engine)

    monkeypatch.setattr(clv_fit, "_run_engine", failing)


def test_failing_candidate_is_excluded_not_fatal(summary, monkeypatch):
    _fails_to_converge(monkeypatch, "pareto_nbd")
    fit = clv.fit_clv(summary, clv.ClvConfig(candidates=("bgnbd", "pareto_nbd"), n_draws=20))
    assert set(fit.count_models) == {"bgnbd"}
    assert "pareto_nbd did not converge" in fit.excluded["pareto_nbd"]


def test_pareto_skipped_above_pattern_cap_and_recorded(summary):
    fit = clv.fit_clv(summary, clv.ClvConfig(candidates=("bgnbd", "pareto_nbd"), n_draws=20,
                                             pareto_max_patterns=100))
    assert set(fit.count_models) == {"bgnbd"}
    assert fit.excluded["pareto_nbd"].startswith("pareto_nbd skipped: 1177 (frequency, recency, T) patterns")
    from shoplens.clv.evaluation import select_count_model

    assert "excluded: pareto_nbd: pareto_nbd skipped" in select_count_model(fit, None).selection_reason


def test_non_finite_predictions_are_refused(summary):
    fit = clv.fit_clv(summary, _config())
    pred = clv.score_customers(fit, summary, _config(), as_of_date=AS_OF)
    broken = pred.copy()
    broken.loc[0, "clv"] = np.nan
    with pytest.raises(clv.ClvFitError, match=r"clv has 1 non-finite or negative values"):
        clv_score._assert_clean(broken)
    broken = pred.copy()
    broken.loc[0, "probability_alive"] = 1.5
    with pytest.raises(clv.ClvFitError, match=r"probability_alive outside \[0, 1\]"):
        clv_score._assert_clean(broken)


def test_parameters_round_trip(summary):
    fit = clv.fit_clv(summary, clv.ClvConfig(candidates=("bgnbd", "mbgnbd"), n_draws=20))
    params = clv.parameters_frame(fit, as_of_date=AS_OF)
    assert list(params.columns) == clv.PARAMETER_COLUMNS
    assert len(params) == 4 + 4 + 3
    assert np.isfinite(params[["estimate", "standard_error", "lower_95", "upper_95"]].to_numpy()).all()
    assert (params["lower_95"] < params["estimate"]).all() and (params["estimate"] < params["upper_95"]).all()
    back = clv.fit_from_parameters(params)
    assert back.selected == fit.selected
    for name, model in fit.count_models.items():
        assert back.count_models[name].params == pytest.approx(model.params, rel=1e-12)
        np.testing.assert_allclose(back.count_models[name].log_covariance, model.log_covariance, rtol=1e-12)
    config = clv.ClvConfig(candidates=("bgnbd", "mbgnbd"), n_draws=20)
    a = clv.score_customers(fit, summary, config, as_of_date=AS_OF)
    b = clv.score_customers(back, summary, config, as_of_date=AS_OF)
    pd.testing.assert_frame_equal(a, b)


def test_too_uncertain_interval_serves_the_point_flagged(summary, monkeypatch):
    """A CLV interval that cannot be drawn degrades the rows instead of failing the step."""
    fit = clv.fit_clv(summary, _config())

    def no_interval(*args, **kwargs):
        raise clv.ClvFitError("Gamma-Gamma draws keep giving q <= 1")

    monkeypatch.setattr(clv_score, "_clv_interval", no_interval)
    pred = clv.score_customers(fit, summary, _config(), as_of_date=AS_OF)
    assert (pred["clv_p10"] == pred["clv"]).all() and (pred["clv_p90"] == pred["clv"]).all()
    assert pred["is_fallback"].all()
    assert pred["fallback_reason"].str.contains("clv interval: Gamma-Gamma draws keep giving q <= 1").all()


#: (frequency, mean spend per purchase day) of the 29 repeat buyers of a GA4-shaped probe
#: (/work/ga4, careful_asof): largest 197.00, median 53.97; Gamma-Gamma estimates q = 0.652.
GA4_REPEAT = [(1, 4.0), (1, 4.0), (1, 5.0), (1, 5.99), (1, 9.0), (1, 17.99), (1, 19.0), (1, 19.0), (1, 19.99),
              (2, 22.485), (1, 23.98), (1, 33.98), (1, 41.0), (1, 52.0), (1, 53.97), (1, 54.0), (1, 57.0),
              (1, 57.0), (1, 60.0), (1, 62.0), (1, 63.0), (1, 63.0), (1, 65.98), (1, 74.99), (1, 130.98),
              (1, 141.0), (1, 152.99), (1, 170.97), (1, 197.0)]


def test_gamma_gamma_q_at_most_one_on_few_repeat_buyers_names_the_small_sample():
    """Failed before: the decline blamed outlier orders that do not exist."""
    from shoplens.clv.spend import fit_spend

    frame = pd.DataFrame(GA4_REPEAT, columns=["frequency", "monetary_value"])
    with pytest.raises(clv.ClvDeclined) as err:
        fit_spend(frame, _config())
    message = str(err.value)
    assert re.search(r"q = 0\.65\d <= 1 from 29 repeat buyers with spend \(95 % interval of q: 0\.\d+ to 1\.\d+\)",
                     message), message
    assert "largest mean spend per purchase day is 197.00, 3.7 times the median 53.97" in message
    assert "likelier cause is the small sample: 29 repeat buyers" in message
    assert "look for outlier orders" not in message


def test_fewer_positive_spend_repeat_buyers_than_the_threshold_serve_their_mean(summary):
    """Below clv_min_repeat_customers repeat buyers the step declines (test_too_few_repeat_buyers);
    with enough repeat buyers of which fewer than that spent above 0.00, their mean spend is served."""
    some = summary.copy()
    repeat = some.index[some["frequency"] > 0]
    assert len(repeat) >= 20
    some.loc[repeat[15:], "monetary_value"] = 0.0
    fit = clv.fit_clv(some, _config())
    spend = fit.spend_model
    mean = float(some.loc[repeat[:15], "monetary_value"].mean())
    assert spend.name == "constant_value" and spend.n_customers == 15 and not spend.at_boundary
    assert spend.params["value"] == pytest.approx(mean)
    assert spend.fallback_reason.startswith("only 15 repeat buyers with spend above 0.00")


def test_gamma_gamma_fits_spend_in_any_money_unit(summary):
    """A shop in won or rupiah spends 100,000 times the units of one in dollars: the same
    customers give the same p and q and a v 100,000 times larger (before, v ran past the
    range a fit may reach and the build went red with ClvFitError)."""
    big = summary.assign(monetary_value=summary["monetary_value"] * 1e5)
    small, large = clv.fit_clv(summary, _config()).spend_model, clv.fit_clv(big, _config()).spend_model
    assert small.name == large.name == "gamma_gamma" and not large.is_fallback
    assert large.params["p"] == pytest.approx(small.params["p"], rel=1e-4)
    assert large.params["q"] == pytest.approx(small.params["q"], rel=1e-4)
    assert large.params["v"] == pytest.approx(small.params["v"] * 1e5, rel=1e-4)
    n = small.n_customers  # each buyer's density of mean spend is 1e5 times thinner
    assert large.log_likelihood == pytest.approx(small.log_likelihood - n * np.log(1e5), abs=1e-3)
    assert np.allclose(large.standard_errors["q"], small.standard_errors["q"], rtol=1e-3)


def test_a_gamma_gamma_that_cannot_be_fitted_serves_the_mean_spend_flagged(summary, monkeypatch):
    _fails_to_converge(monkeypatch, "gamma_gamma")
    fit = clv.fit_clv(summary, _config())
    spend = fit.spend_model
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    assert spend.name == "constant_value" and not spend.at_boundary
    assert spend.params["value"] == pytest.approx(repeat["monetary_value"].mean())
    assert re.search(r"Gamma-Gamma could not be fitted on the \d+ repeat buyers.*monetary_value.*"
                     r"gamma_gamma did not converge.*Fix: check customer_btyd_summary\.monetary_value"
                     r".*Served their mean spend", spend.fallback_reason)
    pred = clv.score_customers(fit, summary, _config(), as_of_date=AS_OF)
    assert pred["is_fallback"].all() and pred["fallback_reason"].str.contains("Gamma-Gamma could not").all()
