"""The CLV code against the reference library (lifetimes 0.11.3).

* the Python summary equals lifetimes' summary_data_from_transaction_data,
* fits on compressed, weighted patterns equal per-customer lifetimes fits
  (relative difference < 1e-4, the issue's bar),
* the vectorised prediction formulas equal lifetimes' methods.
"""

from __future__ import annotations

import warnings

import lifetimes
import numpy as np
import pandas as pd
import pytest
from clv_fixtures import max_rel_diff

from shoplens import clv
from shoplens.clv import engine as clv_engine
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.testing.clv_simulate import simulate_purchases


@pytest.fixture(scope="module")
def simulated():
    purchases, as_of = simulate_purchases(4000, 730, seed=11)
    return purchases, as_of


@pytest.mark.parametrize("unit,multiplier", [("days", 1), ("weeks", 7)])
def test_summary_equals_lifetimes(simulated, unit, multiplier):
    purchases, as_of = simulated
    ours = summary_from_purchases(purchases, as_of, unit).set_index("customer_id")
    ref = lifetimes.utils.summary_data_from_transaction_data(
        purchases, "customer_id", "order_date", monetary_value_col="order_total",
        observation_period_end=pd.Timestamp(as_of), freq="D", freq_multiplier=multiplier,
    )
    ref = ref.reindex(ours.index)
    assert len(ours) == len(ref) == purchases["customer_id"].nunique()
    np.testing.assert_array_equal(ours["frequency"], ref["frequency"])
    np.testing.assert_allclose(ours["recency"], ref["recency"], rtol=1e-12)
    np.testing.assert_allclose(ours["T"], ref["T"], rtol=1e-12)
    np.testing.assert_allclose(ours["monetary_value"], ref["monetary_value"], rtol=1e-9, atol=1e-9)


def _direct_fit(name, summary):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "gamma_gamma":
            rep = summary.loc[summary["frequency"] > 0]
            return lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"]).params_
        cls = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter}[name]
        return cls().fit(summary["frequency"], summary["recency"], summary["T"]).params_


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "gamma_gamma"])
@pytest.mark.parametrize("unit", ["days", "weeks"])
def test_compressed_fit_equals_per_customer_fit(simulated, name, unit):
    purchases, as_of = simulated
    summary = summary_from_purchases(purchases, as_of, unit)
    config = clv.ClvConfig(time_unit=unit)
    frame = clv.validate_summary(summary, config)
    data = clv.compress_spend(frame) if name == "gamma_gamma" else clv.compress_counts(frame)
    assert data["weight"].sum() == (frame["frequency"].gt(0).sum() if name == "gamma_gamma" else len(frame))
    assert len(data) < len(frame)  # compression happened
    ours = clv.fit_model(name, data, time_unit=unit)
    ref = _direct_fit(name, summary)
    names = clv.PARAMETER_NAMES[name]
    assert max_rel_diff([ours.params[p] for p in names], [ref[p] for p in names]) < 1e-4
    assert ours.fallback_reason == "none" and ours.converged
    # the reported log-likelihood is lifetimes' (unscaled time, all customers)
    nll = clv_engine._mean_nll(name, data)
    assert ours.log_likelihood == pytest.approx(-nll(ours.log_params) * data["weight"].sum(), rel=1e-9)


