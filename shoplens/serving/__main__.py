"""Command line: ``python -m shoplens.serving publish|status``.

``publish`` after a successful ``dbt build``; ``status`` prints the served
publication. Paths default to the environment (DUCKDB_PATH,
SHOPLENS_SERVING_PATH, DBT_TARGET_PATH) and the current folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shoplens.serving.errors import ServingError
from shoplens.serving.paths import serving_path, target_path, warehouse_path
from shoplens.serving.publish import current_publication, publish


def _status_line(serving: Path) -> str:
    current = current_publication(serving)
    if current is None:
        return f"no serving database at {serving} yet"
    return (
        f"{serving} serves publication {current['publication_id']} "
        f"({current['tables']} tables, as of {current['as_of_date']}, published {current['published_at']} UTC)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoplens.serving", description=__doc__)
    parser.add_argument("command", choices=["publish", "status", "build-failed"])
    parser.add_argument("--warehouse", type=Path, default=None, help="warehouse file (default: $DUCKDB_PATH or warehouse.duckdb)")
    parser.add_argument("--serving", type=Path, default=None, help="serving file (default: $SHOPLENS_SERVING_PATH or serving.duckdb beside the warehouse)")
    parser.add_argument("--target-path", type=Path, default=None, help="dbt target folder (default: $DBT_TARGET_PATH or target)")
    parser.add_argument("--project-dir", type=Path, default=Path("."), help="dbt project folder")
    args = parser.parse_args(argv)
    warehouse = args.warehouse or warehouse_path()
    serving = args.serving or serving_path(warehouse)
    if args.command == "status":
        print(_status_line(serving))
        return 0
    if args.command == "build-failed":
        print(f"dbt build failed: nothing published. {_status_line(serving)} (unchanged)", file=sys.stderr)
        return 1
    try:
        pub = publish(warehouse, serving, args.target_path or target_path(), args.project_dir)
    except ServingError as exc:
        print(f"publish refused: {exc}\n{_status_line(serving)} (unchanged)", file=sys.stderr)
        return 1
    total = sum(pub.tables.values())
    print(f"published {pub.path}: {len(pub.tables)} tables, {total} rows, publication {pub.publication_id}, {pub.seconds:.1f} s")
    if pub.skipped:
        print(f"  optional tables not in this warehouse (not served): {', '.join(pub.skipped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
