"""Build state you can trust (issue 15): the build log, the partial marker,
no stale rows after a failed step, views that survive a renamed copy, demand
tables empty without order lines, and forecast workers that die with their parent.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from conftest import DBT, REPO, SQL_LAYER, query

from shoplens import datagen

pytestmark = pytest.mark.slow
VARS = '{"raw_data_dir": "%s", "export_date": "2025-12-31"}'


def _args(db: Path, raw: Path) -> tuple[list[str], dict]:
    work = db.parent / f"dbt_{db.stem}"
    # models and the seed only: the data tests are not what this file tests
    args = [DBT, "build", "--resource-type", "model", "--resource-type", "seed", "--project-dir", str(REPO), "--profiles-dir", str(REPO),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
            "--vars", VARS % raw, *SQL_LAYER]
    return args, {**os.environ, "DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def _build(db: Path, raw: Path) -> subprocess.CompletedProcess:
    args, env = _args(db, raw)
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)


def _status(db: Path) -> dict:
    return query(db, "select * from build_status").iloc[0].to_dict()


def test_build_log_partial_marker_and_no_stale_rows(tmp_path):
    tables = datagen.generate_shop(n_customers=150, seed=4)
    raw = tmp_path / "raw"
    raw.mkdir()
    # orders only: the README promises empty demand tables without order lines
    good = tables["orders"]
    good.to_csv(raw / "orders.csv", index=False)
    db = tmp_path / "w.duckdb"

    # 1. a successful build: logged, not partial, demand empty
    first = _build(db, raw)
    assert first.returncode == 0, first.stdout[-4000:]
    status = _status(db)
    assert status["status"] == "success" and not status["is_partial"]
    assert str(status["as_of_date"])[:10] == str(query(db, "select as_of_date from as_of").iloc[0, 0])[:10]
    counts = query(db, "select (select count(*) from demand_daily) as d, (select count(*) from holdout_demand_daily) as h, "
                       "(select count(*) from fct_orders) as o").iloc[0]
    assert counts["d"] == 0 and counts["h"] == 0 and counts["o"] > 0

    # 2. views work in a copy of the file under another name (BI copies)
    copy = tmp_path / "copy_for_bi.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        views = [r[0] for r in con.sql("select view_name from duckdb_views() where not internal "
                                       "and schema_name = 'main'").fetchall()]
        assert "stg_shop__orders" in views and "build_status" in views
        for view in views:
            con.sql(f'select count(*) from main."{view}"').fetchall()

    # 3. a build whose inputs changed and failed: stops naming orders, leaves no stale rows
    broken = good.assign(order_total=good["order_total"].map(lambda v: f"{v:.2f}".replace(".", ",")))
    broken.to_csv(raw / "orders.csv", index=False)
    failed = _build(db, raw)
    assert failed.returncode != 0
    assert "'orders' has no valid row" in failed.stdout and "order_total_invalid" in failed.stdout
    status = _status(db)
    assert status["status"] == "failed" and status["is_partial"]
    log = query(db, "select * from build_log order by started_at desc limit 1").iloc[0]
    assert "fct_orders" in log["emptied_tables"] and "stg_shop__orders:error" in log["failed_nodes"]
    # the rows the message points at are kept, all of them rejected by this build
    rules = query(db, "select count(*) as n, count(*) filter (where dq_rule = 'order_total_invalid') as bad "
                      "from base_shop__orders").iloc[0]
    assert rules["n"] == rules["bad"] == len(broken)
    assert query(db, "select count(*) as n from fct_orders")["n"].iloc[0] == 0
    assert query(db, "select count(*) as n from customer_rfm")["n"].iloc[0] == 0

    # 4. a build killed midway leaves the file marked partial until the next success
    good.to_csv(raw / "orders.csv", index=False)
    args, env = _args(db, raw)
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    for line in proc.stdout:
        if "START sql table model main.fct_orders" in line:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    status = _status(db)
    assert status["status"] == "running" and status["is_partial"]
    again = _build(db, raw)
    assert again.returncode == 0, again.stdout[-4000:]
    status = _status(db)
    assert status["status"] == "success" and not status["is_partial"]
    assert query(db, "select count(*) as n from build_log")["n"].iloc[0] == 4


WORKER_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import numpy as np
    from shoplens.forecast import ForecastConfig
    from shoplens.forecast.engine import _parallel_map

    def task(args):
        values, config = args
        Path(sys.argv[1], str(os.getpid())).write_text("up")
        time.sleep(300)
        return [None for _ in values]

    if __name__ == "__main__":
        _parallel_map(task, [np.zeros(3) for _ in range(4)], ForecastConfig(n_jobs=2))
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie awaiting its (dead) parent's reaper counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_forecast_workers_die_with_their_parent(tmp_path):
    script = tmp_path / "workers.py"
    script.write_text(WORKER_SCRIPT)
    marks = tmp_path / "pids"
    marks.mkdir()
    parent = subprocess.Popen([sys.executable, str(script), str(marks)], env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        for _ in range(600):  # wait (up to a minute) until both workers run the task
            if len(list(marks.iterdir())) >= 2:
                break
            time.sleep(0.1)
        workers = [int(p.name) for p in marks.iterdir()]
        assert len(workers) == 2 and all(_alive(w) for w in workers)
    finally:
        parent.kill()
        parent.wait()
    for _ in range(300):  # not a timing assertion: a generous wait for the kernel's signal
        if not any(_alive(w) for w in workers):
            break
        time.sleep(0.1)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:
        os.kill(w, signal.SIGKILL)
    assert survivors == []
