"""lifetimes' BG/NBD, MBG/NBD and Gamma-Gamma likelihoods (and NBD, their no-drop-out limit), evaluated fast.

The objective is exactly lifetimes' ``_negative_log_likelihood`` (same
formulas, log-parameters, time scaled so that max T = 1, mean over weighted
customers plus ``penalizer * sum(params**2)``), so the optimum is lifetimes'
optimum. Two things make it fast on a million customers:

* terms that depend on one input only are computed on its unique values:
  ``gammaln(r + x)`` on the distinct frequencies, ``log(alpha + T)`` on the
  distinct ages, ``log(alpha + t_x)`` on the distinct recencies;
* the gradient is analytic (digamma functions), not autograd's tape.

tests/python/test_clv_equivalence.py checks value and gradient against
lifetimes (relative 1e-10) and the optimum against lifetimes' own fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, hyp2f1, logsumexp


def _index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inv = np.unique(values, return_inverse=True)
    return uniq, inv.reshape(-1)


@dataclass
class CountData:
    """Compressed (frequency, recency, T) patterns, times scaled by ``scale``.

    ``wx``, ``wt``, ``wtx``: total weight per distinct frequency, age and
    recency, so that sums of terms that depend on one of them only are taken
    over the distinct values instead of the patterns.
    """

    ux: np.ndarray
    xi: np.ndarray
    x: np.ndarray
    ut: np.ndarray
    ti: np.ndarray
    utx: np.ndarray
    txi: np.ndarray
    w: np.ndarray
    scale: float
    wx: np.ndarray
    repeat: np.ndarray
    total: float

    @classmethod
    def from_patterns(cls, data: pd.DataFrame) -> CountData:
        age = data["T"].to_numpy(dtype=float)
        scale = 1.0 / age.max()
        x = data["frequency"].to_numpy(dtype=float)
        w = data["weight"].to_numpy(dtype=float)
        ux, xi = _index(x)
        ut, ti = _index(age * scale)
        utx, txi = _index(data["recency"].to_numpy(dtype=float) * scale)
        wx = np.bincount(xi, weights=w, minlength=len(ux))
        return cls(ux, xi, x, ut, ti, utx, txi, w, scale, wx, x > 0, float(w.sum()))


def bgnbd_nll(log_params: np.ndarray, d: CountData, penalizer: float, modified: bool = False):
    """(mean negative log-likelihood + penalty, gradient in log-parameters).

    ``log_params`` = log(r, alpha * scale, a, b). ``modified`` selects MBG/NBD.
    Per pattern only the terms that mix frequency, recency and age are
    computed; terms of one input are summed over its distinct values.
    """
    r, alpha, a, b = np.exp(log_params)
    ux, wx, w = d.ux, d.wx, d.w
    log_at_u = np.log(alpha + d.ut)
    log_atx_u = np.log(alpha + d.utx)
    log_at = log_at_u[d.ti]
    log_atx = log_atx_u[d.txi]
    rx = (r + ux)[d.xi]
    shift = 1.0 if modified else 0.0
    # terms of the frequency only, weighted by the customers at each frequency
    a12 = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + gammaln(a + b) + gammaln(b + ux + shift) - gammaln(
        b
    ) - gammaln(a + b + ux + shift)
    dr_x = digamma(r + ux) - digamma(r) + np.log(alpha)
    da_x = digamma(a + b) - digamma(a + b + ux + shift)
    db_x = digamma(a + b) + digamma(b + ux + shift) - digamma(b) - digamma(a + b + ux + shift)
    if modified:
        a4 = (np.log(a) - np.log(b + ux))[d.xi] + rx * (log_at - log_atx)
        soft = np.logaddexp(a4, 0.0)
        mixed = -rx * log_at + soft
        pi = np.exp(a4 - soft)  # sigmoid(a4)
        wpi = w * pi
        sum_w_log_at = np.bincount(d.ti, weights=w, minlength=len(d.ut)) @ log_at_u
        g_r = wx @ dr_x - sum_w_log_at + wpi @ (log_at - log_atx)
        wrx = w * rx
        g_alpha = r / alpha * d.total - wrx @ (1.0 / (alpha + d.ut))[d.ti] + (wpi * rx) @ (
            (1.0 / (alpha + d.ut))[d.ti] - (1.0 / (alpha + d.utx))[d.txi]
        )
        wpi_x = np.bincount(d.xi, weights=wpi, minlength=len(ux))
        g_a = wx @ da_x + wpi_x.sum() / a
        g_b = wx @ db_x - wpi_x @ (1.0 / (b + ux))
    else:
        a3 = -rx * log_at
        a4 = (np.log(a) - np.log(np.maximum(b + ux - 1, 1e-300)))[d.xi] - rx * log_atx
        a4 = np.where(d.repeat, a4, -np.inf)
        hi = np.maximum(a3, a4)
        mixed = hi + np.log1p(np.exp(-np.abs(a3 - a4)))
        pi = np.exp(a4 - mixed)  # share of the "dropped out after the last purchase" branch
        wpi = w * pi
        wq = w - wpi
        g_r = wx @ dr_x - wq @ log_at - wpi @ log_atx
        g_alpha = r / alpha * d.total - (wq * rx) @ (1.0 / (alpha + d.ut))[d.ti] - (wpi * rx) @ (
            1.0 / (alpha + d.utx)
        )[d.txi]
        wpi_x = np.bincount(d.xi, weights=wpi, minlength=len(ux))
        g_a = wx @ da_x + wpi_x.sum() / a
        g_b = wx @ db_x - wpi_x @ (1.0 / np.maximum(b + ux - 1, 1e-300))
    total = d.total
    params = np.array([r, alpha, a, b])
    value = -(wx @ a12 + w @ mixed) / total + penalizer * np.sum(params**2)
    grad = -np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b]) / total
    grad += 2 * penalizer * params**2
    return float(value), grad


def nbd_nll(log_params: np.ndarray, d: CountData, penalizer: float):
    """(mean negative log-likelihood + penalty, gradient) of log(r, alpha * scale) for NBD.

    NBD is BG/NBD without drop-out (its limit a -> 0): purchases are Poisson
    with a Gamma(r, alpha) rate over the whole of (0, T], so per customer
    gammaln(r + x) - gammaln(r) + r log(alpha) - (r + x) log(alpha + T), the
    recency plays no part. Same conventions (scaled time, lifetimes' penalty)
    as :func:`bgnbd_nll`, so log-likelihoods of the two are comparable.
    """
    r, alpha = np.exp(log_params)
    ux, wx, w = d.ux, d.wx, d.w
    log_at_u = np.log(alpha + d.ut)
    rx = (r + ux)[d.xi]
    wt = np.bincount(d.ti, weights=w, minlength=len(d.ut))
    ll = wx @ (gammaln(r + ux) - gammaln(r)) + r * np.log(alpha) * d.total - (w * rx) @ log_at_u[d.ti]
    g_r = wx @ (digamma(r + ux) - digamma(r)) + np.log(alpha) * d.total - wt @ log_at_u
    g_alpha = r / alpha * d.total - (w * rx) @ (1.0 / (alpha + d.ut))[d.ti]
    params = np.array([r, alpha])
    value = -ll / d.total + penalizer * np.sum(params**2)
    grad = -np.array([g_r * r, g_alpha * alpha]) / d.total + 2 * penalizer * params**2
    return float(value), grad


@dataclass
class SpendData:
    """Compressed (frequency, monetary_value) rows of repeat buyers.

    Constant terms of the likelihood that do not involve the parameters'
    interaction with spend are pre-summed per distinct frequency.
    """

    ux: np.ndarray
    xi: np.ndarray
    x: np.ndarray
    xm: np.ndarray
    w: np.ndarray
    wx: np.ndarray
    sum_w_x_logmx: float
    sum_w_logm: float
    total: float

    @classmethod
    def from_rows(cls, data: pd.DataFrame) -> SpendData:
        x = data["frequency"].to_numpy(dtype=float)
        m = data["monetary_value"].to_numpy(dtype=float)
        w = data["weight"].to_numpy(dtype=float)
        ux, xi = _index(x)
        wx = np.bincount(xi, weights=w, minlength=len(ux))
        return cls(
            ux, xi, x, x * m, w, wx,
            float(w @ (x * (np.log(m) + np.log(x)))), float(w @ np.log(m)), float(w.sum()),
        )


def gamma_gamma_nll(log_params: np.ndarray, d: SpendData, penalizer: float):
    """(mean negative log-likelihood + penalty, gradient) of log(p, q, v), as lifetimes.

    Per customer: gammaln(px+q) - gammaln(px) - gammaln(q) + q log v
    + (px-1) log m + px log x - (px+q) log(xm+v).
    """
    p, q, v = np.exp(log_params)
    ux, wx, w = d.ux, d.wx, d.w
    log_xmv = np.log(d.xm + v)
    pxq_u = p * ux + q
    pxq = pxq_u[d.xi]
    wlog = w * log_xmv
    wlog_x = np.bincount(d.xi, weights=wlog, minlength=len(ux))
    ll = (
        wx @ (gammaln(pxq_u) - gammaln(p * ux) - gammaln(q) + q * np.log(v))
        + p * d.sum_w_x_logmx
        - d.sum_w_logm
        - pxq_u @ wlog_x
    )
    g_p = wx @ (ux * (digamma(pxq_u) - digamma(p * ux))) + d.sum_w_x_logmx - ux @ wlog_x
    g_q = wx @ (digamma(pxq_u) - digamma(q) + np.log(v)) - wlog_x.sum()
    g_v = q / v * d.total - w @ (pxq / (d.xm + v))
    total = d.total
    params = np.array([p, q, v])
    value = -ll / total + penalizer * np.sum(params**2)
    grad = -np.array([g_p * p, g_q * q, g_v * v]) / total + 2 * penalizer * params**2
    return float(value), grad


def minimise(fun, x0: np.ndarray, args: tuple, tol: float = 1e-7, hess_inv0: np.ndarray | None = None,
             callback=None):
    """BFGS with the analytic gradient, the optimiser and tolerance lifetimes uses.

    ``hess_inv0``: a starting inverse Hessian (from a subsample's fit), which
    lets BFGS finish in a few steps from a good start. ``callback(x)`` after
    each iteration (it may raise to stop the fit).
    """
    options = {} if hess_inv0 is None else {"hess_inv0": hess_inv0}
    return minimize(fun, x0, args=args, jac=True, method="BFGS", tol=tol, options=options, callback=callback)


def hessian_from_gradient(fun, x: np.ndarray, args: tuple, step: float = 1e-6) -> np.ndarray:
    """Forward differences of the analytic gradient (symmetrised): k + 1 evaluations."""
    k = len(x)
    base = fun(x, *args)[1]
    hess = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        hess[i] = (fun(x + e, *args)[1] - base) / step
    return (hess + hess.T) / 2


# ---------------------------------------------------------------------------
# Pareto/NBD in log space
#
# Per customer (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model
# and related expressions", eq. 18), with F(t) the mixed probability of
# "no purchase after t and a drop-out after t",
#   L = A1 * [ (alpha+T)^-(r+x) (beta+T)^-s + s / (r+s+x) * (F(t_x) - F(T)) ],
#   F(t) = 2F1(r+s+x, b; r+s+x+1; |alpha-beta| / (m+t)) / (m+t)^(r+s+x),
# m = max(alpha, beta), b = s+1 if alpha >= beta else r+x. lifetimes forms
# log(F(t_x) - F(T)) as logsumexp([log p1 + (r+s+x) log q2, log p2 + (r+s+x) log q1],
# b=[1, -1]) - (r+s+x) log(q1 q2): at t_x = T the two terms are equal, the
# difference is 0, and once a term exceeds log(DBL_MAX) = 709.78 (x ~ 100 at
# T ~ 380 days) scipy's logsumexp falls back to exp(a) - exp(a) = inf - inf:
# NaN. Here each log F is formed on its own (a few hundred at most) and the
# difference as log F(t_x) + log(-expm1(log F(T) - log F(t_x))), exactly -inf
# at t_x = T; where scipy's 2F1 itself overflows or fails, its log comes
# from a quadrature (:func:`_log_hyp2f1_quadrature`).
# ---------------------------------------------------------------------------

# Nodes of the exp-sinh (double exponential) rule on (0, inf): y = exp(pi/2 sinh t),
# t = -6.5 .. 4.5 in steps of 1/32; the nodes run from e^-317 to e^42 and cluster
# geometrically at 0, where the integrand below has its narrow peak.
_DE_STEP = 1.0 / 32
_DE_T = np.arange(-6.5, 4.5 + _DE_STEP / 2, _DE_STEP)
_DE_Y = np.exp(np.pi / 2 * np.sinh(_DE_T))
_DE_LOG_WEIGHT = np.log(_DE_STEP * np.pi / 2 * np.cosh(_DE_T) * _DE_Y)


def _log_hyp2f1_quadrature(a, b, z, one_minus_z) -> np.ndarray:
    """log 2F1(a, b; a + 1; z), 0 <= z < 1, by quadrature in log space (1-d arrays).

    With u = exp(-y / a) in Euler's integral,
    2F1(a, b; a + 1; z) = integral_0^inf exp(-y) (1 - z exp(-y / a))^-b dy,
    a positive integrand whose log is summed with logsumexp, so it neither
    overflows nor cancels. scipy's hyp2f1 overflows here for very frequent
    buyers with beta >> alpha and returns NaN for large a with z near 1
    (e.g. a = 351, b = 1.4, z = 0.9997), both met while Nelder-Mead explores.
    Agrees with its power series summed in log space and with adaptive
    quadrature to ~1e-13 relative.
    """
    a, b, z, one_minus_z = (np.asarray(v, dtype=float)[:, None] for v in (a, b, z, one_minus_z))
    # 1 - z exp(-y/a) without cancelling when z is close to 1
    base = one_minus_z - z * np.expm1(-_DE_Y / a)
    return logsumexp(_DE_LOG_WEIGHT - _DE_Y - b * np.log(base), axis=1)


#: Above this z, log 2F1 comes from the quadrature without trying scipy's 2F1: there its
#: series converges slowly (5-100 us an element against the quadrature's ~30) and often
#: fails anyway (NaN for large r + s + x), which is where Nelder-Mead's or BFGS's path along
#: Pareto/NBD's ridge s, beta -> inf goes (z = 1 - alpha / beta -> 1). Both agree to ~1e-13.
QUADRATURE_Z = 0.99


def _pareto_log_f(r, alpha, s, beta, x, t) -> np.ndarray:
    """log F(t) (see above), element-wise; parameters may be arrays (covariate groups)."""
    rsx = r + s + x
    alpha_high = alpha >= beta
    big = np.where(alpha_high, alpha, beta)
    second = np.where(alpha_high, s + 1.0, r + x)
    z = np.abs(alpha - beta) / (big + t)
    near_one = z > QUADRATURE_Z
    with np.errstate(all="ignore"):
        log_h = np.log(hyp2f1(rsx, second, rsx + 1.0, np.where(near_one, 0.0, z)))
    bad = ~np.isfinite(log_h) | near_one
    if np.any(bad):  # scipy's 2F1 overflowed or failed: quadrature on those elements
        shape = np.broadcast(rsx, second, z, t).shape
        small = np.where(alpha_high, beta, alpha)
        args = [np.broadcast_to(v, shape)[np.broadcast_to(bad, shape)]
                for v in (rsx, second, z, (small + t) / (big + t))]
        log_h = np.array(np.broadcast_to(log_h, shape), dtype=float)
        log_h[np.broadcast_to(bad, shape)] = _log_hyp2f1_quadrature(*args)
    return log_h - rsx * np.log(big + t)


def pareto_log_terms(r, alpha, s, beta, x, tx, age) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log A1, log alive term, log drop-out term) of the Pareto/NBD likelihood.

    The log-likelihood is ``log A1 + logaddexp(alive, dropped)`` and
    P(alive | x, t_x, T) = ``exp(alive - logaddexp(alive, dropped))``. Times in
    any unit (alpha and beta per that unit); ``dropped`` is -inf at t_x = T.
    """
    x, tx, age = (np.asarray(v, dtype=float) for v in (x, tx, age))
    rsx = r + s + x
    log_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    log_f_tx = _pareto_log_f(r, alpha, s, beta, x, tx)
    log_f_age = _pareto_log_f(r, alpha, s, beta, x, age)
    with np.errstate(all="ignore"):
        # F decreases in t, so F(T) <= F(t_x); rounding may not know that
        log_diff = log_f_tx + np.log(-np.expm1(np.minimum(log_f_age - log_f_tx, 0.0)))
    log_diff = np.where(age > tx, log_diff, -np.inf)
    dropped = np.log(s) - np.log(rsx) + log_diff
    return log_a1, alive, dropped


def pareto_log_likelihood(r, alpha, s, beta, x, tx, age) -> np.ndarray:
    """Pareto/NBD log-likelihood per customer (lifetimes' ``_conditional_log_likelihood``, stable)."""
    log_a1, alive, dropped = pareto_log_terms(r, alpha, s, beta, x, tx, age)
    return log_a1 + np.logaddexp(alive, dropped)


def pareto_log_probability_alive(r, alpha, s, beta, x, tx, age) -> np.ndarray:
    """log P(alive at T | x, t_x, T) under Pareto/NBD: the alive term's share of
    the likelihood; exactly 0 (alive for sure) at t_x = T, a purchase at T."""
    _, alive, dropped = pareto_log_terms(r, alpha, s, beta, x, tx, age)
    return alive - np.logaddexp(alive, dropped)


@dataclass
class ParetoData:
    """Compressed (frequency, recency, T) patterns for :func:`pareto_nll`, times scaled by ``scale``.

    The two hypergeometric terms of a pattern depend on (frequency, recency)
    and (frequency, T) only, so they are computed on those distinct pairs.
    """

    x: np.ndarray
    w: np.ndarray
    scale: float
    total: float
    xr: np.ndarray  # distinct (frequency, recency) pairs: frequency, recency, pattern -> pair
    tr: np.ndarray
    ri: np.ndarray
    xt: np.ndarray  # distinct (frequency, T) pairs
    tt: np.ndarray
    ti: np.ndarray
    tx: np.ndarray
    age: np.ndarray

    @classmethod
    def from_patterns(cls, data: pd.DataFrame) -> ParetoData:
        age = data["T"].to_numpy(dtype=float)
        scale = 1.0 / age.max()
        x = data["frequency"].to_numpy(dtype=float)
        tx = data["recency"].to_numpy(dtype=float) * scale
        age = age * scale
        w = data["weight"].to_numpy(dtype=float)
        pairs_r, ri = np.unique(np.column_stack([x, tx]), axis=0, return_inverse=True)
        pairs_t, ti = np.unique(np.column_stack([x, age]), axis=0, return_inverse=True)
        return cls(x, w, scale, float(w.sum()), pairs_r[:, 0], pairs_r[:, 1], ri.reshape(-1),
                   pairs_t[:, 0], pairs_t[:, 1], ti.reshape(-1), tx, age)


def _pareto_rows(p: np.ndarray, d: ParetoData) -> np.ndarray:
    """Per-pattern Pareto/NBD log-likelihood at natural parameters ``p`` (scaled time)."""
    r, alpha, s, beta = p
    rsx = r + s + d.x
    log_a1 = gammaln(r + d.x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + d.x) * np.log(alpha + d.age) - s * np.log(beta + d.age)
    log_f_tx = _pareto_log_f(r, alpha, s, beta, d.xr, d.tr)[d.ri]
    log_f_age = _pareto_log_f(r, alpha, s, beta, d.xt, d.tt)[d.ti]
    with np.errstate(all="ignore"):
        log_diff = log_f_tx + np.log(-np.expm1(np.minimum(log_f_age - log_f_tx, 0.0)))
    log_diff = np.where(d.age > d.tx, log_diff, -np.inf)
    dropped = np.log(s) - np.log(rsx) + log_diff
    return log_a1 + np.logaddexp(alive, dropped)


#: Step of the central differences of :func:`pareto_nll` in log-parameters: truncation
#: error ~ step**2 and rounding ~ 1e-16 / step, both ~1e-10 of the mean log-likelihood.
PARETO_STEP = 1e-5


def pareto_nll(log_params: np.ndarray, d: ParetoData, penalizer: float):
    """(mean negative log-likelihood + penalty, gradient) of log(r, alpha * scale, s, beta * scale).

    lifetimes' Pareto/NBD objective (``ParetoNBDFitter._negative_log_likelihood``:
    time scaled to max T = 1, the weighted sum over the mean weight plus
    ``penalizer * sum(params**2)``) divided by the number of patterns, so the
    same minimum at any penalizer, evaluated with the log-space terms of
    :func:`pareto_log_likelihood`, vectorised over the patterns. The
    hypergeometric terms have no closed-form derivative in their parameters,
    so the gradient is a central difference in each log-parameter (9
    evaluations of the vectorised likelihood), accurate to ~1e-10; lifetimes
    fits the same objective by Nelder-Mead without a gradient.
    """
    params = np.exp(log_params)
    with np.errstate(all="ignore"):
        value = -(d.w @ _pareto_rows(params, d)) / d.total
        grad = np.empty(4)
        for j in range(4):
            up, down = log_params.copy(), log_params.copy()
            up[j] += PARETO_STEP
            down[j] -= PARETO_STEP
            grad[j] = -(d.w @ (_pareto_rows(np.exp(up), d) - _pareto_rows(np.exp(down), d))) / (
                2 * PARETO_STEP * d.total)
    # lifetimes divides the weighted sum by the mean weight, not the sum: its objective is
    # n_patterns times the mean plus the penalty, which has this minimum
    pen = penalizer / len(d.x)
    value += pen * np.sum(params**2)
    grad += 2 * pen * params**2
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return np.inf, np.zeros(4)
    return float(value), grad
