"""DuckDB plumbing shared by the publish step and its checks: quoting and connections."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from shoplens.serving.errors import ServingError


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    config = {
        "memory_limit": os.environ.get("SHOPLENS_PUBLISH_MEMORY_LIMIT", "1536MB"),
        "threads": int(os.environ.get("SHOPLENS_THREADS", "2")),
        "preserve_insertion_order": False,
    }
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    con.execute("set enable_progress_bar = false")
    return con


def attach_warehouse(con: duckdb.DuckDBPyConnection, warehouse: Path) -> str:
    """Attach the warehouse read-only under the catalog name dbt's views expect."""
    if not warehouse.exists():
        raise ServingError(f"no warehouse at {warehouse}: run `dbt build` first; nothing published")
    alias = warehouse.stem
    try:
        con.execute(f"attach {literal(str(warehouse))} as {quote(alias)} (read_only)")
    except duckdb.Error as exc:
        raise ServingError(f"cannot open the warehouse {warehouse} read-only ({exc}); nothing published") from exc
    return alias


