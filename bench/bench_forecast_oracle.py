"""How close can any forecaster get on a generated shop's total? An oracle's MASE (issue 12; by hand)

Usage:
    python bench/bench_forecast_oracle.py --warehouse W.duckdb [--truth data/sample/ground_truth.json]
    python bench/bench_forecast_oracle.py --shop CUSTOMERS,PRODUCTS,SEED [...]
        [--out reports/bench/forecast_oracle.md]

A generated shop's total demand is the sum of its customers' BG/NBD purchase
processes (``shoplens.datagen``, the standard shape). The oracle knows, at each
backtest origin, the generator's hidden state (``datagen.latent_purchases``):
each customer's purchase rate, dropout probability and mean spend, who is alive
at the origin, and every future customer's first purchase; and everything a
forecaster sees: every purchase recorded before the origin (in the origin's
week the weekly move can record a purchase, a first one included, before the
day it was made; the oracle knows which of the week's first purchases are
already recorded and spreads the rest over the week's remaining days). What it
cannot know is the future's own noise: when the alive customers buy, who drops
out, which day of its week a purchase is recorded on, and how many units and
how much money an order holds.

From that it forecasts each day's expected orders and revenue exactly (a
customer alive at the origin makes repeat purchases at rate ``lam * exp(-lam *
p * (t - origin))``, a newborn likewise from its birth; a week's purchases are
recorded on its days by the generator's weekly profile) and the predictive
median of units and revenue by simulation: the known orders, each remaining
first purchase present with its probability, repeat purchases Poisson with
their buyers drawn by intensity, and units and order values drawn as the
generator draws them. Approximations: the repeat count is Poisson, and the
repeat buyers' mix is taken at the day's middle.
It is scored exactly as the served forecast is (``backtest_candidates`` with
the build's settings, the same origins, MASE scales and seasonal naive) and
prints, per measure and pooled, the ratio of mean MASE to seasonal naive of
the served forecast, its median, the oracle's mean and the oracle's median.
A forecaster that sees only the shop's data knows less than the oracle, so it
cannot expect to beat the oracle's median by more than noise: where that is
above 0.75, the 25% target is out of reach on that shop.
Not part of `make bench`; docs/forecast.md ("What the best forecaster could
do") quotes its output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from records import save_report

from shoplens import forecast as F
from shoplens.datagen import WEEKLY_PROFILE, ShopConfig, latent_purchases
from shoplens.testing.forecast_data import generated_shop_demand, warehouse_demand

N_SIM = 4000


def _fading(rate: np.ndarray, drop: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The integral of ``rate * exp(-rate * drop * s)`` over ``s`` in ``[lo, hi)``."""
    out = rate * (hi - lo)
    f = rate * drop > 0
    out[f] = (np.exp(-rate[f] * drop[f] * lo[f]) - np.exp(-rate[f] * drop[f] * hi[f])) / drop[f]
    return out


def expected_repeats(lp: dict, origin: int, last_day: int, spend_p: float) -> tuple[np.ndarray, np.ndarray]:
    """Per day index ``d`` in ``[origin, last_day]``: the expected number of repeat purchases made in
    ``[d, d + 1)`` given the state at ``origin`` (customers alive then, and those born later from
    their birth), and their expected value."""
    lam, p, birth = lp["lam"], lp["p_drop"], lp["birth"]
    mean_value = spend_p / lp["nu"]
    alive = (birth < origin) & (lp["death_time"] > origin)
    count, value = np.zeros(last_day + 1), np.zeros(last_day + 1)
    for d in range(origin, last_day + 1):
        a = np.full(alive.sum(), float(d - origin))
        r = _fading(lam[alive], p[alive], a, a + 1)
        count[d] += r.sum()
        value[d] += (r * mean_value[alive]).sum()
        nb = (birth >= origin) & (birth < d + 1)
        b = birth[nb]
        r = _fading(lam[nb], p[nb], np.maximum(d, b) - b, d + 1 - b)
        count[d] += r.sum()
        value[d] += (r * mean_value[nb]).sum()
    return count, value


