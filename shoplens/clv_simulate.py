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
