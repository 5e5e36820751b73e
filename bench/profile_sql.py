"""Time one compiled SQL model outside dbt, as compiled and with its CTE hints changed (by hand).

Usage: python bench/profile_sql.py WAREHOUSE.duckdb target/compiled/.../model.sql
                                   [--raw TABLE=FILE ...] [--plans compiled,default,inline]
                                   [--threads 2] [--memory-limit 3GB]

Runs the model's compiled ``select`` into a table of an in-memory DuckDB
that sees the built warehouse (attached read-only: every table of its
``main`` schema is a view there) and, with ``--raw``, the raw files the
model reads (``raw.<table>`` over a Parquet file, or over a CSV file read
as text, as ``register_raw_tables`` reads one). Each plan runs in a fresh
connection with the profile's settings (2 threads, 3GB cap, insertion order
not kept, UTC): ``compiled`` is the SQL as dbt compiled it, ``default``
the same without any ``not materialized`` hint (DuckDB decides: a CTE read
more than once is stored), ``inline`` with every CTE marked ``not
materialized``. Prints per plan the wall and CPU seconds, the rows and
whether every plan's table is the same (a hash of every row). Not part of
`make bench`: it measures one model's plan, as DECISIONS.md quotes for
``shoplens_not_materialized``.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import duckdb

HINT = re.compile(r"\bas\s+not\s+materialized\s*\(", re.IGNORECASE)
CTE = re.compile(r"^(\w+)\s+as\s+\(", re.MULTILINE)


def plans(sql: str, names: list[str]) -> dict[str, str]:
    """The SQL of each named plan (see the module doc)."""
    default = HINT.sub("as (", sql)
    out = {"compiled": sql, "default": default, "inline": CTE.sub(r"\1 as not materialized (", default)}
    unknown = set(names) - set(out)
    if unknown:
        raise SystemExit(f"unknown plan(s) {sorted(unknown)}; choose from {sorted(out)}")
    return {name: out[name] for name in names}


def _reader(path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if path.suffix == ".parquet":
        return f"read_parquet('{quoted}')"
    return f"read_csv('{quoted}', header = true, all_varchar = true)"


def run(warehouse: Path, raw: dict[str, Path], sql: str, threads: int, memory_limit: str) -> dict:
    con = duckdb.connect()
    con.execute(f"set threads = {threads}; set memory_limit = '{memory_limit}'; "
                "set preserve_insertion_order = false; set TimeZone = 'UTC'")
    quoted = str(warehouse).replace("'", "''")
    con.execute(f"attach '{quoted}' as warehouse (read_only)")
    tables = con.execute("select table_name from information_schema.tables "
                         "where table_catalog = 'warehouse' and table_schema = 'main'").fetchall()
    for (name,) in tables:
        con.execute(f'create view main."{name}" as select * from warehouse.main."{name}"')
    con.execute("create schema raw")
    for table, path in raw.items():
        con.execute(f'create view raw."{table}" as select * from {_reader(path)}')
    wall, cpu = time.perf_counter(), time.process_time()
    con.execute(f"create table profiled as {sql}")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # one hash per whole row (the row as a struct), summed: the same multiset of rows, the same sum
    rows, digest = con.execute("select count(*), sum(hash(profiled)) from profiled").fetchone()
    con.close()
    return {"wall_s": wall, "cpu_s": cpu, "rows": rows, "hash": digest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("compiled", type=Path, help="the model's SQL under target/compiled")
    ap.add_argument("--raw", action="append", default=[], metavar="TABLE=FILE",
                    help="raw.TABLE over FILE (.parquet, else CSV read as text); repeatable")
    ap.add_argument("--plans", default="compiled,default,inline")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="3GB")
    args = ap.parse_args()
    raw = {}
    for item in args.raw:
        table, _, path = item.partition("=")
        raw[table] = Path(path).resolve()
    sql = args.compiled.read_text()
    results = {}
    for name, text in plans(sql, [p.strip() for p in args.plans.split(",") if p.strip()]).items():
        results[name] = run(args.warehouse, raw, text, args.threads, args.memory_limit)
        r = results[name]
        print(f"{name:9s} wall {r['wall_s']:7.1f} s  CPU {r['cpu_s']:7.1f} s  rows {r['rows']:,}", flush=True)
    same = len({(r["rows"], r["hash"]) for r in results.values()}) == 1
    print(f"every plan's table the same (row count and row hash): {same}")


if __name__ == "__main__":
    main()
