"""Purchases simulated exactly from the BG/NBD and Gamma-Gamma processes.

Used by the CLV tests and the CLV benchmark to have data whose true
parameters are known without building the whole synthetic shop. Rates are per
day; customers are born (first purchase) uniformly over ``n_days`` and
observed up to ``n_days - 1 + holdout_days``.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import numpy as np
import pandas as pd


def simulate_purchases(
    n_customers: int = 5000,
    n_days: int = 730,
    *,
    r: float = 0.25,
    alpha: float = 30.0,
    a: float = 0.8,
    b: float = 2.5,
    p: float = 6.0,
    q: float = 4.0,
    v: float = 20.0,
    holdout_days: int = 0,
    start_date: str = "2024-01-01",
    seed: int = 42,
) -> tuple[pd.DataFrame, dt.date]:
    """Return (purchases, as_of_date).

    ``purchases`` has one row per transaction: ``customer_id``, ``order_date``,
    ``order_total`` (a Gamma(p, nu) draw, nu ~ Gamma(q, rate v) per customer).
    Each customer buys at birth (day 0), then at Poisson rate lambda ~
    Gamma(r, rate alpha) and drops out after each repeat purchase with
    probability ~ Beta(a, b) (never, with ``a = 0``). ``as_of_date`` is ``start_date + n_days - 1``;
    ``holdout_days`` more days of purchases follow it.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(start_date)
    birth = rng.integers(0, n_days, size=n_customers)
    horizon = (n_days - 1 + holdout_days) - birth + 1.0  # continuous time observed, in days
    lam = rng.gamma(r, 1.0 / alpha, size=n_customers)
    # a = 0: nobody ever drops out (the NBD limit of BG/NBD)
    drop = rng.beta(a, b, size=n_customers) if a > 0 else np.zeros(n_customers)
    nu = rng.gamma(q, 1.0 / v, size=n_customers)
    ids = np.arange(n_customers)
    cust = [ids]
    times = [np.zeros(n_customers)]
    t = np.zeros(n_customers)
    active = ids
    while len(active):
        t[active] += rng.exponential(1.0, size=len(active)) / lam[active]
        active = active[t[active] < horizon[active]]
        cust.append(active)
        times.append(t[active].copy())
        active = active[rng.random(len(active)) >= drop[active]]
    cust_all = np.concatenate(cust)
    time_all = np.concatenate(times)
    spend = rng.gamma(p, 1.0 / nu[cust_all])
    order_date = start + pd.to_timedelta(birth[cust_all] + np.floor(time_all), unit="D")
    purchases = pd.DataFrame(
        {
            "customer_id": cust_all.astype("int64"),
            "order_date": order_date.normalize(),
            "order_total": np.round(spend, 2),
        }
    ).sort_values(["customer_id", "order_date"], ignore_index=True)
    purchases["order_total"] = purchases["order_total"].clip(lower=0.01)
    as_of = (start + pd.Timedelta(days=n_days - 1)).date()
    return purchases, as_of


def _simulate_times(model: str, n: int, n_days: int, p: dict, holdout_days: int, rng) -> tuple:
    """(customer, purchase time from birth in days, birth day) in continuous time.

    BG/NBD: drop-out with probability ~ Beta(a, b) after each repeat purchase;
    Pareto/NBD: an exponential lifetime with rate ~ Gamma(s, rate beta).
    Purchases at Poisson rate ~ Gamma(r, rate alpha) from the birth purchase at 0.
    """
    birth = rng.integers(0, n_days, size=n)
    horizon = (n_days - 1 + holdout_days) - birth + 1.0
    lam = rng.gamma(p["r"], 1.0 / p["alpha"], size=n)
    if model == "bgnbd":
        drop, life = rng.beta(p["a"], p["b"], size=n), horizon
    else:
        drop = np.zeros(n)
        life = np.minimum(rng.exponential(1.0, size=n) / rng.gamma(p["s"], 1.0 / p["beta"], size=n), horizon)
    cust, times = [np.arange(n)], [np.zeros(n)]
    t = np.zeros(n)
    active = np.arange(n)
    while len(active):
        t[active] += rng.exponential(1.0, size=len(active)) / lam[active]
        active = active[t[active] < life[active]]
        cust.append(active)
        times.append(t[active].copy())
        active = active[rng.random(len(active)) >= drop[active]]
    return np.concatenate(cust), np.concatenate(times), birth


def _groups(n: int, model: str, base, effects, shares, rng) -> tuple[np.ndarray, list[tuple[str, dict]]]:
    """Every customer's channel and each channel's parameters (see simulate_with_covariates)."""
    shares = shares or {"web": 0.5, "app": 0.3, "store": 0.2}
    effects = effects or {}
    base = base or ({"r": 0.3, "alpha": 20.0, "a": 0.8, "b": 2.5} if model == "bgnbd"
                    else {"r": 0.3, "alpha": 20.0, "s": 0.8, "beta": 120.0})
    levels = rng.choice(list(shares), size=n, p=np.array(list(shares.values())) / sum(shares.values()))
    params = [(level, {k: v * np.exp((-1 if k in ("alpha", "beta") else 1) * effects.get(k, {}).get(level, 0.0))
                       for k, v in base.items()}) for level in shares]
    return levels, params


