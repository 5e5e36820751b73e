"""Recommendation benchmark: ALS fit + top-10 for every customer of a 1,000,000-customer shop.

Usage: python bench/bench_recommend.py [--customers N] [--products N] [--quick]

Steps: (1) a child process generates the shop with ``shoplens.datagen``
(chunked, tastes on, no events, so purchases only: browsing is measured by
tests/python/test_recommend.py; the warehouse bench's 2,000 products) and
keeps the purchase lines (cached under target/recommend/bench_data/);
(2) this process reads them and times, one after another, the validation
step (ALS candidates vs popularity at ``as_of_date - 60`` days on a sample of
at most 100,000 customers), the served lists (ALS fit on every customer +
top-10 for every customer, popularity for the rest; the issue's target: under
3 minutes and 4 GiB), and the profiles; (3) the holdout metrics of ALS,
item-to-item and popularity on the same customers. Peak memory is this
process's maximum resident set size (without the data generation). Writes
reports/bench/recommend.json and reports/bench/recommend.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT_DAYS = 60
LIMIT_SECONDS, LIMIT_GIB = 180.0, 4.0


def generate(out: Path, n_customers: int, n_products: int, seed: int) -> None:
    """Purchase lines and products of a generated shop, as parquet."""
    from shoplens.datagen import ShopConfig, write_shop_streaming
    from shoplens.recommend.data import lines_from_raw

    raw = out / "raw"
    cfg = ShopConfig(n_customers=n_customers, n_days=730, n_products=n_products, seed=seed, events=False,
                     holdout_days=HOLDOUT_DAYS)
    truth = write_shop_streaming(cfg, raw)
    tables = {t: pd.read_parquet(raw / f"{t}.parquet") for t in ("orders", "order_items", "products")}
    lines = lines_from_raw(tables)
    lines[["customer_id", "order_id", "product_id", "order_date", "category", "line_amount", "discount",
           "unit_price"]].to_parquet(out / "lines.parquet", index=False)
    tables["products"].to_parquet(out / "products.parquet", index=False)
    (out / "meta.json").write_text(json.dumps({"as_of_date": truth["calibration_end_date"],
                                               "end_date": truth["end_date"]}))


def read_lines(data: Path, columns: list[str] | None) -> pd.DataFrame:
    import pyarrow.parquet as pq

    from shoplens.recommend.data import line_days, order_keys

    ids = [c for c in ("customer_id", "order_id", "product_id", "category") if columns is None or c in columns]
    lines = pq.read_table(data / "lines.parquet", columns=columns, read_dictionary=ids).to_pandas()
    lines["order_date"] = line_days(lines["order_date"])  # as purchase_lines gives them
    if "order_id" in lines:
        lines["order_id"] = order_keys(lines["order_id"])
    return lines


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--products", type=int, default=2000, help="the warehouse bench's catalogue")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=1, help="ALS threads (the project's default: 1)")
    ap.add_argument("--quick", action="store_true", help="small smoke run (20,000 customers)")
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = ap.parse_args(argv)
    if args.generate:
        generate(args.generate, args.customers, args.products, args.seed)
        return 0
    if args.quick:
        args.customers = 20_000
    data = ROOT / "target" / "recommend" / "bench_data" / f"n{args.customers}_p{args.products}_s{args.seed}"
    if not (data / "meta.json").exists():
        print(f"generating {args.customers} customers x {args.products} products into {data} ...", flush=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(data), "--customers", str(args.customers),
                        "--products", str(args.products), "--seed", str(args.seed)], check=True)
        print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)

    from shoplens.recommend import ProfileConfig, RecommendConfig
    from shoplens.recommend import pipeline as P
    from shoplens.recommend.data import on_or_before

    meta = json.loads((data / "meta.json").read_text())
    as_of = dt.date.fromisoformat(meta["as_of_date"])
    t = time.perf_counter()
    # Ids as categoricals: each distinct id is one Python string (as a large
    # shop would read them); the serving step needs four columns.
    lines = read_lines(data, ["customer_id", "order_id", "product_id", "order_date"])
    past = lines.loc[on_or_before(lines["order_date"], as_of)].reset_index(drop=True)
    del lines
    read_s = time.perf_counter() - t
    n_customers = int(past["customer_id"].nunique())
    read_rss = peak_rss_gib()
    print(f"read {len(past):,} lines of {n_customers:,} customers in {read_s:.1f} s, peak RSS {read_rss:.2f} GiB",
          flush=True)

    cfg = RecommendConfig(num_threads=args.threads)
    t, c = time.perf_counter(), time.process_time()
    sel = P.select_model(past, as_of, cfg)
    select_s, select_cpu = time.perf_counter() - t, time.process_time() - c
    select_rss = peak_rss_gib()
    print(f"validation: {sel.served} ({sel.als(cfg).tag}) in {select_s:.1f} s wall, {select_cpu:.1f} s CPU,"
          f" peak RSS so far {select_rss:.2f} GiB {sel.reason}", flush=True)
    t, c = time.perf_counter(), time.process_time()
    recs = P.recommend_all(past, past["customer_id"].unique(), as_of, cfg, sel)
    serve_s, serve_cpu = time.perf_counter() - t, time.process_time() - c
    serve_rss = peak_rss_gib()
    load = os.getloadavg()[0]
    print(f"fit + top-{cfg.top_k} for {recs['customer_id'].nunique():,} customers: {serve_s:.1f} s wall,"
          f" {serve_cpu:.1f} s CPU, peak RSS {serve_rss:.2f} GiB (load average {load:.1f})", flush=True)
    del recs, past
    lines = read_lines(data, None)
    seen = on_or_before(lines["order_date"], as_of)
    past, future = lines.loc[seen], lines.loc[~seen]
    products = pd.read_parquet(data / "products.parquet")
    t = time.perf_counter()
    fit, _ = P.profile_fit(past, products, ProfileConfig())
    profile_s = time.perf_counter() - t
    print(f"profiles: {fit.n_profiles} from {fit.n_components} components in {profile_s:.1f} s", flush=True)
    t = time.perf_counter()
    rows = P.evaluate_recommenders(past, future, None, as_of, future["order_date"].max().date(), cfg, sel)
    eval_s = time.perf_counter() - t
    metrics = {f"{r['model_name']}/{r['metric']}": round(r["value"], 4) for r in rows}
    n_eval = {r["model_name"]: r["n_obs"] for r in rows}
    print(json.dumps(metrics, indent=1), flush=True)

    result = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "customers_generated": args.customers, "customers_with_purchases": n_customers,
        "products": args.products, "lines": int(len(past)), "als_threads": args.threads,
        "served_model": sel.served, "als": sel.als(cfg).tag, "fallback_reason": sel.reason,
        "seconds": {"read": round(read_s, 1), "validation": round(select_s, 1), "fit_and_top_k_all": round(serve_s, 1),
                    "profiles": round(profile_s, 1), "evaluation": round(eval_s, 1)},
        "cpu_seconds": {"validation": round(select_cpu, 1), "fit_and_top_k_all": round(serve_cpu, 1)},
        "load_average_1m_after_serving": round(load, 1),
        "peak_rss_gib_after_read": round(read_rss, 2), "peak_rss_gib_after_validation": round(select_rss, 2),
        "peak_rss_gib_after_serving": round(serve_rss, 2), "peak_rss_gib": round(peak_rss_gib(), 2),
        "holdout": metrics, "holdout_customers": n_eval,
        "target": {"seconds": LIMIT_SECONDS, "gib": LIMIT_GIB,
                   "met": bool(serve_s < LIMIT_SECONDS and serve_rss < LIMIT_GIB)},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = "recommend_quick" if args.quick else "recommend"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    s = result["seconds"]
    md = [
        f"### Recommendations ({args.customers:,} customers generated, {n_customers:,} with purchases,"
        f" {args.products:,} products, {len(past):,} lines)", "",
        f"- fit + top-{cfg.top_k} for every customer ({sel.served}, {sel.als(cfg).tag}, {args.threads} threads):"
        f" **{s['fit_and_top_k_all']} s** wall ({serve_cpu:.0f} s CPU, load average {load:.1f}),"
        f" peak RSS {serve_rss:.2f} GiB"
        f" (target {LIMIT_SECONDS:.0f} s and {LIMIT_GIB:.0f} GiB: {'met' if result['target']['met'] else 'NOT met'})",
        f"- validation (ALS grid vs popularity on <= 100,000 customers): {s['validation']} s;"
        f" profiles: {s['profiles']} s ({fit.n_profiles} profiles); holdout evaluation: {s['evaluation']} s",
        "- holdout recall@10: " + ", ".join(
            f"{m} {metrics.get(f'{m}/recall_at_10', float('nan')):.3f}" for m in ("als", "item_to_item", "popularity")),
        "",
    ]
    (args.out / f"{name}.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
