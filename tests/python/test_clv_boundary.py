"""Boundary estimates are estimates: the NBD limit of the BTYD models (docs/clv.md).

BG/NBD with a -> 0 (and Pareto/NBD with s -> 0) is NBD: nobody drops out,
P(alive) = 1 and the expected purchases follow from r and alpha alone. These
tests pin the limit numerically and check that NBD recovers its parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoplens import clv
from shoplens.clv import fit as clv_fit
from shoplens.clv.evaluation import naive_rate_purchases, summary_from_purchases
from shoplens.testing.clv_simulate import simulate_purchases

X = np.array([0, 1, 3, 10, 40, 120], dtype=float)
REC = np.array([0, 20, 100, 250, 300, 364], dtype=float)
AGE = np.array([5, 60, 200, 300, 365, 365], dtype=float)
NBD = {"r": 0.8, "alpha": 25.0}


@pytest.mark.parametrize("t", [30.0, 90.0, 365.0])
def test_nbd_equals_bgnbd_with_a_tiny_a(t):
    bg = {**NBD, "a": 1e-9, "b": 1.0}
    nbd = clv.expected_purchases("nbd", NBD, t, X, REC, AGE)
    limit = clv.expected_purchases("bgnbd", bg, t, X, REC, AGE)
    np.testing.assert_allclose(limit, nbd, rtol=1e-6)
    np.testing.assert_allclose(clv.probability_alive("bgnbd", bg, X, REC, AGE), 1.0, atol=1e-6)
    np.testing.assert_array_equal(clv.probability_alive("nbd", NBD, X, REC, AGE), 1.0)
    np.testing.assert_allclose(
        clv.expected_purchases_unconditional("bgnbd", bg, t),
        clv.expected_purchases_unconditional("nbd", NBD, t),
        rtol=1e-6,
    )


def test_nbd_equals_pareto_nbd_with_a_tiny_s():
    pareto = {**NBD, "s": 1e-9, "beta": 1.0}
    nbd = clv.expected_purchases("nbd", NBD, 90.0, X, REC, AGE)
    limit = clv.expected_purchases("pareto_nbd", pareto, 90.0, X, REC, AGE)
    np.testing.assert_allclose(limit, nbd, rtol=1e-6)
    assert np.isfinite(limit).all()


def test_nbd_likelihood_is_the_bgnbd_limit():
    counts = pd.DataFrame({"frequency": X.astype(int), "recency": REC, "T": AGE, "weight": 1})
    nbd_ll = clv_fit._check_fit("nbd", NBD, counts)[1]
    bg_ll = clv_fit._check_fit("bgnbd", {**NBD, "a": 1e-6, "b": 1.0}, counts)[1]
    assert bg_ll == pytest.approx(nbd_ll, abs=1e-4)


def test_nbd_recovers_r_and_alpha_without_drop_out():
    purchases, as_of = simulate_purchases(6000, 365, r=0.6, alpha=20.0, a=0.0, seed=11)
    summary = summary_from_purchases(purchases, as_of, "days")
    fit = clv.fit_clv(summary, clv.ClvConfig(candidates=("nbd",), n_draws=20))
    model = fit.count_models["nbd"]
    se = model.standard_errors
    for name, truth in (("r", 0.6), ("alpha", 20.0)):
        assert abs(model.params[name] - truth) < 4 * se[name], (name, model.params[name], se[name])
    assert not model.at_boundary and fit.selected == "nbd"


def test_pareto_at_s_zero_is_served_as_nbd_without_nan(monkeypatch):
    """lifetimes' Pareto/NBD fit converging to s = 0 (as on a real shop) predicts NaN there."""
    purchases, as_of = simulate_purchases(1500, 365, a=0.0, seed=3)
    summary = summary_from_purchases(purchases, as_of, "days")
    real = clv_fit._run_engine

    def pareto_to_zero(name, data, penalizer, init, engine):
        if name == "pareto_nbd":
            return {"r": 0.3, "alpha": 12.0, "s": 1e-12, "beta": 3.0}
        return real(name, data, penalizer, init, engine)

    monkeypatch.setattr(clv_fit, "_run_engine", pareto_to_zero)
    config = clv.ClvConfig(candidates=("pareto_nbd",), n_draws=20)
    fit = clv.fit_clv(summary, config)
    assert fit.selected == "nbd" and "pareto_nbd at the no-drop-out boundary (s -> 0" in fit.excluded["pareto_nbd"]
    pred = clv.score_customers(fit, summary, config, as_of_date=as_of)
    assert np.isfinite(pred.select_dtypes("number").to_numpy()).all()


def test_naive_rate_carries_the_past_rate_forward():
    np.testing.assert_allclose(naive_rate_purchases([0, 2, 4], [0, 10, 40], 20), [0.0, 4.0, 2.0])


def test_fit_does_not_depend_on_row_order():
    """The warehouse returns rows in any order; the estimates (and their covariance) must not move."""
    from shoplens.testing.clv_simulate import simulate_with_covariates

    purchases, as_of, _ = simulate_with_covariates(3000, 450, effects={}, seed=5)
    summary = summary_from_purchases(purchases, as_of)
    config = clv.ClvConfig()
    first = clv.fit_clv(summary, config)
    again = clv.fit_clv(summary.sample(frac=1, random_state=1), config)
    for name, model in first.count_models.items():
        assert model.params == again.count_models[name].params, name
        assert (model.log_covariance == again.count_models[name].log_covariance).all(), name
    assert first.spend_model.params == again.spend_model.params
