"""The project under SQLMesh builds the same warehouse as dbt (issue 13; docs/sqlmesh.md).

One small generated shop is built twice, by ``dbt build`` and by
``sqlmesh -p . -p sqlmesh_project plan`` (the SQL layer through SQLMesh's dbt
loader, the model families as native SQLMesh Python models), then compared
table by table with sqlmesh_project.parity: same tables, columns, types and
row counts, the same rows (predictions within the stated tolerance), and
``sqlmesh table_diff`` through the gateway that attaches both files.
The raw contract stops a SQLMesh plan with dbt's message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, query, run_dbt

from shoplens import datagen
from sqlmesh_project import parity

# `make test-sqlmesh` runs this file (one small shop, one dbt build, one SQLMesh plan: about
# 5 minutes), and `.ci/run` runs that after `make test`, whose pytest sets
# SHOPLENS_SQLMESH_TESTS=0 to skip it (make test stays under 30 minutes on 2 cores).
pytestmark = pytest.mark.skipif(
    os.environ.get("SHOPLENS_SQLMESH_TESTS", "1") == "0", reason="SQLMesh parity skipped (SHOPLENS_SQLMESH_TESTS=0)"
)

SQLMESH = [str(Path(sys.executable).with_name("sqlmesh")), "-p", ".", "-p", "sqlmesh_project"]
# Tables allowed to differ: none. (Two once did, both bugs on the dbt side that this test
# found: the recommenders handed dbt.config.get itself to their config reader, so dbt ignored
# every recommend_* var; and the CLV interval draws followed the input row order.)
KNOWN_DBT_DIFFERENCES: set[str] = set()
# Small settings, the same for both tools: the comparison is about the tools.
SMALL = {"propensity_n_cutoffs": 2, "forecast_top_n": 5, "forecast_backtest_origins": 1,
         "clv_interval_draws": 20, "recommend_factors_grid": "4", "recommend_alpha_grid": "10"}


def run_sqlmesh(args: list[str], sqlmesh_db: Path, variables: dict, dbt_db: Path | None = None,
                check: bool = True, root: Path = REPO) -> subprocess.CompletedProcess:
    """Run the SQLMesh CLI on the two projects of ``root`` into ``sqlmesh_db`` with these dbt vars."""
    env = {**os.environ, "SQLMESH_DUCKDB_PATH": str(sqlmesh_db), "SHOPLENS_VARS": json.dumps(variables),
           "DBT_PROFILES_DIR": str(root / "sqlmesh_project"), "PYTHONPATH": str(root)}
    if dbt_db is not None:
        env["DUCKDB_PATH"] = str(dbt_db)
    proc = subprocess.run([*SQLMESH, *args], cwd=root, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"sqlmesh {args} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    return proc


def run_python(code: str, sqlmesh_db: Path, variables: dict, root: Path) -> subprocess.CompletedProcess:
    """``python -c code`` in ``root`` with run_sqlmesh's environment."""
    env = {**os.environ, "SQLMESH_DUCKDB_PATH": str(sqlmesh_db), "SHOPLENS_VARS": json.dumps(variables),
           "DBT_PROFILES_DIR": str(root / "sqlmesh_project"), "PYTHONPATH": str(root)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("sqlmesh")
    tables = datagen.generate_shop(n_customers=300, n_days=240, n_products=12, seed=13, holdout_days=30)
    raw = datagen.write_shop(tables, root / "raw", fmt="parquet")
    truth = tables["ground_truth"]
    variables = {"raw_data_dir": str(raw), "export_date": truth["export_date"],
                 "as_of_date": truth["calibration_end_date"], **SMALL}
    return root, raw, variables


@pytest.fixture(scope="module")
def built(shop):
    root, raw, variables = shop
    dbt_db, sm_db = root / "dbt.duckdb", root / "sqlmesh_warehouse.duckdb"
    run_dbt("build", dbt_db, raw, variables)
    run_sqlmesh(["plan", "--auto-apply", "--no-prompts"], sm_db, variables)
    return dbt_db, sm_db, variables


def test_every_dbt_table_is_built_alike_by_sqlmesh(built):
    dbt_db, sm_db, _ = built
    results = {r.table: r for r in parity.compare(str(dbt_db), str(sm_db))}
    differing = {t: r.problems for t, r in results.items() if r.problems}
    assert set(differing) <= set(KNOWN_DBT_DIFFERENCES), differing
    # the whole project, not a part: staging to predictions, Python models included
    n_models = len(list((REPO / "models").rglob("*.sql"))) + len(list((REPO / "python_models").rglob("*.py")))
    assert len(results) >= n_models
    for table in ("stg_shop__orders", "customer_btyd_summary", "ml_clv_predictions", "pred_customer_ltv",
                  "ml_demand_forecast", "pred_purchase_propensity", "pred_product_recommendations",
                  "ml_model_status"):
        assert results[table].rows > 0, table
    # the SQL layer's text and integer tables row for row (tables with floats: within 1e-6)
    assert results["stg_shop__events"].kind == "exact"
    assert results["fct_orders"].kind == "floats within 1e-06" and not results["fct_orders"].problems


def test_table_diff_through_the_parity_gateway(built):
    dbt_db, sm_db, variables = built
    proc = run_sqlmesh(["--gateway", "parity", "table_diff", "dbt.main.fct_orders:main.fct_orders",
                        "--on", "order_id"], sm_db, variables, dbt_db=dbt_db)
    n = query(dbt_db, "select count(*) as n from fct_orders")["n"].item()
    out = " ".join(proc.stdout.split())
    assert "Row Counts" in out and f"FULL MATCH: {n} rows (100.0%)" in out, proc.stdout


def project_copy(dest: Path) -> Path:
    """This checkout's project files in ``dest`` (SQLMesh's model cache and dbt's partial-parse
    file included, so the copy loads as fast as the checkout), for a change the checkout must not see."""
    shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.duckdb", "*.duckdb.wal", "reports", "artifacts", "logs", "target"))
    parse_state = REPO / "target" / "sqlmesh_partial_parse.msgpack"
    if parse_state.exists():
        (dest / "target").mkdir()
        shutil.copy2(parse_state, dest / "target")
    return dest


def backfilled(plan_output: str) -> set[str]:
    """The models a plan's output lists under "Models needing backfill"."""
    text = plan_output.split("Models needing backfill", 1)[-1]
    return set(re.findall(r"(\w+\.\w+)`?: \[", text))


def test_no_change_plan_rebuilds_nothing_and_a_dev_plan_only_the_changed_model_and_its_children(built, tmp_path):
    _, sm_db, variables = built
    root = project_copy(tmp_path / "shoplens")
    # the first load of the copy fills the loader's cache of the dbt project, the second reads it
    entries = [set((root / ".cache").glob("shoplens_dbt_project/*__project__*"))]
    for _ in range(2):
        same = run_sqlmesh(["plan", "--no-prompts"], sm_db, variables, root=root)
        assert "No changes to plan" in same.stdout, same.stdout[-3000:]
        assert "Models needing backfill" not in same.stdout, same.stdout[-3000:]
        assert "Directly Modified" not in same.stdout and "Indirectly Modified" not in same.stdout, same.stdout[-3000:]
        entries.append(set((root / ".cache").glob("shoplens_dbt_project/*__project__*")))
    assert len(entries[1] - entries[0]) == 1 and entries[2] == entries[1]
    # a warm load does without dbt (its import is ~2 s of CPU): only the unit tests of dbt models need it
    warm = run_python("from sqlmesh.core.context import Context; import sys; Context(paths=['.', 'sqlmesh_project']);"
                      " print(sorted({m.split('.')[0] for m in sys.modules} & {'dbt', 'dbt_common'}))",
                      sm_db, variables, root=root)
    assert warm.stdout.strip().splitlines()[-1] == "[]", warm.stdout[-2000:]
    # audit_rejected_rows has one child (audit_rejected_rows_summary) and 60 models beside it
    changed = root / "models" / "audit" / "audit_rejected_rows.sql"
    text = changed.read_text()
    assert text.rstrip().endswith("select * from final")
    changed.write_text(text.rstrip()[: -len("select * from final")] + "select *, 1 as probe from final\n")
    dev = run_sqlmesh(["plan", "dev", "--auto-apply", "--no-prompts"], sm_db, variables, root=root)
    out = dev.stdout
    assert "main__dev.audit_rejected_rows" in out.split("Directly Modified", 1)[-1], out[-3000:]
    rebuilt = backfilled(out)
    assert "main__dev.audit_rejected_rows" in rebuilt, out[-3000:]
    assert rebuilt <= {"main__dev.audit_rejected_rows", "main__dev.audit_rejected_rows_summary"}, out[-3000:]
    # breaking (the default for a changed select list under --no-prompts): the child is rebuilt too
    if "(Breaking)" in out:
        assert rebuilt == {"main__dev.audit_rejected_rows", "main__dev.audit_rejected_rows_summary"}


def test_missing_required_column_stops_the_plan_as_dbt_does(shop, tmp_path):
    _, raw, variables = shop
    bad = tmp_path / "raw"
    bad.mkdir()
    for f in raw.iterdir():
        (bad / f.name).symlink_to(f)
    (bad / "orders.parquet").unlink()
    duckdb.sql(f"copy (select * exclude (order_total) from '{raw / 'orders.parquet'}')"
               f" to '{bad / 'orders.parquet'}' (format parquet)")
    variables = {**variables, "raw_data_dir": str(bad)}
    message = (f"shoplens: raw file {bad}/orders.parquet (table 'orders') is missing required column "
               "'order_total'")
    dbt = run_dbt("run", tmp_path / "d.duckdb", bad, variables, extra=["--select", "as_of"], check=False)
    sm = run_sqlmesh(["plan", "--auto-apply", "--no-prompts"], tmp_path / "sqlmesh_warehouse.duckdb",
                     variables, check=False)
    assert dbt.returncode != 0 and message in " ".join(dbt.stdout.split())
    assert sm.returncode != 0 and message in " ".join((sm.stdout + sm.stderr).split())


def test_dbt_unit_test_cases_pass_as_sqlmesh_unit_tests(shop, tmp_path):
    _, _, variables = shop
    proc = run_sqlmesh(["test"], tmp_path / "sqlmesh_warehouse.duckdb", variables, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Successfully Ran `7` Tests" in " ".join(out.split()), out[-2000:]
