"""The native models' column types, taken from a dbt build (``columns.json``).

SQLMesh Python models declare their columns before they run. The types are
those dbt-duckdb gives the dbt Python models' DataFrames, read from a dbt
warehouse, so both tools create the same tables::

    python -m sqlmesh_project.columns warehouse.duckdb   # rewrites columns.json

The parity test (tests/python/test_sqlmesh_parity.py) fails, naming the
model, when a pipeline's output no longer matches the file. ENUM columns
(pandas categoricals) are declared VARCHAR, FLOAT (float32) columns DOUBLE:
both depend on the data. Build the warehouse this reads from a shop on which
every model has rows (an empty DataFrame gives every column INTEGER): the
parity test's shop does, the bundled sample does not (no CLV holdout).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

from sqlmesh_project import engine

PATH = Path(__file__).resolve().parent / "columns.json"


def from_warehouse(db_path: str) -> dict[str, dict[str, str]]:
    """{model: {column: DuckDB type}} of every native model, from a dbt warehouse file."""
    names = engine.native_model_names()
    with duckdb.connect(db_path, read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns"
            " where table_schema = 'main' and table_name in (select unnest(?)) order by table_name, ordinal_position",
            [names],
        ).fetchall()
    found: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        found.setdefault(table, {})[column] = declared_type(dtype)
    missing = sorted(set(names) - set(found))
    if missing:
        raise SystemExit(f"{db_path} has no table for the native model(s) {', '.join(missing)}: build it with dbt first")
    return found


def declared_type(dtype: str) -> str:
    """The type to declare for a column dbt built as ``dtype``: an ENUM (pandas
    categoricals) lists the values of one build, so it is declared VARCHAR; a
    FLOAT (float32) is declared DOUBLE, because whether a pipeline returns float32
    depends on the data (the propensity scores are float32 when the GRU is
    served, float64 when a baseline is)."""
    if dtype.startswith("ENUM("):
        return "VARCHAR"
    return "DOUBLE" if dtype == "FLOAT" else dtype


def main(argv: list[str]) -> None:
    """Rewrite columns.json from the dbt warehouse named in ``argv``."""
    if len(argv) != 1:
        raise SystemExit("usage: python -m sqlmesh_project.columns <dbt warehouse.duckdb>")
    PATH.write_text(json.dumps(from_warehouse(argv[0]), indent=1) + "\n")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main(sys.argv[1:])
