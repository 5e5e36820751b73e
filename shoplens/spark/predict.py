"""The prediction tables on Spark: the package pipelines as Spark jobs over the marts.

dbt-spark's ``session`` method does not run dbt Python models, so after
``python -m shoplens.spark dbt build --exclude path:python_models+`` this
module writes every table the Python models write on DuckDB, with the same
pipeline functions (``shoplens.<family>.pipeline``) and the same columns:

* forecasts: ``ml_demand_forecast`` with ``applyInPandas``, one group per
  series (the top-N product choice is made first, on the driver, as
  :func:`shoplens.forecast.series.select_series` makes it); evaluation and
  status on the driver;
* CLV: ``ml_clv_parameters`` fitted on the driver (the fit is global),
  ``ml_clv_predictions`` scored per partition with ``mapInPandas`` from those
  parameters; evaluation and status on the driver;
* propensity and recommendations: on the driver (training is global), written
  to the same tables.

The settings of each step are the rendered config of its dbt Python model in
``target/manifest.json`` (what ``dbt.config.get`` returns on DuckDB), so the
vars of the last ``dbt build`` apply. Then ``dbt build --select`` the SQL
models downstream (``make spark-predict`` does both).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA = "main"
#: Customers per CLV scoring partition (at least; see clv()).
SCORE_PARTITION_ROWS = 50_000

#: ml_demand_forecast's columns and Spark types (shoplens.forecast.config.FORECAST_COLUMNS).
FORECAST_DDL = (
    "series_level string, series_key string, measure string, forecast_date date, "
    "horizon_day bigint, point_forecast double, lower_80 double, upper_80 double, "
    "lower_95 double, upper_95 double, method string, model_order string, as_of_date date, "
    "model_version string, n_train_days bigint, aicc double, fit_seconds double, fit_note string"
)


def model_settings(manifest: Path, name: str) -> dict[str, Any]:
    """The rendered config of the dbt model ``name`` (what ``dbt.config.get`` reads)."""
    nodes = json.loads(manifest.read_text())["nodes"]
    for node in nodes.values():
        if node["resource_type"] == "model" and node["name"] == name:
            return dict(node["config"])
    raise KeyError(f"shoplens: model {name} is not in {manifest}; run the dbt build first")


def read(spark: Any, name: str, columns: str = "*") -> Any:
    """A mart as a Spark DataFrame, decimals as doubles (as DuckDB's .df() gives them)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType

    frame = spark.table(f"{SCHEMA}.{name}").selectExpr(*[c.strip() for c in columns.split(",")])
    return frame.select(*[
        F.col(f.name).cast("double").alias(f.name) if isinstance(f.dataType, DecimalType) else F.col(f.name)
        for f in frame.schema.fields
    ])


def to_pandas(frame: Any) -> pd.DataFrame:
    """A Spark DataFrame on the driver; dates and timestamps as pandas datetimes."""
    out = frame.toPandas()
    for field in frame.schema.fields:
        if field.dataType.typeName() == "date":
            out[field.name] = pd.to_datetime(out[field.name])
    return out


def spark_schema(frame: pd.DataFrame) -> Any:
    """The Spark schema of a pandas frame (all-null columns as strings)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    arrow = pa.Schema.from_pandas(frame, preserve_index=False)
    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in arrow]
    return from_arrow_schema(pa.schema(fields))


def write(spark: Any, frame: Any, name: str) -> int:
    """Write a pandas or Spark frame as the table ``main.<name>`` (replaced); its row count."""
    if isinstance(frame, pd.DataFrame):
        frame = spark.createDataFrame(frame, schema=spark_schema(frame))
    spark.sql(f"drop table if exists {SCHEMA}.{name}")
    frame.write.format("parquet").mode("overwrite").saveAsTable(f"{SCHEMA}.{name}")
    return spark.table(f"{SCHEMA}.{name}").count()


def _top_products(demand: Any, as_of_date: Any, top_n: int) -> list[str]:
    """The ``top_n`` product series by revenue up to as_of_date, ties by key (select_series' rule)."""
    products = demand.where(f"series_level = 'product' and demand_date <= date'{as_of_date}'")
    revenue = to_pandas(products.groupBy("series_key").sum("revenue").withColumnRenamed("sum(revenue)", "revenue"))
    revenue["series_key"] = revenue["series_key"].astype(str)
    revenue = revenue.sort_values(["revenue", "series_key"], ascending=[False, True])
    return list(revenue["series_key"].head(top_n))


def forecast_table(spark: Any, settings: dict[str, Any], as_of: pd.DataFrame) -> int:
    """Write ml_demand_forecast: ``build_forecast`` on each series in its own Spark group."""
    from pyspark.sql import functions as F

    from shoplens.forecast import pipeline
    from shoplens.inputs import read_as_of

    demand = read(spark, "demand_daily")
    top = _top_products(demand, read_as_of(as_of).as_of_date, int(float(settings["forecast_top_n"])))
    kept = demand.where((F.col("series_level") != "product") | F.col("series_key").isin(top))
    per_series = {**settings, "forecast_n_jobs": 1}

    def one_series(group: pd.DataFrame) -> pd.DataFrame:
        return pipeline.build_forecast(group, as_of, per_series)

    forecasts = kept.groupBy("series_level", "series_key").applyInPandas(one_series, FORECAST_DDL)
    return write(spark, forecasts, "ml_demand_forecast")


def forecast(spark: Any, manifest: Path) -> dict[str, int]:
    """ml_demand_forecast (one Spark group per series), then evaluation and status on the driver."""
    from shoplens.forecast import pipeline

    as_of = to_pandas(read(spark, "as_of"))
    settings = model_settings(manifest, "ml_demand_forecast")
    counts = {"ml_demand_forecast": forecast_table(spark, settings, as_of)}
    written = to_pandas(read(spark, "ml_demand_forecast"))
    evaluation = pipeline.build_evaluation(
        to_pandas(read(spark, "demand_daily")), as_of, written,
        to_pandas(read(spark, "holdout_demand_daily")), model_settings(manifest, "ml_forecast_evaluation"))
    counts["ml_forecast_evaluation"] = write(spark, evaluation, "ml_forecast_evaluation")
    status = pipeline.build_status(as_of, written, evaluation[["evaluation_type"]])
    counts["ml_forecast_status"] = write(spark, status, "ml_forecast_status")
    return counts


def clv(spark: Any, manifest: Path) -> dict[str, int]:
    """ml_clv_parameters on the driver, ml_clv_predictions per partition, then evaluation and status."""
    from shoplens.clv import pipeline

    config, backtest_days = pipeline.config_from_dbt(model_settings(manifest, "ml_clv_predictions").get)
    as_of = to_pandas(read(spark, "as_of"))
    summary_frame = read(spark, "customer_btyd_summary")
    summary = to_pandas(summary_frame)
    holdout = to_pandas(read(spark, "holdout_orders"))
    parameters = pipeline.build_parameters(summary, as_of, holdout, config)
    counts = {"ml_clv_parameters": write(spark, parameters, "ml_clv_parameters")}
    parameters = to_pandas(read(spark, "ml_clv_parameters"))
    # Scoring re-applies the fit's data checks (clv_min_customers, repeat buyers) to the
    # frame it scores, so partitions hold at least SCORE_PARTITION_ROWS customers.
    sample = summary if len(summary) <= 5_000 else summary.sample(5_000, random_state=0)
    schema = spark_schema(pipeline.build_predictions(sample, parameters, as_of, config))
    n_parts = max(1, len(summary) // SCORE_PARTITION_ROWS)

    def score(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in parts:
            if len(part):
                yield pipeline.build_predictions(part, parameters, as_of, config)

    predictions = summary_frame.repartition(n_parts, "customer_id").mapInPandas(score, schema)
    counts["ml_clv_predictions"] = write(spark, predictions, "ml_clv_predictions")
    scores = to_pandas(read(spark, "ml_clv_predictions"))
    evaluation = pipeline.build_evaluation(
        summary, parameters, as_of, to_pandas(read(spark, "fct_orders")), holdout, config, backtest_days)
    counts["ml_clv_evaluation"] = write(spark, evaluation, "ml_clv_evaluation")
    status = pipeline.build_status(
        summary, parameters, scores[["customer_id", "fallback_reason"]], evaluation, as_of, config, backtest_days)
    counts["ml_clv_status"] = write(spark, status, "ml_clv_status")
    return counts


def propensity(spark: Any, manifest: Path) -> dict[str, int]:
    """ml_purchase_propensity, its evaluation and status, on the driver (training is global)."""
    from shoplens.propensity import pipeline

    as_of = to_pandas(read(spark, "as_of"))
    orders = to_pandas(read(spark, "fct_orders", "customer_id, ordered_at, order_total, is_purchase"))
    sessions = to_pandas(read(spark, "int_session_days",
                              "customer_id, session_started_at as started_at, activity_date,"
                              " n_product_views, n_add_to_carts, n_checkouts"))
    customers = to_pandas(read(spark, "dim_customers", "customer_id, country, first_order_category, signed_up_at"))
    scores = pipeline.build_scores(as_of, orders, sessions, customers,
                                   model_settings(manifest, "ml_purchase_propensity"))
    counts = {"ml_purchase_propensity": write(spark, scores, "ml_purchase_propensity")}
    scores = to_pandas(read(spark, "ml_purchase_propensity"))
    holdout = to_pandas(read(spark, "holdout_orders", "customer_id, ordered_at, is_purchase"))
    evaluation = pipeline.build_evaluation(as_of, scores, holdout, orders[["customer_id", "ordered_at", "is_purchase"]],
                                           model_settings(manifest, "ml_propensity_evaluation"))
    counts["ml_propensity_evaluation"] = write(spark, evaluation, "ml_propensity_evaluation")
    fct_sessions = to_pandas(read(spark, "fct_sessions", "customer_id, started_at, n_product_views, n_add_to_carts, n_checkouts"))
    status = pipeline.build_status(as_of, scores, orders, fct_sessions, customers,
                                   model_settings(manifest, "ml_propensity_status"))
    counts["ml_propensity_status"] = write(spark, status, "ml_propensity_status")
    return counts


def recommend(spark: Any, manifest: Path) -> dict[str, int]:
    """Recommendations and profiles with their evaluation and status, on the driver."""
    from shoplens.recommend import configs_from_dbt, pipeline

    recommend_cfg, _ = configs_from_dbt(model_settings(manifest, "ml_product_recommendations").get)
    _, profile_cfg = configs_from_dbt(model_settings(manifest, "ml_customer_profiles").get)
    as_of = to_pandas(read(spark, "as_of"))
    columns = "customer_id, order_id, product_id, order_date, is_purchase, category, line_amount"
    items = to_pandas(read(spark, "fct_order_items", columns + ", discount, unit_price"))
    recs = pipeline.build_recommendations(items, to_pandas(read(spark, "dim_customers", "customer_id")),
                                          as_of, recommend_cfg)
    counts = {"ml_product_recommendations": write(spark, recs, "ml_product_recommendations")}
    profiles = pipeline.build_profiles(items, to_pandas(read(spark, "dim_products", "product_id, category, list_price")),
                                       as_of, profile_cfg)
    counts["ml_customer_profiles"] = write(spark, profiles, "ml_customer_profiles")
    profiles = to_pandas(read(spark, "ml_customer_profiles"))
    settings = model_settings(manifest, "ml_recommend_evaluation")
    evaluation = pipeline.build_evaluation(
        items[columns.split(", ")], to_pandas(read(spark, "holdout_order_items", columns)),
        to_pandas(read(spark, "product_affinity", "product_id, related_product_id, cosine")), profiles, as_of,
        recommend_cfg, affinity_min_support=int(float(settings["affinity_min_support"])),
        affinity_top_n=int(float(settings["affinity_top_n"])))
    counts["ml_recommend_evaluation"] = write(spark, evaluation, "ml_recommend_evaluation")
    counts["ml_recommend_status"] = write(spark, pipeline.recommendation_status(recs, as_of), "ml_recommend_status")
    counts["ml_profiles_status"] = write(
        spark, pipeline.profile_status(profiles[["n_profiles", "model_version", "silhouette"]], as_of),
        "ml_profiles_status")
    return counts


FAMILIES = {"forecast": forecast, "clv": clv, "propensity": propensity, "recommend": recommend}


def main(argv: list[str]) -> int:
    """``python -m shoplens.spark predict [--manifest PATH] [family ...]``: write the
    prediction tables (settings from dbt's manifest, default target/manifest.json); 0 on success."""
    from shoplens.spark.session import get_session

    manifest = Path("target/manifest.json")
    if "--manifest" in argv:
        at = argv.index("--manifest")
        manifest, argv = Path(argv[at + 1]), argv[:at] + argv[at + 2:]
    families = argv or list(FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        print(f"shoplens: unknown prediction families {unknown}; choose from {list(FAMILIES)}", file=sys.stderr)
        return 2
    spark = get_session()
    for family in families:
        for table, rows in FAMILIES[family](spark, manifest).items():
            print(f"shoplens spark predict: {SCHEMA}.{table}: {rows} rows")
    return 0


def export_tables(spark: Any, folder: str) -> list[str]:
    """Every table of the warehouse schema as ``folder/<table>.parquet`` (for the parity test)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(r.tableName for r in spark.sql(f"show tables in {SCHEMA}").collect() if not r.isTemporary)
    for name in names:
        to_pandas(read(spark, name)).to_parquet(out / f"{name}.parquet", index=False)
    return names
