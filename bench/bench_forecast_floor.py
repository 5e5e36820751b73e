"""How much of the forecast error is the level of each window? (issue 12, sixth round; by hand)

Usage:
    python bench/bench_forecast_floor.py [--customers N] [--products N] [--days N]
        [--seed S] [--top-n N] [--out FILE.md]
    python bench/bench_forecast_floor.py --warehouse W.duckdb [--top-n N] [--out FILE.md]
    python bench/bench_forecast_floor.py --cdnow master|sample [--as-of YYYY-MM-DD]
        [--references] [--out FILE.md]
    any of them with --closed saturday|saturday+christmas (a shop closed on Saturdays)
    and --closed-weeks N / --closed-years N (the closure rules; 0 turns one off)

Runs the rolling-origin backtest (``backtest_candidates``, the build's
settings) on a generated shop (default: the bench shop of
``bench_forecast.py``, 200,000 customers, 300 products, 730 days, seed 42,
``--top-n 39``) or on a built warehouse's ``demand_daily`` (``--warehouse``,
with its ``as_of`` and country weights, ``--top-n 100`` as the build) or on
the shop total of a CDNOW file that ships with ``lifetimes`` (``--cdnow``:
real daily CDs and dollars, 1997-01-01 to 1998-06-30, cut at ``--as-of``;
no products) and prints, per level, the ratio of mean MASE to seasonal naive (and for the
served forecast of mean RMSSE, and its summed forecast over the summed
actual) for:

- ``served``: the served point forecast (the mean), as scored;
- ``median``: its calibrated median;
- ``hindsight mean``: the served forecast moved, in each scored window,
  by the difference between the window's actual mean and its forecast
  mean (clipped at zero): the served daily shape at the window's true
  level;
- ``hindsight best shift``: the served forecast moved, in each scored
  window, by the median of that window's errors (clipped at zero). For
  absolute error the median is the best constant shift, so (up to the
  clipping) no forecast that differs from the served one by one number
  per window scores lower: the floor of what any level correction could
  reach while keeping the served daily shape.

Neither is a forecast (both read the scored window). They bound what a
better 28-day level could gain, not what a better daily shape could.
A second table gives the served forecast's ratio per scored origin;
``--references`` adds statsforecast's AutoARIMA, AutoETS and MSTL on the
same origins (``bench_forecast.run_reference``, uncalibrated);
``--last-window category`` adds the last scored window of that level's
units day by day (where the generator's old cut week showed).

Not part of `make bench` (no record); docs/forecast.md, "The generator's
cut weeks", quotes its output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from shoplens import forecast as F
from shoplens.testing.cdnow import cdnow_total_demand, read_cdnow_master, read_cdnow_sample
from shoplens.testing.forecast_data import closed_on_saturdays, generated_demand, warehouse_demand

KEY = ["series_level", "series_key", "measure", "origin_date"]


def _demand(args: argparse.Namespace) -> tuple[pd.DataFrame, dict, str]:
    if args.cdnow is not None:
        raw = read_cdnow_master() if args.cdnow == "master" else read_cdnow_sample()
        demand = cdnow_total_demand(raw, args.as_of)
        as_of = demand["demand_date"].max()
        return demand, {"as_of_date": as_of}, f"CDNOW {args.cdnow}, shop total, as of {as_of}"
    if args.warehouse is None:
        demand = generated_demand(args.customers, args.products, args.days, args.seed)
        return demand, {}, (f"generated shop: {args.customers:,} customers, {args.products} "
                            f"products, {args.days} days, seed {args.seed}")
    demand, kwargs = warehouse_demand(args.warehouse)
    return demand, kwargs, f"warehouse {args.warehouse}"


def hindsight_shift(served: pd.DataFrame, how: str) -> pd.Series:
    """The served point moved in each scored window by the mean difference between its
    actual and forecast values (``how="mean"``) or the median of its errors
    (``how="median"``, the best constant shift for absolute error); clipped at zero."""
    error = (served["actual"] - served["point_forecast"]).groupby(
        [served[k] for k in KEY], sort=False)
    return (served["point_forecast"] + error.transform(how)).clip(lower=0.0)


def ratios(served: pd.DataFrame) -> pd.DataFrame:
    """Ratio of mean MASE to seasonal naive per level for the served point, its median
    and the two hindsight shifts."""
    rows = {}
    variants = {
        "served": served,
        "median": served.assign(point_forecast=served["median_forecast"]),
        "hindsight mean": served.assign(point_forecast=hindsight_shift(served, "mean")),
        "hindsight best shift": served.assign(point_forecast=hindsight_shift(served, "median")),
    }
    for name, frame in variants.items():
        m = F.series_metrics(frame.assign(median_forecast=frame["point_forecast"]))
        rows[name] = {level: part["mase_model"].mean() / part["mase_naive"].mean()
                      for level, part in m.groupby("series_level")}
        if name == "served":
            # squared error, the mean forecast's own loss (M5's RMSSE)
            rows["served, RMSSE"] = {
                level: part["rmsse_model"].mean() / part["rmsse_naive"].mean()
                for level, part in m.groupby("series_level")}
            # bias: summed forecast over summed actual (1: plans that add it up are right)
            rows["served, forecast / actual"] = {
                level: part["point_forecast"].sum() / part["actual"].sum()
                for level, part in frame.groupby("series_level")}
    return pd.DataFrame(rows).T


def coverage(served: pd.DataFrame) -> pd.DataFrame:
    """Share of the scored days inside the served 80% and 95% intervals, per level, pooled
    over the days ``series_metrics`` counts (the shop's closed days that sold nothing left
    out)."""
    from bench_forecast import summarise_by_level

    by_level = summarise_by_level(served)
    return pd.DataFrame({f"{level}%": {lv: s[f"coverage_{level}"] for lv, s in by_level.items()}
                         for level in ("80", "95")}).T


def ratios_by_origin(served: pd.DataFrame) -> pd.DataFrame:
    """The served forecast's ratio per level and scored origin (each window's MASE over its
    seasonal naive MASE, both averaged over the level's series)."""
    frame = served[served["mase_scale"] > 0].assign(
        model=lambda d: (d["actual"] - d["point_forecast"]).abs() / d["mase_scale"],
        naive=lambda d: (d["actual"] - d["naive_forecast"]).abs() / d["mase_scale"])
    windows = frame.groupby(KEY)[["model", "naive"]].mean().reset_index()
    per = windows.groupby(["series_level", "origin_date"])[["model", "naive"]].mean()
    return (per["model"] / per["naive"]).unstack("series_level")


