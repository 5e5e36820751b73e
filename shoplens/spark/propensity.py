"""ml_purchase_propensity on Spark: fitted on the driver, scored per partition with ``mapInPandas``.

The three steps of :mod:`shoplens.propensity.parts`:

1. on the driver, the global fits (the served model, chosen and trained on
   every customer, and the population's BG/NBD at each cut-off):
   :func:`shoplens.propensity.pipeline.plan_scores_from`, the same arguments
   as the dbt model's ``build_scores``;
2. the plan broadcast to the workers (the GRU as its weights and
   configuration), the rows of the three inputs unioned and partitioned by
   customer (every row of a customer in one partition), each partition
   scored by :func:`shoplens.propensity.parts.score_part`;
3. ``decile`` over every customer of each score date with a Spark window,
   by the rule of :func:`shoplens.evaluation.deciles` (highest probability
   first, ties in customer order, 10 * rank // n + 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from shoplens.spark.frames import to_pandas
from shoplens.spark.models import Dbt

#: The inputs of python_models/propensity/ml_purchase_propensity.py: (ref, columns read).
INPUTS = {
    "orders": ("fct_orders", "customer_id, ordered_at, order_total, is_purchase"),
    "sessions": ("int_session_days", "customer_id, session_started_at as started_at, activity_date,"
                 " n_product_views, n_add_to_carts, n_checkouts"),
    "customers": ("dim_customers", "customer_id, country, first_order_category, signed_up_at"),
}

#: Customers per scoring partition (at least one partition).
PARTITION_CUSTOMERS = 50_000

#: Spark types of ml_purchase_propensity's columns (shoplens.propensity.SCORE_COLUMNS).
SCORE_TYPES = {
    "customer_id": "string", "score_date": "date", "is_current": "boolean", "window_days": "bigint",
    "purchase_probability": "double", "expected_purchases": "double", "decile": "bigint",
    "served_model": "string", "reason_1": "string", "reason_2": "string", "reason_3": "string",
    "has_purchased": "boolean", "p_rnn_gru": "double", "expected_purchases_rnn_gru": "double",
    "p_bgnbd": "double", "expected_purchases_bgnbd": "double", "p_rfm_heuristic": "double",
    "p_logreg": "double", "p_naive_rate": "double", "expected_purchases_naive_rate": "double",
    "btyd_baseline_model": "string", "baseline_notes": "string", "model_version": "string",
    "train_end_date": "date",
}


def score_ddl() -> str:
    """The Spark schema of ml_purchase_propensity, in SCORE_COLUMNS order."""
    from shoplens.propensity import SCORE_COLUMNS
    from shoplens.spark.predict import typed_ddl

    return typed_ddl("ml_purchase_propensity", SCORE_COLUMNS, SCORE_TYPES,
                     "shoplens.spark.propensity.SCORE_TYPES")


def input_names(kind: str) -> list[str]:
    """The column names of one input as the dbt model reads it (after ``as``)."""
    return [c.split(" as ")[-1].strip() for c in INPUTS[kind][1].split(",")]


def customer_rows(frames: dict[str, Any]) -> Any:
    """The rows of the three inputs in one frame, tagged by ``kind`` (the columns of the others null)."""
    from pyspark.sql import functions as F

    tagged = [frame.withColumn("kind", F.lit(kind)) for kind, frame in frames.items()]
    out = tagged[0]
    for frame in tagged[1:]:
        out = out.unionByName(frame, allowMissingColumns=True)
    return out


def split_rows(part: pd.DataFrame) -> list[pd.DataFrame]:
    """A partition's rows back as (orders, sessions, customers), with their own column types."""
    out = []
    for kind in INPUTS:
        rows = part.loc[part["kind"] == kind, input_names(kind)].reset_index(drop=True)
        out.append(rows.infer_objects())
    return out


def score_partitions(plan: Any, parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``mapInPandas``'s function: the score rows of one partition (all its Arrow batches at
    once: a customer's rows can span batches). A partition needs a purchase: it holds
    PARTITION_CUSTOMERS customers or all of them."""
    from shoplens.propensity import parts as P

    part = pd.concat(list(parts), ignore_index=True)
    if len(part):
        yield P.score_part(plan, *split_rows(part))


def with_deciles(scored: Any) -> Any:
    """``decile`` over every customer of each score date (the rule of shoplens.evaluation.deciles)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from shoplens.propensity import SCORE_COLUMNS

    p = F.col("purchase_probability")
    order = Window.partitionBy("score_date").orderBy(
        (p.isNull() | F.isnan(p)).asc(), p.desc(), F.col("customer_id").asc())
    rank = F.row_number().over(order) - 1
    n = F.count(F.lit(1)).over(Window.partitionBy("score_date"))
    decile = (F.floor(rank * 10 / n) + 1).cast("bigint")
    return scored.withColumn("decile", decile).select(*SCORE_COLUMNS)


def purchase_propensity(dbt: Dbt) -> Any:
    """ml_purchase_propensity: fitted on the driver, scored per partition, ranked over all."""
    frames = {kind: dbt.ref(ref).project(columns).frame() for kind, (ref, columns) in INPUTS.items()}
    return score_frames(frames, dbt.ref("as_of").df(), dbt.config.settings)


def score_frames(frames: dict[str, Any], as_of: pd.DataFrame, settings: dict[str, Any],
                 n_parts: int | None = None) -> Any:
    """The scores of the Spark ``frames`` (orders, sessions, customers as INPUTS reads them) in
    ``n_parts`` partitions (default: PARTITION_CUSTOMERS customers each); a pandas frame
    when the step declines."""
    from shoplens.propensity import pipeline

    plan = pipeline.plan_scores_from(as_of, *(to_pandas(frames[k]) for k in INPUTS), settings)
    if plan is None:  # too short to train: ml_propensity_status says why
        return pipeline.empty_scores()
    spark = frames["orders"].sparkSession
    shipped = spark.sparkContext.broadcast(plan)
    n_parts = n_parts or max(1, frames["customers"].count() // PARTITION_CUSTOMERS)
    rows = customer_rows(frames).repartition(n_parts, "customer_id")
    scored = rows.mapInPandas(lambda parts: score_partitions(shipped.value, parts), score_ddl())
    return with_deciles(scored)
