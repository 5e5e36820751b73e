"""Measure point-in-time correctness: every as-of mart at snapshot D against builds cut at D.

Usage:
    python scripts/check_point_in_time.py [--raw data/sample] [--snapshots 13]
        [--step-days 30] [--export-date 2026-01-01] [--work target/point_in_time]
        [--out reports/point_in_time.json] [--shop-timezone America/New_York]
        [--naive-timestamps local]

Builds the SQL layer once over all the data with ``feature_snapshots`` =
``--snapshots``; then, for every snapshot date D, a build with
``as_of_date = D`` ("cut") and a build of the export truncated at the end of D
("truncated": rows stamped after D removed, shoplens.point_in_time). Counts the
differing cells of

* ``customer_features``: snapshot D of the all-data build vs the cut and the
  truncated build;
* ``customer_rfm``, ``customer_btyd_summary``: the cut vs the truncated build;
* ``fct_orders`` / ``holdout_orders`` of the cut build vs the all-data orders on
  either side of D; ``holdout_demand_daily`` vs the all-data demand after D;
* the propensity and CLV training frames at D computed from the all-data marts
  (as their Python steps do at an internal cut-off) vs from the cut build.

Also prints the share of customers at every RFM score level. Cut builds select
only the as-of marts and their parents (no Python models, no tests). Prints a
table, writes JSON to ``--out``; exits 1 when any cell differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from shoplens.point_in_time import compare_at, read, read_marts, truncate_export

REPO = Path(__file__).resolve().parents[1]
#: The as-of marts and every parent they need, plus what the Python steps read.
CUT_SELECT = [
    "+customer_features", "+customer_rfm", "+customer_btyd_summary", "+holdout_orders",
    "+holdout_demand_daily", "+demand_daily", "+dim_customers", "+fct_sessions", "+int_session_days",
]
SQL_LAYER = ["--exclude", "path:python_models", "path:models/predictions"]


def dbt(command: list[str], db: Path, variables: dict, work: Path) -> float:
    """Run dbt into ``db``; returns the wall time in seconds."""
    args = [
        str(Path(sys.executable).with_name("dbt")), *command,
        "--project-dir", str(REPO), "--profiles-dir", str(REPO),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--vars", json.dumps(variables),
    ]
    env = {**os.environ, "DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    # the truncated copies are not the bundled sample, so dbt asks for a PII salt: these
    # throw-away warehouses get one of their own when none is set (no hash is compared)
    env.setdefault("SHOPLENS_PII_SALT", "shoplens-point-in-time-check")
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"dbt {' '.join(command)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def cut_build(db: Path, raw: Path, as_of: dt.date, export_date: str, work: Path, zone: dict) -> float:
    """The as-of marts and their parents only, as of ``as_of`` (``zone``: the time zone vars)."""
    if db.exists():
        db.unlink()
    variables = {"raw_data_dir": str(raw), "as_of_date": str(as_of), "export_date": export_date, **zone}
    return dbt(["build", "--select", *CUT_SELECT, "--resource-type", "model", "--resource-type", "seed"],
               db, variables, work)


def rfm_shares(db: Path) -> dict[str, list[float]]:
    out = {}
    for s in ("r", "f", "m"):
        got = read(db, f"select {s}_score as level, count(*) as n from customer_rfm group by 1 order by 1")
        shares = dict(zip(got["level"], got["n"] / got["n"].sum(), strict=True))
        out[f"{s}_score"] = [round(float(shares.get(level, 0.0)), 4) for level in range(1, 6)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--raw", default="data/sample")
    ap.add_argument("--snapshots", type=int, default=13)
    ap.add_argument("--step-days", type=int, default=30)
    ap.add_argument("--export-date", default="2026-01-01")
    ap.add_argument("--work", default="target/point_in_time")
    ap.add_argument("--out", default="reports/point_in_time.json")
    ap.add_argument("--shop-timezone", default="UTC", help="the dbt var shop_timezone")
    ap.add_argument("--naive-timestamps", default="local", help="the dbt var naive_timestamps")
    args = ap.parse_args()
    zone = {"shop_timezone": args.shop_timezone, "naive_timestamps": args.naive_timestamps}
    raw = Path(args.raw).resolve()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    full_db = work / "all.duckdb"
    if full_db.exists():
        full_db.unlink()
    variables = {"raw_data_dir": str(raw), "export_date": args.export_date,
                 "feature_snapshots": args.snapshots, "feature_snapshot_step_days": args.step_days, **zone}
    seconds = {"all_data_build": dbt(["build", *SQL_LAYER], full_db, variables, work)}
    full = read_marts(full_db)
    demand_after = read(full_db, "select * from int_demand_by_series_day")
    dates = sorted(pd.to_datetime(full["customer_features"]["as_of_date"]).dt.date.unique())
    report = {"raw": args.raw, "snapshots": [str(d) for d in dates], "by_date": {}, "totals": {},
              "rfm_level_shares": rfm_shares(full_db)}
    cut_seconds = []
    for d in dates:
        cut_db, trunc_db = work / "cut.duckdb", work / "truncated.duckdb"
        cut_seconds.append(cut_build(cut_db, raw, d, args.export_date, work, zone))
        truncated = truncate_export(raw, work / "raw_truncated", d, args.shop_timezone, args.naive_timestamps)
        cut_build(trunc_db, truncated, d, args.export_date, work, zone)
        diffs = compare_at(d, full, read_marts(cut_db), read_marts(trunc_db), demand_after)
        report["by_date"][str(d)] = {}
        for check, diff in diffs.items():
            report["by_date"][str(d)][check] = {"differing_cells": diff.total, "cells": diff.n_cells,
                                                "rows": diff.rows_right, "examples": diff.examples}
            tot = report["totals"].setdefault(check, {"differing_cells": 0, "cells": 0})
            tot["differing_cells"] += diff.total
            tot["cells"] += diff.n_cells
        worst = max(v.total for v in diffs.values())
        print(f"{d}: {len(diffs)} checks, max differing cells {worst}", flush=True)
    seconds["cut_build_mean"] = round(sum(cut_seconds) / len(cut_seconds), 1)
    seconds["all_data_build"] = round(seconds["all_data_build"], 1)
    report["seconds"] = seconds
    print(f"\n{'check':48} {'differing':>10} {'cells compared':>15}")
    for check, tot in report["totals"].items():
        print(f"{check:48} {tot['differing_cells']:>10} {tot['cells']:>15}")
    print("\nRFM level shares (levels 1..5):")
    for score, shares in report["rfm_level_shares"].items():
        print(f"  {score}: " + " / ".join(f"{100 * s:.1f}%" for s in shares))
    print(f"\nbuilds: all-data {seconds['all_data_build']} s, cut {seconds['cut_build_mean']} s each")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    bad = sum(t["differing_cells"] for t in report["totals"].values())
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
