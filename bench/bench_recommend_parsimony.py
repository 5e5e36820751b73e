"""The served ALS pick: the one-standard-error rule against the best validation candidate.

Usage: python bench/bench_recommend_parsimony.py --generated 10000 --seed 42   # a generated shop with a holdout
       python bench/bench_recommend_parsimony.py WAREHOUSE.duckdb               # a built warehouse (no holdout)

Runs the validation verdict twice, with ``recommend_parsimony_se`` 0 (the
best candidate) and with the project's default (the cheapest candidate
within that many standard errors of the best), then for each verdict the
served step itself (``recommend_all``: the ALS fit and top-k on every
customer), timed. On a generated shop (``--generated N``: tastes and web
events on, a 60-day holdout, as tests/python/test_recommend.py builds it)
both verdicts are also judged on the holdout (``evaluate_recommenders``).
Prints and appends one record to reports/bench/recommend_parsimony.json.
The machine is shared: compare the two halves of one record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench_recommend_search import from_warehouse, generated, timed_search
from records import append_record


def holdout(shop: dict, cfg, sel) -> dict:
    """Holdout recall@k and NDCG@k of the served lists and of each feedback's pick."""
    from shoplens.recommend.holdout import evaluate_recommenders

    rows = evaluate_recommenders(shop["past"], shop["future"], None, shop["as_of"], shop["end"], cfg, sel,
                                 browsing=shop["browsing"])
    k = cfg.top_k
    return {f"{r['model_name']}.{r['metric']}": round(r["value"], 4) for r in rows
            if r["model_name"] in ("als", "als_with_browsing", "recommendations_served")
            and r["metric"] in (f"recall_at_{k}", f"ndcg_at_{k}")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", nargs="?")
    ap.add_argument("--generated", type=int, help="customers of a generated shop instead of a warehouse")
    ap.add_argument("--seed", type=int, default=42, help="the generated shop's seed")
    ap.add_argument("--threads", type=int, default=1, help="ALS threads (the project's default: 1)")
    args = ap.parse_args(argv)

    from shoplens.recommend.config import RecommendConfig
    from shoplens.recommend.serving import recommend_all

    cfg = RecommendConfig(num_threads=args.threads)
    shop = None
    if args.generated:
        lines, as_of, browsing, shop = generated(args.generated, args.seed, with_holdout=True)
        customers = shop["customer_ids"]
    else:
        lines, as_of, browsing = from_warehouse(args.warehouse, cfg)
        customers = lines["customer_id"].unique()
    record = {
        "date": dt.date.today().isoformat(),
        "warehouse": f"generated {args.generated} seed {args.seed}" if args.generated else Path(args.warehouse).name,
        "lines": len(lines), "customers": len(customers), "als_threads": args.threads,
        "load_average_1m": round(os.getloadavg()[0], 1),
    }
    for name, se in (("best", 0.0), ("parsimony", cfg.parsimony_se)):
        run_cfg = replace(cfg, parsimony_se=se)
        sel, search_s, _ = timed_search(lines, as_of, run_cfg, browsing)
        wall, cpu = time.perf_counter(), time.process_time()
        served = recommend_all(lines, customers, as_of, run_cfg, sel, browsing)
        entry = {"parsimony_se": se, "served": sel.served, "tag": sel.tag(run_cfg) if sel.served == "als" else "",
                 "validation_recall": sel.candidates.get(sel.tag(run_cfg)), "note": sel.pick_note,
                 "browsing_note": sel.browsing_note, "search_s": search_s,
                 "served_step_wall_s": round(time.perf_counter() - wall, 1),
                 "served_step_cpu_s": round(time.process_time() - cpu, 1), "served_rows": len(served)}
        if shop is not None:
            entry["holdout"] = holdout(shop, run_cfg, sel)
        record[name] = entry
    record["served_step_wall_ratio"] = round(record["parsimony"]["served_step_wall_s"]
                                             / max(record["best"]["served_step_wall_s"], 1e-9), 3)
    append_record("recommend_parsimony.json", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
