"""Settings shared by the two SQLMesh projects (the dbt one at the root, the native one here).

* :func:`shoplens_vars`: the dbt vars of dbt_project.yml, overridden by the
  JSON object in the environment variable ``SHOPLENS_VARS`` (what dbt's
  ``--vars`` would carry), plus ``shoplens_sqlmesh: true`` (dbt_project.yml
  then disables the dbt Python models) and ``shoplens_native_models``.
* :func:`gateways`: ``dev`` (the SQLMesh warehouse file, ``sqlmesh_warehouse.duckdb``
  unless ``SQLMESH_DUCKDB_PATH`` names another) and ``parity`` (the same
  file plus the dbt warehouse, ``DUCKDB_PATH`` or ``warehouse.duckdb``,
  attached as catalog ``dbt`` so ``sqlmesh table_diff`` can compare them).
* Every connection registers the project's DuckDB functions
  (``shoplens.duckdb_plugin``), as dbt-duckdb's plugin does for dbt.
"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import yaml
from sqlmesh.core.config import DuckDBConnectionConfig, GatewayConfig

from shoplens import duckdb_plugin

ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = Path(__file__).resolve().parent
VARS_ENV = "SHOPLENS_VARS"
SQLMESH_DB_ENV = "SQLMESH_DUCKDB_PATH"
# What the root profiles.yml sets for dbt (settings), without its templates.
# libyaml's parser when PyYAML has it (the project's YAML is read on every plan).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUCKDB_SETTINGS = {"TimeZone": "UTC", "preserve_insertion_order": False}


class ShoplensDuckDBConfig(DuckDBConnectionConfig):
    """DuckDB connection that also registers shoplens' functions on every cursor."""

    @property
    def _cursor_init(self) -> t.Callable[[t.Any], None] | None:
        base = super()._cursor_init

        def init(cursor: t.Any) -> None:
            duckdb_plugin._register(cursor)
            if base is not None:
                base(cursor)

        return init


def load_in_one_process() -> None:
    """SQLMesh's ``MAX_FORK_WORKERS`` = 1 unless the environment sets it: SQLMesh forks a
    process per CPU to compute the models' schemas, which with a warm cache costs more
    (pickling every model there and back) than it saves; a no-change plan on 2 cores took
    0.6-0.8 s longer wall and ~1 s more CPU with 2 (3 pairs of runs). SQLMesh reads the
    variable when it is imported, before the configs, so its module value is set here."""
    from sqlmesh.core import constants

    if "MAX_FORK_WORKERS" not in os.environ:
        constants.MAX_FORK_WORKERS = 1


def limit_blas_like_dbt() -> None:
    """The BLAS thread cap the dbt profile's plugin applies (``SHOPLENS_BLAS_THREADS``, default
    1; see shoplens.duckdb_plugin.limit_blas_threads), so both engines compute alike."""
    duckdb_plugin.limit_blas_threads(os.environ.get("SHOPLENS_BLAS_THREADS", "1"))


def shoplens_vars() -> dict[str, t.Any]:
    """dbt_project.yml's vars, then ``SHOPLENS_VARS`` (a JSON object) over them."""
    project = yaml.load((ROOT / "dbt_project.yml").read_text(), Loader=YAML_LOADER)
    merged = dict(project.get("vars") or {})
    text = os.environ.get(VARS_ENV, "").strip()
    if text:
        given = json.loads(text)
        if not isinstance(given, dict):
            raise ValueError(f"{VARS_ENV} must be a JSON object of dbt vars, got {text!r}")
        merged.update(given)
    merged["shoplens_sqlmesh"] = True
    merged["shoplens_native_models"] = native_model_names()
    return merged


def native_model_names() -> list[str]:
    """The native SQLMesh models (one per file in sqlmesh_project/models), which the
    dbt project's ref() turns into plain names under SQLMesh (macros/ref.sql)."""
    return sorted(p.stem for p in (PROFILES_DIR / "models").glob("ml_*.py"))


def sqlmesh_db_path() -> str:
    """The SQLMesh warehouse file (absolute)."""
    return str((ROOT / os.environ.get(SQLMESH_DB_ENV, "sqlmesh_warehouse.duckdb")).resolve())


def dbt_db_path() -> str:
    """The dbt warehouse file that the parity gateway attaches (absolute)."""
    return str((ROOT / os.environ.get("DUCKDB_PATH", "warehouse.duckdb")).resolve())


def _connection(catalogs: dict[str, str]) -> ShoplensDuckDBConfig:
    memory = os.environ.get("SHOPLENS_MEMORY_LIMIT", "6GB")
    return ShoplensDuckDBConfig(
        catalogs=catalogs, concurrent_tasks=1,
        connector_config={**DUCKDB_SETTINGS, "memory_limit": memory},
    )


def gateways() -> dict[str, GatewayConfig]:
    """The ``dev`` gateway (the SQLMesh file) and ``parity`` (it plus the dbt file)."""
    own = sqlmesh_db_path()
    name = Path(own).stem  # DuckDB names a file's catalog after the file
    return {
        "dev": GatewayConfig(connection=_connection({name: own})),
        "parity": GatewayConfig(connection=_connection({name: own, "dbt": dbt_db_path()})),
    }
