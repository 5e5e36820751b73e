"""Purchases simulated exactly from the BG/NBD and Gamma-Gamma processes.

Used by the CLV tests and the CLV benchmark to have data whose true
parameters are known without building the whole synthetic shop. Rates are per
day; customers are born (first purchase) uniformly over ``n_days`` and
observed up to ``n_days - 1 + holdout_days``.
"""

from __future__ import annotations

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


def _simulate_pareto(n, n_days, r, alpha, s, beta, holdout_days, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer, day offset from birth, birth) of Pareto/NBD purchases: exponential lifetimes."""
    birth = rng.integers(0, n_days, size=n)
    horizon = (n_days - 1 + holdout_days) - birth + 1.0
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    life = np.minimum(rng.exponential(1.0, size=n) / rng.gamma(s, 1.0 / beta, size=n), horizon)
    cust, times = [np.arange(n)], [np.zeros(n)]
    t = np.zeros(n)
    active = np.arange(n)
    while len(active):
        t[active] += rng.exponential(1.0, size=len(active)) / lam[active]
        active = active[t[active] < life[active]]
        cust.append(active)
        times.append(t[active].copy())
    return np.concatenate(cust), np.concatenate(times), birth


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
    """
    rng = np.random.default_rng(seed)
    shares = shares or {"web": 0.5, "app": 0.3, "store": 0.2}
    effects = effects or {}
    base = base or ({"r": 0.3, "alpha": 20.0, "a": 0.8, "b": 2.5} if model == "bgnbd"
                    else {"r": 0.3, "alpha": 20.0, "s": 0.8, "beta": 120.0})
    levels = rng.choice(list(shares), size=n_customers, p=np.array(list(shares.values())) / sum(shares.values()))
    frames = []
    for i, level in enumerate(shares):
        idx = np.flatnonzero(levels == level)
        p = {k: v * np.exp((-1 if k in ("alpha", "beta") else 1) * effects.get(k, {}).get(level, 0.0))
             for k, v in base.items()}
        if model == "bgnbd":
            part, as_of = simulate_purchases(len(idx), n_days, holdout_days=holdout_days, start_date=start_date,
                                             seed=seed * 100 + i, **p)
        else:
            part, as_of = _pareto_frame(len(idx), n_days, p, holdout_days, start_date,
                                        np.random.default_rng(seed * 100 + i))
        part["customer_id"] = idx[part["customer_id"].to_numpy()]
        frames.append(part)
    purchases = pd.concat(frames, ignore_index=True).sort_values(["customer_id", "order_date"], ignore_index=True)
    covariates = pd.DataFrame({"customer_id": np.arange(n_customers), "channel": levels.astype(object)})
    return purchases, as_of, covariates


def _pareto_frame(n, n_days, p, holdout_days, start_date, rng) -> tuple[pd.DataFrame, dt.date]:
    cust, times, birth = _simulate_pareto(n, n_days, p["r"], p["alpha"], p["s"], p["beta"], holdout_days, rng)
    nu = rng.gamma(4.0, 1.0 / 20.0, size=n)
    start = pd.Timestamp(start_date)
    frame = pd.DataFrame({
        "customer_id": cust.astype("int64"),
        "order_date": (start + pd.to_timedelta(birth[cust] + np.floor(times), unit="D")).normalize(),
        "order_total": np.round(rng.gamma(6.0, 1.0 / nu[cust]), 2).clip(0.01),
    })
    return frame, (start + pd.Timedelta(days=n_days - 1)).date()
