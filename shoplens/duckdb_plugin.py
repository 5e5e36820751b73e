"""dbt-duckdb plugin of the project (profiles.yml: ``plugins: [{module: shoplens.duckdb_plugin}]``).

It gives the build what SQL text must not carry or cannot know, as DuckDB
functions registered on every connection:

* ``shoplens_pii_salt()``: the salt of the PII hashes, read from the
  environment variable ``SHOPLENS_PII_SALT`` when a query runs (NULL when the
  variable is unset or empty). The salt therefore never appears in compiled
  SQL, ``target/``, the logs or the docs.
* ``shoplens_text_problem(path, encoding)``: NULL when the file decodes
  with ``encoding``, else a short description of the first bad byte (offset
  and line), so a wrongly encoded CSV stops the build with a message that
  names the file.
* ``shoplens_utf8_copy(path, encoding, warehouse)``: the path of a private UTF-8
  copy of a CSV file in another encoding (beside the warehouse, in
  ``<warehouse>.raw_utf8/``; rewritten only when the source changes), which
  DuckDB then reads: its own reader knows only UTF-8, UTF-16 and a latin-1
  that refuses the bytes a Windows (cp1252) export uses for quotes, dashes and
  the euro sign; Python's codecs know them all.
* ``shoplens_list_files(folder)``: the names of the files in a folder (no
  glob patterns, so brackets or stars in a folder name are just characters).
* ``shoplens_abspath(path, base)``: ``path`` made absolute, relative to
  ``base`` (itself taken from the process's working directory when relative).
  The macro ``register_raw_tables`` uses it to resolve ``raw_data_dir`` from
  the project root, wherever dbt runs from.

Before dbt opens the warehouse, the plugin also checks that no other process
holds the file: DuckDB allows one writer, and its lock error reaches the user
as a long traceback. :func:`lock_holder` turns it into one line naming the
process and the fix.

When dbt-duckdb sets up its DuckDB environment (before the first
connection), the plugin also caps the BLAS thread pools of the dbt process
(and of the processes it starts: the forecast's workers) at the profile's
``blas_threads`` (env ``SHOPLENS_BLAS_THREADS``, default 1; 0 leaves them
alone), unless the user set ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
``GOTO_NUM_THREADS`` or ``OMP_NUM_THREADS``: :func:`limit_blas_threads`.
With ``trim_memory_seconds`` above 0 (env ``SHOPLENS_TRIM_MEMORY_SECONDS``,
default 0: off) it also starts a thread that returns the C heap's free pages to
the system that often: :func:`trim_memory_every` (see :mod:`shoplens.memory`),
and it lets at most ``python_steps_at_once`` Python steps run at once (env
``SHOPLENS_PYTHON_STEPS_AT_ONCE``, default 0: no limit):
:func:`shoplens.memory.python_steps_at_once`. It hands the database to
:func:`shoplens.memory.hold_duckdb`, so the Python steps can drop the table blocks
DuckDB keeps cached (restoring the profile's ``memory_limit`` at once).
"""

from __future__ import annotations

import codecs
import os
import re
import threading
from typing import Any

import duckdb

SALT_ENV = "SHOPLENS_PII_SALT"
_LOCK = re.compile(r"Conflicting lock is held in (?P<process>.+?) \(PID (?P<pid>\d+)\)")


def pii_salt() -> str | None:
    """The salt from the environment, or None when it is unset or blank."""
    value = os.environ.get(SALT_ENV, "")
    return value if value.strip() else None


def abspath(path: str, base: str) -> str:
    """``path`` as an absolute, normalised path; a relative one is taken from ``base``."""
    return os.path.normpath(os.path.join(os.path.abspath(base), os.path.expanduser(path)))


def list_files(folder: str) -> list[str]:
    """Names of the regular files in ``folder`` (empty when it does not exist), sorted."""
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


_C1_BYTE = re.compile(rb"[\x80-\x9f]")


def _codec(encoding: str) -> str:
    """Python's codec for a ``raw_csv_encoding`` value (UTF-8 with or without a BOM)."""
    return {"utf-8": "utf-8-sig", "utf8": "utf-8-sig"}.get(encoding.lower().replace("_", "-"), encoding)


class _Undecodable(ValueError):
    """What is wrong with a file's encoding and where (:func:`text_problem`'s message)."""


