"""How close can any forecaster get on a generated shop's total? An oracle's MASE (issue 12; by hand)

Usage:
    python bench/bench_forecast_oracle.py --warehouse W.duckdb [--truth data/sample/ground_truth.json]
    python bench/bench_forecast_oracle.py --shop CUSTOMERS,PRODUCTS,SEED [...]
        [--out reports/bench/forecast_oracle.md]

A generated shop's total demand is the sum of its customers' BG/NBD purchase
processes (``shoplens.datagen``). The oracle knows, at each backtest origin,
everything the generator drew up to the origin and every customer's
parameters: each customer's purchase rate, dropout probability and mean spend,
who is alive at the origin, when every future customer is born, and which day
of the origin's week each purchase made so far is recorded on
(``datagen.latent_purchases``). What it cannot know is the future's own noise:
when the alive customers buy, who drops out, how many units and how much money
an order holds.

From that it forecasts each day's expected orders exactly (a customer alive at
the origin buys at rate ``lam * exp(-lam * p * (t - origin))``, a newborn
likewise from its birth, and each purchase is recorded on a day of its calendar
week with the generator's weekly profile), and the predictive median of units
and revenue by simulation (orders Poisson, lines and quantities as the
generator draws them, an order's value from the Gamma-Gamma spend of the day's
expected buyers). Units per order is the training year's; revenue is scaled by
one constant in hindsight (the generator's line amounts after discounts against
its order values), which can only help the oracle.

It is scored exactly as the served forecast is (``backtest_candidates`` with
the build's settings, the same origins, MASE scales and seasonal naive) and
prints, per measure and pooled, the ratio of mean MASE to seasonal naive of
the served forecast, its median, the oracle's mean and the oracle's median.
No forecaster that sees only the shop's data can expect to beat the oracle's
median: where it is above 0.75, the 25% target is out of reach on that shop.
Not part of `make bench`; docs/forecast.md ("What the best forecaster could
do") quotes its output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from shoplens import forecast as F
from shoplens.datagen import WEEKLY_PROFILE, ShopConfig, latent_purchases
from shoplens.testing.forecast_data import generated_shop_demand, warehouse_demand

N_SIM = 4000


def expected_purchase_times(lp: dict, origin: int, last_day: int, spend_p: float
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Per day index ``d >= origin`` (up to ``last_day``): the expected number of purchase times
    in ``[d, d + 1)`` given the state at ``origin``, and the expected value of those purchases."""
    lam, p, nu, birth, death = lp["lam"], lp["p_drop"], lp["nu"], lp["birth"], lp["death_time"]
    mean_value = spend_p / nu
    alive = (birth < origin) & (death > origin)
    born = birth >= origin
    count = np.zeros(last_day + 1)
    value = np.zeros(last_day + 1)

    def integral(rate, drop, lo, hi):  # of rate * exp(-rate * drop * s) over s in [lo, hi)
        fading = rate * drop > 0
        out = rate * (hi - lo)
        out[fading] = (np.exp(-rate[fading] * drop[fading] * lo[fading])
                       - np.exp(-rate[fading] * drop[fading] * hi[fading])) / drop[fading]
        return out

    for d in range(origin, last_day + 1):
        a = np.full(alive.sum(), float(d - origin))
        r = integral(lam[alive], p[alive], a, a + 1)
        count[d] += r.sum()
        value[d] += (r * mean_value[alive]).sum()
        nb = born & (birth < d + 1)
        b = birth[nb]
        lo, hi = np.maximum(d, b) - b, d + 1 - b
        r = integral(lam[nb], p[nb], lo, hi)
        first = b >= d  # the birth purchase itself
        count[d] += r.sum() + first.sum()
        value[d] += ((r + first) * mean_value[nb]).sum()
    return count, value


def oracle_for_origin(lp: dict, cfg: ShopConfig, origin: int, horizon: int, seed: int):
    """Expected orders and revenue, and the median units-per-1.0 and revenue by simulation, for
    the ``horizon`` days from day index ``origin``."""
    profile = np.asarray(WEEKLY_PROFILE) / sum(WEEKLY_PROFILE)
    start_dow = cfg.start.weekday()
    days = np.arange(origin, min(origin + horizon, cfg.n_days))
    spend_p = float(cfg.gamma_gamma["p"])
    count, value = expected_purchase_times(lp, origin, min(cfg.n_days - 1, days[-1] + 7), spend_p)
    t, rec = lp["time"], lp["day"]
    week_of_t = np.floor(t).astype(np.int64) - (np.floor(t).astype(np.int64) + start_dow) % 7
    mean_value = spend_p / lp["nu"][lp["customer"]]
    orders, revenue = np.zeros(days.size), np.zeros(days.size)
    for i, d in enumerate(days):
        ws = d - (d + start_dow) % 7
        known = (t < origin) & (week_of_t == ws) & (rec == d)  # made already, recorded on d
        future = slice(max(ws, origin), min(ws + 7, count.size))
        # a week cut by the period's end spreads its purchases over its days inside (the generator's
        # ``_inside_period``): the profile renormalised over those days
        inside = profile[: min(7, cfg.n_days - ws)]
        share = profile[d - ws] / inside.sum()
        orders[i] = known.sum() + share * count[future].sum()
        revenue[i] = mean_value[known].sum() + share * value[future].sum()
    # the predictive medians by simulation
    sim = np.random.default_rng(seed)
    alive = (lp["birth"] < origin) & (lp["death_time"] > origin)
    med_units, med_revenue = np.zeros(days.size), np.zeros(days.size)
    for i, d in enumerate(days):
        k = sim.poisson(orders[i], size=N_SIM)
        owner = np.repeat(np.arange(N_SIM), k)
        lines = np.minimum(1 + sim.poisson(0.7, size=k.sum()), 5)
        units = np.bincount(np.repeat(np.arange(k.sum()), lines),
                            weights=1 + sim.poisson(0.3, size=lines.sum()), minlength=k.sum())
        med_units[i] = np.median(np.bincount(owner, weights=units, minlength=N_SIM))
        weight = np.where(alive, lp["lam"] * np.exp(-lp["lam"] * lp["p_drop"] * (d - origin)), 0.0)
        buyer = sim.choice(weight.size, size=k.sum(), p=weight / weight.sum())
        spend = sim.gamma(spend_p, 1.0 / lp["nu"][buyer])
        med_revenue[i] = np.median(np.bincount(owner, weights=spend, minlength=N_SIM))
    return days, orders, revenue, med_units, med_revenue


