"""BG/NBD and Pareto/NBD likelihoods with time-invariant covariates, vectorised.

Following Fader & Hardie's note on time-invariant covariates, every customer
i in covariate group g has its own parameters through exponentiated linear
terms of the group's design row z_g (one-hot, reference level dropped):

* BG/NBD:     alpha_g = alpha0 exp(-z_g g_alpha), a_g = a0 exp(z_g g_a),
              b_g = b0 exp(z_g g_b);
* Pareto/NBD: alpha_g = alpha0 exp(-z_g g_alpha), s_g = s0 exp(z_g g_s),
              beta_g = beta0 exp(-z_g g_beta);

r is shared. Scale parameters carry exp(-...) so that a positive coefficient
means a faster purchase (alpha) or drop-out (beta) rate, as in the note.

The parameter vector is ``log(r, alpha0 * scale, c1_0, c2_0)`` followed by the
three coefficient blocks (k each). Data are unique (group, frequency,
recency, T) rows with weights; terms that depend on (group, frequency) or
(group, T) or (group, recency) only are computed on those distinct pairs.
The gradient is taken per row with respect to the row's own log-parameters
(analytic for BG/NBD, central differences for Pareto/NBD, whose likelihood
has hypergeometric terms) and chained to the coefficients through the design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from shoplens.clv.likelihood import pareto_log_likelihood

# (sign of the linear term) per model parameter: -1 for scale parameters.
SIGNS: dict[str, tuple[int, int, int]] = {"bgnbd": (-1, 1, 1), "pareto_nbd": (-1, 1, -1)}
BASE_NAMES: dict[str, tuple[str, str, str, str]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
}


def _pair_index(g: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (group, value) pairs: (their group, their value, row -> pair index)."""
    frame = pd.DataFrame({"g": g, "v": values})
    codes = frame.groupby(["g", "v"], sort=True).ngroup().to_numpy()
    first = np.full(codes.max() + 1, -1)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return g[first], np.asarray(values, dtype=float)[first], codes


@dataclass
class CovariateCounts:
    """Compressed (group, frequency, recency, T) rows, times scaled so that max T = 1."""

    design: np.ndarray  # groups x k
    g: np.ndarray
    x: np.ndarray
    tx: np.ndarray
    age: np.ndarray
    w: np.ndarray
    scale: float
    gx: tuple[np.ndarray, np.ndarray, np.ndarray]
    gt: tuple[np.ndarray, np.ndarray, np.ndarray]
    gtx: tuple[np.ndarray, np.ndarray, np.ndarray]
    total: float

    @classmethod
    def from_rows(cls, rows: pd.DataFrame, design: np.ndarray) -> CovariateCounts:
        """``rows``: group, frequency, recency, T, weight (see ``compress_groups``)."""
        age = rows["T"].to_numpy(dtype=float)
        scale = 1.0 / age.max()
        g = rows["group"].to_numpy(dtype=np.int64)
        x = rows["frequency"].to_numpy(dtype=float)
        tx = rows["recency"].to_numpy(dtype=float) * scale
        age = age * scale
        w = rows["weight"].to_numpy(dtype=float)
        return cls(
            np.asarray(design, dtype=float), g, x, tx, age, w, scale,
            _pair_index(g, x), _pair_index(g, age), _pair_index(g, tx), float(w.sum()),
        )

    @property
    def n_groups(self) -> int:
        return self.design.shape[0]


def group_log_params(theta: np.ndarray, design: np.ndarray, model: str) -> np.ndarray:
    """(groups x 4) log-parameters of every covariate group from the packed vector."""
    k = design.shape[1]
    out = np.tile(theta[:4], (design.shape[0], 1))
    for j, sign in enumerate(SIGNS[model]):
        out[:, j + 1] += sign * (design @ theta[4 + j * k : 4 + (j + 1) * k])
    return out


def _chain(theta: np.ndarray, d: CovariateCounts, model: str, g_rows: np.ndarray) -> np.ndarray:
    """Gradient in the packed vector from per-group gradients in log-parameters."""
    per_group = np.column_stack(
        [np.bincount(d.g, weights=g_rows[:, j], minlength=d.n_groups) for j in range(4)]
    )
    base = per_group.sum(axis=0)
    blocks = [sign * (d.design.T @ per_group[:, j + 1]) for j, sign in enumerate(SIGNS[model])]
    return np.concatenate([base, *blocks])


def bgnbd_cov_rows(lp: np.ndarray, d: CovariateCounts) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood and its gradient in the row's log(r, alpha, a, b)."""
    r = float(np.exp(lp[0, 0]))
    alpha_g, a_g, b_g = np.exp(lp[:, 1]), np.exp(lp[:, 2]), np.exp(lp[:, 3])
    pg, px, pxi = d.gx
    alpha, a, b = alpha_g[pg], a_g[pg], b_g[pg]
    gx_ll = (gammaln(r + px) - gammaln(r) + r * np.log(alpha) + gammaln(a + b) + gammaln(b + px)
             - gammaln(b) - gammaln(a + b + px))
    gx_dr = digamma(r + px) - digamma(r) + np.log(alpha)
    gx_da = digamma(a + b) - digamma(a + b + px)
    gx_db = gx_da + digamma(b + px) - digamma(b)
    bm1 = np.log(np.maximum(b + px - 1, 1e-300))
    tg, tv, ti = d.gt
    ug, uv, ui = d.gtx
    log_at_u = np.log(alpha_g[tg] + tv)
    log_atx_u = np.log(alpha_g[ug] + uv)
    rx = r + d.x
    a3 = -rx * log_at_u[ti]
    a4 = np.where(d.x > 0, (np.log(a) - bm1)[pxi] - rx * log_atx_u[ui], -np.inf)
    mixed = np.logaddexp(a3, a4)
    pi = np.exp(a4 - mixed)
    ll = gx_ll[pxi] + mixed
    dr = gx_dr[pxi] - (1 - pi) * log_at_u[ti] - pi * log_atx_u[ui]
    al = alpha_g[d.g]
    dalpha = r - rx * al * ((1 - pi) / (al + d.age) + pi / (al + d.tx))
    da = a_g[d.g] * gx_da[pxi] + pi
    db = b_g[d.g] * (gx_db[pxi] - pi / np.exp(bm1)[pxi])
    return ll, np.column_stack([r * dr, dalpha, da, db])


