"""Handing memory the Python steps freed back to the system (glibc's ``malloc_trim``).

dbt-duckdb runs every Python step in the dbt process. glibc keeps freed blocks
below its mmap threshold (up to 32 MB each) in per-thread arenas for reuse, and
dbt's threads, DuckDB's and TensorFlow's each have their own, so what one step
freed stays resident while the next step, on another thread, allocates beside
it. Reading the recommendation inputs of a 1M-customer shop and deleting them
left 0.87 GiB resident, of which ``malloc_trim(0)`` returned 0.49 GiB.

The pipeline entry points the dbt models call trim once when they return
(:func:`returns_freed_memory`): the step's intermediates are gone by then and
only its result is alive. Trimming every few seconds during a step instead (the
plugin's ``trim_memory_seconds``) makes the step fault the same pages in again:
on the 1M propensity step it cost 5.8 s of 78 s and lowered its peak by 0.09 GiB.

The same entry points can also take turns (:func:`python_steps_at_once`; the
plugin's ``python_steps_at_once``, env ``SHOPLENS_PYTHON_STEPS_AT_ONCE``, default
0: no limit). They are the large steps: CLV predictions and evaluation, the
forecast and its evaluation, propensity scores and evaluation, recommendations,
profiles and the recommendation evaluation. With 1, such a step waits while
another runs in the process, so two of them never add up their memory, and the
build takes longer (dbt's thread waits instead of running the step beside the
other; dbt counts the wait in the node's time).

DuckDB keeps the blocks of the tables it has read or written cached, up to its
``memory_limit``, and gives them back only when it needs the room: through the
Python half of a 1M-customer build it held 1.2-1.75 GiB of table blocks no query
was using, beside the steps' own memory. :func:`trim_heap` also drops those
(:func:`release_duckdb_cache`) when the plugin has handed the database over
(:func:`hold_duckdb`): DuckDB frees unused blocks when its limit is lowered, so
the limit goes down to what the running queries hold plus a headroom, and at
once back to the profile's value.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


@functools.cache
def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


CACHE_TAG = "BASE_TABLE"  # duckdb_memory(): blocks of stored tables (cached, evictable)
RELEASE_HEADROOM = 512 * 2**20  # room left above the running queries' memory while the limit is low
RELEASE_MIN_CACHE = 256 * 2**20  # less cached than this is not worth lowering the limit for
RELEASE_BUSY = 512 * 2**20  # more than this in use by queries: one is running, the cache is left alone
_duckdb: dict = {"cursor": None, "limit": None}
_duckdb_lock = threading.Lock()


def hold_duckdb(connection, memory_limit: object = None) -> None:
    """Let :func:`release_duckdb_cache` drop the cached table blocks of ``connection``'s
    database (a cursor of its own is kept; None forgets it). ``memory_limit`` is the limit
    to restore (the profile's setting, as DuckDB accepted it); None restores DuckDB's default
    (``reset memory_limit``: DuckDB shows a limit rounded, so it cannot be read back exactly)."""
    with _duckdb_lock:
        if connection is None:
            _duckdb.update(cursor=None, limit=None)
            return
        limit = str(memory_limit).strip() if memory_limit not in (None, "") else None
        _duckdb.update(cursor=connection.cursor(), limit=limit)


_SHOWN_UNITS = {"bytes": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}


def _shown_bytes(text: str) -> int | None:
    """A size as DuckDB shows it (``current_setting('memory_limit')``: ``2.7 GiB``,
    ``117.7 MiB``, ``16383.9 PiB`` for no limit) in bytes; None when it is not of that form."""
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*", str(text))
    if found is None or found[2].lower() not in _SHOWN_UNITS:
        return None
    return int(float(found[1]) * _SHOWN_UNITS[found[2].lower()])


def release_duckdb_cache() -> int | None:
    """Drop the table blocks DuckDB keeps cached that no running query uses; returns the
    bytes of cached blocks freed, or None when nothing was tried: no database held (or it
    was closed), less than :data:`RELEASE_MIN_CACHE` cached, a query running (more than
    :data:`RELEASE_BUSY` in use by queries), or anything unexpected (best effort: a step
    never fails here).

    The limit is lowered to the memory the queries hold now (every tag of
    ``duckdb_memory()`` but the cached tables) plus :data:`RELEASE_HEADROOM`, so a query
    starting beside it has room to grow for the instant the limit is low; when DuckDB
    cannot free enough it refuses the new limit (after freeing what it could). The
    limit is set back at once, whatever happened."""
    try:
        with _duckdb_lock:
            return _release_locked()
    except Exception:  # noqa: BLE001 - releasing memory is never worth failing a step for
        return None


def _release_locked() -> int | None:
    import duckdb

    cursor, limit = _duckdb["cursor"], _duckdb["limit"]
    if cursor is None:
        return None

    def usage() -> tuple[int, int]:
        rows = cursor.execute("select tag, memory_usage_bytes from duckdb_memory()").fetchall()
        return (sum(n for tag, n in rows if tag == CACHE_TAG), sum(n for tag, n in rows if tag != CACHE_TAG))

    try:
        cached, used = usage()
    except duckdb.Error:  # the database was closed (a finished dbt invocation): forget it
        _duckdb.update(cursor=None, limit=None)
        return None
    low = used + RELEASE_HEADROOM
    now = _shown_bytes(cursor.execute("select current_setting('memory_limit')").fetchone()[0])
    if cached < RELEASE_MIN_CACHE or used > RELEASE_BUSY or now is None or low >= now:
        return None
    try:
        cursor.execute(f"set memory_limit = '{low}B'")
    except duckdb.OutOfMemoryException:
        pass  # the running queries grew meanwhile: what could be freed is freed
    finally:
        cursor.execute(f"set memory_limit = '{limit}'" if limit else "reset memory_limit")
    return max(0, cached - usage()[0])


def trim_heap() -> bool:
    """Return the C heap's free pages to the system now, the free memory Arrow's pool
    keeps (mimalloc) when pyarrow is loaded, and DuckDB's cached table blocks when a
    database is held (:func:`release_duckdb_cache`, which never raises); False where the
    C heap cannot be trimmed."""
    release_duckdb_cache()
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


_turns: dict[str, threading.Semaphore | None] = {"gate": None}
_depth = threading.local()  # entry points called inside another take no turn of their own


def python_steps_at_once(n: object) -> int:
    """How many pipeline entry points may run at once in this process (0: no limit); returns it.

    Set before the steps start (the dbt plugin does it when dbt sets up DuckDB);
    a step already waiting keeps the gate it waits on."""
    try:
        value = int(str(n).strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError("profiles.yml: plugin shoplens.duckdb_plugin config python_steps_at_once must be an integer"
                         f" >= 0 (env SHOPLENS_PYTHON_STEPS_AT_ONCE), got {n!r}")
    _turns["gate"] = threading.Semaphore(value) if value else None
    return value


def returns_freed_memory(fn: F) -> F:
    """``fn``, taking its turn (:func:`python_steps_at_once`) and trimming the heap after it
    returns (its intermediates are freed by then)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        depth = getattr(_depth, "n", 0)
        gate = _turns["gate"] if depth == 0 else None
        if gate is not None:
            gate.acquire()
        _depth.n = depth + 1
        try:
            if depth == 0:
                release_duckdb_cache()  # the blocks the SQL before it cached: the step reads what it needs
            return fn(*args, **kwargs)
        finally:
            _depth.n = depth
            try:
                if depth == 0:
                    trim_heap()
            finally:
                if gate is not None:
                    gate.release()  # also when trimming failed: the next step must not wait forever

    return wrapper  # type: ignore[return-value]
