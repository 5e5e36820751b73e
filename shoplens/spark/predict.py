"""The prediction tables on Spark: the package pipelines over the marts.

dbt-spark's ``session`` method does not run dbt Python models, so after
``python -m shoplens.spark dbt build --exclude path:python_models+`` this
module writes every table the Python models write on DuckDB, with the same
columns, in the order of their refs:

* the steps that grow with the data run as Spark jobs: ``ml_demand_forecast``
  with ``applyInPandas``, one group per series (the top-N product choice is
  made first, on the driver, by select_series' rule); ``ml_clv_predictions``
  per partition with ``mapInPandas`` from the parameters fitted on the driver
  (the fit is global); ``ml_purchase_propensity`` per partition of customers
  with ``mapInPandas`` from the models chosen and trained on the driver, the
  deciles then over all customers (:mod:`shoplens.spark.propensity`);
* every other Python model (fits, evaluations, status, diagnostics, feature
  importance, recommendations) runs its own ``model(dbt, session)`` on the
  driver, refs read from Spark (:mod:`shoplens.spark.models`).

The settings of each step are the rendered config of its dbt model in
``target/manifest.json`` (what ``dbt.config.get`` returns on DuckDB), so the
vars of the last ``dbt build`` apply. Then ``dbt build --select`` the SQL
models downstream (``python -m shoplens.spark run`` does it all).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from shoplens.spark.frames import SCHEMA, export_tables, read, spark_schema, to_pandas, write
from shoplens.spark.models import Dbt, model_node, python_models, run_model
from shoplens.spark.propensity import purchase_propensity

#: Customers per CLV scoring partition (at least; see clv_predictions()).
SCORE_PARTITION_ROWS = 50_000

#: Spark types of ml_demand_forecast's columns (shoplens.forecast.config.FORECAST_COLUMNS).
FORECAST_TYPES = {
    "series_level": "string", "series_key": "string", "measure": "string", "forecast_date": "date",
    "horizon_day": "bigint", "point_forecast": "double", "lower_80": "double", "upper_80": "double",
    "lower_95": "double", "upper_95": "double", "method": "string", "model_order": "string",
    "as_of_date": "date", "model_version": "string", "n_train_days": "bigint", "aicc": "double",
    "fit_seconds": "double", "fit_note": "string", "has_yearly_terms": "boolean", "interval_method": "string",
}


def typed_ddl(table: str, columns: list[str], types: dict[str, str], where: str) -> str:
    """The Spark schema of ``table``: ``columns`` in order, typed from ``types`` (named ``where``)."""
    untyped = [c for c in columns if c not in types]
    if untyped:
        raise KeyError(f"shoplens: {table} column(s) {untyped} have no Spark type in {where}; add them there")
    return ", ".join(f"{c} {types[c]}" for c in columns)


def forecast_ddl() -> str:
    """The Spark schema of ml_demand_forecast, in FORECAST_COLUMNS order."""
    from shoplens.forecast.config import FORECAST_COLUMNS

    return typed_ddl("ml_demand_forecast", FORECAST_COLUMNS, FORECAST_TYPES, "shoplens.spark.predict.FORECAST_TYPES")


def model_settings(manifest: Path, name: str) -> dict[str, Any]:
    """The rendered config of the dbt model ``name`` (what ``dbt.config.get`` reads)."""
    return dict(model_node(manifest, name)["config"])


def _top_products(demand: Any, as_of_date: Any, top_n: int) -> list[str]:
    """The ``top_n`` product series by revenue (then units) over the ``SELECTION_WINDOW_DAYS``
    up to as_of_date, ties by key, none that sold nothing there (select_series' rule)."""
    from pyspark.sql import functions as F

    from shoplens.forecast.series import SELECTION_WINDOW_DAYS, top_product_keys

    start = as_of_date - dt.timedelta(days=SELECTION_WINDOW_DAYS - 1)
    products = demand.where(f"series_level = 'product' and demand_date <= date'{as_of_date}'"
                            f" and demand_date >= date'{start}'")
    sales = to_pandas(products.groupBy("series_key").agg(F.sum("revenue").alias("revenue"),
                                                         F.sum("units").alias("units")))
    return top_product_keys(sales, top_n)


def demand_forecast(dbt: Dbt) -> Any:
    """ml_demand_forecast: ``build_forecast`` on each series in its own Spark group."""
    from pyspark.sql import functions as F

    from shoplens.forecast import pipeline
    from shoplens.inputs import read_as_of

    as_of = dbt.ref("as_of").df()
    customers = dbt.ref("dim_customers").project("country, n_purchases").df()
    calendar = dbt.ref("calendar_events").df()
    demand = dbt.ref("demand_daily").frame()
    top = _top_products(demand, read_as_of(as_of).as_of_date, int(float(dbt.config.get("forecast_top_n"))))
    kept = demand.where((F.col("series_level") != "product") | F.col("series_key").isin(top))
    per_series = {**dbt.config.settings, "forecast_n_jobs": 1}
    # the shop total decides the closed weekdays of every series (shoplens.forecast.closures)
    shop_total = to_pandas(demand.where("series_level = 'total'"))

    def one_series(group: pd.DataFrame) -> pd.DataFrame:
        return pipeline.build_forecast(group, as_of, per_series, customers, shop_total, calendar)

    return kept.groupBy("series_level", "series_key").applyInPandas(one_series, forecast_ddl())


def clv_predictions(dbt: Dbt) -> Any:
    """ml_clv_predictions per partition (``mapInPandas``) from ml_clv_parameters, fitted on the driver."""
    from shoplens.clv import pipeline

    config, _ = pipeline.config_from_dbt(dbt.config.get)
    # the covariates' columns only (none when they are off), as the dbt adapters read them
    covariates = pipeline.covariate_args(dbt.ref("dim_customers"), dbt.config.get)
    as_of, parameters = dbt.ref("as_of").df(), dbt.ref("ml_clv_parameters").df()
    summary = dbt.ref("customer_btyd_summary").frame()
    n_customers = summary.count()
    # The interval's recalibration is fitted once, on the driver, over all customers.
    calibration = pipeline.build_interval_calibration(
        to_pandas(summary), parameters, as_of, dbt.ref("fct_orders").df(), config)
    covariates = {**covariates, "calibration": calibration}
    # The schema from scoring a few customers on the driver; scoring re-applies the
    # fit's data checks (clv_min_customers, repeat buyers) to the frame it scores,
    # so partitions hold at least SCORE_PARTITION_ROWS customers.
    head = to_pandas(summary.orderBy("customer_id").limit(5_000))
    dates = [f.name for f in summary.schema.fields if f.dataType.typeName() == "date"]
    schema = spark_schema(pipeline.build_predictions(head, parameters, as_of, config, **covariates))

    def score(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in parts:
            if len(part):
                part = _with_dates(part, dates)
                yield pipeline.build_predictions(part, parameters, as_of, config, **_covariates_of(part, covariates))

    return summary.repartition(max(1, n_customers // SCORE_PARTITION_ROWS), "customer_id").mapInPandas(score, schema)


def _with_dates(part: pd.DataFrame, dates: list[str]) -> pd.DataFrame:
    """A partition's date columns as pandas datetimes (as to_pandas gives them on the driver)."""
    for name in dates:
        part[name] = pd.to_datetime(part[name])
    return part


def _covariates_of(part: pd.DataFrame, covariates: dict[str, Any]) -> dict[str, Any]:
    """The covariate arguments restricted to the partition's customers."""
    customers = covariates.get("customers")
    if customers is None:
        return covariates
    return {**covariates, "customers": customers[customers["customer_id"].isin(part["customer_id"])]}


#: The Python models whose table is a Spark job here; every other one runs its own model().
SPARK_JOBS: dict[str, Callable[[Dbt], Any]] = {
    "ml_demand_forecast": demand_forecast,
    "ml_clv_predictions": clv_predictions,
    "ml_purchase_propensity": purchase_propensity,
}


def run(spark: Any, manifest: Path, names: set[str] | None = None) -> dict[str, int]:
    """Write the tables of the Python models (all, or those in ``names``) in ref order; row counts."""
    counts = {}
    for node in python_models(manifest):
        if names is not None and node["name"] not in names:
            continue
        job = SPARK_JOBS.get(node["name"])
        frame = job(Dbt(spark, node)) if job else run_model(spark, node)
        counts[node["name"]] = write(spark, frame, node["name"])
        print(f"shoplens spark predict: {SCHEMA}.{node['name']}: {counts[node['name']]} rows", flush=True)
    return counts


def main(argv: list[str]) -> int:
    """``python -m shoplens.spark predict [--manifest PATH] [model ...]``: write the
    prediction tables (settings from dbt's manifest, default target/manifest.json); 0 on success."""
    from shoplens.spark.session import get_session

    manifest = Path("target/manifest.json")
    if "--manifest" in argv:
        at = argv.index("--manifest")
        manifest, argv = Path(argv[at + 1]), argv[:at] + argv[at + 2:]
    known = {node["name"] for node in python_models(manifest)}
    unknown = sorted(set(argv) - known)
    if unknown:
        print(f"shoplens: unknown prediction models {unknown}; choose from {sorted(known)}", file=sys.stderr)
        return 2
    run(get_session(), manifest, set(argv) or None)
    return 0


__all__ = ["SPARK_JOBS", "export_tables", "main", "model_settings", "read", "run", "to_pandas", "write"]
