"""The served ALS on every customer against item factors fitted on a sample and every customer folded in (by hand)

Usage: python bench/bench_recommend_foldin.py WAREHOUSE.duckdb [--samples 100000,250000,400000]
                                              [--out reports/bench/recommend_foldin.md]

On a built warehouse (the 1M build's), with the data of
``bench_recommend_warm.served_fit_data``: the fit 60 days before
``as_of_date`` warm-started from an earlier pick's item factors (64 factors,
alpha 10, 10 iterations, as the 1M build serves), scored on a seeded 50,000
of the warm customers who bought in the 60 days after (recall@10):

- ``every customer``: the fit on every customer (the rule below
  ``recommend_served_max_customers``);
- ``sample S``: the same fit on ``served_sample`` (a seeded S of the
  customers with any interaction), then ``ALS.fold_in`` on every customer
  (the rule above it);
- for the default S, two other ways to fold in, for reference: the exact
  least-squares solve (``implicit``'s ``recalculate_user``) and six
  conjugate-gradient steps instead of the fit's three.

Prints and saves each row's seconds (fit, fold-in), recall@10 and the paired
per-customer difference from ``every customer`` with its standard error.
Not part of `make bench` (docs/recommendations.md, "Fold-in", quotes it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_recommend_warm import served_fit_data
from records import save_report

from shoplens.recommend import RecommendConfig
from shoplens.recommend.evaluation import ranking_metrics
from shoplens.recommend.models import ALS
from shoplens.recommend.selection import served_sample

FACTORS, ALPHA, ITERATIONS = 64, 10.0, 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse")
    ap.add_argument("--samples", default="100000,250000,400000")
    ap.add_argument("--out")
    args = ap.parse_args()
    data = served_fit_data(args.warehouse, FACTORS, ALPHA)
    matrix, truth, rows, init = data["matrix"], data["truth"], data["rows"], data["init"]

    def new() -> ALS:
        return ALS(FACTORS, ALPHA, RecommendConfig.regularization, ITERATIONS, RecommendConfig.seed, 2)

    def scored(model: ALS) -> np.ndarray:
        items = model.recommend_from(matrix, rows, 10)[0]
        return np.asarray(ranking_metrics(items, truth[rows], data["n_products"])["recall_per_customer"], float)

    started = time.perf_counter()
    full = new().fit(matrix, item_factors=init)
    base = {"how": "every customer", "fit_s": round(time.perf_counter() - started, 1), "fold_in_s": 0.0}
    per_full = scored(full)
    del full
    results = [{**base, "recall_at_10": round(float(per_full.mean()), 4)}]
    print(results[-1], flush=True)

    def row(label: str, fit_s: float, fold_s: float, model: ALS) -> None:
        diff = scored(model) - per_full
        results.append({"how": label, "fit_s": round(fit_s, 1), "fold_in_s": round(fold_s, 1),
                        "recall_at_10": round(float(per_full.mean() + diff.mean()), 4),
                        "difference": round(float(diff.mean()), 4),
                        "difference_se": round(float(diff.std(ddof=1) / np.sqrt(diff.size)), 4)})
        print(results[-1], flush=True)

    default = RecommendConfig.served_max_customers
    for size in (int(x) for x in args.samples.split(",")):
        sample = served_sample(matrix, RecommendConfig(served_max_customers=size))
        if sample is None:
            print(f"sample {size}: not fewer than the {matrix.shape[0]:,} customers, skipped")
            continue
        started = time.perf_counter()
        model = new().fit(matrix[sample], item_factors=init)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        model.fold_in(matrix, len(sample))
        row(f"sample {size:,}, fold-in (the rule)", fit_s, time.perf_counter() - started, model)
        if size != default:
            continue
        started = time.perf_counter()  # the exact solve: implicit's Cholesky fold-in
        model.model.user_factors = model.model.recalculate_user(np.arange(matrix.shape[0]), matrix)
        row(f"sample {size:,}, exact least-squares fold-in", fit_s, time.perf_counter() - started, model)
        model.model.cg_steps = 6
        started = time.perf_counter()
        model.fold_in(matrix, len(sample))
        row(f"sample {size:,}, six conjugate-gradient steps", fit_s, time.perf_counter() - started, model)

    lines = [f"{matrix.shape[0]:,} customers, {matrix.nnz:,} interactions; {len(rows):,} warm customers scored on"
             " the 60 days after the fit", "",
             f"Served ALS ({FACTORS} factors, alpha {ALPHA:g}, {ITERATIONS} iterations warm-started):", "",
             "| fit | fit s | fold-in s | recall@10 | paired difference (se) |", "|---|---|---|---|---|"]
    for r in results:
        diff = f"{r['difference']:+.4f} ({r['difference_se']:.4f})" if "difference" in r else ""
        lines.append(f"| {r['how']} | {r['fit_s']:.1f} | {r['fold_in_s']:.1f} | {r['recall_at_10']:.4f} | {diff} |")
    save_report("\n".join(lines), {"warehouse": args.warehouse, "rows": results}, args.out)


if __name__ == "__main__":
    main()
