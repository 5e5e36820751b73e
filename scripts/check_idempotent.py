"""Rebuild the SQL layer of a built warehouse and check that nothing changed.

Usage: DUCKDB_PATH=target/ci/ci.duckdb python scripts/check_idempotent.py --raw DIR [--vars JSON]

Counts the rows of every table (but the build log, which gains a row per
run), runs `dbt run` on the SQL models again with
the same vars, counts again, and checks the primary keys of the facts. Exits
non-zero, naming the table, when a count differs or a key repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
# Tables that change on every invocation by design (one row per build).
PER_RUN_TABLES = {"build_log"}
KEYS = {
    "fct_orders": "order_id",
    "fct_order_items": "order_item_id",
    "fct_sessions": "session_id",
    "dim_customers": "customer_id",
    "customer_rfm": "customer_id",
    "customer_btyd_summary": "customer_id",
}


def table_counts(db: str) -> dict[str, int]:
    with duckdb.connect(db, read_only=True) as con:
        names = [r[0] for r in con.sql(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_type = 'BASE TABLE' order by 1").fetchall()
            if r[0] not in PER_RUN_TABLES]
        return {n: con.sql(f'select count(*) from "{n}"').fetchone()[0] for n in names}


def duplicate_keys(db: str) -> dict[str, int]:
    with duckdb.connect(db, read_only=True) as con:
        return {t: con.sql(f"select count(*) - count(distinct {k}) from {t}").fetchone()[0] for t, k in KEYS.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--raw", required=True, help="the raw folder the warehouse was built from")
    ap.add_argument("--vars", default="{}", help="extra dbt vars, as JSON, the same as the first build")
    args = ap.parse_args()
    db = os.environ.get("DUCKDB_PATH", "warehouse.duckdb")
    variables = {"raw_data_dir": str(Path(args.raw).resolve()), **json.loads(args.vars)}
    before = table_counts(db)
    cmd = [str(Path(sys.executable).with_name("dbt")), "run", "--project-dir", str(REPO), "--profiles-dir", str(REPO),
           "--exclude", "path:python_models", "path:models/predictions", "--vars", json.dumps(variables)]
    subprocess.run(cmd, check=True, cwd=REPO)
    after = table_counts(db)
    changed = {t: (before.get(t), after.get(t)) for t in sorted(set(before) | set(after)) if before.get(t) != after.get(t)}
    dups = {t: n for t, n in duplicate_keys(db).items() if n}
    for t, (a, b) in changed.items():
        print(f"NOT IDEMPOTENT: {t} had {a} rows, has {b} after the rerun")
    for t, n in dups.items():
        print(f"DUPLICATE KEYS: {t} repeats {KEYS[t]} {n} times")
    if changed or dups:
        return 1
    print(f"idempotent: {len(after)} tables, same row counts after a rerun, no duplicate keys")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
