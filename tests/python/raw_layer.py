"""Test helper: build only the raw layer (base, staging, audit) of small exports, fast.

dbt parses the project once per :class:`RawLayer` (the slow part) and every
build after that reuses the parsed manifest in-process, so a test or a
property example costs a few seconds instead of a full ``dbt build``.
Each build writes its own ``warehouse.duckdb`` (the manifest was parsed for
that file name) in its own folder.
"""

from __future__ import annotations

import gc
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
# The models that type, judge and audit raw rows (no marts, no Python models).
RAW_LAYER = [
    "base_shop__orders", "base_shop__order_items", "base_shop__products",
    "base_shop__customers", "base_shop__events", "base_shop__calendar",
    "stg_shop__orders", "stg_shop__order_items", "stg_shop__products",
    "stg_shop__customers", "stg_shop__events", "stg_shop__calendar",
    "int_known_customers", "int_rejected_references", "audit_rejected_rows",
]
TABLES = ("orders", "order_items", "products", "customers", "events")


def write_files(folder: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (file name -> text, UTF-8) into ``folder`` (created): a small export."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@dataclass
class Outcome:
    """What one build left: success, the messages dbt printed, the warehouse file."""

    success: bool
    messages: list[str]
    db: Path
    error: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.messages) + "\n" + self.error

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.sql(sql).fetchall()

    def warned(self, test: str, count: int | None = None) -> bool:
        """Whether the data test ``test`` warned in this build (with ``count`` rows, when given)."""
        mark = "WARN" if count is None else f"WARN {count}"
        return any(test in m and mark in m for m in self.messages)


@contextmanager
def _env(**values: str | None):
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _release_connections() -> None:
    """dbt-duckdb keeps its DuckDB instance open; drop it so the file can be read. The
    profile's plugin capped BLAS in this (pytest's) process: undo it, so later tests and
    the processes they start keep their own setting."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    from shoplens.duckdb_plugin import undo_blas_limit

    DuckDBConnectionManager.close_all_connections()
    gc.collect()
    undo_blas_limit()


@dataclass
class RawLayer:
    """Parse once in ``work``, then build raw layers of many exports."""

    work: Path
    manifest: object = field(default=None, repr=False)

    def singular_sql(self, test: str) -> str:
        """The compiled query of the singular data test ``test`` (its failing rows), as the last
        build compiled it."""
        return (self.work / "target" / "compiled" / "shoplens" / "tests" / "singular" / f"{test}.sql").read_text(
            encoding="utf-8")

    def _common(self) -> list[str]:
        return [
            "--project-dir", str(REPO), "--profiles-dir", str(REPO),
            "--target-path", str(self.work / "target"), "--log-path", str(self.work / "logs"),
        ]

    def parse(self) -> RawLayer:
        from dbt.cli.main import dbtRunner

        self.work.mkdir(parents=True, exist_ok=True)
        with _env(DUCKDB_PATH=str(self.work / "parse" / "warehouse.duckdb")):
            result = dbtRunner().invoke(["parse", "--quiet", *self._common()])
        if not result.success:
            raise RuntimeError(f"dbt parse failed: {result.exception}")
        self.manifest = result.result
        return self

    def run(
        self,
        raw_dir: Path,
        out_dir: Path,
        variables: dict | None = None,
        command: str = "run",
        select: list[str] | None = None,
        env: dict[str, str | None] | None = None,
        unit_tests: bool = True,
    ) -> Outcome:
        """``dbt <command>`` of the raw layer (or ``select``) on ``raw_dir`` into ``out_dir``;
        ``unit_tests=False`` leaves out the selected models' unit tests (they assume the
        default vars)."""
        from dbt.cli.main import dbtRunner

        if self.manifest is None:
            self.parse()
        out_dir.mkdir(parents=True, exist_ok=True)
        db = out_dir / "warehouse.duckdb"
        messages: list[str] = []

        def collect(event) -> None:
            msg = getattr(event.info, "msg", "")
            if msg and event.info.level != "debug":
                messages.append(str(msg))

        args = [
            command, "--quiet", *self._common(), "--select", *(select or RAW_LAYER),
            "--vars", json.dumps({"raw_data_dir": str(raw_dir), **(variables or {})}),
        ]
        if command == "build" and (select is None or not unit_tests):
            args += ["--exclude-resource-type", "unit_test"]
        if command == "build" and select is not None:
            # only the tests whose parents are all built: a data test that also reads a later
            # model (session_days_count_each_event_once) is not this build's to run
            args += ["--indirect-selection", "cautious"]
        with _env(DUCKDB_PATH=str(db), **(env or {})):
            try:
                result = dbtRunner(manifest=self.manifest, callbacks=[collect]).invoke(args)
            finally:
                _release_connections()
        error = str(result.exception or "")
        if result.result is not None and not result.success:
            for r in result.result:
                if getattr(r, "message", None) and str(r.status) in ("error", "fail"):
                    error += f"\n{r.node.name}: {r.message}"
        return Outcome(bool(result.success), messages, db, error)


_SHARED: dict[str, RawLayer] = {}


def shared_raw_layer() -> RawLayer:
    """One parsed project per test session, shared by every test module that builds raw layers."""
    if "layer" not in _SHARED:
        import atexit
        import shutil
        import tempfile

        work = Path(tempfile.mkdtemp(prefix="shoplens-raw-layer-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
        _SHARED["layer"] = RawLayer(work).parse()
    return _SHARED["layer"]
