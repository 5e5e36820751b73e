"""Open the current serving database for reading (the dashboard, notebooks).

Each call opens the file afresh: an in-memory DuckDB that attaches the
serving file read-only. A new publish (a rename over the file) is therefore
seen by the next call, while a connection already open keeps its snapshot;
no in-process cache of DuckDB instances can hand back the old file.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from shoplens.serving.errors import ServingError
from shoplens.serving.paths import serving_path


def open_serving(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection whose default catalog is the serving database.

    Queries name tables as BI users do: ``marts.customer_rfm``,
    ``predictions.pred_customer_ltv``, ``quality.rejected_rows``, ``_publication``.
    """
    path = Path(path) if path else serving_path()
    if not path.exists():
        raise ServingError(f"no serving database at {path}: run `make build` (dbt build, then publish)")
    con = duckdb.connect(":memory:", config={"threads": int(os.environ.get("SHOPLENS_THREADS", "2"))})
    con.execute(f"attach '{str(path).replace(chr(39), chr(39) * 2)}' as serving (read_only)")
    con.execute("use serving")
    return con


def fingerprint(path: Path | str | None = None) -> tuple[int, int, int]:
    """(inode, mtime ns, size) of the serving file: changes with every publish."""
    st = os.stat(Path(path) if path else serving_path())
    return st.st_ino, st.st_mtime_ns, st.st_size
