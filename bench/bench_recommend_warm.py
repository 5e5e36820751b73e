"""The served ALS warm-started from the validation's item factors, against a refit from random ones (by hand)

Usage: python bench/bench_recommend_warm.py [--shops 10000:42,50000:7,200000:11] [--out reports/bench/recommend_warm.md]
       python bench/bench_recommend_warm.py --trace W.duckdb [--out reports/bench/recommend_warm_trace.md]

For each generated shop (``datagen``, tastes and events on, the last 60 days
held out): the validation verdict at ``as_of_date`` (``select_model``, the
project's default settings), then the holdout rows of
``evaluate_recommenders`` twice, with ``recommend_warm_start`` on and off
(the same verdict: only the served fit differs), and the served fit's wall
time on every customer at ``as_of_date`` each way. Prints and saves, per
shop, the served lists' holdout recall@10 and NDCG@10 (customers who bought
in the holdout), the per-customer paired difference of recall with its
standard error, and the seconds.

``--trace W.duckdb`` (a built warehouse, e.g. the 1M build's): the served
fit's validation recall iteration by iteration, from random factors and warm
-started. The fit is on every customer at ``as_of_date - 60`` days (with
browsing, the bench build's pick: 64 factors, alpha 10), scored on a seeded
50,000 of the warm customers who bought in the 60 days after; the warm start
takes the item factors of a 15-iteration fit on a seeded 100,000 customers
60 days earlier still (as the validation's pick is to the served fit).
Not part of `make bench` (docs/recommendations.md,
"Warm start", quotes it); the 1M-customer figures come from the whole build
(`bench/bench_build.py`) and `bench/profile_step.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd
from records import save_report

from shoplens import datagen
from shoplens.recommend import RecommendConfig
from shoplens.recommend import pipeline as P
from shoplens.recommend.data import (
    bought_in_window,
    browsed_by,
    browsing_from_raw,
    interactions,
    lines_from_raw,
    on_or_before,
)
from shoplens.recommend.evaluation import ranking_metrics

HOLDOUT_DAYS = 60


def served_lists(past, customers, as_of, cfg, sel, browsing) -> tuple[pd.DataFrame, float]:
    started = time.perf_counter()
    recs = P.recommend_all(past, customers, as_of, cfg, sel, browsing)
    return recs, time.perf_counter() - started


def holdout_scorer(past: pd.DataFrame, future: pd.DataFrame, as_of: dt.date, end: dt.date):
    """A function of served lists giving their holdout metrics on the customers with 2+ orders who
    bought in ``(as_of, end]`` (the truth is built once per shop)."""
    products = pd.Index(np.sort(past["product_id"].unique()))
    customers = pd.Index(np.sort(past["customer_id"].unique()))
    truth = bought_in_window(future, products.to_numpy(), customers.to_numpy(), as_of + dt.timedelta(days=1), end)
    n_orders = interactions(past, products.to_numpy(), as_of, customers.to_numpy()).n_orders
    warm = np.nonzero((np.asarray(truth.sum(axis=1)).ravel() > 0) & (n_orders >= 2))[0]

    def score(recs: pd.DataFrame) -> dict:
        grid = np.full((len(customers), 10), -1)
        grid[customers.get_indexer(recs["customer_id"].astype(str)), recs["recommendation_rank"].to_numpy() - 1] = \
            products.get_indexer(recs["product_id"].astype(str))
        return ranking_metrics(grid[warm], truth[warm], len(products))

    return score


def served_fit_data(path: str, factors: int = 64, alpha: float = 10.0) -> dict:
    """The served fit's data on a built warehouse, 60 days before ``as_of_date``.

    ``matrix``: every customer's purchases and browsing up to the cut
    (browsing weights 0.1 / 0.3); ``truth`` and ``rows``: a seeded 50,000 of
    the warm customers who bought in the 60 days after; ``init``: the item
    factors of a 15-iteration fit (``factors``, ``alpha``) on a seeded
    100,000 customers 60 days earlier still (as the validation's pick is to
    the served fit), products it did not know small seeded random values.
    """
    import duckdb

    from shoplens.recommend.data import as_of_dates, browsing_events, read_lines, sample_rows
    from shoplens.recommend.models import ALS
    from shoplens.recommend.selection import warm_with_purchases

    con = duckdb.connect(path, read_only=True)
    as_of, _, _ = as_of_dates(con.table("as_of").df())
    cut = as_of - dt.timedelta(days=60)
    early = cut - dt.timedelta(days=60)
    lines = P.purchase_lines(read_lines(con.table("fct_order_items").project(
        "customer_id, order_id, product_id, order_date, is_purchase")))
    known = con.table("dim_customers").project("customer_id").df()["customer_id"].astype(str).to_numpy()
    browsing = browsing_events(con.table("customer_product_browsing"), cutoffs=(early, cut, as_of))
    products = np.sort(lines.loc[on_or_before(lines["order_date"], cut), "product_id"].unique())
    everyone = np.union1d(known, lines["customer_id"].unique())
    inter = interactions(lines, products, cut, everyone, browsing, (0.1, 0.3))
    truth = bought_in_window(lines, products, everyone, cut + dt.timedelta(days=1), as_of)
    rows = warm_with_purchases(inter, truth, 2)
    rows = rows[sample_rows(len(rows), 50_000, 1)]
    first = lines.loc[on_or_before(lines["order_date"], early)]
    p_early = np.sort(first["product_id"].unique())
    c_early = np.sort(first["customer_id"].unique())
    c_early = c_early[sample_rows(len(c_early), 100_000, 42)]
    pick = ALS(factors, alpha, 1.0, 15, 42, 2).fit(
        interactions(lines, p_early, early, c_early, browsing, (0.1, 0.3)).matrix)
    init = np.random.default_rng(42).random((len(products), factors), dtype=np.float32) * 0.01
    pos = pd.Index(p_early).get_indexer(products)
    init[pos >= 0] = pick.item_factors[pos[pos >= 0]]
    return {"matrix": inter.matrix, "truth": truth, "rows": rows, "init": init, "n_products": len(products)}


def trace(path: str, factors: int = 64, alpha: float = 10.0, n: int = 15) -> dict:
    from shoplens.recommend.models import ALS

    data = served_fit_data(path, factors, alpha)
    matrix, truth, rows = data["matrix"], data["truth"], data["rows"]
    out = {"warehouse": path, "customers": int(matrix.shape[0]), "scored": int(len(rows))}

    def recalls(model: ALS, init=None) -> list[float]:
        got = []
        for i in range(n):
            if i == 0:
                model.iterations = 1
                model.fit(matrix, item_factors=init)
            else:
                model.resume(matrix, 1)
            items = model.recommend_from(matrix, rows, 10)[0]
            got.append(round(float(ranking_metrics(items, truth[rows], data["n_products"])["recall"]), 4))
            print(("warm" if init is not None else "cold"), i + 1, got[-1], flush=True)
        return got

    out["cold"] = recalls(ALS(factors, alpha, 1.0, 1, 42, 2))
    out["warm"] = recalls(ALS(factors, alpha, 1.0, 1, 42, 2), data["init"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shops", default="10000:42,50000:7,200000:11", help="CUSTOMERS:SEED,...")
    ap.add_argument("--trace", help="a built warehouse: recall by iteration, cold and warm-started")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.trace:
        result = trace(args.trace)
        text = "\n".join([f"{result['customers']:,} customers, {result['scored']:,} scored", "",
                          "Validation recall@10 of the served fit by iteration (cold = from random factors):", "",
                          "| iterations | cold | warm-started |", "|---|---|---|"]
                         + [f"| {i + 1} | {c:.4f} | {w:.4f} |"
                            for i, (c, w) in enumerate(zip(result["cold"], result["warm"], strict=True))])
        save_report(text, result, args.out)
        return
    rows = []
    for spec in args.shops.split(","):
        n, seed = (int(x) for x in spec.split(":"))
        tables = datagen.generate_shop(n_customers=n, seed=seed, events=True, holdout_days=HOLDOUT_DAYS)
        lines = lines_from_raw(tables)
        as_of = dt.date.fromisoformat(tables["ground_truth"]["calibration_end_date"])
        end = lines["order_date"].max().date()
        browsing = browsing_from_raw(tables)
        browsing = browsing.loc[browsed_by(browsing, as_of)] if browsing is not None else None
        seen = on_or_before(lines["order_date"], as_of)
        past, future = lines.loc[seen], lines.loc[~seen]
        del tables
        cfg = RecommendConfig()
        sel = P.select_model(past, as_of, cfg, browsing)
        customers = np.sort(past["customer_id"].unique())
        score = holdout_scorer(past, future, as_of, end)
        result = {"shop": f"{n:,} customers, seed {seed}", "served": sel.served, "tag": sel.tag(cfg)}
        per = {}
        for label, c in (("warm", cfg), ("cold", replace(cfg, warm_start=False))):
            recs, seconds = served_lists(past, customers, as_of, c, sel, browsing)
            m = score(recs)
            per[label] = np.asarray(m["recall_per_customer"], float)
            result[label] = {"recall_at_10": round(m["recall"], 4), "ndcg_at_10": round(m["ndcg"], 4),
                             "served_seconds": round(seconds, 1), "n": int(m["n"]),
                             "iterations": sel.warm_iterations(c) or sel.iterations}
        diff = per["warm"] - per["cold"]
        result["recall_difference"] = round(float(diff.mean()), 4)
        result["difference_se"] = round(float(diff.std(ddof=1) / np.sqrt(diff.size)), 4)
        print(json.dumps(result), flush=True)
        rows.append(result)
    lines_out = ["Served lists on the holdout (customers with 2+ orders who bought in it): warm start vs",
                 "a refit from random factors, the same verdict:", "",
                 "| shop | served pick | recall@10 warm / cold | NDCG@10 warm / cold | paired difference (se)"
                 " | served fit s warm / cold |", "|---|---|---|---|---|---|"]
    for r in rows:
        w, c = r.get("warm"), r.get("cold")
        lines_out.append(f"| {r['shop']} | {r['tag']} | {w['recall_at_10']:.4f} / {c['recall_at_10']:.4f} | "
                         f"{w['ndcg_at_10']:.4f} / {c['ndcg_at_10']:.4f} | {r['recall_difference']:+.4f} "
                         f"({r['difference_se']:.4f}) | {w['served_seconds']:.1f} / {c['served_seconds']:.1f} |")
    text = "\n".join(lines_out)
    save_report(text, rows, args.out)


if __name__ == "__main__":
    main()
