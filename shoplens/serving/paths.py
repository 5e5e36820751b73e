"""Where the warehouse, the serving database and dbt's target folder are."""

from __future__ import annotations

import os
from pathlib import Path

SERVING_ENV = "SHOPLENS_SERVING_PATH"
SERVING_NAME = "serving.duckdb"


def warehouse_path() -> Path:
    """The warehouse dbt builds: ``DUCKDB_PATH`` or ``warehouse.duckdb`` (as in profiles.yml)."""
    return Path(os.environ.get("DUCKDB_PATH") or "warehouse.duckdb")


def serving_path(warehouse: Path | None = None) -> Path:
    """The serving database: ``SHOPLENS_SERVING_PATH``, else ``serving.duckdb`` beside the warehouse."""
    override = os.environ.get(SERVING_ENV)
    if override:
        return Path(override)
    return (warehouse or warehouse_path()).parent / SERVING_NAME


def target_path() -> Path:
    """dbt's target folder: ``DBT_TARGET_PATH`` or ``target`` (as in dbt_project.yml)."""
    return Path(os.environ.get("DBT_TARGET_PATH") or "target")
