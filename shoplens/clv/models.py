"""The CLV models as small classes with the same verbs (the lifetimes ``fitters/`` shape).

Each model carries its parameter names, its likelihood (``fast_problem`` for
the fast engine, ``lifetimes_fit`` and ``mean_nll`` for lifetimes) and, for
the count models, its closed forms: ``probability_alive``, ``time_part`` and
``history_part`` (the two factors of E[Y(t) | x, t_x, T]) and
``unconditional`` (E[Y(t)] for a new customer). Selection, scoring and the
propensity baseline iterate over :data:`MODELS` instead of comparing names.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import hyp2f1


def lifetimes():
    import lifetimes as lt  # imported lazily: autograd import costs ~1 s

    return lt


def _quiet_fit(fitter, *args, **kwargs) -> dict[str, float]:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fitter.fit(*args, **kwargs)
    return {k: float(v) for k, v in fitter.params_.items()}


#: Above this c = a + b + x (- 1) the BG/NBD numerator may be evaluated with
#: :func:`_concentrated_time_part`, where its expansion is accurate: the
#: variable of the expansion, (r + x) t / ((alpha + T) c), under
#: :data:`CONCENTRATED_STEP` (its error grows with that variable, not with 1 / c
#: alone: a heavy buyer over a long horizon just above the switch was 8% off).
#: Wherever the hypergeometric form is not finite, or its power underflows,
#: the concentrated one is used whatever the step.
CONCENTRATED_BETA = 1e4
CONCENTRATED_STEP = 1e-3
#: Within this distance of a = 1 the numerator's c / (a - 1) * (1 - ...) cancels
#: (0 / 0 at a = 1): it is interpolated between a = 1 -+ this instead.
NEAR_ONE = 1e-5


def _concentrated_time_part(k, A, t, shape, c):
    """(c / shape) * (1 - E[(A / (A + q t)) ** k]) for q ~ Beta(shape, c - shape) and a large c.

    The BG/NBD numerator (:meth:`BGNBD.time_part`) is (c / shape) * (1 - E[g(q)])
    with g(q) = (1 + q t / A) ** -k, k = r + x, A = alpha + T, shape = a - 1. As
    c = a + b + x (- 1) grows the Beta concentrates at its mean m = shape / c, and
    the numerator tends to (1 - (A / (A + m t)) ** k) / m, the expected purchases of
    a customer alive with a Gamma(k, A) rate who drops out after each purchase with
    probability m (the limit a, b -> inf with a / (a + b) fixed). E[g(q)] is expanded
    around m with the Beta's central moments up to the fourth: g's n-th derivative
    is (-1) ** n (k)_n v ** n g(m) with v = t / (A + m t), so the error is O(c ** -3).
    """
    m = shape / c
    other = c - shape
    var = shape * other / (c * c * (c + 1))
    third = 2 * var * (other - shape) / (c * (c + 2))
    excess = 6 * ((shape - other) ** 2 * (c + 1) - shape * other * (c + 2)) / (shape * other * (c + 2) * (c + 3))
    fourth = (excess + 3) * var * var
    v = t / (A + m * t)
    log_g = -k * np.log1p(m * t / A)
    correction = (
        k * (k + 1) * v**2 * var / 2
        - k * (k + 1) * (k + 2) * v**3 * third / 6
        + k * (k + 1) * (k + 2) * (k + 3) * v**4 * fourth / 24
    )
    return (-np.expm1(log_g) - np.exp(log_g) * correction) / m


class Model:
    """What every model has: a name, parameter names and a likelihood."""

    name: ClassVar[str]
    parameter_names: ClassVar[tuple[str, ...]]
    role: ClassVar[str] = "count"
    #: (shape, scale) of the drop-out process; None when there is none.
    churn: ClassVar[tuple[str, str] | None] = None
    #: The fast engine has this model's likelihood (else lifetimes fits it).
    has_fast_likelihood: ClassVar[bool] = True
    #: lifetimes can fit it (NBD has no lifetimes fitter).
    has_lifetimes_fitter: ClassVar[bool] = True
    #: The fast engine's gradient is analytic (else central differences, and the
    #: fit check takes the Hessian from second differences of the likelihood).
    has_analytic_gradient: ClassVar[bool] = True
    #: The fast engine's start, log-parameters (lifetimes' default start).
    fast_start: ClassVar[float] = 0.1
    #: Objective evaluations (value and gradient) one fast-engine fit may use; a fit still
    #: running there stops where it is and is judged by the usual checks. CDNOW's fits take
    #: 10-32, so the cap only bounds the cost of a fit that would not end.
    max_evaluations: ClassVar[int] = 1000

    def fast_problem(self, data: pd.DataFrame) -> tuple[Callable, tuple, float]:
        """(objective, packed data, time scale) for :func:`likelihood.minimise`."""
        raise NotImplementedError

    def mean_nll(self, data: pd.DataFrame) -> Callable[[np.ndarray], float]:
        """Mean negative log-likelihood of log-parameters with lifetimes (unpenalised)."""
        raise NotImplementedError

    def lifetimes_fit(self, data: pd.DataFrame, penalizer: float, init: np.ndarray | None) -> dict[str, float]:
        raise NotImplementedError

    @staticmethod
    def _counts(data: pd.DataFrame, dtype=int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (data["frequency"].to_numpy(dtype=dtype), data["recency"].to_numpy(dtype=float),
                data["T"].to_numpy(dtype=float), data["weight"].to_numpy(dtype=float))


class BGNBD(Model):
    """BG/NBD (Fader, Hardie & Lee 2005): drop-out only right after a purchase."""

    name = "bgnbd"
    parameter_names = ("r", "alpha", "a", "b")
    churn = ("a", "b")
    modified = False
    _fitter = "BetaGeoFitter"

    def fast_problem(self, data):
        from shoplens.clv import likelihood as lik

        packed = lik.CountData.from_patterns(data)
        if self.modified:
            return (lambda lp, d, pen: lik.bgnbd_nll(lp, d, pen, modified=True)), (packed,), packed.scale
        return lik.bgnbd_nll, (packed,), packed.scale

    def mean_nll(self, data):
        fitter = getattr(lifetimes(), self._fitter)
        x, rec, age, w = self._counts(data)
        return lambda lp: float(fitter._negative_log_likelihood(lp, x, rec, age, w, 0.0))

    def lifetimes_fit(self, data, penalizer, init):
        fitter = getattr(lifetimes(), self._fitter)(penalizer_coef=penalizer)
        return _quiet_fit(fitter, data["frequency"], data["recency"], data["T"],
                          weights=data["weight"].to_numpy(), initial_params=init)

    def _denominator(self, p, x, rec, age):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        ratio = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + rec)))
        if not self.modified:
            return 1.0 + np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * ratio, 0.0)
        return 1.0 + a / (b + x) * ratio

    def probability_alive(self, p, x, rec, age):
        return 1.0 / self._denominator(p, x, rec, age)

    history_part = probability_alive

    def time_part(self, p, t, x, age):
        """Numerator of E[Y(t) | x, t_x, T]; depends on (x, T, t) only.

        It is E[Y(t) | alive at T, x, T]: given alive, the purchase rate is
        Gamma(r + x, alpha + T) and the drop-out probability p is
        Beta(a, b + x) (MBG/NBD: Beta(a, b + x + 1)), so with c = a + b + x - 1
        (MBG/NBD: a + b + x) it equals
        c / (a - 1) * (1 - E[((alpha + T) / (alpha + T + p' t)) ** (r + x)]),
        p' ~ Beta(a - 1, c - a + 1). Evaluated with Euler's transformation of the
        hypergeometric term, whose first two arguments then no longer grow with x,
        so it stays finite for heavy buyers. For large a + b (Beta(a - 1, .)
        concentrated) that form underflows to 0 times an overflowing 2F1
        (NaN): there :func:`_concentrated_time_part`, the expectation expanded
        around the Beta mean, is used instead (docs/clv.md).
        """
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        if abs(a - 1.0) < NEAR_ONE / 2:  # linear between a = 1 -+ NEAR_ONE (error O(NEAR_ONE ** 2))
            lo = self.time_part({**p, "a": 1.0 - NEAR_ONE}, t, x, age)
            hi = self.time_part({**p, "a": 1.0 + NEAR_ONE}, t, x, age)
            return lo + (a - 1.0 + NEAR_ONE) / (2 * NEAR_ONE) * (hi - lo)
        t, x, age = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, age)))
        c = a + b + x - (0.0 if self.modified else 1.0)
        with np.errstate(all="ignore"):
            log_one_minus_z = np.log(alpha + age) - np.log(alpha + age + t)
            z = t / (alpha + age + t)
            hyp = hyp2f1(c - r - x, a - 1, c, z)
            exact = c / (a - 1) * (1.0 - np.exp((a - 1) * log_one_minus_z) * hyp)
            step = (r + x) * t / ((alpha + age) * c)
        # a <= 1 (towards the a -> 0 boundary) has no Beta(a - 1, .) form; the exact one is finite there
        failed = ~np.isfinite(exact) | ((a - 1) * log_one_minus_z < -600.0)
        limit = (a > 1) & (failed | ((c > CONCENTRATED_BETA) & (step < CONCENTRATED_STEP)))
        if not limit.any():
            return exact[()] if exact.ndim == 0 else exact
        out = np.array(exact, dtype=float)
        # expected purchases are never negative (the expansion far outside its range could be)
        out[limit] = np.maximum(
            _concentrated_time_part(r + x[limit], alpha + age[limit], t[limit], a - 1, c[limit]), 0.0)
        return out[()] if out.ndim == 0 else out

    def unconditional(self, p, t):
        """E[Y(t)] of a customer just acquired: the numerator at x = 0, T = 0 (for MBG/NBD
        times b / (a + b), the probability of surviving time 0)."""
        t = np.asarray(t, dtype=float)
        zero = np.zeros(t.shape)
        value = self.time_part(p, t, zero, zero)
        if self.modified:
            value = value * (p["b"] / (p["a"] + p["b"]))
        return value[()] if value.ndim == 0 else value

    @staticmethod
    def window_probability(p, frequency, recency, T, t: float) -> tuple[np.ndarray, np.ndarray]:
        """P(at least one purchase in (T, T + t]) and P(alive at T).

        A customer can only drop out right after a purchase, so with no purchase
        in the window nobody drops out during it. Given alive at T, the purchase
        rate's posterior is Gamma(r + x, alpha + T), hence
        P(no purchase in t | alive) = ((alpha + T) / (alpha + T + t)) ** (r + x)
        and P(>= 1) = P(alive) * (1 - that). For x = 0 and T = 0 this is 1 minus
        lifetimes' ``probability_of_n_purchases_up_to_time(t, 0)``.
        """
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        x = np.asarray(frequency, dtype="float64")
        tx = np.asarray(recency, dtype="float64")
        TT = np.asarray(T, dtype="float64")
        # P(alive | x, tx, T) (Fader, Hardie & Lee 2005, eq. in log space)
        log_div = (r + x) * np.log((alpha + TT) / (alpha + tx)) + np.log(a / np.maximum(b + x - 1, 1e-12))
        p_alive = np.where(x > 0, 1.0 / (1.0 + np.exp(np.clip(log_div, -700, 700))), 1.0)
        p_none = np.exp((r + x) * (np.log(alpha + TT) - np.log(alpha + TT + t)))
        return p_alive * (1.0 - p_none), p_alive


class MBGNBD(BGNBD):
    """MBG/NBD (Batislam et al. 2007): a customer may also drop out at time 0."""

    name = "mbgnbd"
    modified = True
    _fitter = "ModifiedBetaGeoFitter"


#: Nelder-Mead evaluations allowed to lifetimes' Pareto/NBD fit (``clv_fit_engine: lifetimes``).
#: Without a cap, a Superstore-shaped shop heading to s -> 0 took 22,564 (147 s); CDNOW needs
#: fewer than 1,000. A fit stopped by the cap returns where it stopped, as lifetimes does
#: at ``maxiter``, and is judged by the same checks.
LIFETIMES_MAX_EVALUATIONS = 5000


class ParetoNBD(Model):
    """Pareto/NBD (Schmittlein et al. 1987): exponential lifetimes. The fast engine
    maximises lifetimes' objective (time scaled to max T = 1) with BFGS on our
    log-space likelihood (:func:`likelihood.pareto_nll`); ``clv_fit_engine: lifetimes``
    runs lifetimes' Nelder-Mead. Checked, scored and diagnosed with the same
    log-space terms (:func:`likelihood.pareto_log_terms`)."""

    name = "pareto_nbd"
    parameter_names = ("r", "alpha", "s", "beta")
    churn = ("s", "beta")
    has_analytic_gradient = False
    max_evaluations = 300  # each is 9 passes over the patterns (central differences)
    fast_start = 0.0  # lifetimes' ParetoNBDFitter starts at ones (we pass them: reproducible)

    def fast_problem(self, data):
        from shoplens.clv import likelihood as lik

        packed = lik.ParetoData.from_patterns(data)
        return lik.pareto_nll, (packed,), packed.scale

    @staticmethod
    def row_log_likelihood(p: dict[str, float], x, rec, age) -> np.ndarray:
        """Log-likelihood per (frequency, recency, T) row at parameters ``p``."""
        from shoplens.clv.likelihood import pareto_log_likelihood

        return pareto_log_likelihood(p["r"], p["alpha"], p["s"], p["beta"], x, rec, age)

    @staticmethod
    def start_params(data: pd.DataFrame) -> dict[str, float]:
        """The fit's start (ones in lifetimes' scaled time, max T = 1) in the data's time unit."""
        top = float(data["T"].max())
        return {"r": 1.0, "alpha": top, "s": 1.0, "beta": top}

    def mean_nll(self, data):
        x, rec, age, w = self._counts(data)

        def pareto(lp: np.ndarray) -> float:
            ll = self.row_log_likelihood(dict(zip(self.parameter_names, np.exp(lp), strict=True)), x, rec, age)
            return float(-(w * ll).sum() / w.sum())

        return pareto

    def lifetimes_fit(self, data, penalizer, init):
        # lifetimes' own objective: ours is finite where lifetimes' is NaN, and on
        # some shops Nelder-Mead then follows the ridge s, beta -> inf (constant
        # drop-out rate) for all its iterations with slow 2F1 terms (docs/clv.md, "Fixed").
        fitter = lifetimes().ParetoNBDFitter(penalizer_coef=penalizer)
        # A fixed start (lifetimes draws one at random) keeps the fit reproducible.
        start = np.ones(4) if init is None else init
        return _quiet_fit(fitter, data["frequency"], data["recency"], data["T"],
                          weights=data["weight"].to_numpy(), initial_params=start, tol=1e-8, maxiter=4000,
                          maxfev=LIFETIMES_MAX_EVALUATIONS)

    def _log_palive(self, p, x, rec, age):
        from shoplens.clv.likelihood import pareto_log_probability_alive

        return pareto_log_probability_alive(p["r"], p["alpha"], p["s"], p["beta"], x, rec, age)

    def probability_alive(self, p, x, rec, age):
        return np.exp(self._log_palive(p, x, rec, age))

    history_part = probability_alive

    def time_part(self, p, t, x, age):
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        if abs(s - 1) < 1e-9:
            tail = np.log((beta + age + t) / (beta + age))
        else:
            tail = (1 - ((beta + age) / (beta + age + t)) ** (s - 1)) / (s - 1)
        return (r + x) * (beta + age) / (alpha + age) * tail

    def unconditional(self, p, t):
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


class NBD(Model):
    """NBD: no drop-out; the limit of the three models above at their boundary."""

    name = "nbd"
    parameter_names = ("r", "alpha")
    has_lifetimes_fitter = False

    def fast_problem(self, data):
        from shoplens.clv import likelihood as lik

        packed = lik.CountData.from_patterns(data)
        return lik.nbd_nll, (packed,), packed.scale

    def probability_alive(self, p, x, rec, age):
        return np.ones(np.broadcast(x, rec, age).shape)  # no drop-out: alive for sure

    history_part = probability_alive

    def time_part(self, p, t, x, age):
        return (p["r"] + x) * t / (p["alpha"] + age)  # the posterior mean rate times t

    def unconditional(self, p, t):
        return p["r"] * t / p["alpha"]

    @staticmethod
    def window_probability(p, frequency, recency, T, t: float) -> tuple[np.ndarray, np.ndarray]:
        """P(at least one purchase in (T, T + t]) and P(alive) = 1."""
        x = np.asarray(frequency, dtype="float64")
        TT = np.asarray(T, dtype="float64")
        p_none = np.exp((p["r"] + x) * (np.log(p["alpha"] + TT) - np.log(p["alpha"] + TT + t)))
        return 1.0 - p_none, np.ones_like(x)


class GammaGamma(Model):
    """Gamma-Gamma spend per purchase day (Fader & Hardie 2013)."""

    name = "gamma_gamma"
    parameter_names = ("p", "q", "v")
    role = "spend"

    def fast_problem(self, data):
        from shoplens.clv import likelihood as lik

        return lik.gamma_gamma_nll, (lik.SpendData.from_rows(data),), 1.0

    def mean_nll(self, data):
        lt = lifetimes()
        w = data["weight"].to_numpy(dtype=float)
        x = data["frequency"].to_numpy(dtype=float)
        m = data["monetary_value"].to_numpy(dtype=float)
        return lambda lp: float(lt.GammaGammaFitter._negative_log_likelihood(lp, x, m, w, 0.0))

    def lifetimes_fit(self, data, penalizer, init):
        fitter = lifetimes().GammaGammaFitter(penalizer_coef=penalizer)
        return _quiet_fit(fitter, data["frequency"], data["monetary_value"],
                          weights=data["weight"].to_numpy(), initial_params=init)

    @staticmethod
    def expected_average_value(p, x, m) -> np.ndarray:
        """E[spend per purchase day | x, m]; x = 0 gives the population mean."""
        pp, q, v = p["p"], p["q"], p["v"]
        x = np.asarray(x, dtype=float)
        m = np.asarray(m, dtype=float)
        weight = pp * x / (pp * x + q - 1)
        return (1 - weight) * (v * pp / (q - 1)) + weight * m


class ConstantValue(Model):
    """Constant spend per purchase day: the limit of Gamma-Gamma when every
    observed repeat purchase day has the same total (no spend variation to fit).

    Its one parameter ``value`` is that total; 0 when every repeat purchase
    day totals 0.00 (no spend to model). Never fitted by likelihood: see
    :mod:`shoplens.clv.spend`.
    """

    name = "constant_value"
    parameter_names = ("value",)
    role = "spend"
    has_fast_likelihood = False
    has_lifetimes_fitter = False

    @staticmethod
    def expected_average_value(p, x, m) -> np.ndarray:
        shape = np.broadcast(np.asarray(x, dtype=float), np.asarray(m, dtype=float)).shape
        return np.full(shape, float(p["value"]))


MODELS: dict[str, Model] = {
    m.name: m for m in (BGNBD(), MBGNBD(), ParetoNBD(), NBD(), GammaGamma(), ConstantValue())
}