def last_window(served: pd.DataFrame, level: str, measure: str = "units") -> pd.DataFrame:
    """The last scored window of one level and measure, day by day, summed over its series
    (each divided by its MASE scale): actual, served forecast, absolute error, and each
    day's share of the window's absolute error."""
    part = served[(served["series_level"] == level) & (served["measure"] == measure)
                  & (served["origin_date"] == served["origin_date"].max())
                  & (served["mase_scale"] > 0)]
    part = part.assign(actual_scaled=part["actual"] / part["mase_scale"],
                       forecast_scaled=part["point_forecast"] / part["mase_scale"],
                       abs_error=(part["actual"] - part["point_forecast"]).abs()
                       / part["mase_scale"])
    days = part.groupby("target_date")[["actual_scaled", "forecast_scaled", "abs_error"]].sum()
    return days.assign(error_share=days["abs_error"] / days["abs_error"].sum())


def reference_lines(demand: pd.DataFrame, served: pd.DataFrame,
                    config: F.ForecastConfig) -> list[str]:
    """statsforecast's models on the same origins as the served forecast, per level."""
    from bench_forecast import REFERENCES, run_reference

    n_series = int(served.drop_duplicates(["series_level", "series_key", "measure"]).shape[0])
    ref = run_reference(demand, served, config, n_series)
    levels = sorted(ref["by_level"]["served"])
    lines = [f"statsforecast {ref['statsforecast']} on the same origins ({ref['n_series']} series,"
             " ratio of mean MASE to seasonal naive; served minus reference per scored window,"
             " with t):", "",
             "| forecast | " + " | ".join(levels) + " |", "|---|" + "---|" * len(levels)]
    lines.append("| served | " + " | ".join(
        f"{ref['by_level']['served'][lv]:.3f}" for lv in levels) + " |")
    for name in REFERENCES:
        diff = ref["served_minus_reference_by_window"][name]
        lines.append(f"| {name} | " + " | ".join(
            f"{ref['by_level'][name][lv]:.3f} (served {diff[lv]['mean_difference']:+.3f},"
            f" t {diff[lv]['t']:.2f})" for lv in levels) + " |")
    return lines


