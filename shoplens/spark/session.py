"""The local Spark session of the ``spark`` target and the project's SQL functions on it.

dbt-spark's ``session`` method runs Spark in the dbt process and takes the
active session (``SparkSession.builder.getOrCreate``). Creating it here first
lets the build use what SQL cannot do by itself, as Spark functions, exactly
as shoplens/duckdb_plugin.py gives them to DuckDB:

* ``shoplens_abspath(path, base)``, ``shoplens_list_files(folder)`` and
  ``shoplens_text_problem(path, encoding)``: the same Python functions as on
  DuckDB (called a few times per build by ``register_raw_tables``).
* the PII salt: read from ``SHOPLENS_PII_SALT`` into the session conf
  ``shoplens.pii_salt``; SQL reads it as ``'${shoplens.pii_salt}'``, which
  Spark substitutes when it parses the query, so the salt never appears in
  compiled SQL, target/ or the logs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from shoplens.duckdb_plugin import SALT_ENV, abspath, list_files, pii_salt, text_problem

#: Where the ``spark`` target keeps its warehouse and metastore (relative to the project root).
SPARK_DIR_ENV = "SHOPLENS_SPARK_DIR"
DEFAULT_SPARK_DIR = "target/spark"


class SparkUnavailable(RuntimeError):
    """Java or pyspark is missing: the message says what to install."""


def missing_requirements() -> str | None:
    """None when Java and pyspark are present, else one message saying what to install."""
    missing = []
    if importlib.util.find_spec("pyspark") is None:
        missing.append("pyspark (pip install 'dbt-spark[session]' pyspark; both are in requirements.lock)")
    java_home = os.environ.get("JAVA_HOME")
    java = shutil.which("java") or (java_home and shutil.which("java", path=str(Path(java_home) / "bin")))
    if not java:
        missing.append("Java 17 (make spark-env, i.e. apt-get install -y openjdk-17-jre-headless, or set JAVA_HOME)")
    if not missing:
        return None
    return "shoplens: the spark target needs " + " and ".join(missing)


def spark_dir(root: str | os.PathLike[str] = ".") -> Path:
    """The absolute folder of the Spark warehouse and metastore (env SHOPLENS_SPARK_DIR)."""
    return Path(abspath(os.environ.get(SPARK_DIR_ENV, DEFAULT_SPARK_DIR), str(root)))


def session_conf(folder: Path, cores: int | str = 2) -> dict[str, str]:
    """The Spark settings of the local session (the same as profiles.yml's spark target)."""
    return {
        "spark.master": f"local[{cores}]",
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.shuffle.partitions": os.environ.get("SHOPLENS_SPARK_PARTITIONS", "4"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": os.environ.get("SHOPLENS_SPARK_MEMORY", "4g"),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }


def get_session(root: str | os.PathLike[str] = ".") -> Any:
    """The local Spark session with the project's functions registered (created once per process)."""
    problem = missing_requirements()
    if problem:
        raise SparkUnavailable(problem)
    from pyspark.sql import SparkSession

    # Python workers (UDFs, applyInPandas) run this interpreter, which has the package.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # Local mode talks to itself only: bind the driver to loopback.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    folder = spark_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName("shoplens").enableHiveSupport()
    for key, value in session_conf(folder, os.environ.get("SHOPLENS_SPARK_CORES", "2")).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    register_functions(spark)
    return spark


def register_functions(spark: Any) -> None:
    """The project's functions as Spark SQL functions, and the PII salt in the session conf."""
    from pyspark.sql.types import ArrayType, StringType

    spark.udf.register("shoplens_abspath", abspath, StringType())
    spark.udf.register("shoplens_text_problem", text_problem, StringType())
    spark.udf.register("shoplens_list_files", list_files, ArrayType(StringType()))
    spark.conf.set("shoplens.pii_salt", pii_salt() or "")
    spark.conf.set("shoplens.pii_salt_set", "true" if pii_salt() else "false")


__all__ = ["SALT_ENV", "SparkUnavailable", "get_session", "missing_requirements", "session_conf", "spark_dir"]
