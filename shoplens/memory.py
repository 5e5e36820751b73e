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
"""

from __future__ import annotations

import functools
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


def trim_heap() -> bool:
    """Return the C heap's free pages to the system now, and the free memory Arrow's pool
    keeps (mimalloc) when pyarrow is loaded; False where the C heap cannot be trimmed."""
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
            return fn(*args, **kwargs)
        finally:
            _depth.n = depth
            if depth == 0:
                trim_heap()
            if gate is not None:
                gate.release()

    return wrapper  # type: ignore[return-value]
