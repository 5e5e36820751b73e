"""Scale benchmark of the whole `dbt build` (SQL models, Python models, tests) at 1M customers.

    python bench/bench_build.py                  # 1,000,000 customers, ~54M events
    python bench/bench_build.py --quick          # 20,000 customers (smoke run)
    python bench/bench_build.py --fresh          # regenerate bench_data/shop_<n> first

Generates the shop as bench_warehouse does (same generator settings, same
bench_data/shop_<n> folder, reused when it holds a shop of that size, so
after bench_warehouse in `make bench` it is not generated twice), seeds, then runs one
`dbt build` into a fresh DuckDB file under the system temp folder (models
saved there too), while a sampler reads the resident memory of the dbt
process and all its children (joblib workers included) every 0.25 s.
Writes reports/bench/build.json and reports/bench/build.md: total wall,
peak memory (sum over the process tree, and the largest single process),
the models running at the peak, wall time per model and test from
target/run_results.json, and the machine's load average during the run.
Target (issue 12): the whole build under 10 minutes and 6 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from shoplens import __version__

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_warehouse import ensure_shop  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 600
TARGET_GIB = 6.0
GIB = 1024**3


class TreeSampler(threading.Thread):
    """Sample the resident memory of a process and its descendants until stopped."""

    def __init__(self, pid: int, every_s: float = 0.25):
        super().__init__(daemon=True)
        self.root, self.every_s, self.stop = psutil.Process(pid), every_s, threading.Event()
        self.peak_tree, self.peak_single, self.peak_at = 0, 0, 0.0
        self.loads: list[float] = []
        self.trace: list[tuple[float, int]] = []  # (epoch seconds, tree RSS bytes)

    def sample(self) -> None:
        procs = [self.root, *self.root.children(recursive=True)]
        rss = []
        for p in procs:
            try:
                rss.append(p.memory_info().rss)
            except psutil.Error:
                pass
        now = time.time()
        self.trace.append((now, sum(rss)))
        if sum(rss) > self.peak_tree:
            self.peak_tree, self.peak_at = sum(rss), now
        self.peak_single = max(self.peak_single, *rss, 0)

    def run(self) -> None:
        k = 0
        while not self.stop.is_set():
            try:
                self.sample()
            except psutil.Error:
                break
            if k % 40 == 0:  # every 10 s
                self.loads.append(os.getloadavg()[0])
            k += 1
            self.stop.wait(self.every_s)


def run_build(cmd: list[str], env: dict, log: Path) -> dict:
    """Run `dbt build` with the sampler; return wall, peaks, load samples and exit code."""
    load_before = os.getloadavg()
    children_before, machine_before = resource.getrusage(resource.RUSAGE_CHILDREN), psutil.cpu_times()
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    # CPU of dbt and every process it waited for (the forecast's workers), and the machine's idle time
    children, machine = resource.getrusage(resource.RUSAGE_CHILDREN), psutil.cpu_times()
    cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
    idle = machine.idle - machine_before.idle
    return {
        "exit_code": rc, "wall_s": round(wall, 1),
        "peak_tree_rss_gib": round(sampler.peak_tree / GIB, 2),
        "peak_single_rss_gib": round(sampler.peak_single / GIB, 2),
        "peak_at": sampler.peak_at, "trace": sampler.trace,
        "cpu_s": round(cpu, 1), "cpu_per_wall": round(cpu / wall, 2), "machine_idle_cpu_s": round(idle, 1),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "load_1min_samples": {"mean": round(sum(sampler.loads) / max(len(sampler.loads), 1), 2),
                              "max": round(max(sampler.loads, default=0.0), 2)},
    }


def node_times(run_results: dict, peak_at: float, trace: list) -> tuple[list[dict], list[str]]:
    """Per node: wall, status, kind and the largest tree RSS sampled while it ran (GiB;
    other nodes running at the same time count too), slowest first; and the nodes
    running at ``peak_at``."""
    rows, at_peak = [], []
    t0 = trace[0][0] if trace else 0.0
    for r in run_results["results"]:
        uid = r["unique_id"]
        row = {"node": uid.split(".")[-1] if uid.startswith("model.") else uid.split(".", 2)[-1],
               "kind": uid.split(".")[0], "status": r["status"], "wall_s": round(r["execution_time"], 2)}
        stamps = [dt_epoch(t.get(k)) for t in r.get("timing", []) for k in ("started_at", "completed_at")]
        stamps = [x for x in stamps if x is not None]
        if stamps:
            start, end = min(stamps), max(stamps)
            # seconds since the build started, to see which nodes ran beside which
            row["start_s"], row["end_s"] = round(start - t0, 1), round(end - t0, 1)
            during = [rss for t, rss in trace if start <= t <= end]
            row["peak_rss_gib_while_running"] = round(max(during) / GIB, 2) if during else None
            if start <= peak_at <= end:
                at_peak.append(row["node"])
        rows.append(row)
    return sorted(rows, key=lambda m: -m["wall_s"]), at_peak


def dt_epoch(stamp: str | None) -> float | None:
    import datetime as dt

    if not stamp:
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).replace(tzinfo=dt.UTC).timestamp()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="20,000 customers, for a smoke run")
    ap.add_argument("--fresh", action="store_true",
                    help="regenerate bench_data/shop_<n> even if it holds a shop of this size")
    ap.add_argument("--memory-limit", help="SHOPLENS_MEMORY_LIMIT for the build (default: the profile's)")
    ap.add_argument("--threads", help="SHOPLENS_THREADS for the build (default: the profile's)")
    ap.add_argument("--work", type=Path, help="DuckDB file, target and models go here (default: a temp folder)")
    args = ap.parse_args()
    n = 20_000 if args.quick else args.customers
    data, generate_s = ensure_shop(n, reuse=not args.fresh)
    work = args.work or Path(tempfile.gettempdir()) / f"shoplens-bench-build-{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "DUCKDB_PATH": str(work / "build.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    # generated data carries fake emails; the build requires a salt for any data but the sample
    env.setdefault("SHOPLENS_PII_SALT", "bench-build-generated-data-only")
    for key, value in (("SHOPLENS_MEMORY_LIMIT", args.memory_limit), ("SHOPLENS_THREADS", args.threads)):
        if value:
            env[key] = value
    dbt = str(Path(sys.executable).with_name("dbt"))
    common = ["--project-dir", str(REPO), "--profiles-dir", str(REPO), "--target-path", str(work / "target"),
              "--log-path", str(work / "logs"),
              "--vars", json.dumps({"raw_data_dir": str(data), "model_dir": str(work / "models")})]
    seed = subprocess.run([dbt, "seed", *common], cwd=REPO, env=env, capture_output=True, text=True)
    if seed.returncode != 0:
        raise SystemExit(f"dbt seed failed:\n{seed.stdout[-3000:]}")
    cmd = [dbt, "build", *common]
    print("running:", " ".join(cmd), flush=True)
    build = run_build(cmd, env, work / "build.log")
    run_results = json.loads((work / "target" / "run_results.json").read_text())
    trace = build.pop("trace")
    nodes, at_peak = node_times(run_results, build.pop("peak_at"), trace)
    # the tree's RSS every 5 s (seconds since the build started, GiB), for the memory timeline
    build["rss_every_5s"] = [[round(t - trace[0][0], 1), round(rss / GIB, 2)] for t, rss in trace[::20]] if trace else []
    report = {
        "benchmark": "build", "shoplens_version": __version__, "customers": n, "data": str(data),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "memory_gib": round(psutil.virtual_memory().total / GIB, 1)},
        "settings": {"SHOPLENS_MEMORY_LIMIT": env.get("SHOPLENS_MEMORY_LIMIT", "(profile default)"),
                     "SHOPLENS_THREADS": env.get("SHOPLENS_THREADS", "(profile default)"),
                     "SHOPLENS_BLAS_THREADS": env.get("SHOPLENS_BLAS_THREADS", "(profile default)"),
                     "SHOPLENS_TRIM_MEMORY_SECONDS": env.get("SHOPLENS_TRIM_MEMORY_SECONDS", "(profile default)"),
                     "SHOPLENS_PYTHON_STEPS_AT_ONCE": env.get("SHOPLENS_PYTHON_STEPS_AT_ONCE", "(profile default)"),
                     "OPENBLAS_NUM_THREADS": env.get("OPENBLAS_NUM_THREADS", "(unset)")},
        "command": " ".join(cmd), "generate_wall_s": generate_s, "build": build,
        "nodes_running_at_peak": at_peak, "nodes": nodes,
        "not_ok": [x for x in nodes if x["status"] not in ("success", "pass")],
        "targets": {"wall_s": TARGET_SECONDS, "peak_gib": TARGET_GIB},
    }
    report["meets_target"] = (build["exit_code"] == 0 and build["wall_s"] < TARGET_SECONDS
                              and build["peak_tree_rss_gib"] < TARGET_GIB)
    write_report(report)
    return build["exit_code"]


def write_report(report: dict) -> None:
    out = REPO / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "build.json").write_text(json.dumps(report, indent=2))
    b, models = report["build"], [x for x in report["nodes"] if x["kind"] == "model"]
    tests = [x for x in report["nodes"] if x["kind"] != "model"]
    lines = [
        f"# Whole `dbt build` benchmark ({report['customers']:,} customers)", "",
        f"Machine: {report['machine']['cpus']} CPUs, {report['machine']['memory_gib']} GiB; load average "
        f"{b['load_before']} before, {b['load_after']} after, 1-minute load sampled every 10 s during the build: "
        f"mean {b['load_1min_samples']['mean']}, max {b['load_1min_samples']['max']}. "
        f"Settings: {report['settings']}.", "",
        "| figure | value | target |", "|---|---|---|",
        f"| total wall (`dbt build`, exit {b['exit_code']}) | {b['wall_s']} s | < {TARGET_SECONDS} s |",
        f"| peak RSS, dbt process + children (sum) | {b['peak_tree_rss_gib']} GiB | < {TARGET_GIB} GiB |",
        f"| CPU, dbt process + children (user + system) | {b['cpu_s']} s ({b['cpu_per_wall']} per wall second;"
        f" machine idle {b['machine_idle_cpu_s']} CPU-s) | |",
        f"| peak RSS, largest single process | {b['peak_single_rss_gib']} GiB | |",
        f"| models / tests | {len(models)} ({sum(m['wall_s'] for m in models):.0f} s summed) / "
        f"{len(tests)} ({sum(t['wall_s'] for t in tests):.0f} s summed) | |",
        f"| target | {'met' if report['meets_target'] else 'NOT met'} | |", "",
        f"Running at the memory peak: {', '.join(report['nodes_running_at_peak']) or '(between nodes)'}.", "",
        "Slowest models (peak RSS of the process tree while the model ran, other nodes "
        "running beside it included):", "",
        "| model | wall (s) | from / to (s after the start) | peak RSS while running (GiB) | status |",
        "|---|---|---|---|---|",
        *[f"| {m['node']} | {m['wall_s']} | {m.get('start_s')} / {m.get('end_s')} |"
          f" {m.get('peak_rss_gib_while_running')} | {m['status']} |"
          for m in models[:20]], "",
        "Slowest tests:", "", "| test | wall (s) | status |", "|---|---|---|",
        *[f"| {t['node']} | {t['wall_s']} | {t['status']} |" for t in tests[:5]], "",
    ]
    if report["not_ok"]:
        lines += ["Not ok: " + ", ".join(f"{x['node']} ({x['status']})" for x in report["not_ok"]), ""]
    lines += [f"Command: `{report['command']}`", ""]
    text = "\n".join(lines)
    (out / "build.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
