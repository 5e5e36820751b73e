"""Calibration of the CLV predictive intervals on a holdout (issue 11).

    python bench/bench_clv_intervals.py                 # generated shop + CDNOW
    python bench/bench_clv_intervals.py --customers 5000
    python bench/bench_clv_intervals.py --quick          # 2,000 customers, no master file

Two data sets, package path (the same code ml_clv_evaluation runs):

* the generated shop (shoplens.datagen, BG/NBD + Gamma-Gamma truth, 730 days,
  120-day holdout), every candidate fitted at the calibration end and the
  count model chosen by holdout MAE, as the pipeline does;
* the CDNOW sample shipped with lifetimes (as of 1997-09-30, weeks, 39-week
  holdout), and the CDNOW master file (23,570 customers, same split).

Prints ``interval_coverage_80`` (the final, recalibrated interval) and
``interval_coverage_80_model`` (the model's own 10th-90th percentile) of
holdout revenue and purchase days, overall and per decile of the expected
value (decile 1 = highest), the closed-interval share, the inner split's
window, and MAE of the mean and of the predictive median. Writes
reports/bench/clv_intervals.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd

from shoplens import clv
from shoplens.clv.evaluation import (
    count_model_errors,
    evaluate_clv,
    select_count_model,
    summary_from_purchases,
    window_actuals,
)
from shoplens.datagen import generate_shop
from shoplens.testing.cdnow import CDNOW_AS_OF, read_cdnow_sample

ROOT = Path(__file__).resolve().parents[1]


def _generated(customers: int, seed: int) -> tuple[pd.DataFrame, dt.date, str]:
    tables = generate_shop(n_customers=customers, n_days=730, n_products=20, seed=seed, events=False,
                           holdout_days=120)
    orders = tables["orders"].loc[lambda o: o["status"] == "completed"]
    purchases = pd.DataFrame({
        "customer_id": orders["customer_id"].to_numpy(),
        "order_date": pd.to_datetime(orders["ordered_at"], utc=True, format="ISO8601")
        .dt.tz_localize(None).dt.normalize().to_numpy(),
        "order_total": pd.to_numeric(orders["order_total"]).to_numpy(dtype=float),
    })
    return purchases, pd.Timestamp(tables["ground_truth"]["calibration_end_date"]).date(), "days"


def _cdnow() -> tuple[pd.DataFrame, dt.date, str]:
    raw = read_cdnow_sample()
    purchases = pd.DataFrame({"customer_id": raw["customer"], "order_date": raw["order_date"],
                              "order_total": raw["dollars"]})
    return purchases, CDNOW_AS_OF, "weeks"


def _cdnow_master() -> tuple[pd.DataFrame, dt.date, str]:
    import lifetimes

    raw = pd.read_csv(Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt", sep=r"\s+", header=0,
                      names=["customer", "date", "n_cds", "dollars"], dtype={"customer": str, "date": str})
    purchases = pd.DataFrame({"customer_id": raw["customer"],
                              "order_date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                              "order_total": raw["dollars"]})
    return purchases, CDNOW_AS_OF, "weeks"


def _coverage(ev: pd.DataFrame, metric: str) -> dict:
    out: dict = {}
    for task, rows in ev.loc[ev["metric"] == metric].groupby("task"):
        by_slice = rows.set_index("slice")["value"]
        deciles = [round(float(by_slice[f"decile={d}"]), 4) for d in range(1, 11) if f"decile={d}" in by_slice]
        out[f"{task}.{metric}"] = round(float(by_slice["all"]), 4)
        out[f"{task}.{metric}.deciles"] = deciles
        out[f"{task}.{metric}.decile_range"] = [min(deciles), max(deciles)]
    return out


def evaluate(purchases: pd.DataFrame, as_of: dt.date, unit: str) -> dict:
    """Fit at ``as_of``, choose by holdout MAE, and summarise the calibration rows."""
    dates = pd.to_datetime(purchases["order_date"])
    before, after = purchases.loc[dates <= pd.Timestamp(as_of)], purchases.loc[dates > pd.Timestamp(as_of)]
    end = dates.max().date()
    summary = summary_from_purchases(before, as_of, unit)
    config = clv.ClvConfig(time_unit=unit)
    fit = clv.fit_clv(summary, config)
    actual = window_actuals(after, as_of + dt.timedelta(days=1), end)
    select_count_model(fit, count_model_errors(fit, summary, actual, (end - as_of).days, config))
    started = time.perf_counter()
    ev = evaluate_clv(fit, summary, before, after, as_of_date=as_of, data_end_date=end, config=config)
    out: dict = {"customers": len(summary), "served": f"{fit.selected}+{fit.spend_model.name}",
                 "evaluation_seconds": round(time.perf_counter() - started, 1)}
    out.update(_coverage(ev, "interval_coverage_80_model"))
    out.update(_coverage(ev, "interval_coverage_80"))
    window = ev.loc[ev["metric"] == "interval_calibration_window_days", "value"]
    out["inner_window_days"] = int(window.iloc[0]) if len(window) else None
    closed = ev.loc[ev["metric"] == "interval_coverage_80_closed", "value"]
    out["revenue_coverage_80_closed"] = round(float(closed.iloc[0]), 4)
    mae = ev.loc[(ev["task"] == "repeat_purchases") & (ev["slice"] == "all")
                 & ev["metric"].isin(["mae", "mae_median"])]
    out["mae"] = {f"{r.model_name}.{r.metric}": round(float(r.value), 4) for r in mae.itertuples()}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-master", action="store_true", help="leave out the CDNOW master file")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    ap.add_argument("--quick", action="store_true", help="smoke run (make bench --quick): 2,000 customers, no master file")
    args = ap.parse_args(argv)
    if args.quick:
        args.customers, args.skip_master = 2_000, True
    result = {"generated": evaluate(*_generated(args.customers, args.seed)), "cdnow": evaluate(*_cdnow())}
    if not args.skip_master:
        result["cdnow_master"] = evaluate(*_cdnow_master())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "clv_intervals.json").write_text(json.dumps(result, indent=2))
    lines = ["# CLV predictive intervals on the holdout", ""]
    for name, figures in result.items():
        lines += [f"## {name}", ""] + [f"- {k}: {v}" for k, v in figures.items()] + [""]
    (args.out / "clv_intervals.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