def _decoded(path: str, encoding: str):
    """The text of the file at ``path`` (gzipped or not) decoded with ``encoding``, in
    chunks; raises :class:`_Undecodable` at the first problem.

    Latin-1 decodes every byte, but 0x80-0x9f are control characters in it: in a
    real export they are cp1252's quotes, dashes and euro sign (Excel on Windows),
    so a latin-1 file holding one is named with the byte and the fix."""
    import gzip

    codec = _codec(encoding)
    try:
        decoder = codecs.getincrementaldecoder(codec)(errors="strict")
        latin1 = codecs.lookup(codec).name == "iso8859-1"
    except LookupError:
        raise _Undecodable(f"encoding {encoding!r} is unknown (set the var raw_csv_encoding to utf-8, utf-16, "
                           "latin-1, cp1252 or another Python codec name)") from None
    offset, line = 0, 1
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        while chunk := f.read(1 << 22):
            c1 = _C1_BYTE.search(chunk) if latin1 else None
            if c1:
                line += chunk[: c1.start()].count(b"\n")
                raise _Undecodable(
                    f"has byte 0x{chunk[c1.start()]:02x} at byte {offset + c1.start()} (line {line}), a control"
                    f" character in {encoding}: a file saved on Windows is most likely cp1252 (set the var"
                    " raw_csv_encoding to cp1252)"
                )
            try:
                yield decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = offset + exc.start
                line += chunk[: exc.start].count(b"\n")
                raise _Undecodable(
                    f"is not valid {encoding}: byte 0x{chunk[exc.start]:02x} at byte {at} (line {line}); "
                    "save the file as UTF-8 or set the var raw_csv_encoding (utf-16, latin-1, cp1252, ...)"
                ) from None
            offset += len(chunk)
            line += chunk.count(b"\n")
    try:
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _Undecodable(f"is not valid {encoding}: the file ends in the middle of a character") from None


def text_problem(path: str, encoding: str) -> str | None:
    """None when the file at ``path`` decodes with ``encoding``, else what is wrong and where
    (:func:`_decoded`)."""
    try:
        for _ in _decoded(path, encoding):
            pass
    except _Undecodable as problem:
        return str(problem)
    return None


_TEMP_COPIES: dict[str, str] = {}  # this process's private folder for a warehouse without a file


