"""Phases of the 1M build's Python steps, one checkout against another on one warehouse (by hand).

Usage: python bench/bench_step_phases.py WAREHOUSE.duckdb --before CHECKOUT [--after CHECKOUT]
                                         [--out reports/bench/step_phases.md]

Each phase runs in a fresh process per checkout (``--before``, then
``--after``, default this checkout), reading the warehouse read-only as the
dbt adapters do, and its result is compared entry by entry between the two:

- ``interactions``: the served recommendation matrix, every customer with
  purchases plus browsing up to ``as_of_date``
  (``shoplens.recommend.data.interactions``, as ``serving.recommend_all``
  calls it). Figures: seconds and the traced peak above the call's start
  (``tracemalloc``: numpy and scipy buffers included; the seconds are timed
  with the tracing on, so they compare the two checkouts, not a build).
- ``sequences``: the propensity step's weekly sequences
  (``shoplens.propensity.features._sequences``) at three cut-offs (the last
  data day, 100 and 400 days before), 52 weeks, of a seeded 25,000 of the
  customers born by then over every customer's rows, as a training snapshot
  reads them (the training draws at most 400,000 rows over 12 cut-offs).
  Figure: seconds per snapshot. The phase first builds the history
  (``shoplens.propensity.history.prepare_history``, as the step does): its
  seconds, and its arrays compared too. Its inputs are read as the adapter
  read them before 39ef916 (orders and customers through ``.df()``, the
  session counts as integers), which every checkout accepts; the adapter
  now reads categoricals and float32 counts, giving the same history
  (tests/python/test_propensity.py).

Prints a markdown table and, with ``--out``, saves it and the figures as
JSON beside it. Not part of `make bench` (it needs a built 1M warehouse).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import save_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# the phase, run in a child process whose sys.path starts with the checkout (and which is given
# HISTORY_ARRAYS)
HISTORY_ARRAYS = ("customer_ids", "p_cust", "p_day", "p_revenue", "s_cust", "s_day", "s_counts", "s_seen")
CHILD = r"""
import json, sys, time, tracemalloc
import numpy as np, duckdb
warehouse, phase, out = sys.argv[1:4]
con = duckdb.connect(warehouse, read_only=True)
import shoplens
result = {"shoplens_file": shoplens.__file__}
if phase == "interactions":
    import scipy.sparse as sp
    from shoplens.recommend.config import RecommendConfig
    from shoplens.recommend.data import (as_of_dates, browsing_cutoffs, browsing_events, interactions,
                                         purchase_lines, read_lines)
    cfg = RecommendConfig()
    as_of, _, _ = as_of_dates(con.table("as_of").df())
    lines = purchase_lines(read_lines(con.table("fct_order_items")))
    lines = lines.loc[pd.to_datetime(lines["order_date"]) <= pd.Timestamp(as_of)]  # dates or datetime64
    ids = con.table("dim_customers").project("customer_id").df()["customer_id"].astype(str).to_numpy()
    browsing = browsing_events(con.table("customer_product_browsing"),
                               cutoffs=browsing_cutoffs(as_of, cfg.validation_days))
    products = np.sort(lines["product_id"].unique())
    customers = np.union1d(ids, lines["customer_id"].unique())
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    t = time.perf_counter()
    inter = interactions(lines, products, as_of, customers, browsing, (cfg.view_weight, cfg.cart_weight))
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    result |= {"seconds": round(seconds, 2), "traced_peak_gib": round(peak / 2**30, 3),
              "customers": len(customers), "browsing_rows": len(browsing), "nnz": int(inter.matrix.nnz)}
    sp.save_npz(out + ".matrix.npz", inter.matrix)
    sp.save_npz(out + ".purchases.npz", inter.purchases)
    np.save(out + ".n_orders.npy", inter.n_orders)
else:
    SAMPLE = 25_000
    from shoplens.inputs import read_with_categorical_ids
    from shoplens.propensity.features import _sequences
    from shoplens.propensity.history import prepare_history
    orders = con.table("fct_orders").project("customer_id, ordered_at, order_total, is_purchase").df()
    sessions = read_with_categorical_ids(con.table("int_session_days").project(
        "customer_id, session_started_at as started_at, activity_date,"
        " n_product_views, n_add_to_carts, n_checkouts"), {"customer_id"}, dates_as_datetime64=True)
    customers = con.table("dim_customers").project(
        "customer_id, country, first_order_category, signed_up_at").df()
    t = time.perf_counter()
    history = prepare_history(orders, sessions, customers)
    history_seconds = round(time.perf_counter() - t, 2)
    del orders, sessions
    for name in HISTORY_ARRAYS:
        value = getattr(history, name)
        value = np.zeros(0) if value is None else value  # s_seen without an activity_date
        np.save(f"{out}.{name}.npy", value.astype(str) if value.dtype == object else value)
    seconds = []
    for k, back in enumerate((0, 100, 400)):
        cut = history.last_data_day - back
        index = np.flatnonzero(history.birth_day <= cut)
        # a training snapshot's share of the customers, over every customer's rows
        index = np.sort(np.random.default_rng(k).choice(index, min(SAMPLE, len(index)), replace=False))
        pos = np.full(len(history.customer_ids), -1, dtype="int64")
        pos[index] = np.arange(len(index))
        t = time.perf_counter()
        seq = _sequences(history, pos, len(index), cut, 52)
        seconds.append(round(time.perf_counter() - t, 2))
        np.save(f"{out}.seq{k}.npy", seq)
    result |= {"seconds_per_snapshot": seconds, "history_seconds": history_seconds,
               "rows": {"purchase_days": len(history.p_cust), "session_days": len(history.s_cust)}}
