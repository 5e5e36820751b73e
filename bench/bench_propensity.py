"""Propensity benchmark: train on up to 200,000 sampled customers, score 1,000,000.

Usage: python bench/bench_propensity.py [--customers N] [--train-customers N] [--quick]

Steps: (1) generate a shop with ``shoplens.datagen`` in chunks (in a child
process, cached under target/propensity/bench_data/) and keep the mart-shaped
frames the model reads; (2) in this process, read them, train the GRU on a
sample of customers (labels up to the as-of date), score every customer at the
as-of date, and evaluate on the 30-day holdout after it against BG/NBD, the RFM
heuristic and the logistic regression on the same customers; (3) the CDNOW
check from lifetimes' sample. Peak memory is this process's maximum resident
set size (it does not include the data generation). Writes
reports/bench/propensity.json and reports/bench/propensity.md.
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

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HOLDOUT_DAYS = 30
CHUNK = 100_000


def generate(out: Path, n_customers: int, seed: int) -> None:
    """Mart-shaped parquet files for ``n_customers``, generated chunk by chunk."""
    from shoplens.datagen import generate_shop
    from shoplens.testing.propensity_marts import marts_from_raw

    parts: dict[str, list[pd.DataFrame]] = {"orders": [], "sessions": [], "customers": []}
    for k, start in enumerate(range(0, n_customers, CHUNK)):
        n = min(CHUNK, n_customers - start)
        marts = marts_from_raw(generate_shop(n_customers=n, n_days=730, seed=seed + k, holdout_days=HOLDOUT_DAYS))
        for name, frame in marts.items():
            frame = frame.copy()
            frame["customer_id"] = f"k{k}-" + frame["customer_id"].astype(str)
            parts[name].append(frame[[c for c in frame.columns if c != "order_id"]])
        print(f"  generated chunk {k + 1}: {n} customers", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    for name, frames in parts.items():
        pd.concat(frames, ignore_index=True).to_parquet(out / f"{name}.parquet", index=False)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux


def auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def cdnow_check(seed: int) -> dict:
    from shoplens import propensity as P
    from shoplens.testing.cdnow import CDNOW_AS_OF, CDNOW_WINDOW_DAYS, cdnow_marts

    m = cdnow_marts()
    cfg = P.PropensityConfig(window_days=CDNOW_WINDOW_DAYS, train_window_days=91, n_cutoffs=6,
                             cutoff_step_days=28, seed=seed)
    t = time.perf_counter()
    scores, meta = P.run_propensity(m["orders"], m["sessions"], m["customers"], CDNOW_AS_OF, True, cfg)
    seconds = time.perf_counter() - t
    start = CDNOW_AS_OF + dt.timedelta(days=1)
    out = P.purchase_outcomes(m["orders"], start, CDNOW_AS_OF + dt.timedelta(days=CDNOW_WINDOW_DAYS))
    y = scores.merge(out, on="customer_id", how="left")["n_purchase_days"].fillna(0).to_numpy() > 0
    return {
        "customers": int(len(scores)),
        "holdout_repeat_rate": round(float(y.mean()), 4),
        "seconds": round(seconds, 1),
        "auc": {
            "rnn_gru": round(auc(y, scores["purchase_probability"]), 4),
            "bgnbd_p_purchase": round(auc(y, scores["p_bgnbd"]), 4),
            "bgnbd_expected_purchases": round(auc(y, scores["expected_purchases_bgnbd"]), 4),
            "logreg": round(auc(y, scores["p_logreg"]), 4),
            "rfm_heuristic": round(auc(y, scores["p_rfm_heuristic"]), 4),
        },
        "mean_predicted_rnn": round(float(scores["purchase_probability"].mean()), 4),
        "model_version": meta["model_version"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--train-customers", type=int, default=200_000)
    ap.add_argument("--train-seconds", type=float, default=200.0, help="fit time budget (s)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--quick", action="store_true", help="small smoke run (20,000 customers)")
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = ap.parse_args(argv)
    if args.generate:
        generate(args.generate, args.customers, args.seed)
        return 0
    if args.quick:
        args.customers, args.train_customers, args.train_seconds = 20_000, 5_000, 60.0

    data = ROOT / "target" / "propensity" / "bench_data" / f"n{args.customers}_s{args.seed}"
    if not (data / "customers.parquet").exists():
        print(f"generating {args.customers} customers into {data} ...", flush=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(data), "--customers",
                        str(args.customers), "--seed", str(args.seed)], check=True)
        print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)

    from shoplens import propensity as P
    from shoplens.propensity.history import _date_to_day

    figures: dict = {"customers": args.customers, "train_customers_cap": args.train_customers,
                     "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "seed": args.seed}
    t = time.perf_counter()
    orders = pd.read_parquet(data / "orders.parquet")
    sessions = pd.read_parquet(data / "sessions.parquet")
    customers = pd.read_parquet(data / "customers.parquet")
    end = orders["ordered_at"].max().date()
    as_of = end - dt.timedelta(days=HOLDOUT_DAYS)
    seen = orders["ordered_at"].dt.date <= as_of
    history = P.prepare_history(orders.loc[seen], sessions.loc[sessions["started_at"].dt.date <= as_of], customers)
    figures.update(n_orders=int(len(orders)), n_sessions=int(len(sessions)),
                   load_seconds=round(time.perf_counter() - t, 1))
    print(f"loaded {len(orders):,} orders, {len(sessions):,} sessions in {figures['load_seconds']} s", flush=True)

    cfg = P.PropensityConfig(max_train_customers=args.train_customers, max_train_seconds=args.train_seconds,
                             seed=args.seed)
    t = time.perf_counter()
    trained, baselines = P.train_propensity(history, as_of, cfg)
    figures["train_seconds"] = round(time.perf_counter() - t, 1)
    figures["training_metrics"] = trained.metadata["training_metrics"]
    print(f"trained in {figures['train_seconds']} s: {trained.metadata['training_metrics']}", flush=True)

    as_of_day = _date_to_day(as_of)
    t = time.perf_counter()
    snap = P.snapshot(history, as_of_day, cfg.sequence_weeks)
    p, e = trained.predict(snap, cfg.window_days)
    figures["score_seconds_gru"] = round(time.perf_counter() - t, 1)
    figures["n_scored"] = int(len(p))
    print(f"GRU scored {len(p):,} customers in {figures['score_seconds_gru']} s", flush=True)
    t = time.perf_counter()
    scores = P.score_snapshot(trained, baselines, history, as_of_day, cfg.window_days, True)
    figures["score_seconds_all_models"] = round(time.perf_counter() - t, 1)
    print(f"GRU + BG/NBD + RFM + logreg scored in {figures['score_seconds_all_models']} s", flush=True)

    start = as_of + dt.timedelta(days=1)
    outcomes = P.purchase_outcomes(orders, start, end)
    ev = P.evaluate_scores(scores, outcomes, as_of_date=as_of, window_start=start, window_end=end,
                           evaluation_type="holdout")
    table = ev[ev["slice"].isin(["all", "purchasers"]) & ev["metric"].isin(["auc", "pr_auc", "log_loss", "brier"])]
    figures["holdout"] = {
        f"{r.model_name}/{r.slice}/{r.metric}": round(r.value, 4) for r in table.itertuples()
    }
    figures["holdout_window"] = [str(start), str(end)]
    figures["peak_rss_gib"] = round(peak_rss_gib(), 2)
    print(f"peak memory {figures['peak_rss_gib']} GiB", flush=True)

    figures["cdnow"] = cdnow_check(args.seed)
    print(f"CDNOW: {figures['cdnow']['auc']}", flush=True)
    figures["targets"] = {
        "train_under_300s": figures["train_seconds"] < 300,
        "score_under_120s": figures["score_seconds_all_models"] < 120,
        "peak_under_8gib": figures["peak_rss_gib"] < 8,
    }

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "propensity.json").write_text(json.dumps(figures, indent=2, default=str))
    h = figures["holdout"]
    lines = [
        "# Propensity benchmark",
        "",
        f"Machine: {figures['machine']}. Data: shoplens.datagen, {args.customers:,} customers,"
        f" 730 days, seed {args.seed}, 30-day holdout {start} .. {end}.",
        "",
        "| step | figure |",
        "|---|---|",
        f"| training ({figures['training_metrics']['n_rows']:,} customer x cut-off rows from up to"
        f" {args.train_customers:,} sampled customers) | {figures['train_seconds']} s |",
        f"| scoring {figures['n_scored']:,} customers, GRU only | {figures['score_seconds_gru']} s |",
        f"| scoring, GRU + BG/NBD + RFM + logreg | {figures['score_seconds_all_models']} s |",
        f"| peak memory (this process) | {figures['peak_rss_gib']} GiB |",
        "",
        "Holdout AUC on the same customers (purchasers):",
        "",
        "| model | AUC | PR-AUC | log loss | Brier |",
        "|---|---|---|---|---|",
    ]
    for name in P.MODEL_NAMES:
        k = f"{name}/purchasers/"
        lines.append(f"| {name} | {h.get(k + 'auc')} | {h.get(k + 'pr_auc')} | {h.get(k + 'log_loss')} |"
                     f" {h.get(k + 'brier')} |")
    c = figures["cdnow"]["auc"]
    lines += ["", f"CDNOW sample (2,357 customers, as-of 1997-09-30, 39-week holdout): GRU {c['rnn_gru']},"
              f" BG/NBD expected purchases {c['bgnbd_expected_purchases']}, BG/NBD P(purchase)"
              f" {c['bgnbd_p_purchase']}, logreg {c['logreg']}, RFM {c['rfm_heuristic']}.", ""]
    (args.out / "propensity.md").write_text("\n".join(lines))
    print(json.dumps(figures["targets"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
