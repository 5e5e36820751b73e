"""Pareto/NBD stays finite for frequent customers whose last purchase is at T (docs/clv.md, "Fixed").

lifetimes forms log(F(t_x) - F(T)) of the likelihood as a signed logsumexp
of two terms that are equal when t_x = T; past exp(709) scipy's logsumexp
returns NaN there (an Online-Retail-shaped probe: x = 107..126 at
t_x = T = 379 days, and x = 236 at t_x = T = 736). Rule under test: the
log-likelihood, P(alive) and expected purchases are finite and continuous at
t_x = T, equal lifetimes' values wherever those were finite, and a
non-finite value never reaches a table silently.
"""

from __future__ import annotations

import lifetimes
import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from shoplens import clv
from shoplens.clv import diagnostics
from shoplens.clv import fit as clv_fit
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.clv.likelihood import _log_hyp2f1_quadrature, _pareto_log_f, pareto_log_likelihood
from shoplens.clv.models import MODELS
from shoplens.testing.cdnow import read_cdnow_sample
from shoplens.testing.clv_simulate import simulate_purchases

# the probe's fitted Pareto/NBD (as of 2010-12-15, days) and its 2011-12-09 refit
PROBE = {"r": 0.3766075778119391, "alpha": 33.00317473165242, "s": 0.37252786527406967, "beta": 183.79179396745832}
PROBE_LATE = {"r": 0.3634, "alpha": 35.66, "s": 4.685, "beta": 2610.9}
# CDNOW sample in weeks (lifetimes' documented fit) and parameter sets on either side of alpha = beta
PARAMS = [
    {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562},
    PROBE,
    PROBE_LATE,
    {"r": 2.0, "alpha": 1.0, "s": 3.0, "beta": 0.5},
    {"r": 0.3, "alpha": 100.0, "s": 0.9, "beta": 10.0},
    {"r": 0.3, "alpha": 5.0, "s": 1.0, "beta": 5.0},
]


def _lifetimes_fitter(p: dict[str, float]) -> lifetimes.ParetoNBDFitter:
    fitter = lifetimes.ParetoNBDFitter()
    fitter.params_ = pd.Series(p)[["r", "alpha", "s", "beta"]]
    return fitter


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDNOW's (x, t_x, T) in weeks, then x = 0..236 at T = 1..736 and t_x from 0 to T."""
    cdnow = read_cdnow_sample()
    weeks = cdnow.groupby("customer")["order_date"].agg(["min", "max", "nunique"])
    end = pd.Timestamp("1997-09-30")
    x = (weeks["nunique"] - 1).to_numpy(dtype=float)
    rec = ((weeks["max"] - weeks["min"]).dt.days / 7).to_numpy()
    age = ((end - weeks["min"]).dt.days / 7).to_numpy()
    xs, ts, fr = np.meshgrid([0, 1, 2, 5, 10, 30, 60, 100, 107, 126, 236], [1.0, 7.0, 38.86, 100.0, 379.0, 736.0],
                             np.linspace(0, 1, 21), indexing="ij")
    grid_rec = np.where(xs > 0, fr * ts, 0.0)
    return (np.concatenate([x, xs.ravel()]), np.concatenate([np.clip(rec, 0, age), grid_rec.ravel()]),
            np.concatenate([age, ts.ravel()]))


@pytest.mark.parametrize("x", [100, 107, 126, 180, 236])
@pytest.mark.parametrize("age", [379.0, 736.0])
@pytest.mark.parametrize("p", [PROBE, PROBE_LATE], ids=["probe_2010", "probe_2011"])
def test_last_purchase_at_T_is_finite_and_continuous(x, age, p):
    """At t_x = T P(alive) is 1 (a purchase at T) and t_x = T - 1 day is close to it."""
    xs = np.full(4, float(x))
    rec = np.array([age, age - 1e-7, age - 1.0, age - 30.0])
    ages = np.full(4, age)
    alive = clv.probability_alive("pareto_nbd", p, xs, rec, ages)
    assert np.isfinite(alive).all() and ((alive >= 0) & (alive <= 1)).all()
    assert alive[0] == 1.0
    assert alive[1] == pytest.approx(1.0, abs=1e-6)
    assert alive[2] > 0.99 and alive[3] < alive[2]
    ll = MODELS["pareto_nbd"].row_log_likelihood(p, xs, rec, ages)
    assert np.isfinite(ll).all()
    assert ll[1] == pytest.approx(ll[0], abs=1e-6)  # continuous in t_x at T
    purchases = clv.expected_purchases("pareto_nbd", p, 90.0, xs, rec, ages)
    assert np.isfinite(purchases).all() and (purchases > 0).all()


