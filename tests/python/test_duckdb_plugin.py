"""The dbt-duckdb plugin's BLAS thread cap (limit_blas_threads) and heap trimming (trim_memory_every)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import pytest

from shoplens.duckdb_plugin import USER_BLAS_ENV, limit_blas_threads

PROBE = """
import json, sys
import numpy  # BLAS loaded before the cap: threadpoolctl must reach it
from threadpoolctl import threadpool_info
from shoplens.duckdb_plugin import limit_blas_threads
done = limit_blas_threads(sys.argv[1])
import scipy.linalg  # scipy's own OpenBLAS, loaded after the cap: the environment reaches it
import os
print(json.dumps({"done": done, "env": os.environ.get("OPENBLAS_NUM_THREADS"),
                  "threads": sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})}))
"""


def _probe(value: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in USER_BLAS_ENV}
    out = subprocess.run([sys.executable, "-c", PROBE, value], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_caps_loaded_and_later_blas_pools():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the pools hold one thread anyway")
    free = _probe("0")
    assert free["done"] is False and free["env"] is None and max(free["threads"]) > 1
    capped = _probe("1")
    assert capped == {"done": True, "env": "1", "threads": [1]}


def test_a_users_own_setting_wins():
    kept = _probe("1", OPENBLAS_NUM_THREADS="2")
    assert kept["done"] is False and kept["env"] == "2"
    assert _probe("1", OMP_NUM_THREADS="2")["done"] is False  # OpenBLAS obeys it too


def test_a_second_call_replaces_the_first_and_zero_undoes_it():
    """dbt run twice in one Python process (the raw-layer tests do): the second profile's
    value applies, although the first call's environment is still there."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the pools hold one thread anyway")
    script = PROBE.replace("done = limit_blas_threads(sys.argv[1])",
                           "limit_blas_threads('1'); done = limit_blas_threads(sys.argv[1])")
    clean = {k: v for k, v in os.environ.items() if k not in USER_BLAS_ENV}
    for value, env, threads in (("2", "2", [2]), ("0", None, None)):
        out = subprocess.run([sys.executable, "-c", script, value], env=clean, capture_output=True,
                             text=True, check=True)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got["env"] == env
        if threads:
            assert got["done"] is True and got["threads"] == threads
        else:
            assert got["done"] is False and max(got["threads"]) > 1


def test_positions_of_categorical_ids_with_nulls_and_no_categories():
    import numpy as np
    import pandas as pd

    from shoplens.inputs import positions_in

    index = pd.Index(["a", "b", "c"])
    values = pd.Series(["c", None, "x", "a"], dtype="category")
    np.testing.assert_array_equal(positions_in(values, index), [2, -1, -1, 0])
    np.testing.assert_array_equal(positions_in(values.astype(object), index), [2, -1, -1, 0])
    empty = pd.Series(pd.Categorical([None, None], categories=[]))
    np.testing.assert_array_equal(positions_in(empty, index), [-1, -1])


def test_a_bad_value_names_the_setting():
    with pytest.raises(ValueError, match="blas_threads must be an integer >= 0"):
        limit_blas_threads("two")
    with pytest.raises(ValueError, match="SHOPLENS_BLAS_THREADS"):
        limit_blas_threads(-1)