def test_pareto_compressed_matches_per_customer(simulated):
    """Pareto/NBD: the fast engine (BFGS on the compressed patterns) finds lifetimes' optimum
    (Nelder-Mead per customer); 1e-5 is Nelder-Mead's own precision at tol 1e-8."""
    purchases, as_of = simulated
    summary = summary_from_purchases(purchases, as_of, "weeks")
    frame = clv.validate_summary(summary, clv.ClvConfig(time_unit="weeks"))
    data = clv.compress_counts(frame)
    ours = clv.fit_model("pareto_nbd", data, time_unit="weeks")
    ref = lifetimes.ParetoNBDFitter().fit(
        frame["frequency"], frame["recency"], frame["T"], initial_params=np.ones(4), tol=1e-8, maxiter=4000
    ).params_
    assert max_rel_diff([ours.params[p] for p in "r alpha s beta".split()], ref.to_numpy()) < 1e-5
    theirs = clv.fit_model("pareto_nbd", data, time_unit="weeks", engine="lifetimes")
    assert max_rel_diff(list(ours.params.values()), list(theirs.params.values())) < 1e-5
    assert ours.log_likelihood == pytest.approx(theirs.log_likelihood, rel=1e-9)


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_pareto_fast_objective_is_lifetimes_objective(simulated, penalizer):
    """Value (up to lifetimes' division by the mean weight) and gradient (central differences
    of lifetimes' own objective) of the fast Pareto/NBD objective."""
    from shoplens.clv import likelihood

    purchases, as_of = simulated
    frame = clv.validate_summary(summary_from_purchases(purchases, as_of, "days"), clv.ClvConfig())
    data = clv.compress_counts(frame)
    packed = likelihood.ParetoData.from_patterns(data)
    x, w = data["frequency"].to_numpy(), data["weight"].to_numpy(dtype=float)
    rec, age = data["recency"].to_numpy() * packed.scale, data["T"].to_numpy() * packed.scale

    def theirs(lp):
        return lifetimes.ParetoNBDFitter._negative_log_likelihood(np.exp(lp), x, rec, age, w, penalizer) / len(x)

    for lp in (np.log([0.6, 2.0, 0.8, 5.0]), np.log([1.3, 0.4, 2.5, 0.9]), np.zeros(4)):
        value, grad = likelihood.pareto_nll(lp, packed, penalizer)
        assert value == pytest.approx(theirs(lp), rel=1e-10)
        h = 1e-5
        numeric = [(theirs(lp + h * e) - theirs(lp - h * e)) / (2 * h) for e in np.eye(4)]
        assert max_rel_diff(grad, numeric) < 1e-5


def test_standard_errors_match_lifetimes(simulated):
    purchases, as_of = simulated
    summary = summary_from_purchases(purchases, as_of, "days")
    frame = clv.validate_summary(summary, clv.ClvConfig())
    ours = clv.fit_model("bgnbd", clv.compress_counts(frame))
    ref = lifetimes.BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["T"])
    assert max_rel_diff(list(ours.standard_errors.values()), ref.standard_errors_.to_numpy()) < 1e-3


@pytest.fixture(scope="module")
def fitted_lifetimes(simulated):
    purchases, as_of = simulated
    s = summary_from_purchases(purchases, as_of, "days")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {
            "bgnbd": lifetimes.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"]),
            "mbgnbd": lifetimes.ModifiedBetaGeoFitter().fit(s["frequency"], s["recency"], s["T"]),
            "pareto_nbd": lifetimes.ParetoNBDFitter().fit(
                s["frequency"], s["recency"], s["T"], initial_params=np.ones(4)
            ),
        }
        rep = s.loc[s["frequency"] > 0]
        gg = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    return s, models, gg


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "pareto_nbd"])
def test_prediction_formulas_equal_lifetimes(fitted_lifetimes, name):
    s, models, _ = fitted_lifetimes
    ref = models[name]
    params = {k: float(v) for k, v in ref.params_.items()}
    x, rec, age = s["frequency"], s["recency"], s["T"]
    for t in (30.0, 90.0, 365.0):
        ours = clv.expected_purchases(name, params, t, x, rec, age)
        theirs = ref.conditional_expected_number_of_purchases_up_to_time(t, x, rec, age)
        assert max_rel_diff(ours, theirs) < 1e-8
    assert max_rel_diff(
        clv.probability_alive(name, params, x, rec, age), ref.conditional_probability_alive(x, rec, age)
    ) < 1e-8
    ts = np.array([10.0, 100.0, 700.0])
    assert max_rel_diff(
        clv.expected_purchases_unconditional(name, params, ts), ref.expected_number_of_purchases_up_to_time(ts)
    ) < 1e-8


