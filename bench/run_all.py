"""Run every benchmark (`make bench`) and collect their reports.

    python bench/run_all.py            # full scale: 1,000,000 customers etc.
    python bench/run_all.py --quick    # small smoke run of every benchmark
    python bench/run_all.py --only warehouse clv
    python bench/run_all.py --only spark --spark-customers 100000   # Spark beside DuckDB at 100k

Each bench/bench_<area>.py prints its figures and writes
reports/bench/<area>.json and reports/bench/<area>.md; this script runs them
one after another (never in parallel: they would compete for the 2 cores and
the timings would mean nothing), then joins the Markdown reports into
reports/bench/SUMMARY.md with the wall time of each benchmark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORDER = ["warehouse", "build", "clv", "clv_covariates", "forecast", "propensity", "recommend"]
# Probes run by hand with the arguments their docstrings give (a built warehouse, a generated
# shop, or a study quoted in the docs); not run here. Every script whose docstring's first line
# says "by hand" must be listed (tests/python/test_bench_runner.py).
BY_HAND = {
    "forecast_asof", "forecast_floor", "forecast_members", "forecast_oracle", "forecast_shops", "forecast_step",
    "propensity_selection_cap", "recommend_browsing", "recommend_foldin", "recommend_frame", "recommend_parsimony", "recommend_search",
    "recommend_warm", "step_phases",
}


def report_of(reports: Path, area: str, quick: bool) -> Path:
    """The Markdown report a bench wrote: ``<area>_quick.md`` under ``--quick`` when it writes one
    (forecast, recommend, spark, als_threads), so a smoke run never shows a full run's figures."""
    quick_md = reports / f"{area}_quick.md"
    return quick_md if quick and quick_md.exists() else reports / f"{area}.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    ap.add_argument("--only", nargs="*", help="run only these areas")
    ap.add_argument("--spark-customers", type=int,
                    help="customers of bench_spark (default its own: 1,000,000; --quick: 5,000)")
    args = ap.parse_args()
    found = {p.stem.removeprefix("bench_"): p for p in sorted((REPO / "bench").glob("bench_*.py"))
             if p.stem.removeprefix("bench_") not in BY_HAND}
    areas = [a for a in ORDER if a in found] + sorted(set(found) - set(ORDER))
    if args.only:
        areas = [a for a in areas if a in args.only]
    out = REPO / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    summary = [f"# shoplens benchmarks ({dt.date.today().isoformat()}{', quick' if args.quick else ''})", ""]
    failed = []
    for area in areas:
        cmd = [sys.executable, str(found[area])] + (["--quick"] if args.quick else [])
        if area == "spark" and args.spark_customers and not args.quick:
            cmd += ["--customers", str(args.spark_customers)]
        print(f"\n=== {area}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=REPO).returncode
        wall = time.perf_counter() - t0
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        if rc != 0:
            failed.append(area)
        summary += [f"## {area}: {status}, {wall:.0f} s in all", ""]
        md = report_of(out, area, args.quick)
        if rc == 0 and md.exists():
            summary += [md.read_text().strip(), ""]
    (out / "SUMMARY.md").write_text("\n".join(summary) + "\n")
    print(f"\nreports in {out}; summary: {out / 'SUMMARY.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
