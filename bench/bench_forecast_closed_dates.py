"""A shop closed over Christmas: the backtest with and without closed dates (issue 12).

Usage:
    python bench/bench_forecast_closed_dates.py [--customers N] [--products N] [--days N]
        [--seed S] [--top-n N] [--quick]

A generated shop (default: 20,000 customers, 60 products, 1,120 days from
2024-01-01, seed 42, top 10 series per level) made to close on Saturdays
and from 24 December to 2 January every year
(``shoplens.testing.forecast_data.closed_on_saturdays``, the shape of the
UCI Online Retail shop). Its last 4 scored backtest windows reach from
October over the third Christmas into January, with two Christmases in the
history. The backtest runs twice on the same data: ``closed_years`` 0 (no
date is ever closed, the code before) and the default 2. Per level, the
ratio of mean MASE to seasonal naive is given two ways, so the gain is not
just the closed days left out of the scoring:

- ``every day``: every scored day counts in both runs, the closed ones too
  (as the build's MASE does; its coverage leaves closed days out);
- ``open days``: both runs leave out the same days, the closed dates and
  weekdays of the run with closed dates that stayed 0.

Also the served point forecast summed over the closed dates (the actual is
0) and the 80% / 95% coverage. Prints Markdown and saves
``reports/bench/forecast_closed_dates.{md,json}`` (``--quick``:
``forecast_closed_dates_quick.*``, 5,000 customers, top 4).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd

from shoplens import forecast as F
from shoplens.testing.forecast_data import closed_on_saturdays, generated_demand

REPO = Path(__file__).resolve().parents[1]


def _shut(dates: pd.Series) -> pd.Series:
    md = pd.to_datetime(dates).dt.strftime("%m-%d")
    return (md >= "12-24") | (md <= "01-02")


def _ratio(served: pd.DataFrame, left_out: pd.Series) -> dict[str, float]:
    m = F.series_metrics(served[~left_out.to_numpy()])
    return {level: round(float(part["mase_model"].mean() / part["mase_naive"].mean()), 3)
            for level, part in m.groupby("series_level")}


def _coverage(served: pd.DataFrame) -> dict[str, list[float]]:
    m = F.series_metrics(served)
    out = {}
    for level, part in m.groupby("series_level"):
        w = part["n_open"]
        out[level] = [round(float((part[f"coverage_{q}"] * w).sum() / w.sum()), 3) for q in (80, 95)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int)
    ap.add_argument("--products", type=int, default=60)
    ap.add_argument("--days", type=int, default=1120)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--top-n", type=int)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    customers = args.customers or (5_000 if args.quick else 20_000)
    top_n = args.top_n or (4 if args.quick else 10)
    demand = closed_on_saturdays(
        generated_demand(customers, args.products, args.days, args.seed), christmas=True)
    runs, seconds = {}, {}
    for years in (0, F.CLOSED_YEARS):
        started = time.perf_counter()
        runs[years], _ = F.backtest_candidates(
            demand, F.ForecastConfig(top_n=top_n, n_jobs=args.n_jobs, closed_years=years))
        seconds[years] = round(time.perf_counter() - started, 1)
    before, after = runs[0], runs[F.CLOSED_YEARS]
    key = ["series_level", "series_key", "measure", "origin_date", "target_date"]
    if not before[key].equals(after[key]):
        raise SystemExit("the two backtests scored different rows")
    shut = _shut(after["target_date"])
    every_day = pd.Series(False, index=after.index)
    # the days closed in the run with closed dates that stayed closed (no sale)
    closed = after["is_closed"].astype(bool) & (after["actual"] <= 0)
    result = {
        "shop": {"customers": customers, "products": args.products, "days": args.days,
                 "seed": args.seed, "top_n": top_n, "closed": "Saturdays, 24 Dec - 2 Jan"},
        "origins": sorted(str(d) for d in after["origin_date"].unique()),
        "n_closed_date_rows": int((after["is_closed"] & shut).sum()),
        "every_day": {"before": _ratio(before, every_day), "after": _ratio(after, every_day)},
        "open_days": {"before": _ratio(before, closed), "after": _ratio(after, closed)},
        "point_on_closed_dates": {
            "before": round(float(before.loc[shut & (before["measure"] == "units"), "point_forecast"].sum()), 1),
            "after": round(float(after.loc[shut & (after["measure"] == "units"), "point_forecast"].sum()), 1),
            "actual": round(float(after.loc[shut & (after["measure"] == "units"), "actual"].sum()), 1)},
        "coverage_80_95": {"before": _coverage(before), "after": _coverage(after)},
        "seconds": {"before": seconds[0], "after": seconds[F.CLOSED_YEARS]},
        "run_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    levels = sorted(result["every_day"]["after"])
    lines = [
        "# A shop closed over Christmas: closed dates (issue 12)", "",
        f"Generated shop: {customers:,} customers, {args.products} products, {args.days} days, "
        f"seed {args.seed}, closed on Saturdays and 24 December - 2 January; top {top_n} series per "
        f"level; scored origins {', '.join(result['origins'])}. Ratio of mean MASE to seasonal naive "
        f"(closed_years 0 = before, {F.CLOSED_YEARS} = after):", "",
        "| scoring | run | " + " | ".join(levels) + " |",
        "|---|---|" + "---|" * len(levels),
    ]
    for scoring in ("every_day", "open_days"):
        for run in ("before", "after"):
            lines.append(f"| {scoring.replace('_', ' ')} | {run} | "
                         + " | ".join(f"{result[scoring][run][lv]:.3f}" for lv in levels) + " |")
    lines += ["", "Coverage 80% / 95% (open days):", "",
              "| run | " + " | ".join(levels) + " |", "|---|" + "---|" * len(levels)]
    for run in ("before", "after"):
        cov = result["coverage_80_95"][run]
        lines.append(f"| {run} | " + " | ".join(f"{cov[lv][0]:.3f} / {cov[lv][1]:.3f}" for lv in levels) + " |")
    p = result["point_on_closed_dates"]
    lines += ["", f"Served units forecast summed over the closed dates' {result['n_closed_date_rows']} "
              f"rows: before {p['before']:,.1f}, after {p['after']:,.1f} (actual {p['actual']:,.1f}). "
              f"Backtest seconds: before {seconds[0]}, after {seconds[F.CLOSED_YEARS]}."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = REPO / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    stem = "forecast_closed_dates_quick" if args.quick else "forecast_closed_dates"
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