def _order_units(sim: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Units of orders as the generator draws them: min(1 + Poisson(0.7), 5) lines of 1 + Poisson(0.3)."""
    lines = np.minimum(1 + sim.poisson(0.7, size=shape), 5)
    return lines + sim.poisson(0.3 * lines)


def oracle_for_origin(lp: dict, cfg: ShopConfig, origin: int, horizon: int, seed: int):
    """For the ``horizon`` days from day index ``origin``: the expected orders and revenue, and the
    predictive medians of units (in generator units per order) and revenue by simulation.

    What is known at the origin: every purchase made before it and the day it is recorded on, every
    birth (first purchase) after it, and, in the origin's week, which of those births a forecaster
    already sees recorded before the origin (the weekly move can record a purchase earlier in its
    week than it was made); the rest of a week's births fall on its remaining days by the weekly
    profile. Repeat purchases after the origin are expected, from the state at the origin.
    """
    profile = np.asarray(WEEKLY_PROFILE) / sum(WEEKLY_PROFILE)
    start_dow = cfg.start.weekday()
    spend_p = float(cfg.gamma_gamma["p"])
    days = np.arange(origin, min(origin + horizon, cfg.n_days))
    count, value = expected_repeats(lp, origin, min(cfg.n_days - 1, days[-1] + 7), spend_p)
    t, rec, cust = lp["time"], lp["day"], lp["customer"]
    lam, p, nu, birth = lp["lam"], lp["p_drop"], lp["nu"], lp["birth"]
    floor_t = np.floor(t).astype(np.int64)
    week_of = floor_t - (floor_t + start_dow) % 7
    is_birth = t == birth[cust]
    alive = (birth < origin) & (lp["death_time"] > origin)
    sim = np.random.default_rng(seed)
    orders, revenue = np.zeros(days.size), np.zeros(days.size)
    med_units, med_revenue = np.zeros(days.size), np.zeros(days.size)
    for i, d in enumerate(days):
        ws = d - (d + start_dow) % 7
        week = np.arange(ws, min(ws + 7, cfg.n_days))  # a week cut by the period's end: its days inside
        weights = profile[week - ws]
        share = profile[d - ws] / weights.sum()
        # made before the origin and recorded on d
        known = cust[(t < origin) & (week_of == ws) & (rec == d)]
        # births of this week after the origin not seen recorded before it, spread over the week's days
        # from the origin on (all of the week's days for a later week)
        later = week[week >= origin]
        born = cust[(t >= origin) & is_birth & (week_of == ws) & (rec >= origin)]
        q = profile[d - ws] / profile[later - ws].sum()
        after = slice(max(ws, origin), week[-1] + 1)  # repeats made from the origin on, in this week
        repeats = share * count[after].sum()
        orders[i] = known.size + q * born.size + repeats
        revenue[i] = spend_p * ((1 / nu[known]).sum() + q * (1 / nu[born]).sum()) + share * value[after].sum()
        # the simulation's repeat buyers on day d: alive customers and those born by then, by intensity
        s = d + 0.5
        w = np.where(alive, lam * np.exp(-lam * p * (s - origin)), 0.0)
        newborn = (birth >= origin) & (birth < s)
        w[newborn] = lam[newborn] * np.exp(-lam[newborn] * p[newborn] * (s - birth[newborn]))
        # the predictive medians: known orders fixed, each remaining birth there with probability q,
        # repeats Poisson with buyers by intensity; units and spend drawn as the generator does
        present = sim.random((N_SIM, born.size)) < q
        k = sim.poisson(repeats, size=N_SIM)
        buyers = sim.choice(w.size, size=k.sum(), p=w / w.sum()) if k.sum() else np.zeros(0, int)
        owner = np.repeat(np.arange(N_SIM), k)
        units = (_order_units(sim, (N_SIM, known.size)).sum(axis=1)
                 + (_order_units(sim, (N_SIM, born.size)) * present).sum(axis=1)
                 + np.bincount(owner, weights=_order_units(sim, (k.sum(),)), minlength=N_SIM))
        spend = (sim.gamma(spend_p, 1.0 / np.broadcast_to(nu[known], (N_SIM, known.size))).sum(axis=1)
                 + (sim.gamma(spend_p, 1.0 / np.broadcast_to(nu[born], (N_SIM, born.size))) * present).sum(axis=1)
                 + np.bincount(owner, weights=sim.gamma(spend_p, 1.0 / nu[buyers]), minlength=N_SIM))
        med_units[i], med_revenue[i] = np.median(units), np.median(spend)
    return days, orders, revenue, med_units, med_revenue


def mean_units_per_order() -> float:
    """The generator's units per order: min(1 + Poisson(0.7), 5) lines of 1 + Poisson(0.3) units."""
    from scipy import stats

    lines = 1 + stats.poisson(0.7).expect(lambda x: np.minimum(x, 4))
    return float(lines * 1.3)


def run(name: str, cfg: ShopConfig, demand: pd.DataFrame, kwargs: dict) -> dict:
    if cfg.shape != "standard":  # the expected purchases above are the standard shape's
        raise SystemExit(f"{name}: shape {cfg.shape!r}: the oracle knows the standard shape only")
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
        by_day = {"units": (orders * mean_units_per_order(), med_units), "revenue": (revenue, med_revenue)}
        for measure, (mean, median) in by_day.items():
            p = part.loc[part["measure"] == measure].sort_values("target_date").copy()
            pos = (p["target_date"] - pd.Timestamp(cfg.start)).dt.days.to_numpy() - origin
            p["oracle"], p["oracle_median"] = mean[pos], median[pos]
            parts.append(p)
    bt = pd.concat(parts, ignore_index=True)
    result = {"shop": name}
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
    save_report(text, results, args.out)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
