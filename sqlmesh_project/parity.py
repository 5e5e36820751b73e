"""Compare the SQLMesh warehouse with the dbt warehouse, table by table.

``python -m sqlmesh_project.parity DBT_FILE SQLMESH_FILE`` prints one line per
table of the dbt build and exits 1 when any differs. The rules:

* every table or view of dbt's ``main`` schema exists in SQLMesh's, with the
  same columns in the same order, the same types (an ENUM built by dbt from a
  pandas categorical equals VARCHAR, a FLOAT from a float32 column DOUBLE:
  sqlmesh_project/columns.py; an empty table of a dbt Python model is compared
  on its column names only: dbt-duckdb types the columns of an empty DataFrame
  INTEGER, SQLMesh builds the declared types) and the same row count (the dbt-only
  ``build_log``/``build_status`` are compared on their columns only);
* tables that do not depend on a model's randomness (the SQL layer, and
  anything not derived from predictions) have exactly the same rows
  (``EXCEPT ALL`` both ways);
* prediction tables (``PREDICTION_TABLES``) have the same keys and their
  numeric columns agree within ``TOLERANCE`` (relative to max(1, |value|);
  ``TABLE_TOLERANCE`` and ``GRU_TOLERANCE`` where stated), text columns other
  than the listed volatile ones exactly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import duckdb

from sqlmesh_project import engine

# Absolute tolerance of prediction columns. The propensity GRU is not yet
# reproducible between two dbt builds of the same data (issue 13 measured
# probability changes up to 0.31); until it is, its columns are only
# required to be probabilities in both builds (tolerance 1.0). Every other
# prediction must agree to 1e-6.
TOLERANCE = 1e-6
GRU_TOLERANCE = 1.0
GRU_TABLES = {"ml_purchase_propensity", "pred_purchase_propensity", "ml_propensity_evaluation",
              "ml_model_evaluation", "ml_propensity_status"}
# The CLV fit reads its input in whatever order DuckDB returns it, so the
# optimiser stops at slightly different points (sample: estimates 1e-7,
# numerical-Hessian standard errors 3e-5 apart, relative; a 300-customer
# shop: interval bounds clv_p10/p90, drawn from the covariance, 4e-4 apart).
TABLE_TOLERANCE = {"ml_clv_parameters": 1e-4, "ml_clv_predictions": 1e-3, "pred_customer_ltv": 1e-3}
# Columns that record when, where or how fast a build ran, not what it
# computed; log_covariance (JSON of floats) and selection_reason (it prints
# the estimates of a fit at the no-drop-out boundary, which run off towards
# infinity and stop wherever the optimiser does) are text of floats,
# compared through the numeric columns.
VOLATILE = {"fitted_at", "evaluated_at", "scored_at", "trained_at", "built_at", "created_at", "model_path",
            "fit_seconds", "log_covariance", "selection_reason"}
DBT_ONLY = {"build_log", "build_status"}
INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}


@dataclass
class TableResult:
    """One table's comparison: ``problems`` is empty when the table agrees."""

    table: str
    rows: int
    kind: str
    problems: list[str]


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns where table_catalog = ?"
        " and table_schema = 'main' and table_name = ? order by ordinal_position", [catalog, table],
    ).fetchall()


def _same_type(left: str, right: str) -> bool:
    """dbt's type ``left`` is SQLMesh's ``right``: equal, or declared as columns.declared_type does."""
    return left == right or (left.startswith("ENUM(") and right == "VARCHAR") or (left, right) == ("FLOAT", "DOUBLE")


def _schema_problems(dbt_cols, sm_cols, typed: bool = True) -> list[str]:
    """Differences in column names and order, and in types when ``typed``."""
    if [c for c, _ in dbt_cols] != [c for c, _ in sm_cols]:
        return [f"columns differ: dbt {[c for c, _ in dbt_cols]} vs sqlmesh {[c for c, _ in sm_cols]}"]
    if not typed:
        return []
    return [f"column {c} is {a} in dbt, {b} in sqlmesh" for (c, a), (_, b) in zip(dbt_cols, sm_cols, strict=True)
            if not _same_type(a, b)]


