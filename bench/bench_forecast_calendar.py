"""The shop's own calendar (calendar_events) in the forecasts: gain where events matter, no harm where they do not.

Usage:
    python bench/bench_forecast_calendar.py [--out reports/bench/forecast_calendar.md]

Runs the rolling-origin backtest (``backtest_candidates``, the build's
settings) with and without a calendar on:

- ``sale``: a generated shop (``datagen``: 20,000 customers, 60 products,
  730 days, seed 42, top 10; the smoke shop of bench_forecast_shops) whose
  demand, at every level, is doubled on the 10th and the 25th of every month
  (a recurring sale), with a calendar naming those days ``sale``;
- ``irrelevant``: the same shop as generated (no sale), with a calendar of two
  random days a month (seeded) named ``noise``: what a calendar of events
  that move nothing costs;
- ``cdnow``: the CDNOW master file's shop total as of 1997-09-30 (real
  daily CDs and dollars) with the same irrelevant calendar.

Prints, per shop and level, the ratio of mean MASE to seasonal naive and the
80% interval's coverage, with and without the calendar. Not part of `make
bench` (about 10 minutes); docs/forecast.md ("The shop's own calendar")
quotes its output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_forecast import summarise_by_level  # noqa: E402
from records import save_report  # noqa: E402

from shoplens import forecast as F  # noqa: E402
from shoplens.forecast.calendar import events_from_frame  # noqa: E402
from shoplens.forecast.engine import forget_fits  # noqa: E402
from shoplens.testing.forecast_data import generated_shop_demand  # noqa: E402

SALE_DAYS = (10, 25)


def with_sale(demand: pd.DataFrame) -> pd.DataFrame:
    """``demand`` with every level's units and revenue doubled on the sale days."""
    out = demand.copy()
    days = pd.to_datetime(out["demand_date"])
    on = days.dt.day.isin(SALE_DAYS)
    out.loc[on, ["units", "revenue"]] *= 2.0
    return out


def sale_calendar(first: dt.date, last: dt.date) -> pd.DataFrame:
    days = pd.date_range(first, last, freq="D")
    return pd.DataFrame({"event_date": days[days.day.isin(SALE_DAYS)].date, "event_name": "sale"})


def noise_calendar(first: dt.date, last: dt.date, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, last, freq="D")
    picked = [d for _, month in pd.Series(days, index=days).groupby([days.year, days.month])
              for d in rng.choice(month.to_numpy(), size=min(2, len(month)), replace=False)]
    return pd.DataFrame({"event_date": pd.to_datetime(picked).date, "event_name": "noise"})


def run(demand: pd.DataFrame, top_n: int, calendar: pd.DataFrame | None, as_of: dt.date) -> dict:
    config = F.ForecastConfig(top_n=top_n)
    started = time.perf_counter()
    served, _ = F.backtest_candidates(demand, config, as_of_date=as_of,
                                      events=events_from_frame(calendar))
    levels = {level: {"ratio": round(s["mase_vs_naive"], 3), "coverage_80": round(s["coverage_80"], 3)}
              for level, s in summarise_by_level(served).items()}
    forget_fits()
    return {"levels": levels, "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    demand, _ = generated_shop_demand(20_000, 60, 730, 42)
    first = pd.to_datetime(demand["demand_date"]).min().date()
    as_of = pd.to_datetime(demand["demand_date"]).max().date()
    last = as_of + dt.timedelta(days=60)
    shops = [("sale", with_sale(demand), 10, sale_calendar(first, last), as_of),
             ("irrelevant", demand, 10, noise_calendar(first, last), as_of)]
    from shoplens.testing.cdnow import cdnow_total_demand, read_cdnow_master

    cd = cdnow_total_demand(read_cdnow_master(), dt.date(1997, 9, 30))
    if not cd.empty:
        c_first = pd.to_datetime(cd["demand_date"]).min().date()
        c_as_of = pd.to_datetime(cd["demand_date"]).max().date()
        shops.append(("cdnow master, as of 1997-09-30", cd, 0,
                      noise_calendar(c_first, c_as_of + dt.timedelta(days=60)), c_as_of))
    rows = []
    for name, frame, top_n, calendar, end in shops:
        without = run(frame, top_n, None, end)
        with_cal = run(frame, top_n, calendar, end)
        rows.append({"shop": name, "without": without, "with": with_cal})
        print(name, without, with_cal, flush=True)
    lines = ["| shop | level | ratio without / with the calendar | 80% coverage without / with |",
             "|---|---|---|---|"]
    for r in rows:
        for level in ("total", "category", "product"):
            if level in r["without"]["levels"]:
                a, b = r["without"]["levels"][level], r["with"]["levels"][level]
                lines.append(f"| {r['shop']} | {level} | {a['ratio']:.3f} / **{b['ratio']:.3f}** |"
                             f" {a['coverage_80']:.3f} / {b['coverage_80']:.3f} |")
    text = ("### The shop's own calendar: ratio of mean MASE to seasonal naive (backtest, 4 windows)\n\n"
            + "\n".join(lines))
    save_report(text, rows, args.out)


if __name__ == "__main__":
    main()