json.dump(result, open(out + ".json", "w"))
"""


def _run(checkout: Path, warehouse: str, phase: str, out: str) -> dict:
    prelude = f"import sys; sys.path.insert(0, {str(checkout)!r}); HISTORY_ARRAYS = {HISTORY_ARRAYS!r}\n"
    subprocess.run([sys.executable, "-c", prelude + CHILD,
                    warehouse, phase, out], check=True)
    result = json.loads(Path(out + ".json").read_text())
    if not Path(result["shoplens_file"]).resolve().is_relative_to(checkout):
        raise RuntimeError(f"the {phase} run imported {result['shoplens_file']}, not the checkout {checkout}")
    return result


def _same(a: str, b: str) -> bool:
    import numpy as np
    import scipy.sparse as sp

    if a.endswith(".npz"):
        x, y = sp.load_npz(a), sp.load_npz(b)
        return (x.shape == y.shape and x.dtype == y.dtype and x.indptr.dtype == y.indptr.dtype
                and x.indices.dtype == y.indices.dtype and np.array_equal(x.indptr, y.indptr)
                and np.array_equal(x.indices, y.indices) and np.array_equal(x.data, y.data, equal_nan=True))
    x, y = np.load(a), np.load(b)
    return x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")


def _commit(checkout: Path) -> str:
    return subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"], capture_output=True,
                          text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse")
    ap.add_argument("--before", required=True, help="checkout of the code before")
    ap.add_argument("--after", default=str(ROOT), help="checkout of the code after (default: this one)")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    sides = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    data: dict = {"warehouse": args.warehouse, "code": {k: _commit(v) for k, v in sides.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        for phase, groups in (("interactions", {"identical": (".matrix.npz", ".purchases.npz", ".n_orders.npy")}),
                              ("sequences", {"identical": (".seq0.npy", ".seq1.npy", ".seq2.npy"),
                                             "history_identical": tuple(f".{n}.npy" for n in HISTORY_ARRAYS)})):
            figures = {side: _run(path, args.warehouse, phase, f"{tmp}/{phase}_{side}") for side, path in sides.items()}
            for flag, files in groups.items():
                figures[flag] = all(_same(f"{tmp}/{phase}_before{f}", f"{tmp}/{phase}_after{f}") for f in files)
            data[phase] = figures
    i, s = data["interactions"], data["sequences"]
    text = "\n".join([
        f"# Phases of the 1M build's Python steps: {data['code']['before']} against {data['code']['after']}",
        "",
        f"Warehouse `{Path(args.warehouse).name}`; command `python bench/bench_step_phases.py WAREHOUSE"
        " --before CHECKOUT`; each phase in a fresh process per checkout, one after the other.",
        "",
        "| phase | before | after | results identical |",
        "|---|---|---|---|",
        f"| served interactions ({i['after']['customers']:,} customers, {i['after']['browsing_rows']:,} browsing rows):"
        f" seconds / traced peak | {i['before']['seconds']} s / {i['before']['traced_peak_gib']} GiB"
        f" | {i['after']['seconds']} s / {i['after']['traced_peak_gib']} GiB | {i['identical']} |",
        f"| propensity sequences of 25,000 customers over {s['after']['rows']['purchase_days']:,} purchase-day and"
        f" {s['after']['rows']['session_days']:,} session-day rows, 52 weeks, s per snapshot at three cut-offs"
        f" | {' / '.join(map(str, s['before']['seconds_per_snapshot']))}"
        f" | {' / '.join(map(str, s['after']['seconds_per_snapshot']))} | {s['identical']} |",
        f"| propensity history (`prepare_history`: every customer's purchase days and session-day rows,"
        f" sorted), seconds | {s['before']['history_seconds']} | {s['after']['history_seconds']}"
        f" | {s['history_identical']} |",
    ])
    save_report(text, data, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
