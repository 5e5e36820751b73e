"""BG/NBD and MBG/NBD with very large a and b: a nearly fixed drop-out probability (docs/clv.md).

On a shop where almost every customer buys once (the Olist e-commerce
dataset: 97 % one-time buyers), BG/NBD fitted in weeks estimates a = 821,707,
b = 23,539: the drop-out probability after a purchase is a / (a + b) = 0.972
for everyone. The hypergeometric form of E[Y(t) | x, t_x, T] is 0 times an
overflowing 2F1 (NaN) there; the numerator is then evaluated as the
expectation over a concentrated Beta (``_concentrated_time_part``). These
tests pin it to the hypergeometric form across the switch, to lifetimes
where lifetimes is finite, and check that the propensity baseline keeps
BG/NBD at those estimates instead of its no-drop-out limit NBD.
"""

from __future__ import annotations

import types
import warnings

import lifetimes
import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from shoplens import clv
from shoplens.clv import fit as clv_fit
from shoplens.clv.fitted import FittedModel
from shoplens.clv.models import (
    CONCENTRATED_BETA,
    CONCENTRATED_STEP,
    MODELS,
    _concentrated_time_part,
)
from shoplens.propensity.baselines import fit_bgnbd_params

#: BG/NBD (weeks) on the Olist-shaped probe (/work/olist, as_of 2018-06-30).
OLIST_BG = {"r": 0.01543387880252135, "alpha": 2.8021782008477167, "a": 821706.6296698648, "b": 23539.465934122938}
#: MBG/NBD (days) on the same probe, default as_of: r and alpha large too.
OLIST_MBG = {"r": 122800.0, "alpha": 6310000.0, "a": 76300000.0, "b": 2776000.0}

# (frequency, recency, T) in weeks, as in the probe's reason ("e.g. (2, 1.28571, 4.71429)")
X = np.array([0, 0, 1, 2, 2, 2, 5, 12], dtype=float)
REC = np.array([0, 0, 3.0, 1.28571, 1.57143, 3.71429, 40.0, 60.0])
AGE = np.array([0.5, 90.0, 20.0, 4.71429, 24.4286, 72.7143, 52.0, 61.0])
GRID = [(0.0, 0.0, 52.0), (2.0, 1.29, 4.71), (10.0, 50.0, 52.0), (0.0, 30.0, 4.0), (40.0, 60.0, 52.0)]