def mean_units_per_order() -> float:
    """The generator's units per order: min(1 + Poisson(0.7), 5) lines of 1 + Poisson(0.3) units."""
    from scipy import stats

    lines = 1 + stats.poisson(0.7).expect(lambda x: np.minimum(x, 4))
    return float(lines * 1.3)


def run(name: str, cfg: ShopConfig, demand: pd.DataFrame, kwargs: dict) -> dict:
    lp = latent_purchases(cfg)
    total = demand.loc[demand["series_level"] == "total"].copy()
    total["demand_date"] = pd.to_datetime(total["demand_date"])
    total = total.sort_values("demand_date")
    drawn = np.bincount(lp["day"], minlength=cfg.n_days)
    index = (total["demand_date"] - pd.Timestamp(cfg.start)).dt.days.to_numpy()
    if not np.array_equal(drawn[index], total["n_orders"].to_numpy()):
        raise SystemExit(f"{name}: the generator's orders per day differ from the shop's demand "
                         "(another generator version or config?)")
    config = F.ForecastConfig(top_n=1, n_jobs=1)
    served, _ = F.backtest_candidates(total, config, **kwargs)
    served["target_date"] = pd.to_datetime(served["target_date"])
    parts = []
    for origin_date, part in served.groupby("origin_date"):
        origin = (pd.Timestamp(origin_date) - pd.Timestamp(cfg.start)).days + 1
        days, orders, revenue, med_units, med_revenue = oracle_for_origin(
            lp, cfg, origin, config.horizon_days, origin)
        train = total.loc[total["demand_date"] < pd.Timestamp(cfg.start) + pd.Timedelta(days=origin)].tail(365)
        per_order = train["units"].sum() / train["n_orders"].sum()
        by_day = {"units": (orders * per_order, med_units * per_order / mean_units_per_order()),
                  "revenue": (revenue, med_revenue)}
        for measure, (mean, median) in by_day.items():
            p = part.loc[part["measure"] == measure].sort_values("target_date").copy()
            pos = (p["target_date"] - pd.Timestamp(cfg.start)).dt.days.to_numpy() - origin
            p["oracle"], p["oracle_median"] = mean[pos], median[pos]
            parts.append(p)
    bt = pd.concat(parts, ignore_index=True)
    rev = bt["measure"] == "revenue"
    c = bt.loc[rev, "actual"].astype(float).sum() / bt.loc[rev, "oracle"].sum()  # hindsight
    bt.loc[rev, ["oracle", "oracle_median"]] *= c
    result = {"shop": name, "revenue_constant": round(float(c), 4)}
    for measure in ("units", "revenue", "both"):
        b = bt if measure == "both" else bt.loc[bt["measure"] == measure]

        def mase(col, b=b):
            err = (b["actual"].astype(float) - b[col].astype(float)).abs() / b["mase_scale"]
            return err.groupby([b["measure"], b["origin_date"]]).mean()

        naive = mase("naive_forecast").mean()
        result[measure] = {col: round(float(mase(col).mean() / naive), 4) for col in
                           ("point_forecast", "median_forecast", "oracle", "oracle_median")}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", action="append", default=[],
                    help="a warehouse built from a generated shop (its ground_truth.json: --truth)")
    ap.add_argument("--truth", default="data/sample/ground_truth.json")
    ap.add_argument("--shop", action="append", default=[],
                    help="CUSTOMERS,PRODUCTS,SEED: a generated shop of 730 days, no dbt")
    ap.add_argument("--out")
    args = ap.parse_args()
    results = []
    for path in args.warehouse:
        truth = json.loads(Path(args.truth).read_text())["config"]
        cfg = ShopConfig(**{k: v for k, v in truth.items() if k in ShopConfig.__dataclass_fields__})
        demand, kwargs = warehouse_demand(path)
        results.append(run(f"warehouse {Path(path).name}", cfg, demand, kwargs))
    for spec in args.shop:
        customers, products, seed = (int(x) for x in spec.split(","))
        cfg = ShopConfig(n_customers=customers, n_days=730, n_products=products, seed=seed, events=False)
        demand, _ = generated_shop_demand(customers, products, 730, seed)
        results.append(run(f"generated {customers:,} customers, seed {seed}", cfg, demand, {}))
    lines = ["Shop total: ratio of mean MASE to seasonal naive over the backtest's scored windows",
             "(served = `point_forecast`, median = the served calibrated median, oracle = the",
             "oracle's expected demand, oracle median = its predictive median):", "",
             "| shop | measure | served | served median | oracle | oracle median |",
             "|---|---|---|---|---|---|"]
    for r in results:
        for measure in ("units", "revenue", "both"):
            m = r[measure]
            lines.append(f"| {r['shop']} | {measure} | {m['point_forecast']:.3f} | {m['median_forecast']:.3f}"
                         f" | {m['oracle']:.3f} | {m['oracle_median']:.3f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