def markdown_table(frame: pd.DataFrame, first: str, label=str) -> list[str]:
    """``frame`` as Markdown rows: its index (through ``label``) then its values to 3 places."""
    return ["| " + first + " | " + " | ".join(frame.columns) + " |",
            "|---|" + "---|" * len(frame.columns),
            *(f"| {label(name)} | " + " | ".join(f"{v:.3f}" for v in row) + " |"
              for name, row in frame.iterrows())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse")
    ap.add_argument("--cdnow", choices=["master", "sample"])
    ap.add_argument("--as-of", type=lambda v: pd.Timestamp(v).date(),
                    help="with --cdnow: the last day of history (default: the file's last day)")
    ap.add_argument("--closed", choices=["saturday", "saturday+christmas"],
                    help="close the shop on Saturdays (their demand on Fridays), and over"
                         " Christmas (24 Dec - 2 Jan, demand lost): closed_on_saturdays")
    ap.add_argument("--closed-weeks", type=int, default=F.CLOSED_WEEKS,
                    help="ForecastConfig.closed_weeks (0: no weekday is ever closed)")
    ap.add_argument("--closed-years", type=int, default=F.CLOSED_YEARS,
                    help="ForecastConfig.closed_years (0: no date is ever closed)")
    ap.add_argument("--references", action="store_true",
                    help="also AutoARIMA, AutoETS and MSTL on the same origins (all series)")
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--products", type=int, default=300)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--top-n", type=int)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--last-window", metavar="LEVEL",
                    help="also print the last scored window of this level's units, day by day")
    ap.add_argument("--out")
    args = ap.parse_args()
    demand, kwargs, what = _demand(args)
    if args.closed:
        demand = closed_on_saturdays(demand, christmas=args.closed == "saturday+christmas")
        what += f"; closed on {args.closed}"
    top_n = args.top_n or (100 if args.warehouse or args.cdnow else 39)
    config = F.ForecastConfig(top_n=top_n, n_jobs=args.n_jobs, closed_weeks=args.closed_weeks,
                              closed_years=args.closed_years)
    served, _ = F.backtest_candidates(demand, config, **kwargs)
    table = ratios(served)
    n = served.drop_duplicates(["series_level", "series_key", "measure"]).groupby(
        "series_level").size()
    lines = [f"{what}; top_n {top_n}; series per level: {n.to_dict()}", "",
             *markdown_table(table, "forecast"),
             "", "Coverage of the served intervals (nominal 80% and 95%):", "",
             *markdown_table(coverage(served), "interval"),
             "", "The served forecast per scored origin:", "",
             *markdown_table(ratios_by_origin(served), "origin",
                             label=lambda origin: str(pd.Timestamp(origin).date()))]
    if args.references:
        lines += ["", *reference_lines(demand, served, config)]
    if args.last_window:
        days = last_window(served, args.last_window)
        lines += ["", f"The last scored window, {args.last_window} units (summed over the series,"
                  " each divided by its MASE scale):", "",
                  "| day | actual | forecast | absolute error | share of the window's error |",
                  "|---|---|---|---|---|"]
        lines += [f"| {pd.Timestamp(day).strftime('%a %Y-%m-%d')} | {r.actual_scaled:.1f} |"
                  f" {r.forecast_scaled:.1f} | {r.abs_error:.1f} | {r.error_share:.3f} |"
                  for day, r in days.iterrows()]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
