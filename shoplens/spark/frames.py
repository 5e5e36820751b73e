"""Tables between Spark and pandas for the prediction jobs (shoplens.spark.predict).

Marts are read as Spark DataFrames (decimals as doubles, as DuckDB's ``.df()``
gives them), brought to the driver as pandas frames where a pipeline function
needs the whole table, and written back as tables of the warehouse schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SCHEMA = "main"


def read(spark: Any, name: str, columns: str = "*") -> Any:
    """A table as a Spark DataFrame with ``columns`` (SQL select list), decimals as doubles."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType

    frame = spark.table(f"{SCHEMA}.{name}").selectExpr(*[c.strip() for c in columns.split(",")])
    return frame.select(*[
        F.col(f.name).cast("double").alias(f.name) if isinstance(f.dataType, DecimalType) else F.col(f.name)
        for f in frame.schema.fields
    ])


def to_pandas(frame: Any) -> pd.DataFrame:
    """A Spark DataFrame on the driver; dates and timestamps as pandas datetimes (in
    microseconds when a date lies past pandas' nanosecond range, year 2262: a rejected
    calendar row of 3025 stays in its base table, as DuckDB gives it)."""
    out = frame.toPandas()
    for field in frame.schema.fields:
        if field.dataType.typeName() == "date":
            try:
                out[field.name] = pd.to_datetime(out[field.name])
            except (pd.errors.OutOfBoundsDatetime, OverflowError):
                out[field.name] = pd.Series(np.array(out[field.name].tolist(), dtype="datetime64[us]"),
                                            index=out.index)
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
        frame = spark.createDataFrame(frame.reset_index(drop=True), schema=spark_schema(frame))
    spark.sql(f"drop table if exists {SCHEMA}.{name}")
    frame.write.format("parquet").mode("overwrite").saveAsTable(f"{SCHEMA}.{name}")
    return spark.table(f"{SCHEMA}.{name}").count()


def export_tables(spark: Any, folder: str) -> list[str]:
    """Every table of the warehouse schema as ``folder/<table>.parquet`` (for the parity test)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(r.tableName for r in spark.sql(f"show tables in {SCHEMA}").collect() if not r.isTemporary)
    for name in names:
        to_pandas(read(spark, name)).to_parquet(out / f"{name}.parquet", index=False)
    return names
