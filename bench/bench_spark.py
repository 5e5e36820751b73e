"""Benchmark: the SQL layer and the demand forecasts on Spark local mode beside DuckDB (issue 14).

One generated shop (Parquet), built on each engine with the same selection
(every SQL model and data test; the Python models and dbt unit tests excluded),
in three timed steps per engine:

* ``sql_models``: ``dbt seed`` then ``dbt run`` (every SQL model);
* ``forecasts``: ``ml_demand_forecast`` (DuckDB: ``build_forecast`` with its
  process pool; Spark: ``applyInPandas``, one group per series,
  shoplens.spark.predict.demand_forecast, written as a table);
* ``sql_tests``: ``dbt test`` (every data test), last: at scale it is the
  longest step on Spark (one Spark job per test), and the other two are
  reported even when it is skipped (``--skip-tests``) or stopped.

DuckDB runs dbt in a subprocess; Spark runs every step in this process on
one local session and one metastore (started once and timed on its own).
Both forecasts use the rendered config of the dbt model ml_demand_forecast
with :data:`FORECAST` on top. The session is sized by the scale
(:func:`spark_resources`) unless SHOPLENS_SPARK_MEMORY /
SHOPLENS_SPARK_PARTITIONS are set.

Writes reports/bench/spark.{json,md} and spark_<customers>.{json,md} after every step (``complete`` says
whether every step ran): seconds per step on each engine and the Spark/DuckDB
ratio. Spark local mode on one machine measures the overhead of the engine,
not its scale-out (docs/scale.md).

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
STEPS = ("sql_models", "forecasts", "sql_tests")


def spark_resources(customers: int) -> dict[str, str]:
    """Driver memory and shuffle partitions of the local session for a shop of ``customers``."""
    if customers >= 500_000:
        return {"SHOPLENS_SPARK_MEMORY": "12g", "SHOPLENS_SPARK_PARTITIONS": "64"}
    if customers >= 100_000:
        return {"SHOPLENS_SPARK_MEMORY": "8g", "SHOPLENS_SPARK_PARTITIONS": "16"}
    return {"SHOPLENS_SPARK_MEMORY": "4g", "SHOPLENS_SPARK_PARTITIONS": "4"}


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


def dbt_args(command: str, variables: dict, folder: Path, engine: str) -> list[str]:
    """The arguments of one dbt command of the bench (seed, run or test)."""
    return [command, *SELECTION, "--vars", json.dumps(variables), "--target-path",
            str(folder / f"{engine}_target"), "--log-path", str(folder / f"{engine}_logs")]


def timed(step: dict, name: str, call) -> object:
    """Run ``call()``, store its wall seconds under ``step[name]``; its result."""
    t0 = time.perf_counter()
    out = call()
    step[name] = round(time.perf_counter() - t0, 1)
    return out


def duckdb_steps(folder: Path, variables: dict, figures: dict, tests: bool, save) -> None:
    """Seconds of the SQL models, the forecasts and the data tests on DuckDB, into figures['duckdb']."""
    from shoplens.forecast import pipeline

    db = folder / "bench.duckdb"
    db.unlink(missing_ok=True)
    env = {**os.environ, "DUCKDB_PATH": str(db), "DBT_PROFILES_DIR": str(ROOT)}
    dbt = str(Path(sys.executable).with_name("dbt"))

    def run(command: str) -> None:
        subprocess.run([dbt, *dbt_args(command, variables, folder, "duck")], check=True, cwd=ROOT, env=env)

    duck = figures["duckdb"]
    timed(duck, "sql_models", lambda: (run("seed"), run("run")))
    save()
    with duckdb.connect(str(db), read_only=True) as con:
        demand = con.sql("select * from main.demand_daily").df()
        as_of = con.sql("select * from main.as_of").df()
        customers = con.sql("select country, n_purchases from main.dim_customers").df()
    settings = {**forecast_config(folder / "duck_target"), **FORECAST}
    duck["forecast_rows"] = len(timed(duck, "forecasts", lambda: pipeline.build_forecast(
        demand, as_of, settings, customers)))
    save()
    if tests:
        timed(duck, "sql_tests", lambda: run("test"))
        save()


def forecast_config(target: Path) -> dict:
    """The rendered config of ml_demand_forecast in the manifest of a build."""
    from shoplens.spark.models import model_node

    return dict(model_node(target / "manifest.json", "ml_demand_forecast")["config"])


def spark_steps(folder: Path, variables: dict, figures: dict, tests: bool, save) -> None:
    """Seconds of the session start, the SQL models, the forecasts and the data tests on
    Spark local mode (one session and metastore for all), into figures['spark']."""
    os.environ["SHOPLENS_SPARK_DIR"] = str(folder / "spark")
    from shoplens.spark.__main__ import run_dbt
    from shoplens.spark.frames import write
    from shoplens.spark.models import Dbt
    from shoplens.spark.predict import demand_forecast
    from shoplens.spark.session import get_session

    def run(command: str) -> None:
        if run_dbt(dbt_args(command, variables, folder, "spark")):
            raise SystemExit(f"the Spark dbt {command} failed; see the log above")

    spark_fig = figures["spark"]
    spark = timed(spark_fig, "session_start", lambda: get_session(ROOT))
    timed(spark_fig, "sql_models", lambda: (run("seed"), run("run")))
    save()
    node = {"config": {**forecast_config(folder / "spark_target"), **FORECAST}}
    spark_fig["forecast_rows"] = timed(spark_fig, "forecasts", lambda: write(
        spark, demand_forecast(Dbt(spark, node)), "ml_demand_forecast"))
    save()
    if tests:
        timed(spark_fig, "sql_tests", lambda: run("test"))
        save()


def report(figures: dict) -> str:
    """The Markdown table of the figures (steps not run are marked)."""
    duck, spark = figures["duckdb"], figures["spark"]
    res = figures["spark_resources"]
    lines = [f"Spark local mode (local[{res['cores']}], driver {res['memory']}, {res['partitions']} shuffle "
             f"partitions) vs DuckDB, {figures['customers']:,} generated customers, {figures['days']} days"
             + ("" if figures["complete"] else " (incomplete: steps without figures did not run)"), "",
             "| step | DuckDB s | Spark s | Spark/DuckDB |", "|---|---:|---:|---:|"]
    for step in STEPS:
        d, s = duck.get(step), spark.get(step)
        ratio = f"{s / d:.2f}" if d and s else "-"
        lines.append(f"| {step} | {d if d is not None else 'not run'} | {s if s is not None else 'not run'} "
                     f"| {ratio} |")
    lines += ["", f"Spark session start (JVM, metastore; not in the steps): {spark.get('session_start', '-')} s; "
              f"forecast rows: DuckDB {duck.get('forecast_rows', '-')}, Spark {spark.get('forecast_rows', '-')}.",
              "sql_models: `dbt seed` + `dbt run`; sql_tests: `dbt test` (every data test); "
              "both with `--exclude path:python_models+ resource_type:unit_test`."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--quick", action="store_true", help="5,000 customers, 400 days")
    ap.add_argument("--skip-tests", action="store_true", help="time the models and forecasts only")
    ap.add_argument("--work", default=str(ROOT / "target" / "bench_spark"))
    args = ap.parse_args()
    customers, days = (5_000, 400) if args.quick else (args.customers, args.days)
    for key, value in spark_resources(customers).items():
        os.environ.setdefault(key, value)
    folder = Path(args.work) / f"c{customers}_d{days}"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SHOPLENS_PII_SALT", "shoplens-bench-salt")
    figures = {"customers": customers, "days": days, "complete": False, "duckdb": {}, "spark": {},
               "spark_resources": {"cores": os.environ.get("SHOPLENS_SPARK_CORES", "2"),
                                   "memory": os.environ["SHOPLENS_SPARK_MEMORY"],
                                   "partitions": os.environ["SHOPLENS_SPARK_PARTITIONS"]}}
    name = "spark_quick" if args.quick else "spark"

    def save() -> None:  # spark.* is the last run; spark_<customers>.* keeps each scale's
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        for stem in (name, f"spark_{customers}"):
            (REPORT_DIR / f"{stem}.json").write_text(json.dumps(figures, indent=2))
            (REPORT_DIR / f"{stem}.md").write_text(report(figures) + "\n")

    variables = generate(folder, customers, days)
    duckdb_steps(folder, variables, figures, not args.skip_tests, save)
    spark_steps(folder, variables, figures, not args.skip_tests, save)
    figures["complete"] = not args.skip_tests
    save()
    print(report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
