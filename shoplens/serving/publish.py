"""Publish the serving database: copy, check, then atomically replace.

``publish`` runs after a successful ``dbt build``. It writes a new DuckDB
file beside the serving database, copies every served table into it (tables
only, never views: a dbt view names the warehouse's catalog and would break
or leak a path), carries the dbt descriptions as ``COMMENT ON``, adds the
``_publication`` table, closes it, re-opens it read-only and checks it, and
only then renames it over the previous file. Any failure removes the new
file and leaves the previous serving database byte for byte as it was.

Readers never block a publish: the rename swaps the directory entry, so a
connection that has the old file open keeps reading the old (complete) file
and new connections open the new one. DuckDB's file lock only concerns
writers of the *same* file, and nobody but this function writes a serving
file (its temporary name is private to this process).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from shoplens.serving.catalog import SCHEMAS, ServedTable, load_manifest, served_tables
from shoplens.serving.checks import PUBLICATION_TABLE, check
from shoplens.serving.duck import attach_warehouse as _attach_warehouse
from shoplens.serving.duck import connect as _connect
from shoplens.serving.duck import literal as _literal
from shoplens.serving.duck import quote as _quote
from shoplens.serving.errors import ServingError

OK_STATUSES = {"success", "pass", "warn", "no-op"}


@dataclass(frozen=True)
class RunInfo:
    """The dbt invocation a publication comes from (target/run_results.json)."""

    invocation_id: str
    command: str
    built_at: dt.datetime  # when dbt finished (UTC)
    elapsed_s: float
    dbt_version: str


@dataclass(frozen=True)
class Publication:
    """What a publish did: where, which tables, how long."""

    path: Path
    publication_id: str
    tables: dict[str, int]  # schema.name -> rows
    skipped: list[str]  # optional tables absent from the warehouse
    seconds: float


def read_run(target_path: Path) -> RunInfo:
    """The last dbt invocation, refused unless it was a fully successful ``dbt build``."""
    path = Path(target_path) / "run_results.json"
    if not path.exists():
        raise ServingError(f"no {path}: run `dbt build` first; nothing published")
    data = json.loads(path.read_text())
    command = data.get("args", {}).get("which", "")
    if command != "build":
        raise ServingError(
            f"the last dbt command in {path.parent} was `dbt {command}`, not `dbt build`: "
            "publish right after a successful dbt build; nothing published"
        )
    bad = [r for r in data.get("results", []) if r.get("status") not in OK_STATUSES]
    if bad:
        names = ", ".join(f"{r['unique_id'].split('.')[-1]} ({r['status']})" for r in bad[:5])
        raise ServingError(f"the last dbt build did not succeed: {len(bad)} node(s) failed or were skipped: {names}; nothing published")
    meta = data.get("metadata", {})
    manifest = Path(target_path) / "manifest.json"
    if manifest.exists():
        last = json.loads(manifest.read_text()).get("metadata", {}).get("invocation_id")
        if last and last != meta.get("invocation_id"):
            raise ServingError(
                f"the last dbt invocation ({last}) wrote no run results: it failed before running "
                "(e.g. a missing raw file or column); nothing published"
            )
    built_at = dt.datetime.fromisoformat(meta.get("generated_at", "").replace("Z", "+00:00"))
    return RunInfo(
        invocation_id=meta.get("invocation_id", ""),
        command=command,
        built_at=built_at.astimezone(dt.UTC).replace(tzinfo=None),
        elapsed_s=float(data.get("elapsed_time", 0.0)),
        dbt_version=meta.get("dbt_version", ""),
    )


def project_version(project_dir: Path) -> str:
    """``version`` from dbt_project.yml."""
    return str(yaml.safe_load((Path(project_dir) / "dbt_project.yml").read_text()).get("version", ""))


@contextlib.contextmanager
def _publish_lock(serving: Path) -> Iterator[None]:
    """One publish at a time per serving file (a lock file beside it)."""
    lock_path = serving.with_name(serving.name + ".lock")
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _source_columns(con, alias: str) -> dict[str, list[tuple[str, str, bool]]]:
    """Every warehouse relation's (column, type, nullable), by relation name."""
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, dtype, nullable in con.execute(
        "select table_name, column_name, data_type, is_nullable from duckdb_columns() "
        f"where database_name = {_literal(alias)} and schema_name = 'main' order by table_name, column_index"
    ).fetchall():
        out.setdefault(table, []).append((column, dtype, nullable))
    return out


