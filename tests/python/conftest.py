"""Shared pytest helpers: run dbt against a throw-away DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).with_name("dbt"))
# Generated exports are "real data" to the build, which then needs a PII salt
# (tests that check the missing-salt error remove it from their own env).
os.environ.setdefault("SHOPLENS_PII_SALT", "shoplens-test-salt")
# The SQL layer only: what the warehouse tests build (the models are tested in their own files).
SQL_LAYER = ["--exclude", "path:python_models", "path:models/predictions"]


def run_dbt(
    command: str,
    db_path: Path,
    raw_dir: Path,
    variables: dict | None = None,
    extra: list[str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``dbt <command>`` on the project into ``db_path``, reading ``raw_dir``.

    Each call gets its own target and log folder beside the database, so tests
    (and developers' builds) never share dbt's working files.
    """
    work = db_path.parent / f"dbt_{db_path.stem}"
    args = [
        DBT, command,
        "--project-dir", str(REPO), "--profiles-dir", str(REPO),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--vars", json.dumps({"raw_data_dir": str(raw_dir), **(variables or {})}),
        *(extra or []),
    ]
    env = {**os.environ, "DUCKDB_PATH": str(db_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"dbt {command} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")
    return proc


def query(db_path: Path, sql: str):
    """Run a read-only query on a built warehouse; returns a pandas DataFrame."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.sql(sql).df()


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "shapes: dbt builds of generated shops that break models (tests/python/test_model_shapes.py)"
    )
    config.addinivalue_line(
        "markers", "fuzz: property-based suites; `make fuzz` runs them with FUZZ=1 and many examples"
    )
    config.addinivalue_line("markers", "spark: DuckDB/Spark parity (make test-spark, SHOPLENS_SPARK_TESTS=1)")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def parse_utc(text: pd.Series) -> pd.Series:
    """ISO-8601 text (with an offset, 'Z', or naive = UTC) as naive UTC timestamps.

    Parsed value by value: pandas' vectorised parser mis-reads naive values
    that sit among values with offsets.
    """

    def one(value: str) -> dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        return parsed

    return pd.Series([one(v) for v in text], index=text.index, dtype="datetime64[ns]")