def test_gamma_gamma_value_equals_lifetimes(fitted_lifetimes):
    s, _, gg = fitted_lifetimes
    params = {k: float(v) for k, v in gg.params_.items()}
    ours = clv.expected_average_value(params, s["frequency"], s["monetary_value"])
    theirs = gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    assert max_rel_diff(ours, theirs) < 1e-10
    # no repeat purchase -> the population mean p v / (q - 1)
    zero = s["frequency"].to_numpy() == 0
    pop = params["p"] * params["v"] / (params["q"] - 1)
    np.testing.assert_allclose(ours[zero], pop, rtol=1e-12)


def test_discounted_clv_equals_undiscounted_sum_at_zero_rate(fitted_lifetimes):
    s, models, _ = fitted_lifetimes
    params = {k: float(v) for k, v in models["bgnbd"].params_.items()}
    cfg0 = clv.ClvConfig(horizon_months=12, annual_discount_rate=0.0)
    dep = clv.discounted_purchases("bgnbd", params, s["frequency"], s["recency"], s["T"], cfg0)
    full = clv.expected_purchases("bgnbd", params, 365.25, s["frequency"], s["recency"], s["T"])
    assert max_rel_diff(dep, full) < 1e-9
    cfg10 = clv.ClvConfig(horizon_months=12, annual_discount_rate=0.10)
    dep10 = clv.discounted_purchases("bgnbd", params, s["frequency"], s["recency"], s["T"], cfg10)
    ratio = dep10.sum() / dep.sum()
    # monthly discounting at 10 %/year: the factor lies between 1/1.1 and 1
    assert 1 / 1.10 < ratio < 1.0


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "gamma_gamma"])
@pytest.mark.parametrize("penalizer", [0.0, 0.05])
def test_fast_likelihood_value_and_gradient_equal_lifetimes(simulated, name, penalizer):
    from autograd import value_and_grad

    purchases, as_of = simulated
    frame = clv.validate_summary(summary_from_purchases(purchases, as_of, "days"), clv.ClvConfig())
    data = clv.compress_spend(frame) if name == "gamma_gamma" else clv.compress_counts(frame)
    fun, args, scale = clv_engine._fast_problem(name, data)
    w = data["weight"].to_numpy()
    if name == "gamma_gamma":
        ref = lifetimes.GammaGammaFitter._negative_log_likelihood
        ref_args = (data["frequency"].to_numpy(float), data["monetary_value"].to_numpy(float), w, penalizer)
    else:
        cls = lifetimes.BetaGeoFitter if name == "bgnbd" else lifetimes.ModifiedBetaGeoFitter
        ref = cls._negative_log_likelihood
        ref_args = (data["frequency"].to_numpy(int), data["recency"].to_numpy(float) * scale,
                    data["T"].to_numpy(float) * scale, w, penalizer)
    rng = np.random.default_rng(3)
    for _ in range(3):
        lp = rng.normal(0.0, 0.7, size=len(clv.PARAMETER_NAMES[name]))
        ours_v, ours_g = fun(lp, *args, penalizer)
        ref_v, ref_g = value_and_grad(ref)(lp, *ref_args)
        assert ours_v == pytest.approx(float(ref_v), rel=1e-10)
        np.testing.assert_allclose(ours_g, ref_g, rtol=1e-7, atol=1e-10)


def test_both_engines_reach_the_same_optimum(simulated):
    purchases, as_of = simulated
    frame = clv.validate_summary(summary_from_purchases(purchases, as_of, "weeks"), clv.ClvConfig(time_unit="weeks"))
    counts = clv.compress_counts(frame)
    for name in ("bgnbd", "mbgnbd"):
        fast = clv.fit_model(name, counts, engine="fast", penalizer=0.01)
        slow = clv.fit_model(name, counts, engine="lifetimes", penalizer=0.01)
        names = clv.PARAMETER_NAMES[name]
        assert max_rel_diff([fast.params[p] for p in names], [slow.params[p] for p in names]) < 1e-4
        assert fast.log_likelihood == pytest.approx(slow.log_likelihood, rel=1e-8)
