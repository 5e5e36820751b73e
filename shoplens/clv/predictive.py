"""Posterior-predictive simulation: each customer's future purchases and spend.

A CLV interval from parameter draws alone (the plug-in expectation under
each draw) is far too narrow: it ignores that a customer may have dropped out
or not, buys a random number of times and spends a random amount. Here each
draw ``k`` of the parameters (their asymptotic normal distribution, as the
fit's covariance gives) is followed by one draw of the customer's own future,
from the model's posterior given the history (x, t_x, T):

* alive at T with probability P(alive | x, t_x, T) (1 for NBD);
* purchase rate lambda ~ Gamma(r + x, alpha + T), so purchases in a window of
  length t follow a negative binomial while the customer is alive;
* drop-out: BG/NBD drops after each purchase with probability
  p ~ Beta(a, b + x) (MBG/NBD: Beta(a, b + x + 1), because it may also drop at
  the first purchase), so the window's count is min(purchases, geometric(p));
  Pareto/NBD has an exponential remaining lifetime with
  mu ~ Gamma(s, beta + T), and buys only until it ends;
* spend: Gamma-Gamma's nu | x, m ~ Gamma(p x + q, v + x m) and the sum of n
  purchase days ~ Gamma(n p, nu), i.e. revenue = G2 / G1 * (v + x m) with
  G1 ~ Gamma(p x + q, 1), G2 ~ Gamma(n p, 1); constant_value: n * value.

Everything random depends on the (x, t_x, T) pattern and the draw only, so
it is simulated once per pattern (a few hundred thousand at a million
customers) and each customer's samples are ``B[pattern] * (base + slope * x m)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from shoplens.clv.config import ClvFitError
from shoplens.clv.fitted import ClvFit, FittedModel
from shoplens.clv.models import MODELS

CHUNK = 50_000


@dataclass
class PredictiveSamples:
    """Per pattern and draw: purchases ``counts`` and the revenue factor ``scale``.

    A customer's revenue in draw k is ``scale[pattern, k] * (base[k] + slope[k] * x * m)``.
    """

    counts: np.ndarray  # (patterns, draws) float32
    scale: np.ndarray  # (patterns, draws) float32
    base: np.ndarray  # (draws,)
    slope: np.ndarray  # (draws,)
    draws: list[dict[str, float]] = field(default_factory=list)  # the count model's parameter draws


def spend_parameter_draws(spend: FittedModel, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` draws of the spend parameters; Gamma-Gamma draws with q <= 1 (infinite mean) are redrawn."""
    if spend.role != "spend" or "q" not in spend.params:
        return {k: np.full(n, v) for k, v in spend.params.items()}
    kept: list[dict[str, float]] = []
    for _ in range(50):
        kept += [d for d in spend.draw(n, rng) if d["q"] > 1.0001]
        if len(kept) >= n:
            break
    if len(kept) < n:
        raise ClvFitError(
            "Gamma-Gamma draws keep giving q <= 1: the spend model is too uncertain for a CLV"
            " interval. Fix: more repeat buyers (later as_of_date) or a penalizer."
        )
    return {k: np.array([d[k] for d in kept[:n]]) for k in ("p", "q", "v")}


def simulate_purchases(name: str, p: dict[str, float], x, rec, age, t: float, rng) -> np.ndarray:
    """One posterior-predictive draw of repeat purchases in (T, T + t] per row (float)."""
    x, rec, age = (np.asarray(v, dtype=float) for v in (x, rec, age))
    with np.errstate(all="ignore"):
        alive = rng.random(len(x)) < MODELS[name].probability_alive(p, x, rec, age)
        window = np.full(len(x), float(t))
        if name == "pareto_nbd":
            mu = rng.standard_gamma(p["s"], len(x)) / (p["beta"] + age)
            window = np.minimum(window, rng.standard_exponential(len(x)) / mu)
        scale = p["alpha"] + age
        counts = rng.negative_binomial(p["r"] + x, scale / (scale + window)).astype(float)
        if name in ("bgnbd", "mbgnbd"):
            extra = 1.0 if name == "mbgnbd" else 0.0
            drop = rng.beta(p["a"], p["b"] + x + extra)
            until = np.ceil(np.log1p(-rng.random(len(x))) / np.log1p(-drop))
            counts = np.minimum(counts, np.where(drop > 0, np.maximum(until, 1.0), np.inf))
    return np.where(alive, counts, 0.0)