def _is_float(dtype: str) -> bool:
    return dtype in ("DOUBLE", "FLOAT", "REAL") or dtype.startswith("DECIMAL") or dtype.endswith("[]")


def _content_problems(con, table: str, cols: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """Rows equal: exactly on the other columns, floats within the table's tolerance.

    Both tables are sorted on every compared column (non-float ones first)
    and paired row by row.
    """
    kept = [(c, t) for c, t in cols if c not in VOLATILE and not t.endswith("[]")]
    gru = table in GRU_TABLES  # its integers (deciles, counts of scores) move with the scores too
    floats = [c for c, t in kept if _is_float(t) or (gru and t in INTEGERS)]
    keys = [c for c, t in kept if c not in floats]
    tol = GRU_TOLERANCE if gru else TABLE_TOLERANCE.get(table, TOLERANCE)
    kind = "exact" if not floats else f"floats within {tol:g}"
    order = ", ".join(f'"{c}"' for c in keys + floats) or "1"
    select = ", ".join([f'"{c}"' for c in keys + floats])
    paired = (
        f"with a as (select row_number() over (order by {order}) as i, {select} from dbt.main.\"{table}\"),"
        f" b as (select row_number() over (order by {order}) as i, {select} from sqlmesh_warehouse.main.\"{table}\")"
        " select count(*) from a full join b using (i) where a.i is null or b.i is null"
    )
    checks = [f'a."{c}" is distinct from b."{c}"' for c in keys] + [
        f'not (a."{c}" is not distinct from b."{c}" or abs(a."{c}" - b."{c}")'
        f' <= {tol} * greatest(1, abs(a."{c}"), abs(b."{c}")))' for c in floats
    ]
    problems = []
    for check, label in [(None, "rows")] + list(zip(checks, keys + floats, strict=True)):
        sql = paired if check is None else paired.replace("where a.i is null or b.i is null", f"where {check}")
        bad = con.execute(sql).fetchone()[0]
        if bad:
            problems.append(f"{bad} row(s) differ in {label}")
    return kind, problems


def compare(dbt_path: str, sqlmesh_path: str) -> list[TableResult]:
    """Every table of the dbt warehouse against the SQLMesh one (see the module doc)."""
    con = duckdb.connect()
    con.execute(f"attach '{dbt_path}' as dbt (read_only)")
    con.execute(f"attach '{sqlmesh_path}' as sqlmesh_warehouse (read_only)")
    tables = [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_catalog = 'dbt'"
        " and table_schema = 'main' order by table_name").fetchall()]
    native = set(engine.native_model_names())
    results = []
    for table in tables:
        dbt_cols, sm_cols = _columns(con, "dbt", table), _columns(con, "sqlmesh_warehouse", table)
        if not sm_cols:
            results.append(TableResult(table, 0, "missing", ["not in the SQLMesh warehouse"]))
            continue
        rows = con.execute(f'select count(*) from dbt.main."{table}"').fetchone()[0]
        problems = _schema_problems(dbt_cols, sm_cols, typed=rows > 0 or table not in native)
        if table in DBT_ONLY or problems:
            results.append(TableResult(table, rows, "columns", problems))
            continue
        sm_rows = con.execute(f'select count(*) from sqlmesh_warehouse.main."{table}"').fetchone()[0]
        if sm_rows != rows:
            results.append(TableResult(table, rows, "rows", [f"{rows} rows in dbt, {sm_rows} in sqlmesh"]))
            continue
        kind, problems = _content_problems(con, table, dbt_cols)
        results.append(TableResult(table, rows, kind, problems))
    con.close()
    return results


def main(argv: list[str]) -> int:
    """Print the comparison of the two files named in ``argv``; 1 when a table differs."""
    if len(argv) != 2:
        raise SystemExit("usage: python -m sqlmesh_project.parity DBT_FILE SQLMESH_FILE")
    results = compare(*argv)
    for r in results:
        print(f"{'ok  ' if not r.problems else 'DIFF'} {r.table:<34} {r.rows:>8} rows  {r.kind}"
              + ("".join(f"\n       {p}" for p in r.problems)))
    bad = [r.table for r in results if r.problems]
    print(f"{len(results)} tables compared, {len(bad)} differ" + (f": {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