def _pareto_row_ll(r, alpha, s, beta, x, tx, age) -> np.ndarray:
    """Pareto/NBD log-likelihood per row: the base model's log-space form, per-row parameters."""
    return pareto_log_likelihood(r, alpha, s, beta, x, tx, age)


def pareto_cov_rows(lp: np.ndarray, d: CovariateCounts, step: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Per-row Pareto/NBD log-likelihood and its central-difference gradient in log-parameters."""
    rows = lp[d.g]

    def ll_at(shift: np.ndarray) -> np.ndarray:
        p = np.exp(rows + shift)
        return _pareto_row_ll(p[:, 0], p[:, 1], p[:, 2], p[:, 3], d.x, d.tx, d.age)

    ll = ll_at(np.zeros(4))
    grad = np.empty((len(d.x), 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = step
        grad[:, j] = (ll_at(e) - ll_at(-e)) / (2 * step)
    return ll, grad


# The coefficients' weak prior N(0, PRIOR_SD^2) (a factor exp(2) ~ 7 at one
# SD): it keeps a level whose drop-out the data cannot identify (a few repeat
# buyers: a and b then run to infinity together) finite, and barely moves an
# identified coefficient, whose likelihood curvature is its customers' count.
PRIOR_SD = 2.0
# Group parameters beyond exp(+-25) are outside any sensible range (and there
# the gammaln differences lose all precision): the objective is +inf there.
MAX_ABS_LOG = 25.0
ROW_FUNCTIONS = {"bgnbd": bgnbd_cov_rows, "pareto_nbd": pareto_cov_rows}


def covariate_nll(theta: np.ndarray, d: CovariateCounts, penalizer: float, model: str,
                  prior_sd: float = PRIOR_SD):
    """(mean negative log-likelihood + penalties, gradient).

    Penalties: lifetimes' ``penalizer`` on the base parameters, and the
    coefficients' N(0, ``prior_sd``^2) prior (``prior_sd=np.inf``: none).
    """
    lp = group_log_params(theta, d.design, model)
    if not np.all(np.isfinite(lp)) or np.abs(lp).max() > MAX_ABS_LOG:
        return np.inf, np.zeros_like(theta)
    with np.errstate(all="ignore"):
        ll, grad_rows = ROW_FUNCTIONS[model](lp, d)
    value = -(d.w @ ll) / d.total
    grad = -_chain(theta, d, model, grad_rows * d.w[:, None]) / d.total
    base = np.exp(theta[:4])
    value += penalizer * np.sum(base**2)
    grad[:4] += 2 * penalizer * base**2
    coef = theta[4:]
    value += float(coef @ coef) / (2 * prior_sd**2 * d.total)
    grad[4:] += coef / (prior_sd**2 * d.total)
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return np.inf, np.zeros_like(theta)
    return float(value), grad


def _jacobians(design: np.ndarray, model: str) -> np.ndarray:
    """(groups x 4 x K): d group log-parameters / d packed vector (constant: the map is linear)."""
    n_groups, k = design.shape
    jac = np.zeros((n_groups, 4, 4 + 3 * k))
    jac[:, np.arange(4), np.arange(4)] = 1.0
    for j, sign in enumerate(SIGNS[model]):
        jac[:, j + 1, 4 + j * k : 4 + (j + 1) * k] = sign * design
    return jac


def covariate_hessian(theta: np.ndarray, d: CovariateCounts, penalizer: float, model: str,
                      prior_sd: float = PRIOR_SD, step: float = 1e-5) -> np.ndarray:
    """Hessian of :func:`covariate_nll` in the packed vector, from 5 row-gradient evaluations.

    Each row's log-likelihood depends on the packed vector only through its
    group's 4 log-parameters, linearly, so the Hessian is the sum over groups
    of J_g' H_g J_g, with H_g the weighted sum of the rows' 4 x 4 Hessians
    (forward differences of the row gradients in each log-parameter).
    """
    lp = group_log_params(theta, d.design, model)
    rows = ROW_FUNCTIONS[model]
    with np.errstate(all="ignore"):
        _, base = rows(lp, d)
        per_group = np.zeros((d.n_groups, 4, 4))
        for j in range(4):
            moved = lp.copy()
            moved[:, j] += step
            diff = (rows(moved, d)[1] - base) / step * d.w[:, None]
            for i in range(4):
                per_group[:, i, j] = np.bincount(d.g, weights=diff[:, i], minlength=d.n_groups)
    per_group = (per_group + per_group.transpose(0, 2, 1)) / 2
    jac = _jacobians(d.design, model)
    hess = -np.einsum("gik,gij,gjl->kl", jac, per_group, jac) / d.total
    base_params = np.exp(theta[:4])
    hess[np.arange(4), np.arange(4)] += 4 * penalizer * base_params**2
    k = len(theta) - 4
    hess[np.arange(4, 4 + k), np.arange(4, 4 + k)] += 1.0 / (prior_sd**2 * d.total)
    return hess
