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
from scipy.special import digamma, gammaln


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


def minimise(fun, x0: np.ndarray, args: tuple, tol: float = 1e-7, hess_inv0: np.ndarray | None = None):
    """BFGS with the analytic gradient, the optimiser and tolerance lifetimes uses.

    ``hess_inv0``: a starting inverse Hessian (from a subsample's fit), which
    lets BFGS finish in a few steps from a good start.
    """
    options = {} if hess_inv0 is None else {"hess_inv0": hess_inv0}
    return minimize(fun, x0, args=args, jac=True, method="BFGS", tol=tol, options=options)


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