def simulate(fit: ClvFit, x, rec, age, t: float, n_draws: int, seed: int) -> PredictiveSamples:
    """``n_draws`` joint draws (parameters, then the customer's future) per pattern row."""
    rng = np.random.default_rng(seed)
    model = fit.count_model
    count_draws = model.draw(n_draws, rng)
    spend = spend_parameter_draws(fit.spend_model, n_draws, rng)
    x = np.asarray(x, dtype=float)
    counts = np.empty((len(x), n_draws), dtype=np.float32)
    scale = np.empty((len(x), n_draws), dtype=np.float32)
    constant = "value" in spend
    for k, draw in enumerate(count_draws):
        n = simulate_purchases(model.name, draw, x, rec, age, t, rng)
        counts[:, k] = n
        if constant:
            scale[:, k] = n
        else:
            g1 = rng.standard_gamma(spend["p"][k] * x + spend["q"][k])
            scale[:, k] = rng.standard_gamma(n * spend["p"][k]) / g1
    good = np.isfinite(counts).all(axis=0) & np.isfinite(scale).all(axis=0)
    if good.sum() < max(10, n_draws // 2):
        raise ClvFitError(
            f"{int((~good).sum())} of {n_draws} parameter draws of {model.name} give no finite purchase"
            " simulation; the fit is too uncertain for an interval. Fix: more history (later"
            " as_of_date) or a penalizer."
        )
    base, slope = (spend["value"], np.zeros(n_draws)) if constant else (spend["v"], np.ones(n_draws))
    # only draws that are finite for every pattern: plain (not nan-) percentiles stay fast
    if not good.all():  # the copies would double the samples (the CLV evaluation's peak at 1M)
        counts, scale = counts[:, good], scale[:, good]
    return PredictiveSamples(counts, scale, base[good], slope[good],
                             [d for d, keep in zip(count_draws, good, strict=True) if keep])


def discounted(samples: PredictiveSamples, factor: np.ndarray) -> PredictiveSamples:
    """``samples`` with each revenue factor multiplied by ``factor`` (patterns x draws, or
    patterns x 1), e.g. the discount ratio of a CLV. Made once per interval: the quantiles of
    every level group read it, and the undiscounted factors can be freed."""
    return replace(samples, scale=samples.scale * factor.astype(np.float32))


def customer_quantiles(
    samples: PredictiveSamples, inv: np.ndarray, x: np.ndarray, m: np.ndarray, qs
) -> np.ndarray:
    """Quantiles ``qs`` (percent) of each customer's revenue; shape (len(qs), customers).

    Customers without repeat purchases share their pattern's quantiles; the
    others are done in chunks in float32. A CLV's discounting is in
    ``samples`` already (:func:`discounted`).
    """
    out = np.empty((len(qs), len(x)))
    base = samples.base.astype(np.float32)
    one_time = x == 0
    pats = np.unique(inv[one_time])
    if len(pats):
        per_pattern = np.percentile(samples.scale[pats] * base, qs, axis=1)
        out[:, one_time] = per_pattern[:, np.searchsorted(pats, inv[one_time])]
    rows = np.flatnonzero(~one_time)
    slope = samples.slope.astype(np.float32)
    xm = (x * m).astype(np.float32)
    for start in range(0, len(rows), CHUNK):
        idx = rows[start : start + CHUNK]
        values = samples.scale[inv[idx]] * (base + slope * xm[idx, None])
        out[:, idx] = np.percentile(values, qs, axis=1)
    return np.maximum(out, 0.0)


def customer_quantiles_at(
    samples: PredictiveSamples, inv: np.ndarray, x: np.ndarray, m: np.ndarray, levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's revenue quantiles at its own (lower, upper) ``levels`` (customers x 2, in [0, 1]).

    Customers sharing a pair of levels (a decile of a recalibrated interval)
    are done together with :func:`customer_quantiles`.
    """
    lo, hi = np.empty(len(x)), np.empty(len(x))
    pairs, which = np.unique(np.asarray(levels, dtype=float), axis=0, return_inverse=True)
    for k, (a, z) in enumerate(pairs):
        idx = np.flatnonzero(which.ravel() == k)
        lo[idx], hi[idx] = customer_quantiles(samples, inv[idx], x[idx], m[idx], [100 * a, 100 * z])
    return lo, hi
