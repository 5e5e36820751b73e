"""Checks of a written serving file: inventory, row counts, contracts, no leaks.

``check`` runs on the new file, read-only, before it replaces the previous
serving database; any problem raises ``ServingError`` naming every one.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from shoplens.serving.catalog import ServedTable
from shoplens.serving.duck import attach_warehouse as _attach_warehouse
from shoplens.serving.duck import connect as _connect
from shoplens.serving.duck import literal as _literal
from shoplens.serving.duck import quote as _quote
from shoplens.serving.errors import ServingError

PUBLICATION_TABLE = "_publication"
# What must never reach a BI user: e-mail addresses and file paths.
EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PATH_RE = r"(^|[\s'\"(=:,])/[^/\s'\"]+/|[A-Za-z]:\\|file:/"


def scan_for_leaks(con: duckdb.DuckDBPyConnection, database: str | None = None) -> list[str]:
    """Every (table, column, kind) with an e-mail-like or file-path-like value or comment.

    Scans every text column of every table and every table/column comment.
    """
    where = f"database_name = {_literal(database)}" if database else "database_name = current_database()"
    found = []
    text_columns = con.execute(
        f"select schema_name, table_name, column_name from duckdb_columns() where {where} "
        "and data_type = 'VARCHAR' order by all"
    ).fetchall()
    by_table: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in text_columns:
        by_table.setdefault((schema, table), []).append(column)
    for (schema, table), columns in by_table.items():
        checks = []
        for c in columns:
            col = _quote(c)
            checks.append(f"count(*) filter (where {col} like '%@%' and regexp_matches({col}, {_literal(EMAIL_RE)}))")
            checks.append(
                f"count(*) filter (where ({col} like '%/%' or {col} like '%\\%') and regexp_matches({col}, {_literal(PATH_RE)}))"
            )
        counts = con.execute(f"select {', '.join(checks)} from {_quote(schema)}.{_quote(table)}").fetchone()
        for i, c in enumerate(columns):
            if counts[2 * i]:
                found.append(f"{schema}.{table}.{c}: {counts[2 * i]} e-mail-like value(s)")
            if counts[2 * i + 1]:
                found.append(f"{schema}.{table}.{c}: {counts[2 * i + 1]} file-path-like value(s)")
    comments = con.execute(
        f"select schema_name || '.' || table_name, comment from duckdb_tables() where {where} and comment is not null "
        f"union all select schema_name || '.' || table_name || '.' || column_name, comment from duckdb_columns() "
        f"where {where} and comment is not null"
    ).fetchall()
    for name, comment in comments:
        if re.search(EMAIL_RE, comment):
            found.append(f"{name}: e-mail-like text in its comment")
        if re.search(PATH_RE, comment):
            found.append(f"{name}: file-path-like text in its comment")
    return found


def _normal_type(con, declared: str) -> str:
    return con.execute(f"select typeof(cast(null as {declared}))").fetchone()[0]


def check(path: Path, warehouse: Path, tables: list[ServedTable], rows: dict[str, int]) -> None:
    """Check a written serving file against the warehouse; raise ServingError naming every problem.

    Every expected table is present and nothing else (no view, no stray
    table); each table's rows equal the warehouse's and ``_publication``;
    enforced dbt contracts hold (columns and types); no e-mail or path leaks.
    """
    con = _connect(path, read_only=True)
    try:
        alias = _attach_warehouse(con, warehouse)
        here = con.execute("select current_database()").fetchone()[0]
        problems = _check_inventory(con, here, rows)
        published = dict(
            con.execute(f"select schema_name || '.' || table_name, row_count from main.{PUBLICATION_TABLE}").fetchall()
        )
        for table in tables:
            if table.qualified in rows:
                problems += _check_rows(con, alias, table, published.get(table.qualified))
                problems += _check_contract(con, here, table)
        con.execute(f"detach {_quote(alias)}")
        problems.extend(scan_for_leaks(con))
    finally:
        con.close()
    if problems:
        hint = ""
        if any(".customer_id: " in p and "e-mail-like" in p for p in problems):
            hint = ("\nThe customer ids are e-mail addresses: build again with the var hash_customer_ids: true"
                    " (or export a customer number, or each e-mail's salted hash, lower-cased and trimmed"
                    " first, as customer_id; README,"
                    " Bring your own data; the build's warning customer_ids_are_not_email_addresses).")
        raise ServingError("the new serving database failed its checks:\n  - " + "\n  - ".join(problems) + hint)


def _check_inventory(con: duckdb.DuckDBPyConnection, here: str, rows: dict[str, int]) -> list[str]:
    """Every expected table is there, nothing else is, and every object is a base table."""
    present = {
        f"{s}.{t}": kind
        for s, t, kind in con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            f"where table_catalog = {_literal(here)}"
        ).fetchall()
    }
    expected = set(rows) | {f"main.{PUBLICATION_TABLE}"}
    problems = [f"{name}: expected table missing" for name in sorted(expected - set(present))]
    problems += [f"{name}: not an expected table ({present[name]})" for name in sorted(set(present) - expected)]
    problems += [
        f"{name}: is a {kind}, only tables may be served" for name, kind in present.items() if kind != "BASE TABLE"
    ]
    return problems


def _check_rows(con: duckdb.DuckDBPyConnection, alias: str, table: ServedTable, published: int | None) -> list[str]:
    """The served row count equals the warehouse's and the one recorded in ``_publication``."""
    served = con.execute(f"select count(*) from {_quote(table.schema)}.{_quote(table.name)}").fetchone()[0]
    source = con.execute(f"select count(*) from {_quote(alias)}.main.{_quote(table.source)}").fetchone()[0]
    if served == source == published:
        return []
    return [f"{table.qualified}: {served} rows served, {source} in the warehouse, {published} in {PUBLICATION_TABLE}"]


def _check_contract(con: duckdb.DuckDBPyConnection, here: str, table: ServedTable) -> list[str]:
    """An enforced contract's columns and types hold in the served table."""
    if not table.contract:
        return []
    actual = dict(
        con.execute(
            "select column_name, data_type from duckdb_columns() "
            f"where database_name = {_literal(here)} and schema_name = {_literal(table.schema)} "
            f"and table_name = {_literal(table.name)}"
        ).fetchall()
    )
    problems = []
    if set(actual) != set(table.contract):
        problems.append(f"{table.qualified}: columns {sorted(actual)} differ from the contract's {sorted(table.contract)}")
    for column, declared in table.contract.items():
        if column in actual and actual[column] != _normal_type(con, declared):
            problems.append(f"{table.qualified}.{column}: type {actual[column]}, contract says {declared}")
    return problems