def _write(tmp: Path, warehouse: Path, tables: list[ServedTable], run: RunInfo, version: str) -> tuple[str, dict, list]:
    """Create the new serving file at ``tmp``; returns (publication id, rows per table, skipped)."""
    publication_id = str(uuid.uuid4())
    rows: dict[str, int] = {}
    skipped: list[str] = []
    con = _connect(tmp)
    try:
        alias = _attach_warehouse(con, warehouse)
        source_columns = _source_columns(con, alias)
        # One transaction: one commit for the whole file instead of one per statement.
        con.execute("begin transaction")
        for schema in SCHEMAS:
            con.execute(f"create schema {_quote(schema)}")
        for table in tables:
            columns = source_columns.get(table.source, [])
            if not columns:
                if table.required:
                    raise ServingError(f"expected table {table.source} (served as {table.qualified}) is not in the warehouse {warehouse}")
                skipped.append(table.qualified)
                continue
            target = f"{_quote(table.schema)}.{_quote(table.name)}"
            ddl = ", ".join(f"{_quote(c)} {t}{'' if n else ' not null'}" for c, t, n in columns)
            con.execute(f"create table {target} ({ddl})")
            con.execute(f"insert into {target} select * from {_quote(alias)}.main.{_quote(table.source)}")
            if table.description:
                con.execute(f"comment on table {target} is {_literal(table.description)}")
            for column, _, _ in columns:
                text = table.columns.get(column)
                if text:
                    con.execute(f"comment on column {target}.{_quote(column)} is {_literal(text)}")
            rows[table.qualified] = con.execute(f"select count(*) from {target}").fetchone()[0]
        as_of = None
        if "as_of" in source_columns:
            as_of = con.execute(f"select max(as_of_date) from {_quote(alias)}.main.as_of").fetchone()[0]
        _write_publication(con, publication_id, rows, tables, as_of, run, version)
        con.execute("commit")
        con.execute(f"detach {_quote(alias)}")
        con.execute("checkpoint")
    finally:
        con.close()
    return publication_id, rows, skipped


def _write_publication(con, publication_id, rows, tables, as_of, run: RunInfo, version: str) -> None:
    sources = {t.qualified: t.source for t in tables}
    con.execute(
        f"""create table main.{PUBLICATION_TABLE} (
            publication_id varchar not null, published_at timestamp not null,
            schema_name varchar not null, table_name varchar not null, source_model varchar not null,
            row_count bigint not null, as_of_date date, built_at timestamp not null,
            build_seconds double not null, dbt_invocation_id varchar not null,
            dbt_version varchar not null, project_version varchar not null)"""
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.executemany(
        f"insert into main.{PUBLICATION_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [publication_id, now, q.split(".")[0], q.split(".")[1], sources[q], n, as_of,
             run.built_at, run.elapsed_s, run.invocation_id, run.dbt_version, version]
            for q, n in rows.items()
        ],
    )
    con.execute(
        f"comment on table main.{PUBLICATION_TABLE} is "
        + _literal("One row per served table of this publication: its row count, the data's as_of_date, "
                   "when dbt built it (UTC), the dbt invocation id and the project version.")
    )


def publish(
    warehouse: Path,
    serving: Path,
    target_path: Path,
    project_dir: Path = Path("."),
) -> Publication:
    """Publish the serving database from a built warehouse (see the module docstring).

    Raises ServingError (the previous serving file untouched) when the last
    dbt build did not succeed, a served table is missing, or a check fails.
    """
    start = time.perf_counter()
    warehouse, serving = Path(warehouse).resolve(), Path(serving).resolve()
    if warehouse == serving:
        raise ServingError(f"the serving database must not be the warehouse itself ({warehouse})")
    run = read_run(target_path)
    tables = served_tables(load_manifest(target_path))
    version = project_version(project_dir)
    serving.parent.mkdir(parents=True, exist_ok=True)
    with _publish_lock(serving):
        tmp = serving.with_name(f".{serving.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.duckdb")
        try:
            publication_id, rows, skipped = _write(tmp, warehouse, tables, run, version)
            check(tmp, warehouse, tables, rows)
            _fsync(tmp)
            os.replace(tmp, serving)
            _fsync(serving.parent)
        except ServingError:
            _remove(tmp)
            raise
        except (duckdb.Error, OSError) as exc:
            _remove(tmp)
            raise ServingError(f"publish failed: {exc}") from exc
        finally:
            _remove(tmp)
    return Publication(serving, publication_id, rows, skipped, time.perf_counter() - start)


def current_publication(serving: Path) -> dict | None:
    """The served publication's id, time and table count, or None when there is none."""
    if not Path(serving).exists():
        return None
    with duckdb.connect(str(serving), read_only=True) as con:
        row = con.execute(
            f"select publication_id, max(published_at), max(as_of_date), count(*) from main.{PUBLICATION_TABLE} group by 1"
        ).fetchone()
    return None if row is None else {"publication_id": row[0], "published_at": row[1], "as_of_date": row[2], "tables": row[3]}
