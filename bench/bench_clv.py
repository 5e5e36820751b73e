"""CLV benchmark: fit and score at 1,000,000 customers against plain lifetimes.

    python bench/bench_clv.py            # full scale (1,000,000 customers)
    python bench/bench_clv.py --quick    # smoke run (30,000 customers)

Data: the synthetic shop (shoplens.datagen, no web events), summarised with
the same definitions as customer_btyd_summary (days). Timed, in one process:

* shoplens: BG/NBD + Gamma-Gamma fitted on compressed patterns (with the
  Hessian checks and standard errors), then every customer scored (P(alive),
  30/90/365-day purchases, spend, discounted 12-month CLV with its 10-90 %
  posterior-predictive interval from 100 simulated draws per pattern,
  days to next purchase);
* plain lifetimes: the same two models fitted per customer, and lifetimes'
  own scoring of the same quantities (no interval: lifetimes has none);
* the MBG/NBD candidate on compressed patterns, and Pareto/NBD on a
  subsample (lifetimes fits it by Nelder-Mead; see docs/clv.md).

Writes reports/bench/clv.json and reports/bench/clv.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import time
import warnings
from pathlib import Path

import pandas as pd

from shoplens import clv
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.datagen import generate_shop

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn, repeats: int):
    """Run ``fn`` ``repeats`` times; (last result, best wall seconds, best CPU seconds).

    The best of several runs is the usual way to time on a machine shared with
    other jobs: waiting for a core only ever adds time.
    """
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return result, best_wall, best_cpu


def _purchases(tables: dict) -> pd.DataFrame:
    orders = tables["orders"]
    orders = orders.loc[orders["status"] == "completed"]
    return pd.DataFrame(
        {
            "customer_id": orders["customer_id"].to_numpy(),
            "order_date": pd.to_datetime(orders["ordered_at"], utc=True, format="ISO8601")
            .dt.tz_convert(None)
            .dt.normalize(),
            "order_total": pd.to_numeric(orders["order_total"]).to_numpy(dtype=float),
        }
    )


def _lifetimes_baseline(summary: pd.DataFrame, config: clv.ClvConfig, repeats: int) -> dict:
    import lifetimes

    f, r, t = summary["frequency"], summary["recency"], summary["T"]
    rep = summary.loc[summary["frequency"] > 0]
    out: dict = {}

    def fit():
        bgf = lifetimes.BetaGeoFitter().fit(f, r, t)
        ggf = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
        return bgf, ggf

    def score(bgf, ggf):
        scores = pd.DataFrame(index=summary.index)
        scores["p_alive"] = bgf.conditional_probability_alive(f, r, t)
        for days in (30, 90, 365):
            scores[f"e{days}"] = bgf.conditional_expected_number_of_purchases_up_to_time(days, f, r, t)
        scores["value"] = ggf.conditional_expected_average_profit(f, summary["monetary_value"])
        monthly = (1 + config.annual_discount_rate) ** (1 / 12) - 1
        scores["clv"] = ggf.customer_lifetime_value(
            bgf, f, r, t, summary["monetary_value"], time=config.horizon_months,
            discount_rate=monthly, freq="D",
        )
        return scores

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        (bgf, ggf), out["fit_s"], out["fit_cpu_s"] = _timed(fit, repeats)
        scores, out["score_s"], out["score_cpu_s"] = _timed(lambda: score(bgf, ggf), 1)
    out["bgnbd"] = {k: float(v) for k, v in bgf.params_.items()}
    out["gamma_gamma"] = {k: float(v) for k, v in ggf.params_.items()}
    out["clv_total"] = float(scores["clv"].sum())
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pareto-customers", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per step; the best counts")
    parser.add_argument("--quick", action="store_true", help="small smoke run (30,000 customers)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers = 30_000
        args.pareto_customers = 5_000

    t0 = time.perf_counter()
    tables = generate_shop(n_customers=args.customers, n_days=args.days, n_products=20,
                           seed=args.seed, events=False)
    truth = tables["ground_truth"]
    purchases = _purchases(tables)
    del tables
    as_of = purchases["order_date"].max().date()
    summary = summary_from_purchases(purchases, as_of, "days")
    del purchases
    prep_s = time.perf_counter() - t0
    config = clv.ClvConfig(candidates=("bgnbd",))

    fit, fit_s, fit_cpu = _timed(lambda: clv.fit_clv(summary, config), args.repeats)
    pred, score_s, score_cpu = _timed(
        lambda: clv.score_customers(fit, summary, config, as_of_date=as_of), args.repeats
    )

    base = _lifetimes_baseline(summary, config, args.repeats)
    rel = {
        f"{m}.{k}": abs(mine.params[k] - base[m][k]) / abs(base[m][k])
        for m, mine in (("bgnbd", fit.count_model), ("gamma_gamma", fit.spend_model))
        for k in base[m]
    }

    frame = clv.validate_summary(summary, config)
    counts = clv.compress_counts(frame)
    start = time.perf_counter()
    clv.fit_model("mbgnbd", counts)
    mbg_s = time.perf_counter() - start
    sub = frame.sample(n=min(args.pareto_customers, len(frame)), random_state=args.seed)
    sub_counts = clv.compress_counts(sub)
    start = time.perf_counter()
    clv.fit_model("pareto_nbd", sub_counts)
    pareto_s = time.perf_counter() - start

    ours = fit_s + score_s
    theirs = base["fit_s"] + base["score_s"]
    result = {
        "area": "clv",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}",
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "n_customers": int(len(summary)),
        "n_repeat_customers": int((summary["frequency"] > 0).sum()),
        "n_count_patterns": fit.count_model.n_patterns,
        "n_spend_patterns": fit.spend_model.n_patterns,
        "prepare_data_s": round(prep_s, 2),
        "repeats": args.repeats,
        "shoplens_fit_s": round(fit_s, 2),
        "shoplens_fit_cpu_s": round(fit_cpu, 2),
        "shoplens_score_cpu_s": round(score_cpu, 2),
        "lifetimes_fit_cpu_s": round(base["fit_cpu_s"], 2),
        "lifetimes_score_cpu_s": round(base["score_cpu_s"], 2),
        "speedup_fit_cpu": round(base["fit_cpu_s"] / fit_cpu, 1),
        "shoplens_score_s": round(score_s, 2),
        "shoplens_fit_and_score_s": round(ours, 2),
        "lifetimes_fit_s": round(base["fit_s"], 2),
        "lifetimes_score_s": round(base["score_s"], 2),
        "lifetimes_fit_and_score_s": round(theirs, 2),
        "speedup_fit": round(base["fit_s"] / fit_s, 1),
        "speedup_fit_and_score": round(theirs / ours, 1),
        "max_param_rel_diff": max(rel.values()),
        "params_shoplens": {"bgnbd": fit.count_model.params, "gamma_gamma": fit.spend_model.params},
        "params_truth": {"bgnbd": truth["bgnbd"], "gamma_gamma": truth["gamma_gamma"]},
        "mbgnbd_fit_s": round(mbg_s, 2),
        "pareto_nbd_fit_s": round(pareto_s, 2),
        "pareto_nbd_customers": int(len(sub)),
        "pareto_nbd_patterns": int(len(sub_counts)),
        "clv_total": float(pred["clv"].sum()),
        "clv_total_lifetimes_30day_months": base["clv_total"],
        "target_s": 30.0,
        # the issue: fit + score < 30 s, and the fit >= 10x faster than lifetimes per customer
        "meets_target": bool(ours < 30.0 and base["fit_s"] / fit_s >= 10),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "clv.json").write_text(json.dumps(result, indent=2, default=float))
    md = [
        "# CLV benchmark",
        "",
        f"{result['n_customers']:,} customers ({result['n_repeat_customers']:,} repeat buyers),"
        f" {result['n_count_patterns']:,} unique (frequency, recency, T) patterns; {result['date']};"
        f" {result['machine']}, 1-minute load average {result['load_average_1m_at_end']} at the end.",
        "",
        "| step | shoplens (compressed) | lifetimes (per customer) | speed-up |",
        "|---|---:|---:|---:|",
        f"| fit BG/NBD + Gamma-Gamma | {fit_s:.1f} s | {base['fit_s']:.1f} s | {result['speedup_fit']}x |",
        f"| score all customers | {score_s:.1f} s | {base['score_s']:.1f} s | |",
        f"| fit + score | {ours:.1f} s | {theirs:.1f} s | {result['speedup_fit_and_score']}x |",
        f"| fit, CPU seconds | {fit_cpu:.1f} s | {base['fit_cpu_s']:.1f} s | {result['speedup_fit_cpu']}x |",
        "",
        f"Best of {args.repeats} runs per step (lifetimes scoring: 1 run)."
        f" Largest relative parameter difference to lifetimes: {result['max_param_rel_diff']:.2e}.",
        "shoplens scoring includes the 100-draw posterior-predictive CLV interval, which lifetimes"
        " does not compute.",
        f"Candidates: MBG/NBD fit {mbg_s:.1f} s at full scale; Pareto/NBD {pareto_s:.1f} s on"
        f" {len(sub):,} customers ({len(sub_counts):,} patterns).",
        f"Target (fit + score < 30 s, fit >= 10x faster than lifetimes per customer, same"
        f" parameters): {'met' if result['meets_target'] else 'NOT met'}. Timings on a shared"
        " machine vary with its load; compare the two columns of one run.",
    ]
    (args.out / "clv.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return result


if __name__ == "__main__":
    main()