def simulate_with_covariates(
    n_customers: int = 6000,
    n_days: int = 540,
    *,
    model: str = "bgnbd",
    base: dict[str, float] | None = None,
    effects: dict[str, dict[str, float]] | None = None,
    shares: dict[str, float] | None = None,
    holdout_days: int = 0,
    start_date: str = "2024-01-01",
    seed: int = 7,
) -> tuple[pd.DataFrame, dt.date, pd.DataFrame]:
    """(purchases, as_of_date, covariates) where one covariate, ``channel``, shifts parameters.

    ``effects`` maps a parameter to {level: coefficient}; a level's parameters
    follow shoplens.clv.covariate_likelihood: alpha and beta times
    exp(-coefficient), a, b and s times exp(+coefficient). The first level of
    ``shares`` is the reference. Spend is Gamma-Gamma (p, q, v) = (6, 4, 20).
    Purchase times are floored to days (several on one day are one purchase
    day, as in the marts); :func:`simulate_summary_with_covariates` keeps them exact.
    """
    rng = np.random.default_rng(seed)
    levels, params = _groups(n_customers, model, base, effects, shares, rng)
    start = pd.Timestamp(start_date)
    frames = []
    for level, p in params:
        idx = np.flatnonzero(levels == level)
        cust, times, birth = _simulate_times(model, len(idx), n_days, p, holdout_days, rng)
        nu = rng.gamma(4.0, 1.0 / 20.0, size=len(idx))
        frames.append(pd.DataFrame({
            "customer_id": idx[cust].astype("int64"),
            "order_date": (start + pd.to_timedelta(birth[cust] + np.floor(times), unit="D")).normalize(),
            "order_total": np.round(rng.gamma(6.0, 1.0 / nu[cust]), 2).clip(0.01),
        }))
    purchases = pd.concat(frames, ignore_index=True).sort_values(["customer_id", "order_date"], ignore_index=True)
    covariates = pd.DataFrame({"customer_id": np.arange(n_customers), "channel": levels.astype(object)})
    return purchases, (start + pd.Timedelta(days=n_days - 1)).date(), covariates


def simulate_summary_with_covariates(
    n_customers: int = 6000, n_days: int = 540, *, model: str = "bgnbd", base=None, effects=None,
    shares=None, holdout_days: int = 0, seed: int = 7,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """(summary in exact continuous days, holdout purchases per customer, covariates).

    The same process as :func:`simulate_with_covariates` without flooring to
    days: the model's own data, for checks of the estimator (recovery of
    coefficients) that calendar rounding would bias for fast buyers.
    """
    rng = np.random.default_rng(seed)
    levels, params = _groups(n_customers, model, base, effects, shares, rng)
    freq, rec, age, future = (np.zeros(n_customers) for _ in range(4))
    for level, p in params:
        idx = np.flatnonzero(levels == level)
        cust, times, birth = _simulate_times(model, len(idx), n_days, p, holdout_days, rng)
        end = (n_days - birth).astype(float)
        seen = times <= end[cust]
        freq[idx] = np.bincount(cust[seen], minlength=len(idx)) - 1
        last = np.zeros(len(idx))
        np.maximum.at(last, cust[seen], times[seen])
        rec[idx], age[idx] = last, end
        future[idx] = np.bincount(cust[~seen], minlength=len(idx))
    summary = pd.DataFrame({"customer_id": np.arange(n_customers), "frequency": freq.astype("int64"),
                            "recency": rec, "T": age, "monetary_value": 0.0})
    covariates = pd.DataFrame({"customer_id": np.arange(n_customers), "channel": levels.astype(object)})
    return summary, future, covariates


@contextlib.contextmanager
def counted_pareto_evaluations():
    """Count the Pareto/NBD objective evaluations of both engines (lifetimes' fitter and
    ``shoplens.clv.likelihood.pareto_nll``) inside the block: ``{"n": count}``."""
    import lifetimes

    from shoplens.clv import likelihood

    counts = {"n": 0}
    theirs, ours = lifetimes.ParetoNBDFitter._negative_log_likelihood, likelihood.pareto_nll

    def lifetimes_counted(*args):
        counts["n"] += 1
        return theirs(*args)

    def ours_counted(*args):
        counts["n"] += 1
        return ours(*args)

    lifetimes.ParetoNBDFitter._negative_log_likelihood = staticmethod(lifetimes_counted)
    likelihood.pareto_nll = ours_counted
    try:
        yield counts
    finally:
        lifetimes.ParetoNBDFitter._negative_log_likelihood = staticmethod(theirs)
        likelihood.pareto_nll = ours