def _hypergeometric(model: str, p: dict[str, float], t: float, x: float, age: float) -> float:
    """The numerator in its hypergeometric form (Euler-transformed), as the code had it."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    c = a + b + x - (0.0 if model == "mbgnbd" else 1.0)
    one_minus_z = (alpha + age) / (alpha + age + t)
    with np.errstate(all="ignore"):
        return c / (a - 1) * (1.0 - one_minus_z ** (a - 1) * hyp2f1(c - r - x, a - 1, c, t / (alpha + age + t)))


def _lifetimes(model: str, p: dict[str, float]):
    fitter = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter}[model]()
    fitter.params_ = pd.Series(p)
    return fitter


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_olist_estimates_give_finite_predictions_equal_to_lifetimes(model):
    """Failed before: the numerator was NaN for every pattern (0 * inf)."""
    p = OLIST_BG if model == "bgnbd" else OLIST_MBG
    t = 52.0 if model == "bgnbd" else 365.0
    ours = clv.expected_purchases(model, p, t, X, REC, AGE)
    assert np.isfinite(ours).all() and (ours >= 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _lifetimes(model, p).conditional_expected_number_of_purchases_up_to_time(t, X, REC, AGE)
    assert np.isfinite(ref).all()  # lifetimes' unconverted form stays finite at these r
    np.testing.assert_allclose(ours, ref, rtol=1e-8)
    np.testing.assert_allclose(MODELS[model].unconditional(p, np.array([4.0, t])),
                               _lifetimes(model, p).expected_number_of_purchases_up_to_time(np.array([4.0, t])),
                               rtol=1e-8)


def test_olist_numerator_is_the_fixed_dropout_limit():
    """a, b -> inf with p = a / (a + b): E[Y(t) | alive] = (1 - (A / (A + p t)) ** (r + x)) / p."""
    p = OLIST_BG
    q = p["a"] / (p["a"] + p["b"])
    x, age, t = 2.0, 1.29, 4.71  # the probe's NaN
    value = MODELS["bgnbd"].time_part(p, t, x, age)
    A = p["alpha"] + age
    assert value == pytest.approx((1 - (A / (A + q * t)) ** (p["r"] + x)) / q, rel=1e-4)
    assert value == pytest.approx(0.8021823694534735, rel=1e-12)


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
@pytest.mark.parametrize("q", [0.03, 0.5, 0.972])
def test_exact_and_concentrated_forms_agree_across_the_switch(model, q):
    """a from 1e2 to 1e6 at a fixed drop-out probability q: from a = 1e3 on both forms agree to
    1e-8 where the hypergeometric one is finite and the expansion's step is small; the served value
    is the hypergeometric form below the switch or at a large step, the concentrated one above it,
    and lifetimes (where finite) agrees with it."""
    r, alpha = 0.6, 20.0
    checked = 0
    for a in np.logspace(2, 6, 17):
        p = {"r": r, "alpha": alpha, "a": a, "b": a * (1 - q) / q}
        for x, age, t in GRID:
            c = p["a"] + p["b"] + x - (0.0 if model == "mbgnbd" else 1.0)
            served = MODELS[model].time_part(p, t, x, age)
            limit = _concentrated_time_part(r + x, alpha + age, t, a - 1, c)
            exact = _hypergeometric(model, p, t, x, age)
            assert np.isfinite(served) and np.isfinite(limit)
            step = (r + x) * t / ((alpha + age) * c)
            if np.isfinite(exact) and a >= 1e3 and step < CONCENTRATED_STEP:
                checked += 1
                assert limit == pytest.approx(exact, rel=1e-8), (a, x, age, t)
            if np.isfinite(exact) and (c <= CONCENTRATED_BETA or step >= CONCENTRATED_STEP):
                assert served == pytest.approx(exact, rel=1e-9)
            else:
                assert served == limit
            rec = age if x > 0 else 0.0
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                ref = _lifetimes(model, p).conditional_expected_number_of_purchases_up_to_time(t, x, rec, age)
            history = MODELS[model].history_part(p, x, rec, age)
            if np.isfinite(ref):
                assert served * history == pytest.approx(float(ref), rel=1e-7), (a, x, age, t)
    assert checked >= 3  # not empty: the hypergeometric form is still finite at some a >= 1e3


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_served_numerator_is_continuous_at_the_switch(model):
    q, r, alpha = 0.5, 0.6, 20.0
    for x, age, t in GRID:
        # c just below and just above the switch
        below, above = [
            MODELS[model].time_part({"r": r, "alpha": alpha, "a": q * (cc - x), "b": (1 - q) * (cc - x)}, t, x, age)
            for cc in (CONCENTRATED_BETA * (1 - 1e-9), CONCENTRATED_BETA * (1 + 1e-9))
        ]
        assert above == pytest.approx(below, rel=1e-9), (x, age, t)


def test_small_a_keeps_the_hypergeometric_form():
    """a <= 1 (towards the a -> 0 boundary) has no concentrated form; the exact one is used and finite."""
    p = {"r": 0.6, "alpha": 20.0, "a": 0.5, "b": 1e6}
    for x, age, t in GRID:
        assert MODELS["bgnbd"].time_part(p, t, x, age) == pytest.approx(_hypergeometric("bgnbd", p, t, x, age), rel=1e-8)


def test_propensity_baseline_keeps_bgnbd_at_the_olist_estimates(monkeypatch):
    """Failed before: 'bgnbd not served: expected purchases are not finite', then NBD (no drop-out)
    scored a shop where 97 % drop out after one purchase."""
    real_fit = clv_fit.fit_model

    def olist_bgnbd(name, data, **kwargs):
        if name != "bgnbd":
            return real_fit(name, data, **kwargs)
        return FittedModel(name="bgnbd", params=dict(OLIST_BG), log_covariance=np.zeros((4, 4)),
                           log_likelihood=-5209.17, n_customers=int(data["weight"].sum()),
                           n_patterns=len(data), converged=True, penalizer=0.0, fallback_reason="none",
                           time_unit="weeks")

    monkeypatch.setattr(clv_fit, "fit_model", olist_bgnbd)
    rng = np.random.default_rng(3)
    n = 400
    x = np.where(rng.random(n) < 0.9, 0, rng.integers(1, 4, n))
    age_days = rng.integers(7, 630, n).astype(float)
    rec_days = np.where(x > 0, np.floor(age_days * rng.uniform(0.01, 0.3, n)) + 1, 0.0)
    snap = types.SimpleNamespace(n_purchase_days=x + 1, frequency=x, recency_days=rec_days, age_days=age_days)
    info = fit_bgnbd_params(snap)
    assert info["model_name"] == "bgnbd" and info["note"] == "", info["note"]
    pred = clv.expected_purchases("bgnbd", info["params"], 30 / 7.0, x, rec_days / 7.0, age_days / 7.0)
    assert np.isfinite(pred).all()


def test_propensity_baseline_takes_nbd_only_at_the_no_drop_out_boundary(monkeypatch):
    """Failed before: any BG/NBD failure (here: predictions BG/NBD cannot make) served NBD, a model
    without drop-out, as 'bgnbd served as its limit nbd'. Now the baseline is dropped (docs/propensity.md)."""
    monkeypatch.setattr(
        clv_fit, "unusable_predictions",
        lambda name, *args: "expected purchases are not finite" if name == "bgnbd" else "",
    )
    rng = np.random.default_rng(5)
    n = 300
    x = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 6, n))
    age_days = rng.integers(7, 400, n).astype(float)
    rec_days = np.where(x > 0, np.floor(age_days * rng.uniform(0.1, 0.9, n)) + 1, 0.0)
    snap = types.SimpleNamespace(n_purchase_days=x + 1, frequency=x, recency_days=rec_days, age_days=age_days)
    with pytest.raises(clv.ClvFitError, match="expected purchases are not finite"):
        fit_bgnbd_params(snap)


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
@pytest.mark.parametrize("a, b, x, age, t", [(30.0, 1e4, 100.0, 30.0, 104.0), (30.0, 1e4, 200.0, 104.0, 260.0),
                                             (1.2, 9999.0, 3000.0, 10.0, 5200.0)])
def test_a_heavy_buyer_over_a_long_horizon_keeps_the_hypergeometric_form(model, a, b, x, age, t):
    """Just above c = 1e4 the expansion's variable (r + x) t / ((alpha + T) c) is large for a heavy
    buyer over a long horizon: the expansion served 8% off, or a negative count (review). Where the
    hypergeometric form is finite it is used there."""
    p = {"r": 0.5, "alpha": 5.0, "a": a, "b": b}
    got = float(MODELS[model].time_part(p, t, x, age))
    exact = _hypergeometric(model, p, t, x, age)
    assert np.isfinite(exact) and got == pytest.approx(exact, rel=1e-12) and got > 0


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_a_equal_to_one_is_finite_and_continuous(model):
    """c / (a - 1) * (1 - ...) is 0 / 0 at a = 1 (NaN) and cancels near it (a = 1 + 1e-12 gave
    3.55 for 2.60): it is interpolated within 5e-6 of a = 1."""
    p = {"r": 0.5, "alpha": 5.0, "b": 1e3}
    values = [float(MODELS[model].unconditional({**p, "a": a}, 52.0))
              for a in (1 - 1e-3, 1 - 1e-6, 1.0, 1 + 1e-12, 1 + 1e-6, 1 + 1e-3)]
    assert np.isfinite(values).all()
    assert max(abs(v - values[2]) for v in values) < 1e-4 * values[2]
