"""Scale benchmark of the serving path: publish serving.duckdb and render every dashboard page.

    python bench/bench_serving.py                  # 1,000,000 customers (as bench_warehouse.py)
    python bench/bench_serving.py --quick          # 20,000 customers (smoke run)
    python bench/bench_serving.py --customers 200000 --reuse

Generates the shop as bench_warehouse.py does (same generator settings,
bench_data/shop_<n>, reused with --reuse), runs `dbt build` on the SQL layer
without its data tests, and stands in for the model families' outputs with
prediction tables of the real contracts and sizes (one row per customer for
lifetime value and propensity, 28 days per forecast series, the evaluation
table): the publish copies and checks rows, whatever computed them, and the
Python models have their own benchmarks. Then it times `python -m
shoplens.serving publish` (wall time and peak memory of that process) and
renders every dashboard page with Streamlit's AppTest on a cold cache.
Writes reports/bench/serving.{json,md}. Targets (issue 9): publish under 30 s
and 2 GiB at 1M customers; every page under 2 s.
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
SQL_ONLY = ["--exclude", "path:python_models", "path:models/predictions", "path:models/semantic",
            "--exclude-resource-type", "test", "unit_test"]
PAGES = ["segments", "ltv", "propensity", "forecasts", "evaluation", "quality", "sales"]
TARGET_PUBLISH_S, TARGET_PUBLISH_GIB, TARGET_PAGE_S = 30.0, 2.0, 2.0
N_SERIES = 200  # forecast series (total, categories, top products) x 2 measures


def generate(n: int, days: int, products: int, reuse: bool) -> Path:
    """The shop of bench_warehouse.py (same seed and settings), generated once."""
    data = REPO / "bench_data" / f"shop_{n}"
    truth = data / "ground_truth.json"
    if reuse and truth.exists() and json.loads(truth.read_text())["config"]["n_customers"] == n:
        print(f"reusing {data}")
        return data
    cfg = ShopConfig(n_customers=n, n_days=days, n_products=products, seed=2024,
                     dirty_rate=0.01, browse_rate=0.008, pre_purchase_sessions=1.5)
    write_shop_streaming(cfg, data, "parquet")
    return data


def fill_predictions(db: Path, manifest: dict) -> dict:
    """Prediction tables with each model's contract columns, at the shop's size.

    Values are deterministic functions of the customer (or series and day):
    probabilities in [0, 1], intervals ordered, deciles 1-10.
    """
    contracts = {n["name"]: n["columns"] for n in manifest["nodes"].values()
                 if n["resource_type"] == "model" and n["name"] in
                 ("pred_customer_ltv", "pred_purchase_propensity", "pred_demand_forecast", "ml_model_evaluation")}
    with duckdb.connect(str(db)) as con:
        con.execute("""create or replace table pred_customer_ltv as
            select customer_id, (select as_of_date from as_of) as as_of_date, frequency > 1 as has_repeat_purchase,
                   h as probability_alive, 0.1 * h as expected_purchases_30d, 0.3 * h as expected_purchases_90d,
                   1.2 * h as expected_purchases_365d, monetary / frequency as expected_avg_order_value,
                   100 * h as clv, 60 * h as clv_p10, 150 * h as clv_p90, 12 as clv_horizon_months,
                   0.1 as annual_discount_rate, 30 / (h + 0.01) as expected_days_to_next_purchase,
                   'bgnbd' as count_model, 'gamma_gamma' as spend_model, false as is_fallback, '' as fallback_reason,
                   'bench' as model_version
            from (select *, (hash(customer_id) % 1000) / 1000.0 as h from customer_rfm)""")
        con.execute("""create or replace table pred_purchase_propensity as
            select customer_id, (select as_of_date from as_of) as as_of_date, 30 as window_days,
                   p as purchase_probability, 1.3 * p as expected_purchases,
                   cast(11 - ntile(10) over (order by p) as integer) as decile, 'bench' as model_version
            from (select *, (hash(customer_id) % 997) / 997.0 as p from dim_customers)""")
        con.execute(f"""create or replace table pred_demand_forecast as
            with series as (
                select series_level, series_key from demand_daily group by series_level, series_key
                order by case series_level when 'total' then 0 when 'category' then 1 else 2 end, series_key
                limit {N_SERIES // 2}
            )
            select s.series_level, s.series_key, m.measure, (select as_of_date from as_of) + d.h::integer as forecast_date,
                   d.h::integer as horizon_day, 10.0 + d.h as point_forecast, 5.0 + d.h as lower_80,
                   15.0 + d.h as upper_80, 2.0 + d.h as lower_95, 18.0 + d.h as upper_95, 'sarima' as method,
                   'SARIMA(1,0,0)' as model_order, (select as_of_date from as_of) as as_of_date,
                   'bench' as model_version
            from series as s, (values ('units'), ('revenue')) as m(measure), range(1, 29) as d(h)""")
        con.execute("""create or replace table ml_model_evaluation as
            select m.model_name, 'bench' as model_version, t.task, x.metric, 'all' as slice, random() as value,
                   1000::bigint as n_obs, (select as_of_date from as_of) as as_of_date, null::date as holdout_start_date,
                   null::date as holdout_end_date, 'backtest' as evaluation_type, now()::timestamp as evaluated_at
            from (values ('bgnbd'), ('rnn_gru'), ('logreg')) as m(model_name),
                 (values ('purchase_30d'), ('repeat_purchases')) as t(task),
                 (values ('auc'), ('mae'), ('brier')) as x(metric)""")
        for name, columns in contracts.items():
            actual = [r[0] for r in con.execute(f"describe {name}").fetchall()]
            assert actual == list(columns), f"{name}: bench columns {actual} differ from the contract {list(columns)}"
            casts = ", ".join(f"cast({c} as {meta['data_type']}) as {c}" for c, meta in columns.items())
            con.execute(f"create or replace table {name} as select {casts} from {name}")
        return {n: con.execute(f"select count(*) from {n}").fetchone()[0] for n in contracts}


def measured(cmd: list[str], env: dict) -> dict:
    """Run a command in its own process; wall seconds and its peak RSS (GiB)."""
    wrapper = (
        "import json, resource, subprocess, sys, time; t = time.perf_counter(); "
        f"p = subprocess.run({cmd!r}, capture_output=True, text=True); w = time.perf_counter() - t; "
        "print(p.stdout[-3000:], p.stderr[-3000:], file=sys.stderr); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(json.dumps({'rc': p.returncode, 'wall_s': w, 'cpu_s': u.ru_utime + u.ru_stime, "
        "'peak_rss_gib': u.ru_maxrss / 1024**2}))"
    )
    out = subprocess.run([sys.executable, "-c", wrapper], cwd=REPO, env=env, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        print(out.stderr[-6000:])
        raise SystemExit(f"failed: {' '.join(cmd[:4])}")
    return result


def time_pages(serving: Path) -> dict:
    """Render time of every dashboard page on a cold query cache (AppTest; cache cleared before each)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["SHOPLENS_SERVING_PATH"] = str(serving)
    # Warm-up: a running dashboard has imported its modules; time the pages, not the imports.
    AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=300).run()
    out = {}
    for page in PAGES:
        st.cache_data.clear()
        at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=300)
        at.query_params["page"] = page
        t0, c0 = time.perf_counter(), _cpu()
        at.run()
        out[page] = {"wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(_cpu() - c0, 2)}
        if at.exception:
            raise SystemExit(f"page {page} failed: {at.exception[0].message}")
        print(f"page {page}: {out[page]}")
    return out


def _cpu() -> float:
    """CPU seconds of this process (DuckDB's threads included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--quick", action="store_true", help="20,000 customers, for a smoke run")
    ap.add_argument("--reuse", action="store_true", help="reuse bench_data/ if it holds a shop of this size")
    ap.add_argument("--reuse-build", action="store_true", help="reuse the last SQL-layer build of this size")
    ap.add_argument("--pages-only", action="store_true", help="only time the pages on the last publication of this size")
    args = ap.parse_args()
    n = 20_000 if args.quick else args.customers
    if args.pages_only:
        report = json.loads((REPO / "reports" / "bench" / "serving.json").read_text())
        assert report["customers"] == n, "reports/bench/serving.json is of another size"
        report["pages_s"] = time_pages(REPO / "bench_data" / f"serving_{n}" / "serving.duckdb")
        _verdict(report)
        write_report(report)
        return 0
    report: dict = {
        "benchmark": "serving", "shoplens_version": __version__, "customers": n,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "targets": {"publish_wall_s": TARGET_PUBLISH_S, "publish_peak_rss_gib": TARGET_PUBLISH_GIB,
                    "page_wall_s": TARGET_PAGE_S},
    }
    t0 = time.perf_counter()
    data = generate(n, args.days, args.products, args.reuse)
    report["generate_wall_s"] = round(time.perf_counter() - t0, 1)

    work = REPO / "bench_data" / f"serving_{n}"
    work.mkdir(parents=True, exist_ok=True)
    db, serving = work / "warehouse.duckdb", work / "serving.duckdb"
    serving.unlink(missing_ok=True)
    reuse_build = args.reuse_build and db.exists() and (work / "report_build.json").exists()
    if not reuse_build:
        for p in (db, Path(f"{db}.wal")):
            p.unlink(missing_ok=True)
    env = {**os.environ, "DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs"),
           "SHOPLENS_SERVING_PATH": str(serving), "PYTHONPATH": str(REPO)}
    dbt = str(Path(sys.executable).with_name("dbt"))
    common = ["--project-dir", str(REPO), "--profiles-dir", str(REPO), "--vars", json.dumps({"raw_data_dir": str(data)})]
    if reuse_build:
        report["build"] = json.loads((work / "report_build.json").read_text())
    else:
        build = measured([dbt, "build", *common, *SQL_ONLY], env)
        report["build"] = {"what": "dbt build of the SQL layer, without data tests",
                           "wall_s": round(build["wall_s"], 1), "cpu_s": round(build["cpu_s"], 1),
                           "peak_rss_gib": round(build["peak_rss_gib"], 2)}
        (work / "report_build.json").write_text(json.dumps(report["build"]))
    print("build:", report["build"])
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    report["prediction_rows"] = fill_predictions(db, manifest)

    pub = measured([sys.executable, "-m", "shoplens.serving", "publish"], env)
    report["publish"] = {"wall_s": round(pub["wall_s"], 1), "cpu_s": round(pub["cpu_s"], 1),
                         "peak_rss_gib": round(pub["peak_rss_gib"], 2)}
    with duckdb.connect(str(serving), read_only=True) as con:
        report["served_rows"] = dict(con.execute(
            "select schema_name || '.' || table_name, row_count from _publication order by 1").fetchall())
    report["warehouse_gib"] = round(db.stat().st_size / 1024**3, 2)
    report["serving_gib"] = round(serving.stat().st_size / 1024**3, 2)
    print("publish:", report["publish"])

    report["pages_s"] = time_pages(serving)
    _verdict(report)
    write_report(report)
    return 0


def _verdict(report: dict) -> None:
    report["meets_target"] = (
        report["publish"]["wall_s"] < TARGET_PUBLISH_S and report["publish"]["peak_rss_gib"] < TARGET_PUBLISH_GIB
        and max(p["wall_s"] for p in report["pages_s"].values()) < TARGET_PAGE_S
    )
    report["load_average_1m"] = os.getloadavg()[0]


def write_report(report: dict) -> None:
    out = REPO / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.json").write_text(json.dumps(report, indent=2, default=str))
    p, b = report["publish"], report["build"]
    lines = [
        f"# Serving benchmark ({report['customers']:,} customers)", "",
        "| phase | wall (s) | CPU (s) | peak RSS (GiB) | target |", "|---|---|---|---|---|",
        f"| {b['what']} | {b['wall_s']} | {b.get('cpu_s', '')} | {b['peak_rss_gib']} | |",
        f"| publish serving.duckdb (copy, comments, checks, rename) | {p['wall_s']} | {p['cpu_s']} | {p['peak_rss_gib']} | "
        f"< {TARGET_PUBLISH_S:.0f} s, < {TARGET_PUBLISH_GIB:.0f} GiB |",
        "", f"Files: warehouse {report['warehouse_gib']} GiB, serving {report['serving_gib']} GiB.", "",
        "| dashboard page (cold query cache, AppTest) | wall (s) | CPU (s) |", "|---|---|---|",
    ]
    lines += [f"| {k} | {v['wall_s']} | {v['cpu_s']} |" for k, v in report["pages_s"].items()]
    lines += ["", f"All targets met (wall time): {'yes' if report['meets_target'] else 'NO'}; "
              f"1-minute load average at the end: {report['load_average_1m']:.1f} on {report['machine']['cpus']} cores "
              "(other jobs share the machine: compare CPU seconds with the targets too).", "",
              "Served rows: " + ", ".join(f"{k} {v:,}" for k, v in report["served_rows"].items()), ""]
    text = "\n".join(lines)
    (out / "serving.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
