"""Benchmark: the SQL layer and the demand forecasts on Spark local mode beside DuckDB (issue 14).

One generated shop (Parquet), built twice with the same selection (every SQL
model and data test; the Python models and dbt unit tests excluded):

* DuckDB: ``dbt build`` (target dev) in a subprocess; then the forecasts
  with ``shoplens.forecast.pipeline.build_forecast`` (its process pool).
* Spark: the local session (timed on its own), ``dbt build --target spark``
  in the same process, then ``ml_demand_forecast`` with ``applyInPandas``
  (shoplens.spark.predict.demand_forecast), written as a table.

Both forecasts use the rendered config of the dbt model ml_demand_forecast
with :data:`FORECAST` on top.

Prints and writes reports/bench/spark.{json,md}: seconds per step on each
engine and the Spark/DuckDB ratio. Spark local mode on one machine measures
the overhead of the engine, not its scale-out (docs/scale.md).

    python bench/bench_spark.py                      # 1,000,000 customers
    python bench/bench_spark.py --customers 100000
    python bench/bench_spark.py --quick              # 5,000 customers
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
REPORT_DIR = ROOT / "reports" / "bench"
SELECTION = ["--exclude", "path:python_models+", "resource_type:unit_test"]
FORECAST = {"forecast_top_n": 100, "forecast_horizon_days": 28, "forecast_n_jobs": 2,
            "forecast_backtest_origins": 4, "forecast_time_budget_s": None}


def generate(folder: Path, customers: int, days: int) -> dict:
    """A generated shop in ``folder/raw`` (Parquet); the build vars."""
    raw = folder / "raw"
    if not (raw / "ground_truth.json").exists():
        subprocess.run([sys.executable, "-m", "shoplens.datagen", "--customers", str(customers),
                        "--days", str(days), "--products", "300", "--seed", "42", "--dirty-rate", "0.01",
                        "--format", "parquet", "--holdout-days", "60", "--out", str(raw)],
                       check=True, cwd=ROOT)
    truth = json.loads((raw / "ground_truth.json").read_text())
    return {"raw_data_dir": str(raw), "as_of_date": truth["calibration_end_date"],
            "export_date": truth["export_date"]}


def duckdb_steps(folder: Path, variables: dict) -> dict[str, float]:
    """Seconds of the SQL layer and of the forecasts on DuckDB."""
    from shoplens.forecast import pipeline

    db = folder / "bench.duckdb"
    db.unlink(missing_ok=True)
    env = {**os.environ, "DUCKDB_PATH": str(db), "DBT_PROFILES_DIR": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("dbt")), "build", *SELECTION,
                    "--vars", json.dumps(variables), "--target-path", str(folder / "duck_target"),
                    "--log-path", str(folder / "duck_logs")], check=True, cwd=ROOT, env=env)
    sql = time.perf_counter() - t0
    with duckdb.connect(str(db), read_only=True) as con:
        demand = con.sql("select * from main.demand_daily").df()
        as_of = con.sql("select * from main.as_of").df()
        customers = con.sql("select country, n_purchases from main.dim_customers").df()
    settings = {**forecast_config(folder / "duck_target"), **FORECAST}
    t0 = time.perf_counter()
    rows = len(pipeline.build_forecast(demand, as_of, settings, customers))
    return {"sql_layer": sql, "forecasts": time.perf_counter() - t0, "forecast_rows": rows}


def forecast_config(target: Path) -> dict:
    """The rendered config of ml_demand_forecast in the manifest of a build."""
    from shoplens.spark.models import model_node

    return dict(model_node(target / "manifest.json", "ml_demand_forecast")["config"])


def spark_steps(folder: Path, variables: dict) -> dict[str, float]:
    """Seconds of the session start, the SQL layer and the forecasts on Spark local mode."""
    os.environ["SHOPLENS_SPARK_DIR"] = str(folder / "spark")
    from shoplens.spark.__main__ import run_dbt
    from shoplens.spark.frames import write
    from shoplens.spark.models import Dbt
    from shoplens.spark.predict import demand_forecast
    from shoplens.spark.session import get_session

    t0 = time.perf_counter()
    spark = get_session(ROOT)
    start = time.perf_counter() - t0
    t0 = time.perf_counter()
    status = run_dbt(["build", *SELECTION, "--vars", json.dumps(variables),
                      "--target-path", str(folder / "spark_target"), "--log-path", str(folder / "spark_logs")])
    sql = time.perf_counter() - t0
    if status:
        raise SystemExit("the Spark dbt build failed; see the log above")
    t0 = time.perf_counter()
    node = {"config": {**forecast_config(folder / "spark_target"), **FORECAST}}
    rows = write(spark, demand_forecast(Dbt(spark, node)), "ml_demand_forecast")
    return {"session_start": start, "sql_layer": sql, "forecasts": time.perf_counter() - t0,
            "forecast_rows": rows}


def report(customers: int, duck: dict, spark: dict) -> str:
    """The Markdown table of the figures."""
    lines = [f"Spark local mode (2 cores) vs DuckDB, {customers:,} generated customers", "",
             "| step | DuckDB s | Spark s | Spark/DuckDB |", "|---|---:|---:|---:|"]
    for step in ("sql_layer", "forecasts"):
        lines.append(f"| {step} | {duck[step]:.1f} | {spark[step]:.1f} | {spark[step] / duck[step]:.2f} |")
    lines += ["", f"Spark session start (JVM, not in the steps): {spark['session_start']:.1f} s; "
              f"forecast rows: DuckDB {duck['forecast_rows']}, Spark {spark['forecast_rows']}."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--quick", action="store_true", help="5,000 customers, 400 days")
    ap.add_argument("--work", default=str(ROOT / "target" / "bench_spark"))
    args = ap.parse_args()
    customers, days = (5_000, 400) if args.quick else (args.customers, args.days)
    folder = Path(args.work) / f"c{customers}_d{days}"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SHOPLENS_PII_SALT", "shoplens-bench-salt")
    variables = generate(folder, customers, days)
    duck = duckdb_steps(folder, variables)
    spark = spark_steps(folder, variables)
    text = report(customers, duck, spark)
    print(text)
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    name = "spark_quick" if args.quick else "spark"
    (REPORT_DIR / f"{name}.json").write_text(json.dumps(
        {"customers": customers, "days": days, "duckdb": duck, "spark": spark}, indent=2))
    (REPORT_DIR / f"{name}.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
