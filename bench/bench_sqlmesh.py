"""SQLMesh plan times (issue 13): a no-change plan, and a dev plan after one leaf model change.

    python bench/bench_sqlmesh.py            # the bundled sample
    python bench/bench_sqlmesh.py --quick    # a small generated shop

Works in a scratch copy of the tracked files (the change is made there, never
in this checkout): builds prod with ``make sqlmesh``'s command, times
``plan`` with nothing changed three times (the best counts; wall and CPU
seconds; target: under 10 s), then adds a column to the
leaf model monthly_sales and times ``plan dev``, recording which models it
rebuilt (target: that model only). Writes reports/bench/sqlmesh.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQLMESH = str(Path(sys.executable).with_name("sqlmesh"))
LEAF = "models/marts/sales/monthly_sales.sql"


def _copy(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in files.splitlines():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sqlmesh(root: Path, env: dict, *args: str) -> tuple[float, str, float]:
    """Wall seconds, stdout and CPU seconds (user + system) of one SQLMesh command."""
    t0, cpu0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run([SQLMESH, "-p", ".", "-p", "sqlmesh_project", *args], cwd=root, env=env,
                          capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"sqlmesh {args} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return wall, proc.stdout, cpu


def _quick_vars(root: Path) -> dict:
    from shoplens import datagen

    tables = datagen.generate_shop(n_customers=300, n_days=240, n_products=12, seed=13, holdout_days=30)
    raw = datagen.write_shop(tables, root / "raw", fmt="parquet")
    t = tables["ground_truth"]
    return {"raw_data_dir": str(raw), "export_date": t["export_date"], "as_of_date": t["calibration_end_date"],
            "propensity_n_cutoffs": 2, "forecast_top_n": 5}


def _backfilled(plan_output: str) -> list[str]:
    text = plan_output.split("Models needing backfill", 1)[-1]
    return sorted(set(re.findall(r"`?(main(?:__\w+)?\.\w+)`?: \[", text)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_sqlmesh_") as tmp:
        root = Path(tmp) / "shoplens"
        _copy(root)
        variables = _quick_vars(Path(tmp)) if args.quick else {}
        env = {**os.environ, "PYTHONPATH": str(root), "DBT_PROFILES_DIR": str(root / "sqlmesh_project"),
               "SHOPLENS_VARS": json.dumps(variables), "SQLMESH_DUCKDB_PATH": "sqlmesh_warehouse.duckdb"}
        build_s, _, _ = _sqlmesh(root, env, "plan", "--auto-apply", "--no-prompts")
        # the best of three: the machine is shared, the plan's own work is the same each time
        nochange = [_sqlmesh(root, env, "plan", "--no-prompts") for _ in range(3)]
        nochange_s, nochange_out, nochange_cpu = min(nochange)
        leaf = root / LEAF
        leaf.write_text(leaf.read_text().replace("select * from final", "select *, 1 as bench_probe from final"))
        dev_s, dev_out, dev_cpu = _sqlmesh(root, env, "plan", "dev", "--auto-apply", "--no-prompts")
    result = {
        "data": "generated 300 customers" if args.quick else "bundled sample",
        "load_average_1min": round(os.getloadavg()[0], 1),
        "build_s": round(build_s, 1), "no_change_plan_s": round(nochange_s, 1),
        "no_change_plan_cpu_s": round(nochange_cpu, 1),
        "no_change_plan_all_s": [round(r[0], 1) for r in nochange],
        "no_change_rebuilt": _backfilled(nochange_out) if "Models needing backfill" in nochange_out else [],
        "dev_plan_after_leaf_change_s": round(dev_s, 1), "dev_plan_cpu_s": round(dev_cpu, 1),
        "dev_plan_rebuilt": _backfilled(dev_out),
    }
    print(json.dumps(result, indent=1))
    out = REPO / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sqlmesh.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "sqlmesh.md").write_text(
        f"SQLMesh ({result['data']}, load {result['load_average_1min']}): full build {result['build_s']} s;"
        f" no-change plan {result['no_change_plan_s']} s wall, {result['no_change_plan_cpu_s']} s CPU"
        f" (target < 10 s), rebuilt {result['no_change_rebuilt'] or 'nothing'}; dev plan after a change to {LEAF}:"
        f" {result['dev_plan_after_leaf_change_s']} s wall, {result['dev_plan_cpu_s']} s CPU,"
        f" rebuilt {', '.join(result['dev_plan_rebuilt'])}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