TRIM_PROBE = """
import json, sys, time
import numpy as np
from shoplens.duckdb_plugin import trim_memory_every

def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20

blocks = [np.ones(12_000) for _ in range(20_000)]  # 96 KB blocks, 1.8 GiB: below the mmap threshold
del blocks[::2]  # freed blocks below the mmap threshold stay in the heap
before = rss()
running = trim_memory_every(sys.argv[1])
time.sleep(0.6)
print(json.dumps({"running": running, "before": before, "after": rss()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_the_trimmer_hands_freed_heap_pages_back() -> None:
    def probe(seconds: str) -> dict:
        out = subprocess.run([sys.executable, "-c", TRIM_PROBE, seconds], capture_output=True, text=True,
                             check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    on, off = probe("0.1"), probe("0")
    assert on["running"] and not off["running"]
    assert on["before"] - on["after"] > 500  # MiB: about half of the ~1.8 GiB of 96 KB blocks was freed
    assert abs(off["before"] - off["after"]) < 50


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_the_trimmer_stops_and_rejects_bad_values() -> None:
    from shoplens import duckdb_plugin

    assert duckdb_plugin.trim_memory_every("0.05")
    thread = duckdb_plugin._trimmer.thread
    assert duckdb_plugin.trim_memory_every(0.2) and duckdb_plugin._trimmer.thread is thread  # one thread
    assert not duckdb_plugin.trim_memory_every("0")
    thread.join(timeout=2)
    assert not thread.is_alive()
    with pytest.raises(ValueError, match="trim_memory_seconds.*SHOPLENS_TRIM_MEMORY_SECONDS"):
        duckdb_plugin.trim_memory_every("often")
    for bad in (-1, "nan", "inf"):
        with pytest.raises(ValueError, match="trim_memory_seconds"):
            duckdb_plugin.trim_memory_every(bad)


def test_pipeline_entry_points_trim_the_heap_when_they_return(monkeypatch) -> None:
    from shoplens import memory
    from shoplens.propensity import pipeline as propensity
    from shoplens.recommend import pipeline as recommend

    calls = []
    monkeypatch.setattr(memory, "trim_heap", lambda: calls.append(1) or True)

    @memory.returns_freed_memory
    def step(x):
        if x is None:
            raise ValueError("bad input")
        return x + 1

    assert step(1) == 2 and calls == [1]
    with pytest.raises(ValueError, match="bad input"):
        step(None)
    assert calls == [1, 1]  # also when the step fails
    assert propensity.build_scores.__wrapped__ and recommend.build_recommendations.__name__ == "build_recommendations"
    monkeypatch.undo()
    assert memory.trim_heap() is (memory.malloc_trim() is not None)
    released = []

    class Pool:
        def release_unused(self) -> None:
            released.append(1)

    monkeypatch.setitem(sys.modules, "pyarrow", types.SimpleNamespace(default_memory_pool=Pool))
    memory.trim_heap()
    assert released == [1]  # Arrow's pool (mimalloc) keeps freed memory too


def test_python_steps_take_turns_when_limited() -> None:
    """python_steps_at_once(1): two steps on two threads never overlap, a step called inside
    another takes no second turn (no deadlock), and 0 lifts the limit."""
    import threading
    import time

    from shoplens import memory

    running, overlaps = [], []
    together = threading.Barrier(2, timeout=10)  # without a limit both steps must be inside at once

    @memory.returns_freed_memory
    def inner():
        return 1

    @memory.returns_freed_memory
    def step(meet: bool):
        running.append(1)
        overlaps.append(len(running))
        if meet:
            together.wait()
        else:
            time.sleep(0.2)
        value = inner()  # nested: runs inside this step's turn
        running.pop()
        return value

    def both(meet: bool) -> list[int]:
        overlaps.clear()
        threads = [threading.Thread(target=step, args=(meet,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
        assert not any(t.is_alive() for t in threads)
        return sorted(overlaps)

    try:
        assert memory.python_steps_at_once("1") == 1
        assert both(meet=False) == [1, 1]
        assert memory.python_steps_at_once(0) == 0
        assert both(meet=True) == [1, 2] and not together.broken
    finally:
        memory.python_steps_at_once(0)
    with pytest.raises(ValueError, match="python_steps_at_once.*SHOPLENS_PYTHON_STEPS_AT_ONCE"):
        memory.python_steps_at_once("two")


def _cached(con) -> int:
    return con.execute("select memory_usage_bytes from duckdb_memory() where tag = 'BASE_TABLE'").fetchone()[0]


def test_duckdb_cache_is_released_and_the_limit_restored(tmp_path, monkeypatch) -> None:
    """DuckDB keeps read table blocks up to its limit; release_duckdb_cache drops them and
    puts the limit back exactly, and does nothing without a held database or a cache."""
    import duckdb

    from shoplens import memory

    assert memory._shown_bytes("2.7 GiB") == int(2.7 * 2**30)
    assert memory._shown_bytes("117.7 MiB") == int(117.7 * 2**20)
    assert memory._shown_bytes("16383.9 PiB") == int(16383.9 * 2**50)  # DuckDB's "no limit"
    assert memory._shown_bytes("512 bytes") == 512
    assert [memory._shown_bytes(t) for t in ("lots", "3GB", "", "1.2.3 GiB")] == [None] * 4
    monkeypatch.setattr(memory, "RELEASE_MIN_CACHE", 8 * 2**20)
    monkeypatch.setattr(memory, "RELEASE_HEADROOM", 4 * 2**20)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("set memory_limit = '1GB'; set threads = 1")
    con.execute("create table t as select i, random() as x, md5(i::varchar) as s from range(3000000) r(i)")
    con.close()  # a fresh instance: nothing cached until read
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("set memory_limit = '1GB'")
    limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    memory.hold_duckdb(None)
    assert memory.release_duckdb_cache() is None  # nothing held
    try:
        memory.hold_duckdb(con, "1GB")
        assert memory.release_duckdb_cache() is None  # nothing cached yet
        assert con.execute("select sum(x), count(distinct s) from t").fetchone()[1] == 3_000_000
        before = _cached(con)
        assert before > 50 * 2**20
        freed = memory.release_duckdb_cache()
        assert freed > before * 3 / 4 and _cached(con) == before - freed
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == limit
        assert con.execute("select count(*) from t").fetchone()[0] == 3_000_000  # reads again
        default = duckdb.connect().execute("select current_setting('memory_limit')").fetchone()[0]
        memory.hold_duckdb(con, None)  # no profile value: DuckDB's default comes back
        con.execute("select sum(x), max(s) from t").fetchone()
        assert memory.release_duckdb_cache() > 0
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == default
        con.execute("set memory_limit = '1GB'")
        monkeypatch.setattr(memory, "RELEASE_HEADROOM", 2 * 2**30)  # over the limit: left alone
        con.execute("select sum(x), max(s) from t").fetchone()
        assert memory.release_duckdb_cache() is None and _cached(con) > 50 * 2**20
        monkeypatch.setattr(memory, "RELEASE_HEADROOM", 4 * 2**20)
        monkeypatch.setattr(memory, "RELEASE_BUSY", -1)  # as if a query were running: left alone
        assert memory.release_duckdb_cache() is None and _cached(con) > 50 * 2**20
        monkeypatch.setattr(memory, "RELEASE_BUSY", 512 * 2**20)
        con.execute("set memory_limit = '4G'")  # any spelling DuckDB takes: the shown size is read
        memory.hold_duckdb(con, "4G")
        assert memory.release_duckdb_cache() > 0
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == "3.7 GiB"
        con.execute("set memory_limit = '1GB'")
        con.close()
        assert memory.release_duckdb_cache() is None and memory._duckdb["cursor"] is None  # closed: forgotten
    finally:
        memory.hold_duckdb(None)


def test_the_plugin_hands_dbt_s_database_over_with_the_profile_limit(tmp_path) -> None:
    import duckdb

    from shoplens import duckdb_plugin, memory

    assert duckdb_plugin.memory_limit_of({"MEMORY_LIMIT": "2GB"}) == "2GB"
    assert duckdb_plugin.memory_limit_of({"max_memory": "1GB", "threads": 2}) == "1GB"
    assert duckdb_plugin.memory_limit_of({"threads": 2}) is None and duckdb_plugin.memory_limit_of(None) is None
    try:
        for k, (settings, config_options, want) in enumerate((
                ({"memory_limit": "1GB"}, {}, "1GB"),
                (None, {"max_memory": "2GB"}, "2GB"),  # set in config_options
                (None, {}, None))):  # DuckDB's default: reset
            con = duckdb.connect(str(tmp_path / f"p{k}.duckdb"))
            plugin = duckdb_plugin.Plugin.__new__(duckdb_plugin.Plugin)
            plugin.creds = types.SimpleNamespace(settings=settings, path=str(tmp_path / "p.duckdb"))
            plugin.initialize({**(settings or {}), "blas_threads": 0})
            plugin.update_connection_config(types.SimpleNamespace(path=":memory:"), dict(config_options))
            plugin.configure_connection(con)
            assert memory._duckdb["limit"] == want and memory._duckdb["cursor"] is not None
            con.close()
    finally:
        memory.hold_duckdb(None)


def test_releasing_never_fails_a_step_and_a_failed_trim_frees_the_turn(monkeypatch) -> None:
    from shoplens import memory

    class Broken:
        def execute(self, *a):
            raise RuntimeError("anything unexpected")

    monkeypatch.setitem(memory._duckdb, "cursor", Broken())
    assert memory.release_duckdb_cache() is None  # best effort: no exception

    def failing_trim():
        raise RuntimeError("trim failed")

    monkeypatch.setattr(memory, "trim_heap", failing_trim)

    @memory.returns_freed_memory
    def step():
        return 1

    try:
        memory.python_steps_at_once(1)
        with pytest.raises(RuntimeError, match="trim failed"):
            step()
        gate = memory._turns["gate"]
        assert gate.acquire(timeout=2)  # the turn was given back: the next step does not hang
        gate.release()
    finally:
        memory.python_steps_at_once(0)


def test_the_utf8_copy_is_private_reused_until_the_source_changes_and_follows_no_link(tmp_path):
    """A cp1252 export is read through a UTF-8 copy beside the warehouse: private (it holds
    clear-text emails), rewritten only when the source changes (at 54M events a copy per
    dbt command would cost minutes), never written through a planted link, and kept in a
    private temporary folder when the database has no file."""
    import os
    import stat

    from shoplens.duckdb_plugin import utf8_copy

    source = tmp_path / "customers.csv"
    source.write_bytes("customer_id,email\r\nC1,caf\u00e9@example.com \u2013 \u201cx\u201d\r\n".encode("cp1252"))
    warehouse = tmp_path / "w.duckdb"
    out = utf8_copy(str(source), "cp1252", str(warehouse))
    assert out == f"{warehouse}.raw_utf8/customers.csv"
    assert open(out, encoding="utf-8", newline="").read() == \
        "customer_id,email\r\nC1,caf\u00e9@example.com \u2013 \u201cx\u201d\r\n"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(f"{warehouse}.raw_utf8").st_mode) == 0o700
    first = os.stat(out).st_mtime_ns
    assert utf8_copy(str(source), "cp1252", str(warehouse)) == out and os.stat(out).st_mtime_ns == first
    source.write_bytes("customer_id,email\r\nC2,\u00fc@example.com\r\n".encode("cp1252"))
    os.utime(source, ns=(first + 10**9, first + 10**9))
    changed = utf8_copy(str(source), "cp1252", str(warehouse))
    assert open(changed, encoding="utf-8", newline="").read() == "customer_id,email\r\nC2,\u00fc@example.com\r\n"
    # a link planted as the partial file is removed, not written through
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    os.unlink(out + ".stamp")
    os.symlink(victim, out + ".part")
    utf8_copy(str(source), "cp1252", str(warehouse))
    assert victim.read_text() == "keep"
    # a file that does not decode: the message, not a copy
    bad = tmp_path / "orders.csv"
    bad.write_bytes(b"order_id\r\n\x81\r\n")
    assert utf8_copy(str(bad), "cp1252", str(warehouse)).startswith("!is not valid cp1252: byte 0x81")
    # no warehouse file: a private temporary folder of this process
    temp = utf8_copy(str(source), "cp1252", None)
    assert not temp.startswith(str(tmp_path)) and stat.S_IMODE(os.stat(os.path.dirname(temp)).st_mode) == 0o700