def _private_folder(folder: str) -> str:
    """``folder`` created (mode 0700) or checked: a real directory of this user, not a
    link; anything else stops the copy (another user's folder or a planted link)."""
    import stat

    os.makedirs(folder, mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{folder} is not a folder of this user; remove it")
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


def _write_private(path: str, text_chunks) -> None:
    """Write the chunks to ``path`` through a new private file (0600, never following a
    link: ``.part`` is removed first and created exclusively), then move it into place."""
    part = path + ".part"
    try:
        os.unlink(part)
    except FileNotFoundError:
        pass
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
            for chunk in text_chunks:
                dst.write(chunk)
        os.replace(part, path)
    finally:
        if os.path.lexists(part):
            os.unlink(part)


def utf8_copy(path: str, encoding: str, warehouse: str | None) -> str:
    """A UTF-8 copy of ``path`` (a CSV file, gzipped or not, in ``encoding``), for DuckDB's
    reader: its path, or ``!`` and what is wrong when the file does not decode
    (:func:`text_problem`'s message).

    The copy is ``<warehouse>.raw_utf8/<table>.csv`` (``warehouse``: the database's
    file, from ``duckdb_databases()``), private to the user (folder 0700, file 0600:
    it holds the export's clear-text emails), or a private temporary folder of this
    process when the database has no file. A stamp beside it (the source's path, size,
    modification time and the encoding) saves the read and the write when the source
    is unchanged, so only the first invocation on a new export pays for them. Line
    breaks and bytes are kept as they are but for the encoding."""
    import json
    import tempfile

    if warehouse:
        folder = _private_folder(os.path.abspath(os.path.expanduser(warehouse)) + ".raw_utf8")
    else:
        if "folder" not in _TEMP_COPIES:
            import atexit
            import shutil

            _TEMP_COPIES["folder"] = tempfile.mkdtemp(prefix="shoplens_raw_utf8_")
            atexit.register(shutil.rmtree, _TEMP_COPIES["folder"], ignore_errors=True)
        folder = _TEMP_COPIES["folder"]
    name = os.path.basename(path)
    out = os.path.join(folder, name[:-3] if name.endswith(".gz") else name)
    source = os.stat(path)
    stamp = json.dumps({"source": os.path.abspath(path), "size": source.st_size,
                        "mtime_ns": source.st_mtime_ns, "encoding": encoding})
    try:
        with open(out + ".stamp", encoding="utf-8") as f:
            if f.read() == stamp and os.path.isfile(out):
                return out
    except FileNotFoundError:
        pass
    try:  # checked while it is written: one pass over the file
        _write_private(out, _decoded(path, encoding))
    except _Undecodable as problem:
        return "!" + str(problem)
    _write_private(out + ".stamp", [stamp])
    return out


BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Variables that, set by the user, mean "leave BLAS alone" (OpenBLAS also obeys the last two).
USER_BLAS_ENV = (*BLAS_ENV, "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
_applied: dict[str, object] = {}  # what limit_blas_threads set in this process: env values and the limiter


def limit_blas_threads(threads: object) -> bool:
    """Cap the BLAS libraries' thread pools at ``threads`` (0: leave them); True when it did.

    dbt runs ``threads`` nodes at once, each a DuckDB query or a Python step
    with its own threads (DuckDB, TensorFlow, implicit's ALS); OpenBLAS's pool
    on top of them, one thread per core, oversubscribes the cores and its
    idle threads spin after each call. At a million customers the propensity
    step alone took 91.7 CPU-s with the pool and 79.7 with one thread, and ran
    faster (80.1 -> 75.9 s wall); implicit recommends the same setting.
    A user's own ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
    ``GOTO_NUM_THREADS`` or ``OMP_NUM_THREADS`` wins. The environment covers
    libraries loaded later and child processes; threadpoolctl the ones already
    loaded. A later call in the same process (dbt run twice in one Python)
    replaces this call's cap, and 0 undoes it.
    """
    try:
        n = int(str(threads).strip())
    except ValueError:
        n = -1
    if n < 0:
        raise ValueError(f"profiles.yml: plugin shoplens.duckdb_plugin config blas_threads must be an integer >= 0"
                         f" (env SHOPLENS_BLAS_THREADS), got {threads!r}")
    ours = _applied.get("env", {})
    if any(os.environ.get(var) and os.environ.get(var) != ours.get(var) for var in USER_BLAS_ENV):
        return False
    undo_blas_limit()
    if n == 0:
        return False
    from threadpoolctl import threadpool_limits

    _applied["env"] = {var: str(n) for var in BLAS_ENV}
    os.environ.update(_applied["env"])
    _applied["limiter"] = threadpool_limits(limits=n, user_api="blas")
    return True


def undo_blas_limit() -> None:
    """Remove what an earlier :func:`limit_blas_threads` set (environment and pool sizes)."""
    for var, value in _applied.pop("env", {}).items():
        if os.environ.get(var) == value:
            os.environ.pop(var)
    limiter = _applied.pop("limiter", None)
    if limiter is not None:
        limiter.restore_original_limits()


class _Trimmer:
    """A daemon thread that hands the C heap's free pages back to the system every few seconds."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.seconds = 0.0
        self.wake = threading.Event()

    def run(self, trim) -> None:
        while self.seconds > 0:
            self.wake.wait(self.seconds)
            self.wake.clear()
            if self.seconds > 0:
                trim(0)


_trimmer = _Trimmer()


def trim_memory_every(seconds: object) -> bool:
    """Return the C heap's free pages to the system every ``seconds`` (0: stop); True when running.

    Off by default (``trim_memory_seconds`` 0): the pipeline entry points already
    trim once when they return (:mod:`shoplens.memory`), and trimming during a step
    makes it fault the same pages in again (the 1M propensity step: +5.8 s of 78 s
    for 0.09 GiB less at its peak). Only where the C library has ``malloc_trim``
    (glibc); elsewhere nothing happens. A later call replaces the interval.
    """
    try:
        value = float(str(seconds).strip())
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError("profiles.yml: plugin shoplens.duckdb_plugin config trim_memory_seconds must be a finite"
                         f" number >= 0 (env SHOPLENS_TRIM_MEMORY_SECONDS), got {seconds!r}")
    from shoplens.memory import malloc_trim

    trim = malloc_trim()
    _trimmer.seconds = value if trim is not None else 0.0
    _trimmer.wake.set()
    if _trimmer.seconds > 0 and not (_trimmer.thread and _trimmer.thread.is_alive()):
        _trimmer.thread = threading.Thread(target=_trimmer.run, args=(trim,), name="shoplens-trim", daemon=True)
        _trimmer.thread.start()
    return _trimmer.seconds > 0


def lock_holder(db_path: str) -> str | None:
    """One line naming the process that holds ``db_path`` and the fix, or None when it is free.

    Opens the file read-write for an instant, which is what dbt is about to do.
    """
    if db_path in ("", ":memory:") or not os.path.exists(db_path):
        return None
    try:
        duckdb.connect(db_path).close()
    except duckdb.IOException as exc:
        found = _LOCK.search(str(exc))
        if found is None:
            return None
        return (
            f"shoplens: the warehouse {db_path} is open in another process "
            f"({found['process']}, PID {found['pid']}); close that connection "
            "(or stop the process), or point BI tools at the serving database or a copy, "
            "then build again"
        )
    return None


def memory_limit_of(config: dict[str, Any] | None) -> str | None:
    """The DuckDB memory limit a settings or config dict sets (``memory_limit`` or its alias
    ``max_memory``, any case), or None."""
    for key, value in (config or {}).items():
        if str(key).lower() in ("memory_limit", "max_memory") and value not in (None, ""):
            return str(value)
    return None


def _plugin_class() -> type:
    """dbt-duckdb's plugin class (``Plugin``), built on first use: importing dbt costs ~2 s
    of CPU that the functions alone do not need (SQLMesh's connections register them
    through ``_register`` on every plan, sqlmesh_project/engine.py)."""
    try:  # the plugin base class is only importable where dbt-duckdb is installed
        from dbt.adapters.duckdb.plugins import BasePlugin
    except ImportError:  # pragma: no cover - shoplens used without dbt
        BasePlugin = object  # type: ignore[assignment,misc]

    class Plugin(BasePlugin):  # type: ignore[misc,valid-type]
        """Registers the project's functions on each DuckDB connection dbt opens."""

        def initialize(self, plugin_config: dict[str, Any]) -> None:
            limit_blas_threads(plugin_config.get("blas_threads", 1))
            trim_memory_every(plugin_config.get("trim_memory_seconds", 0))
            from shoplens.memory import python_steps_at_once

            python_steps_at_once(plugin_config.get("python_steps_at_once", 0))
            # the profile's settings come along with the plugin's own config
            self._memory_limit = memory_limit_of(getattr(self, "creds", None) and self.creds.settings) \
                or memory_limit_of(plugin_config)

        def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
            if not getattr(self, "_memory_limit", None):  # set in config_options instead of settings
                self._memory_limit = memory_limit_of(config)
            message = lock_holder(str(creds.path))
            if message:
                from dbt_common.exceptions import DbtRuntimeError

                raise DbtRuntimeError(message)

        def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
            _register(conn)
            from shoplens.memory import hold_duckdb

            hold_duckdb(conn, getattr(self, "_memory_limit", None))  # lets the steps drop DuckDB's cache

        def configure_cursor(self, cursor: duckdb.DuckDBPyConnection) -> None:
            _register(cursor)

    Plugin.__module__, Plugin.__qualname__ = __name__, "Plugin"
    return Plugin


def __getattr__(name: str) -> Any:
    """``Plugin`` (what dbt-duckdb looks up by name), made once by ``_plugin_class``."""
    if name == "Plugin":
        globals()["Plugin"] = plugin = _plugin_class()
        return plugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register(conn: duckdb.DuckDBPyConnection) -> None:
    for name, func, params, returns in (
        ("shoplens_pii_salt", pii_salt, [], "VARCHAR"),
        ("shoplens_abspath", abspath, ["VARCHAR", "VARCHAR"], "VARCHAR"),
        ("shoplens_text_problem", text_problem, ["VARCHAR", "VARCHAR"], "VARCHAR"),
        ("shoplens_list_files", list_files, ["VARCHAR"], "VARCHAR[]"),
        ("shoplens_utf8_copy", utf8_copy, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
    ):
        try:
            conn.create_function(
                name, func, params, returns, null_handling="special", side_effects=func is utf8_copy
            )
        except duckdb.CatalogException:
            pass  # already registered on this database instance
