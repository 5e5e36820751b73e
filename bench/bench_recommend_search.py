"""The ALS validation search, screened against the full grid, on a built warehouse.

Usage: python bench/bench_recommend_search.py WAREHOUSE.duckdb [--threads N] [--label NAME]
       python bench/bench_recommend_search.py --generated 10000 --seed 42   # a generated shop, in memory

``--generated N`` uses a shop of N customers from ``shoplens.datagen``
(tastes and web events on, a 60-day holdout, as tests/python/test_recommend.py
builds it) instead of a warehouse. Otherwise reads ``fct_order_items``, ``customer_product_browsing`` and ``as_of`` as
``ml_product_recommendations`` does (read-only), then runs the validation
verdict (``select_model``) twice with the project's defaults (but
``recommend_parsimony_se`` 0: both searches serve their best candidate): once with
the grid fitted fully (``recommend_screen_iterations`` 0: every candidate
for ``recommend_iterations``) and once screened (the default: every
candidate for ``recommend_screen_iterations``, the ``recommend_screen_keep``
best continued to full length). Prints and appends to
reports/bench/recommend_search.json one record per run: wall and CPU
seconds of each search, both verdicts (served model, factors, alpha,
browsing), the full grid's recall of the screened choice against its best,
and the load average. The machine is shared: compare the two searches of
one record, measured back to back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from records import append_record


def verdict(sel, cfg) -> dict:
    return {"served": sel.served, "factors": sel.factors, "alpha": sel.alpha, "iterations": sel.iterations,
            "browsing": sel.browsing,
            "tag": sel.tag(cfg), "reason": sel.reason, "note": sel.browsing_note}


def timed_search(lines, as_of, cfg, browsing) -> tuple[object, float, float]:
    from shoplens.recommend import selection

    selection._SELECTIONS.clear()  # a fresh verdict, not the one kept in memory
    wall, cpu = time.perf_counter(), time.process_time()
    sel = selection.select_model(lines, as_of, cfg, browsing)
    return sel, round(time.perf_counter() - wall, 1), round(time.process_time() - cpu, 1)


def from_warehouse(path: str, cfg):
    """Purchase lines, as_of_date and summed browsing, read as ml_product_recommendations reads them."""
    import duckdb

    from shoplens.recommend.data import (
        as_of_dates,
        browsing_cutoffs,
        browsing_events,
        purchase_lines,
        read_lines,
    )

    con = duckdb.connect(path, read_only=True)
    as_of = as_of_dates(con.table("as_of").df())[0]
    lines = purchase_lines(read_lines(con.table("fct_order_items").project(
        "customer_id, order_id, product_id, order_date, is_purchase")))
    browsing = browsing_events(con.table("customer_product_browsing"),
                               cutoffs=browsing_cutoffs(as_of, cfg.validation_days))
    return lines, as_of, browsing


def generated(n_customers: int, seed: int, with_holdout: bool = False):
    """A generated shop's lines up to its calibration end, that day, and browsing up to it.

    ``with_holdout`` adds a fourth item: past and future lines, the holdout's
    last day and every customer id (for bench_recommend_parsimony.py).
    """
    from shoplens import datagen
    from shoplens.recommend.data import browsed_by, browsing_from_raw, lines_from_raw, on_or_before

    tables = datagen.generate_shop(n_customers=n_customers, seed=seed, events=True, holdout_days=60, tastes=True)
    as_of = dt.date.fromisoformat(tables["ground_truth"]["calibration_end_date"])
    lines = lines_from_raw(tables)
    browsing = browsing_from_raw(tables)
    if browsing is not None:
        browsing = browsing.loc[browsed_by(browsing, as_of)]
    past = lines.loc[on_or_before(lines["order_date"], as_of)]
    if not with_holdout:
        return past, as_of, browsing
    shop = {"past": past, "future": lines.loc[~on_or_before(lines["order_date"], as_of)], "as_of": as_of,
            "browsing": browsing, "end": lines["order_date"].max().date(), "customer_ids": tables["customers"]["customer_id"].astype(str).unique()}
    return past, as_of, browsing, shop


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", nargs="?")
    ap.add_argument("--generated", type=int, help="customers of a generated shop instead of a warehouse")
    ap.add_argument("--seed", type=int, default=42, help="the generated shop's seed")
    ap.add_argument("--threads", type=int, default=1, help="ALS threads (the project's default: 1)")
    ap.add_argument("--screen-keep", type=int, help="recommend_screen_keep (default: the project's)")
    ap.add_argument("--label", default="", help="a name for the data in the report")
    args = ap.parse_args(argv)

    from shoplens.recommend.config import RecommendConfig
    # the searches for the best candidate (the served pick's parsimony rule: bench_recommend_parsimony.py)
    cfg = RecommendConfig(num_threads=args.threads, parsimony_se=0.0)
    if args.screen_keep:
        cfg = replace(cfg, screen_keep=args.screen_keep)
    lines, as_of, browsing = (generated(args.generated, args.seed) if args.generated
                              else from_warehouse(args.warehouse, cfg))
    full_cfg = replace(cfg, screen_iterations=0)
    full, full_s, full_cpu = timed_search(lines, as_of, full_cfg, browsing)
    screened, screened_s, screened_cpu = timed_search(lines, as_of, cfg, browsing)
    chosen = screened.tag(cfg)  # names its iterations: a screening fit (_i5) is not in the full grid (None below)
    same_feedback = [v for t, v in full.candidates.items() if ("+browsing" in t) == screened.browsing]
    record = {
        "date": dt.date.today().isoformat(),
        "warehouse": args.label or (f"generated {args.generated} seed {args.seed}" if args.generated
                                    else Path(args.warehouse).name),
        "screen": {"iterations": cfg.screen_iterations, "keep": cfg.screen_keep},
        "lines": len(lines), "validation_customers": screened.n_customers, "als_threads": args.threads,
        "load_average_1m": round(os.getloadavg()[0], 1),
        "full": {"wall_s": full_s, "cpu_s": full_cpu, "fits": len(full.candidates), **verdict(full, full_cfg)},
        "screened": {"wall_s": screened_s, "cpu_s": screened_cpu, "fits": len(screened.candidates),
                     **verdict(screened, cfg)},
        "same_verdict": all(getattr(full, k) == getattr(screened, k)
                            for k in ("served", "factors", "alpha", "browsing", "iterations")),
        "wall_ratio": round(screened_s / full_s, 3) if full_s else None,
        "full_grid_recall_of_screened_choice": full.candidates.get(chosen),
        "full_grid_best_recall_same_feedback": max(same_feedback, default=None),
    }
    append_record("recommend_search.json", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
