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
from shoplens.testing.clv_simulate import counted_pareto_evaluations, simulate_purchases

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


#: MBG/NBD (days) on an Olist-shaped probe (97 % one-time buyers, default as_of): a and b both
#: beyond 1e6, a / (a + b) = 0.965: heavy drop-out, almost the same for every customer.
OLIST_MBG = {"r": 122800.0, "alpha": 6310000.0, "a": 76300000.0, "b": 2776000.0}


@pytest.mark.parametrize(
    "name,params,expected",
    [
        # the no-drop-out boundary: the drop-out per purchase vanishes
        ("bgnbd", {**NBD, "a": 1e-9, "b": 1.0}, "a -> 0"),
        ("bgnbd", {**NBD, "a": 0.5, "b": 5e6}, "b -> inf"),
        ("mbgnbd", {**NBD, "a": 2.0, "b": np.inf}, "b -> inf"),
        ("bgnbd", {**NBD, "a": 0.5, "b": 9e5}, "a / (a + b) -> 0"),
        ("pareto_nbd", {**NBD, "s": 1e-12, "beta": 3.0}, "s -> 0"),
        ("pareto_nbd", {**NBD, "s": 0.5, "beta": 5e7}, "beta -> inf"),
        # both large with a moderate ratio: a nearly fixed drop-out, not its absence
        ("mbgnbd", OLIST_MBG, ""),
        ("bgnbd", {**NBD, "a": 7.63e7, "b": 2.78e6}, ""),
        ("bgnbd", {**NBD, "a": 2e6, "b": 3e6}, ""),
        ("pareto_nbd", {**NBD, "s": 4e6, "beta": 2e7}, ""),
        # interior estimates
        ("bgnbd", {**NBD, "a": 0.4, "b": 2.0}, ""),
    ],
)
def test_dropout_boundary_looks_at_the_drop_out_per_purchase(name, params, expected):
    assert clv_fit.dropout_boundary(name, params) == expected


def test_olist_heavy_drop_out_is_not_called_no_drop_out(monkeypatch):
    """Failed before: MBG/NBD at a = 7.63e7, b = 2.78e6 (drop-out 0.965) was excluded as 'no-drop-out
    boundary ... the maximum-likelihood drop-out rate is 0' and NBD added as 'the data show no drop-out'."""
    purchases, as_of = simulate_purchases(1500, 365, seed=3)
    counts = clv.compress_counts(summary_from_purchases(purchases, as_of, "days"))
    real = clv_fit._run_engine

    def olist_unpenalised(name, data, penalizer, init, engine):
        if name == "mbgnbd" and penalizer == 0.0:
            return dict(OLIST_MBG)
        return real(name, data, penalizer, init, engine)

    monkeypatch.setattr(clv_fit, "_run_engine", olist_unpenalised)
    models, excluded = clv_fit.fit_count_models(counts, clv.ClvConfig(candidates=("bgnbd", "mbgnbd")))
    assert "mbgnbd" in models and "mbgnbd" not in excluded  # the penalizer ladder, not the NBD limit
    assert models["mbgnbd"].fallback_reason.startswith("penalizer raised from 0.0")
    assert "nbd" not in models

    def olist_always(name, data, penalizer, init, engine):
        return dict(OLIST_MBG) if name == "mbgnbd" else real(name, data, penalizer, init, engine)

    monkeypatch.setattr(clv_fit, "_run_engine", olist_always)
    models, excluded = clv_fit.fit_count_models(counts, clv.ClvConfig(candidates=("bgnbd", "mbgnbd")))
    assert set(models) == {"bgnbd"}
    reason = excluded["mbgnbd"]
    assert "at the no-drop-out boundary" not in reason and "show (almost) no drop-out" not in reason, reason
    assert "a / (a + b) = 0.965" in reason and "not the no-drop-out boundary" in reason, reason


def test_pareto_fit_heading_to_no_drop_out_stops_after_few_evaluations():
    """A shop whose customers never drop out (800 customers, 1,400 days, as a Superstore-shaped
    probe): Pareto/NBD runs to s / beta -> 0 and NBD is served. lifetimes' Nelder-Mead crawled
    there for 555 evaluations here (22,564, 147 s, on the probe); the fast engine stops once
    it is inside the boundary region."""
    purchases, as_of = simulate_purchases(800, 1400, r=5.0, alpha=1200.0, a=0.0, seed=1)
    data = clv.compress_counts(clv.validate_summary(summary_from_purchases(purchases, as_of, "days"),
                                                    clv.ClvConfig()))
    with counted_pareto_evaluations() as counts, pytest.raises(
            clv.ClvBoundaryError, match="pareto_nbd at the no-drop-out boundary"):
        clv.fit_model("pareto_nbd", data)
    assert 0 < counts["n"] <= 60, counts


def test_a_fast_fit_stops_at_its_evaluation_cap(monkeypatch):
    """No fit runs unbounded: past the model's cap it stops where it is, and says so."""
    from shoplens.clv import engine, models

    purchases, as_of = simulate_purchases(2000, 365, r=0.6, alpha=20.0, a=0.8, seed=3)
    data = clv.compress_counts(clv.validate_summary(summary_from_purchases(purchases, as_of, "days"),
                                                    clv.ClvConfig()))
    seen = []

    class Recording(engine.FitGuard):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append(self)

    monkeypatch.setattr(engine, "FitGuard", Recording)
    monkeypatch.setattr(models.BGNBD, "max_evaluations", 4)
    with pytest.raises(engine.OptimiserError, match="stopped after 4 likelihood evaluations") as stop:
        engine._run_fast_raw("bgnbd", data, 0.0, None)
    assert [g.evaluations for g in seen] == [4]
    assert all(np.isfinite(v) for v in stop.value.params.values())


def test_a_fit_at_a_boundary_is_named_with_plain_numbers():
    """The status read "estimates ran to a boundary: {'r': np.float64(3.3025054189), ...}"."""
    import numpy as np
    import pandas as pd

    from shoplens.clv.fit import _check_fit

    data = pd.DataFrame({"frequency": [1, 2], "recency": [3.0, 5.0], "T": [8.0, 9.0], "weight": [1, 1]})
    _, _, why = _check_fit("pareto_nbd", {"r": np.float64(3.3025054189), "alpha": np.float64(2.0),
                                           "s": np.float64(0.5), "beta": np.float64(1070057647.5)}, data)
    assert why == "estimates ran to a boundary: r = 3.30251, alpha = 2, s = 0.5, beta = 1.07006e+09"
