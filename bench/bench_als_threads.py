"""The same ALS fit on one thread and on two: wall and CPU seconds (`make bench`).

Usage: python bench/bench_als_threads.py [--customers 300000] [--products 5000] [--repeats 3] [--quick]
                                         [--out reports/bench/als_threads.md]

Why ``recommend_num_threads`` defaults to 1 (docs/recommendations.md,
Decisions, "One ALS thread"): ``implicit``'s conjugate-gradient solver calls
BLAS's ``ssymv`` once per customer (and product) and step, and the OpenBLAS
that SciPy ships takes one process-wide lock for a work buffer at each such
call. Two solver threads wait on each other there, so a second thread buys
less wall time than it costs in CPU. In a ``dbt build`` the other core mostly
runs another node, so CPU is what the build pays.

Fits the project's :class:`~shoplens.recommend.models.ALS` (64 factors, alpha
10, regularisation 1, 5 iterations, seed 42) on a seeded matrix of
``--customers`` x ``--products`` with long-tailed product popularity, one
thread and two alternating ``--repeats`` times after one untimed fit (a
warm-up): first with the machine as it is, then with another process
spinning on one core (as another node does in a build). Checks that one
thread and two give the same customer and product factors (exit 1 if not).
Prints and saves the median wall and CPU seconds per case and the ratios of
two threads to one, measured in one run (the machine is shared: compare the
ratios, not the seconds of two runs). ``--quick`` writes
``als_threads_quick.md`` instead of ``als_threads.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the dbt profile caps BLAS (shoplens/duckdb_plugin.py)

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from records import REPORTS, save_report  # noqa: E402

from shoplens.recommend.models import ALS  # noqa: E402

MODES = {"idle": "idle", "busy": "busy (another process)"}


@contextlib.contextmanager
def busy_core(on: bool):
    """With ``on``, another process spins on one core for the duration (a stand-in for another dbt node)."""
    if not on:
        yield
        return
    stop = multiprocessing.Event()
    proc = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
    proc.start()
    try:
        yield
    finally:
        stop.set()
        proc.join(10)


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        for i in range(100_000):
            x ^= i


def interactions(customers: int, products: int, seed: int = 7) -> sp.csr_matrix:
    """About 8 interactions per customer on products drawn with Zipf-like popularity (counts 1-3)."""
    rng = np.random.default_rng(seed)
    n = customers * 8
    weights = 1.0 / np.arange(1, products + 1) ** 0.8
    cols = rng.choice(products, size=n, p=weights / weights.sum())
    rows = rng.integers(0, customers, size=n)
    m = sp.csr_matrix((rng.integers(1, 4, size=n).astype(np.float32), (rows, cols)), shape=(customers, products))
    m.sum_duplicates()
    return m


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=300_000)
    ap.add_argument("--products", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20,000 customers, one repeat (smoke run)")
    ap.add_argument("--out", help="default reports/bench/als_threads.md (--quick: als_threads_quick.md)")
    args = ap.parse_args()
    if args.quick:
        args.customers, args.repeats = 20_000, 1
    if min(args.customers, args.products, args.repeats) < 1:
        ap.error("--customers, --products and --repeats must be >= 1")
    out = Path(args.out or REPORTS / ("als_threads_quick.md" if args.quick else "als_threads.md"))
    matrix = interactions(args.customers, args.products)
    ALS(64, 10.0, 1.0, 1, seed=42, num_threads=1).fit(matrix)  # warm-up: imports and first allocations
    load_before = os.getloadavg()
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {(m, t): [] for m in MODES for t in (1, 2)}
    factors: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for mode in MODES:
        with busy_core(mode == "busy"):
            for _ in range(args.repeats):
                for threads in (1, 2):
                    wall, cpu = time.perf_counter(), time.process_time()
                    model = ALS(64, 10.0, 1.0, 5, seed=42, num_threads=threads).fit(matrix)
                    runs[mode, threads].append((time.perf_counter() - wall, time.process_time() - cpu))
                    factors[threads] = (np.asarray(model.model.user_factors).copy(), model.item_factors.copy())
            same = all(np.array_equal(a, b) for a, b in zip(factors[1], factors[2], strict=True))
            if not same:
                break
    med = {k: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for k, r in runs.items() if r}
    ratios = {m: {"wall_speedup_two_threads": round(med[m, 1][0] / med[m, 2][0], 3),
                  "cpu_ratio_two_threads": round(med[m, 2][1] / med[m, 1][1], 3)} for m in MODES if (m, 2) in med}
    data = {
        "customers": args.customers, "products": args.products, "nnz": int(matrix.nnz), "repeats": args.repeats,
        "runs": {f"{m}/{t}": [{"wall_s": round(w, 2), "cpu_s": round(c, 2)} for w, c in r]
                 for (m, t), r in runs.items()},
        "ratios": ratios, "same_factors": same, "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    text = "\n".join([
        f"# ALS threads: one against two ({args.customers:,} customers x {args.products:,} products,"
        f" {matrix.nnz:,} interactions)",
        "",
        "The project's ALS (64 factors, alpha 10, 5 iterations), one and two solver threads alternating,"
        f" {args.repeats} time(s) each, medians; first with nothing else of the bench running, then with"
        " another process spinning on one core (as another dbt node does in a build). Load average"
        f" {data['load_before']} before, {data['load_after']} after.",
        "",
        "| other core | threads | wall (s) | CPU (s) |",
        "|---|---|---|---|",
        *(f"| {MODES[m]} | {t} | {med[m, t][0]:.1f} | {med[m, t][1]:.1f} |" for m, t in med),
        "",
        *(f"- {MODES[m]}: two threads give **{r['wall_speedup_two_threads']:.2f}x** the speed for"
          f" **{r['cpu_ratio_two_threads']:.2f}x** the CPU." for m, r in ratios.items()),
        f"- Same factors with one thread and two: {same}.",
        "",
        f"Command: `python bench/bench_als_threads.py --customers {args.customers} --products {args.products}"
        f" --repeats {args.repeats}`",
    ])
    save_report(text, data, out)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
