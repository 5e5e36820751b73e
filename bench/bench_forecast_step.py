"""The forecast step (``ml_demand_forecast``'s pipeline) alone on a built warehouse, timed.

Usage: python bench/bench_forecast_step.py WAREHOUSE.duckdb [--code CHECKOUT] [--save OUT.parquet]
                                            [--compare OTHER.parquet] [--n-jobs 1]

Reads ``demand_daily``, ``as_of`` and ``dim_customers`` as the adapter does
(read-only) and runs ``shoplens.forecast.pipeline.build_forecast`` with the
project's default vars and ``--n-jobs`` workers (default 1, so CPU seconds
are the step's own). ``--code`` imports ``shoplens`` from another checkout
(to time two versions of the code on one warehouse, back to back).
``--save`` writes the forecast table; ``--compare`` checks it against a
saved one (every column but ``fit_seconds``, exactly). Prints and appends a
record to reports/bench/forecast_step.json.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse")
    ap.add_argument("--code", default=str(ROOT), help="the checkout whose shoplens is timed (default: this one)")
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--save")
    ap.add_argument("--compare")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(args.code).resolve()))

    import duckdb
    import pandas as pd

    from shoplens.forecast import pipeline

    con = duckdb.connect(args.warehouse, read_only=True)
    demand, as_of = con.table("demand_daily").df(), con.table("as_of").df()
    customers = con.table("dim_customers").project("country, n_purchases").df()
    settings = {"forecast_top_n": 100, "forecast_horizon_days": 28, "forecast_n_jobs": args.n_jobs,
                "forecast_backtest_origins": 4, "forecast_time_budget_s": None, "forecast_calibration_origins": 4,
                "forecast_reference_models": "", "forecast_global_model": False}
    wall, cpu = time.perf_counter(), time.process_time()
    out = pipeline.build_forecast(demand, as_of, settings, customers)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    key = ["series_level", "series_key", "measure", "forecast_date"]
    out = out.sort_values(key).reset_index(drop=True)
    same = None
    if args.compare:
        other = pd.read_parquet(args.compare)
        cols = [c for c in out.columns if c != "fit_seconds"]
        same = bool(other[cols].reset_index(drop=True).equals(out[cols]))
    if args.save:
        out.to_parquet(args.save)
    commit = subprocess.run(["git", "-C", args.code, "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip()
    record = {"date": dt.date.today().isoformat(), "warehouse": Path(args.warehouse).name, "code": commit,
              "n_jobs": args.n_jobs, "series": int(out[["series_level", "series_key"]].drop_duplicates().shape[0]),
              "rows": len(out), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
              "load_average_1m": round(os.getloadavg()[0], 1), "identical_to_compare": same}
    append_record("forecast_step.json", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
