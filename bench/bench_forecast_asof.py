"""The production forecast scored on the days after it, at past as-of dates (by hand).

Usage: python bench/bench_forecast_asof.py [--warehouse W.duckdb | --cdnow] [--code CHECKOUT] [--as-of-dates 4]
                                           [--save OUT.parquet] [--compare OTHER.parquet] [--quick]

The backtest (bench_forecast.py, ``ml_forecast_evaluation``) scores the
procedure at its origins; this scores the production forecast itself. For
k = K..1 (``--as-of-dates``) ``forecast_demand`` runs as of ``end - k *
horizon`` on the demand up to that day, with the project's default vars, and
is scored on the next ``horizon`` days as the holdout rows are
(``holdout_frame``): MASE against seasonal naive and pooled 80/95% coverage,
per level, over the K dates. Data: the generated shop of bench_forecast.py
(200,000 customers, 300 products, 730 days; ``--quick``: 20,000 customers, 60
products, top 10), a built warehouse's ``demand_daily`` and
``dim_customers`` (``--warehouse``), or real orders: the shop total of the
CDNOW master file that ships with ``lifetimes`` (``--cdnow``, to 1998-06-30).

``--code`` imports ``shoplens`` from another checkout (the generator too), to
score two versions of the production forecast on the same dates;
``--save`` writes the per-series, per-date MASE, and ``--compare`` pairs them
with a saved run's: the mean difference of MASE, per level, and its t over
series keys (a key's two measures and its dates averaged first, as they
move together). Both runs must be scored by the same code (``holdout``,
``metrics`` and ``methods`` of ``shoplens.forecast``; their digest is saved).
With ``--warehouse`` the holiday weights come from the warehouse's
``dim_customers`` (its own as-of date), the same for both runs. Prints and
appends a record to reports/bench/forecast_asof.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from records import append_record

ROOT = Path(__file__).resolve().parents[1]
KEYS = ["series_level", "series_key", "measure"]


def paired(mine, other) -> dict:
    """This run's per-series, per-date MASE minus the other's: the mean difference, per
    level, and its t over series keys (a key's measures and dates averaged first: they
    are not independent)."""
    import numpy as np

    if set(mine["as_of_date"]) != set(other["as_of_date"]):
        raise SystemExit("--compare: the saved run scored other as-of dates")
    if set(mine["scoring"]) != set(other["scoring"]):
        raise SystemExit("--compare: the saved run was scored by other code (holdout, metrics, methods)")
    both = mine.merge(other, on=[*KEYS, "as_of_date"], suffixes=("", "_other")).dropna(
        subset=["mase_model", "mase_model_other"])
    diff = both["mase_model"] - both["mase_model_other"]
    per_key = diff.groupby([both["series_level"], both["series_key"]]).mean()
    se = float(per_key.std(ddof=1) / np.sqrt(len(per_key))) if len(per_key) > 1 else 0.0
    by_level = {str(level): round(float(part.mean()), 4)
                for level, part in diff.groupby(both["series_level"])}
    return {"n": int(len(diff)), "n_keys": int(len(per_key)),
            "mean_difference": round(float(diff.mean()), 4),
            "t_over_keys": round(float(per_key.mean()) / se, 2) if se else None, "by_level": by_level}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = ap.add_mutually_exclusive_group()
    source.add_argument("--warehouse", help="a built warehouse (default: the generated shop)")
    source.add_argument("--cdnow", action="store_true", help="the CDNOW master file's shop total")
    ap.add_argument("--code", default=str(ROOT), help="the checkout whose shoplens runs (default: this one)")
    ap.add_argument("--as-of-dates", type=int, default=4)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--save")
    ap.add_argument("--compare")
    args = ap.parse_args(argv)
    if args.as_of_dates < 1:
        ap.error("--as-of-dates: at least 1")
    sys.path.insert(0, str(Path(args.code).resolve()))

    import hashlib
    import inspect

    import pandas as pd

    # after the path: bench_forecast imports shoplens (--code's)
    from bench_forecast import cpu_seconds, summarise

    from shoplens import forecast as F
    from shoplens.forecast import holdout, methods, metrics
    from shoplens.forecast.calendar import country_weights_from_customers

    # --code swaps the scoring code too: two runs are compared only when it is the same
    scoring = hashlib.sha1("".join(inspect.getsource(m) for m in (holdout, metrics, methods))
                           .encode()).hexdigest()[:12]

    customers = None
    if args.warehouse:
        import duckdb

        con = duckdb.connect(args.warehouse, read_only=True)
        demand = con.table("demand_daily").df()
        customers = con.table("dim_customers").project("country, n_purchases").df()
        con.close()
        data = Path(args.warehouse).name
    elif args.cdnow:
        from shoplens.testing.cdnow import cdnow_total_demand, read_cdnow_master

        demand = cdnow_total_demand(read_cdnow_master())
        data = "CDNOW master, shop total"
    else:
        from shoplens.testing.forecast_data import generated_demand

        shape = (20_000, 60, 730) if args.quick else (200_000, 300, 730)
        demand = generated_demand(*shape, 42)
        data = "generated {:,} customers, {} products, {} days".format(*shape)
    top_n = 10 if args.quick else 100
    config = F.ForecastConfig(top_n=top_n, n_jobs=args.n_jobs)
    weights = country_weights_from_customers(customers)
    h = config.horizon_days
    end = pd.to_datetime(demand["demand_date"]).max().date()
    units = demand.melt(id_vars=["series_level", "series_key", "demand_date"],
                        value_vars=["units", "revenue"], var_name="measure", value_name="actual")
    after = pd.to_datetime(units["demand_date"]).dt.date
    frames, wall, cpu = [], time.perf_counter(), cpu_seconds()
    for k in range(args.as_of_dates, 0, -1):
        as_of = end - dt.timedelta(days=k * h)
        forecasts = F.forecast_demand(demand, config, as_of_date=as_of, country_weights=weights)
        actuals = units[(after > as_of) & (after <= as_of + dt.timedelta(days=h))]
        frames.append(holdout.holdout_frame(forecasts, actuals, demand, as_of_date=as_of,
                                            last_actual_date=as_of + dt.timedelta(days=h)))
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    scored = pd.concat(frames, ignore_index=True)
    per_date = pd.concat(
        [F.series_metrics(part).assign(as_of_date=origin)
         for origin, part in scored.groupby("origin_date")], ignore_index=True)
    by_level = {}
    for level, part in per_date.groupby("series_level"):
        summary = summarise(part)
        by_level[str(level)] = {"n": summary["n_series"], **{
            k: round(summary[k], 4) for k in ("mase_vs_naive", "coverage_80", "coverage_95")}}
    mine = per_date[[*KEYS, "as_of_date", "mase_model"]].astype({"as_of_date": "string"})
    mine = mine.assign(scoring=scoring)
    compared = paired(mine, pd.read_parquet(args.compare)) if args.compare else None
    if args.save:
        mine.to_parquet(args.save)
    commit = subprocess.run(["git", "-C", args.code, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    record = {"date": dt.date.today().isoformat(), "data": data, "code": commit,
              "as_of_dates": [str(end - dt.timedelta(days=k * h)) for k in range(args.as_of_dates, 0, -1)],
              "top_n": top_n, "n_jobs": args.n_jobs, "scoring_code": scoring, "wall_s": round(wall, 1),
              "cpu_s": round(cpu, 1), "load_average_1m": round(os.getloadavg()[0], 1),
              "by_level": by_level, "paired_with_compare": compared}
    append_record("forecast_asof.json", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