def test_mean_nll_is_finite_with_such_customers():
    """The unscaled likelihood the Hessian check runs on (it was NaN: "Eigenvalues did not converge")."""
    counts = pd.DataFrame({"frequency": [0, 3, 109, 236], "recency": [0.0, 200.0, 735.0, 736.0],
                           "T": [700.0, 736.0, 735.0, 736.0], "weight": [50, 10, 1, 1]})
    nll = MODELS["pareto_nbd"].mean_nll(counts)
    assert np.isfinite(nll(np.log([PROBE_LATE[k] for k in ("r", "alpha", "s", "beta")])))


def test_equal_to_lifetimes_where_lifetimes_is_finite():
    """Log-likelihood, P(alive) and expected purchases as before (lifetimes' formulas) to 1e-9."""
    x, rec, age = _grid()
    n_compared = n_nonfinite = 0
    for p in PARAMS:
        fitter = _lifetimes_fitter(p)
        with np.errstate(all="ignore"):
            old_ll = lifetimes.ParetoNBDFitter._conditional_log_likelihood(
                (p["r"], p["alpha"], p["s"], p["beta"]), x, rec, age)
            old_alive = fitter.conditional_probability_alive(x, rec, age)
            old_purchases = fitter.conditional_expected_number_of_purchases_up_to_time(13.0, x, rec, age)
        new_ll = MODELS["pareto_nbd"].row_log_likelihood(p, x, rec, age)
        new_alive = clv.probability_alive("pareto_nbd", p, x, rec, age)
        new_purchases = clv.expected_purchases("pareto_nbd", p, 13.0, x, rec, age)
        assert np.isfinite(new_ll).all() and np.isfinite(new_alive).all() and np.isfinite(new_purchases).all()
        ok = np.isfinite(old_ll)
        np.testing.assert_allclose(new_ll[ok], old_ll[ok], rtol=1e-9)
        ok_alive = np.isfinite(old_alive)
        np.testing.assert_allclose(new_alive[ok_alive], old_alive[ok_alive], rtol=1e-9, atol=1e-300)
        ok_purchases = np.isfinite(old_purchases)
        np.testing.assert_allclose(new_purchases[ok_purchases], old_purchases[ok_purchases], rtol=1e-9, atol=1e-300)
        n_compared += int(ok.sum())
        n_nonfinite += int((~ok).sum())
    assert n_compared > 20_000
    assert n_nonfinite > 0  # the grid does reach lifetimes' NaN cells


@pytest.mark.parametrize(("x", "t"), [(600, 600.0), (1000, 1000.0), (236, 0.5), (2000, 2100.0)])
def test_overflowing_hypergeometric_term_matches_quadrature(x, t):
    """Where 2F1 overflows (beta >> alpha, many purchases) its log is summed as a series.

    F(t) = (r+s+x) * integral_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du, by quadrature
    relative to the integrand at t.
    """
    r, alpha, s, beta = (PROBE_LATE[k] for k in ("r", "alpha", "s", "beta"))

    def ratio(u: float) -> float:
        return np.exp(-(r + x) * np.log1p(u / (alpha + t)) - (s + 1) * np.log1p(u / (beta + t)))

    integral = quad(ratio, 0, np.inf, epsabs=0, epsrel=1e-13, limit=500)[0]
    expected = np.log((r + s + x) * integral) - (r + x) * np.log(alpha + t) - (s + 1) * np.log(beta + t)
    assert float(_pareto_log_f(r, alpha, s, beta, float(x), t)) == pytest.approx(expected, rel=1e-11)
    assert np.isfinite(pareto_log_likelihood(r, alpha, s, beta, float(x), t / 2, t))


@pytest.mark.parametrize(("a", "b", "z"), [(351.36, 1.4146, 0.99965), (273.06, 0.4141, 0.99868), (1000.0, 2.0, 0.99999999)])
def test_quadrature_where_scipy_hyp2f1_returns_nan(a, b, z):
    """scipy's hyp2f1(a, b; a + 1; z) is NaN here (large a, z near 1; met while Nelder-Mead explores)."""
    def integrand(y: float) -> float:
        return np.exp(-y) * (1 - z * np.exp(-y / a)) ** -b

    peak = 10 * a * (1 - z)  # the width of the peak at 0, integrated on its own
    integral = sum(quad(integrand, lo, hi, epsrel=1e-10, limit=500)[0] for lo, hi in [(0, peak), (peak, np.inf)])
    ours = _log_hyp2f1_quadrature(np.array([a]), np.array([b]), np.array([z]), np.array([1 - z]))[0]
    assert ours == pytest.approx(np.log(integral), rel=1e-9)


