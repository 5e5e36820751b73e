"""SQLMesh plan times (issue 13): a no-change plan, and a dev plan after one leaf model change.

    python bench/bench_sqlmesh.py            # the bundled sample
    python bench/bench_sqlmesh.py --quick    # a small generated shop

Works in a scratch copy of the tracked files (the change is made there, never
in this checkout): builds prod with ``make sqlmesh``'s command, runs one
no-change ``plan`` (it fills the loaders' caches), then times ``plan`` with
nothing changed three times (median wall and CPU seconds; target: under
10 s), the same with ``--test-changed-only`` and ``--skip-tests`` (what the
unit tests cost), and the import of SQLMesh and of dbt alone. Then it adds a
column to the leaf model monthly_sales and times ``plan dev``, recording the
models it modified and rebuilt (target: that model and its children only).
Writes reports/bench/sqlmesh.{json,md}. On a shared machine run it when no other benchmark runs (the build is
CPU-heavy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
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
    """The models a plan's "Models needing backfill" lists (``main.x`` or ``main__dev.x``)."""
    if "Models needing backfill" not in plan_output:
        return []
    text = plan_output.split("Models needing backfill", 1)[-1]
    return sorted(set(re.findall(r"`?(main(?:__\w+)?\.\w+)`?: \[", text)))


def _modified(plan_output: str) -> dict[str, list[str]]:
    """The directly modified models of a plan and their indirectly modified children."""
    text = plan_output.split("Models needing backfill", 1)[0]
    direct = re.findall(r"^\* `(main(?:__\w+)?\.\w+)` \(", text, flags=re.M)
    children = re.findall(r"^\s+- `(main(?:__\w+)?\.\w+)` \(", text, flags=re.M)
    return {"directly": sorted(set(direct)), "children": sorted(set(children))}


def _median_runs(root: Path, env: dict, *args: str, n: int = 3) -> dict:
    """``n`` runs of one SQLMesh command: median wall and CPU seconds, every run, its output."""
    runs = [_sqlmesh(root, env, *args) for _ in range(n)]
    return {"wall_s": round(statistics.median(r[0] for r in runs), 1),
            "cpu_s": round(statistics.median(r[2] for r in runs), 1),
            "all_wall_s": [round(r[0], 1) for r in runs], "all_cpu_s": [round(r[2], 1) for r in runs],
            "load_1min": round(os.getloadavg()[0], 1), "rebuilt": _backfilled(runs[-1][1]),
            "says_no_changes": "No changes to plan" in runs[-1][1]}


def _imports(code: str, n: int = 3) -> dict:
    """Median wall and CPU seconds of ``python -c code`` (SQLMesh's and dbt's own import cost)."""
    runs = []
    for _ in range(n):
        t0, cpu0 = time.perf_counter(), _children_cpu()
        subprocess.run([sys.executable, "-c", code], check=True)
        runs.append((time.perf_counter() - t0, _children_cpu() - cpu0))
    return {"wall_s": round(statistics.median(r[0] for r in runs), 1),
            "cpu_s": round(statistics.median(r[1] for r in runs), 1)}


def _measure(root: Path, env: dict) -> dict:
    build_s, _, build_cpu = _sqlmesh(root, env, "plan", "--auto-apply", "--no-prompts")
    result: dict = {"build_s": round(build_s, 1), "build_cpu_s": round(build_cpu, 1)}
    # the first plan after the build fills the loaders' caches (.cache/); then three timed ones
    _sqlmesh(root, env, "plan", "--no-prompts")
    result["no_change_plan"] = _median_runs(root, env, "plan", "--no-prompts")
    result["no_change_plan_test_changed_only"] = _median_runs(root, env, "plan", "--no-prompts", "--test-changed-only")
    result["no_change_plan_skip_tests"] = _median_runs(root, env, "plan", "--no-prompts", "--skip-tests")
    result["import_sqlmesh_cli"] = _imports("import sqlmesh.cli.main, sqlmesh.core.context")
    result["import_sqlmesh_and_dbt"] = _imports("import sqlmesh.cli.main, sqlmesh.core.context, sqlmesh.dbt.loader")
    leaf = root / LEAF
    leaf.write_text(leaf.read_text().replace("select * from final", "select *, 1 as bench_probe from final"))
    dev_s, dev_out, dev_cpu = _sqlmesh(root, env, "plan", "dev", "--auto-apply", "--no-prompts")
    modified = _modified(dev_out)
    result["dev_plan"] = {"wall_s": round(dev_s, 1), "cpu_s": round(dev_cpu, 1), "rebuilt": _backfilled(dev_out),
                          "directly_modified": modified["directly"], "children": modified["children"],
                          "load_1min": round(os.getloadavg()[0], 1)}
    expected = set(modified["directly"]) | set(modified["children"])
    result["dev_plan"]["rebuilt_only_it_and_children"] = (
        modified["directly"] == [f"main__dev.{Path(LEAF).stem}"] and set(result["dev_plan"]["rebuilt"]) <= expected
        and f"main__dev.{Path(LEAF).stem}" in result["dev_plan"]["rebuilt"])
    return result


def _markdown(result: dict) -> str:
    plan, dev = result["no_change_plan"], result["dev_plan"]
    lines = [
        f"# SQLMesh plans ({result['data']}; {result['command']})", "",
        f"Full build: {result['build_s']} s wall, {result['build_cpu_s']} s CPU.", "",
        "| no-change plan (median of 3) | wall s | CPU s | runs (wall) | load | rebuilt |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (("no_change_plan", "`plan` (all unit tests)"),
                       ("no_change_plan_test_changed_only", "`plan --test-changed-only`"),
                       ("no_change_plan_skip_tests", "`plan --skip-tests`")):
        r = result[key]
        lines.append(f"| {label} | {r['wall_s']} | {r['cpu_s']} | {r['all_wall_s']} | {r['load_1min']} |"
                     f" {', '.join(r['rebuilt']) or 'nothing'} |")
    lines += [
        "", f"Target: under 10 s wall. `plan` says no changes: {plan['says_no_changes']}.",
        f"SQLMesh's own import (`python -c 'import sqlmesh.cli.main, sqlmesh.core.context'`, median of 3):"
        f" {result['import_sqlmesh_cli']['wall_s']} s wall, {result['import_sqlmesh_cli']['cpu_s']} s CPU;"
        f" with dbt's (`..., sqlmesh.dbt.loader`, needed by the unit tests of dbt models):"
        f" {result['import_sqlmesh_and_dbt']['wall_s']} s wall, {result['import_sqlmesh_and_dbt']['cpu_s']} s CPU.",
        "", f"Dev plan after a change to {LEAF}: {dev['wall_s']} s wall, {dev['cpu_s']} s CPU (load {dev['load_1min']});"
        f" directly modified {', '.join(dev['directly_modified'])}; children {', '.join(dev['children']) or 'none'};"
        f" rebuilt {', '.join(dev['rebuilt'])}; only it and its children: {dev['rebuilt_only_it_and_children']}.", "",
    ]
    return "\n".join(lines)


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
        result = {"data": "generated 300 customers" if args.quick else "bundled sample",
                  "command": f"sqlmesh -p . -p sqlmesh_project plan --no-prompts, {os.cpu_count()} cores",
                  **_measure(root, env)}
    print(json.dumps(result, indent=1))
    out = REPO / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sqlmesh.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "sqlmesh.md").write_text(_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
