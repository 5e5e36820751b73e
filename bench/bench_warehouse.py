"""Scale benchmark of the SQL layer: generate a large shop, build it, time every model.

    python bench/bench_warehouse.py               # 1,000,000 customers, ~50M events
    python bench/bench_warehouse.py --quick       # 20,000 customers (smoke run)

Generates the shop as Parquet under bench_data/ (kept between runs with
--reuse), runs `dbt run` on the SQL models (staging, intermediate, marts,
audit) into a fresh DuckDB file, then `dbt test` on them, and writes
reports/bench/warehouse.json and reports/bench/warehouse.md with the wall
time of each phase and model, the peak resident memory of the dbt process
and the row counts. Target (issue 2): the SQL layer builds in under 5
minutes with peak memory under 8 GiB on a 2-core, 24 GiB machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from shoplens import __version__
from shoplens.datagen import ShopConfig, write_shop_streaming

REPO = Path(__file__).resolve().parents[1]

SQL_LAYER = ["--exclude", "path:python_models", "path:models/predictions"]
TARGET_SECONDS = 300
TARGET_GIB = 8.0


def run_measured(cmd: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a command; return (wall seconds, peak RSS in GiB of it, the process)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    # ru_maxrss of the children is the largest peak of any child so far: run
    # each measured command in its own interpreter to keep them apart.
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        print(proc.stdout[-5000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(f"command failed: {' '.join(cmd[:3])} ...")
    return wall, peak_kib / 1024**2, proc


def ensure_shop(n: int, days: int = 730, products: int = 2000, reuse: bool = False) -> tuple[Path, float | None]:
    """bench_data/shop_<n>, generated unless ``reuse`` and it holds a shop of n customers; (path, seconds or None)."""
    data = REPO / "bench_data" / f"shop_{n}"
    truth_file = data / "ground_truth.json"
    if reuse and truth_file.exists() and json.loads(truth_file.read_text())["config"]["n_customers"] == n:
        print(f"reusing {data}")
        return data, None
    t0 = time.perf_counter()
    cfg = ShopConfig(n_customers=n, n_days=days, n_products=products, seed=2024,
                     dirty_rate=0.01, browse_rate=0.008, pre_purchase_sessions=1.5)
    write_shop_streaming(cfg, data, "parquet")
    return data, round(time.perf_counter() - t0, 1)


def measured_child(args: list[str]) -> dict:
    """Run this script in --child mode for one dbt command, to measure its own peak RSS."""
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout[-6000:], out.stderr[-3000:], sep="\n")
        raise SystemExit("dbt failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(args: list[str]) -> None:
    env = {**os.environ}
    wall, peak, _ = run_measured(args, env)
    print(json.dumps({"wall_s": wall, "peak_rss_gib": peak}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--quick", action="store_true", help="20,000 customers, for a smoke run")
    ap.add_argument("--reuse", action="store_true", help="reuse bench_data/ if it holds a shop of this size")
    ap.add_argument("--skip-tests", action="store_true", help="do not run dbt test after the build")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    n = 20_000 if args.quick else args.customers
    work = REPO / "bench_data" / f"build_{n}"
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "benchmark": "warehouse", "shoplens_version": __version__, "customers": n,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "targets": {"sql_layer_wall_s": TARGET_SECONDS, "peak_rss_gib": TARGET_GIB},
    }

    # 1. Generate (about 50 events per customer: slightly less browsing than the sample's default).
    data, generate_s = ensure_shop(n, args.days, args.products, args.reuse)
    if generate_s is not None:
        report["generate_wall_s"] = generate_s
    with duckdb.connect() as con:
        report["raw_rows"] = {t: con.sql(f"select count(*) from '{data}/{t}.parquet'").fetchone()[0]
                              for t in ("orders", "order_items", "products", "customers", "events")}
    print("raw rows:", report["raw_rows"])

    # 2. Build the SQL layer into a fresh DuckDB file.
    db = work / "bench.duckdb"
    for suffix in ("", ".wal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ.update({"DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    dbt = str(Path(sys.executable).with_name("dbt"))
    common = ["--project-dir", str(REPO), "--profiles-dir", str(REPO), "--target-path", str(work / "target"),
              "--log-path", str(work / "logs"), "--vars", json.dumps({"raw_data_dir": str(data)})]
    subprocess.run([dbt, "seed", *common], cwd=REPO, check=True, capture_output=True)
    build = measured_child([dbt, "run", *common, *SQL_LAYER])
    run_results = json.loads((work / "target" / "run_results.json").read_text())
    models = sorted(
        ({"model": r["unique_id"].split(".")[-1], "wall_s": round(r["execution_time"], 2)} for r in run_results["results"]),
        key=lambda m: -m["wall_s"],
    )
    report["sql_layer"] = {"wall_s": round(build["wall_s"], 1), "peak_rss_gib": round(build["peak_rss_gib"], 2),
                           "models": models}
    if not args.skip_tests:
        tests = measured_child([dbt, "test", *common, *SQL_LAYER, "--exclude-resource-type", "unit_test"])
        report["data_tests"] = {"wall_s": round(tests["wall_s"], 1), "peak_rss_gib": round(tests["peak_rss_gib"], 2),
                                "n_tests": len(json.loads((work / "target" / "run_results.json").read_text())["results"])}
    with duckdb.connect(str(db), read_only=True) as con:
        report["mart_rows"] = {t: con.sql(f"select count(*) from {t}").fetchone()[0] for t in (
            "fct_orders", "fct_order_items", "fct_sessions", "dim_customers", "customer_rfm",
            "customer_features", "customer_btyd_summary", "demand_daily", "audit_rejected_rows")}
    report["database_gib"] = round(db.stat().st_size / 1024**3, 2)
    sql = report["sql_layer"]
    report["meets_target"] = sql["wall_s"] < TARGET_SECONDS and sql["peak_rss_gib"] < TARGET_GIB
    write_report(report)
    return 0


def write_report(report: dict) -> None:
    out = REPO / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "warehouse.json").write_text(json.dumps(report, indent=2))
    sql = report["sql_layer"]
    lines = [
        f"# Warehouse benchmark ({report['customers']:,} customers)", "",
        "Raw rows: " + ", ".join(f"{k} {v:,}" for k, v in report["raw_rows"].items()), "",
        "| phase | wall (s) | peak RSS (GiB) | target |", "|---|---|---|---|",
        f"| SQL layer (`dbt run`) | {sql['wall_s']} | {sql['peak_rss_gib']} | < {TARGET_SECONDS} s, < {TARGET_GIB} GiB: "
        f"{'met' if report['meets_target'] else 'NOT met'} |",
    ]
    if "data_tests" in report:
        t = report["data_tests"]
        lines.append(f"| data tests (`dbt test`, {t['n_tests']}) | {t['wall_s']} | {t['peak_rss_gib']} | |")
    if "generate_wall_s" in report:
        lines.append(f"| data generation | {report['generate_wall_s']} | | |")
    lines += ["", "Where the time goes (slowest models):", "", "| model | wall (s) |", "|---|---|"]
    lines += [f"| {m['model']} | {m['wall_s']} |" for m in sql["models"][:12]]
    lines += ["", "Mart rows: " + ", ".join(f"{k} {v:,}" for k, v in report["mart_rows"].items()), ""]
    text = "\n".join(lines)
    (out / "warehouse.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