def test_probability_alive_matrix_has_no_null_at_recency_T():
    """The probe's failing grid: frequency up to 126 at T = 379, P(alive) in [0, 1] everywhere."""
    frame = pd.DataFrame({"frequency": [0, 5, 126], "recency": [0.0, 100.0, 376.0], "T": [379.0, 300.0, 377.0]})
    frame["T"] = frame["T"].max()
    table = diagnostics.probability_alive_matrix("pareto_nbd", PROBE, frame)
    alive = table["probability_alive"].to_numpy()
    assert np.isfinite(alive).all() and ((alive >= 0) & (alive <= 1)).all()
    at_t = table.loc[(table["recency"] == 379.0) & (table["frequency"] > 0), "probability_alive"]
    assert (at_t == 1.0).all()


def test_matrix_refuses_a_non_finite_cell(monkeypatch):
    """A NaN cell stops the diagnostic step with the cells named, instead of a NULL."""
    def nan_at_t(self, p, x, rec, age):
        return np.where(rec == age, np.nan, 0.5)

    monkeypatch.setattr(type(MODELS["pareto_nbd"]), "probability_alive", nan_at_t)
    frame = pd.DataFrame({"frequency": [0, 126], "recency": [0.0, 379.0], "T": [379.0, 379.0]})
    with pytest.raises(clv.ClvFitError, match=r"P\(alive\) is not finite .* cells .* T = 379"):
        diagnostics.probability_alive_matrix("pareto_nbd", PROBE, frame)


@pytest.fixture(scope="module")
def heavy_counts():
    """Simulated days data plus the probe's two heavy buyers with their last purchase at T."""
    purchases, as_of = simulate_purchases(1500, 740, seed=5)
    summary = summary_from_purchases(purchases, as_of, "days")
    top = float(summary["T"].max())
    heavy = pd.DataFrame({"customer_id": [-1, -2], "frequency": [236, 109], "recency": [top, top - 1],
                          "T": [top, top - 1], "monetary_value": [20.0, 30.0]})
    return clv.compress_counts(pd.concat([summary, heavy], ignore_index=True))


def test_pareto_fit_with_heavy_buyers_at_T_converges(heavy_counts):
    """Before: the Hessian check on these data was NaN ("no maximum found")."""
    model = clv.fit_model("pareto_nbd", heavy_counts, time_unit="days")
    assert model.fallback_reason == "none" and model.penalizer == 0.0
    assert np.isfinite(model.log_likelihood)
    assert np.isfinite(list(model.standard_errors.values())).all()


def test_non_finite_likelihood_names_the_patterns_not_a_penalizer(heavy_counts, monkeypatch):
    """lifetimes' old likelihood (NaN at these customers) stops the fit with the patterns named."""
    def old_rows(p, x, rec, age):
        with np.errstate(all="ignore"):
            return lifetimes.ParetoNBDFitter._conditional_log_likelihood(
                (p["r"], p["alpha"], p["s"], p["beta"]), x, rec, age)

    monkeypatch.setattr(type(MODELS["pareto_nbd"]), "row_log_likelihood", staticmethod(old_rows))
    with pytest.raises(clv.ClvFitError) as info:
        clv.fit_model("pareto_nbd", heavy_counts, time_unit="days")
    message = str(info.value)
    assert "log-likelihood is not finite at the start values" in message
    assert "(236, " in message and "A penalizer cannot fix" in message
    assert "larger dbt var penalizer" not in message


def test_non_finite_predictions_exclude_the_model(heavy_counts, monkeypatch):
    """A candidate that cannot score every pattern is left out with the reason, not served with NULLs."""
    def nan_for_heavy(self, p, x, rec, age):
        return np.where(x > 200, np.nan, 0.5)

    monkeypatch.setattr(type(MODELS["pareto_nbd"]), "probability_alive", nan_for_heavy)
    monkeypatch.setattr(type(MODELS["pareto_nbd"]), "history_part", nan_for_heavy)
    config = clv.ClvConfig(candidates=("bgnbd", "pareto_nbd"), n_draws=20)
    models, excluded = clv_fit.fit_count_models(heavy_counts, config)
    assert "pareto_nbd" not in models and "bgnbd" in models
    assert "pareto_nbd not served: P(alive) is not finite or outside [0, 1] for 1 (frequency, recency, T)" in (
        excluded["pareto_nbd"])
    assert "(236, " in excluded["pareto_nbd"]
