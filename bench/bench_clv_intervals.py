"""Calibration of the CLV predictive intervals on a holdout (issue 11).

    python bench/bench_clv_intervals.py                 # generated shop + CDNOW
    python bench/bench_clv_intervals.py --customers 5000

Two data sets, package path (the same code ml_clv_evaluation runs):

* the generated shop (shoplens.datagen, BG/NBD + Gamma-Gamma truth, 730 days,
  120-day holdout), every candidate fitted at the calibration end and the
  count model chosen by holdout MAE, as the pipeline does;
* the CDNOW sample shipped with lifetimes (as of 1997-09-30, weeks, 39-week
  holdout).

Prints ``interval_coverage_80`` of holdout revenue and purchase days
(overall and the range over deciles of expected revenue), the closed-interval
share beside it, and MAE of the mean and of the predictive median. Writes
reports/bench/clv_intervals.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
    ev = evaluate_clv(fit, summary, before, after, as_of_date=as_of, data_end_date=end, config=config)
    cov = ev.loc[ev["metric"] == "interval_coverage_80"]
    out: dict = {"customers": len(summary), "served": f"{fit.selected}+{fit.spend_model.name}"}
    for task, rows in cov.groupby("task"):
        deciles = rows.loc[rows["slice"] != "all", "value"]
        out[f"{task}_coverage_80"] = round(float(rows.loc[rows["slice"] == "all", "value"].iloc[0]), 4)
        out[f"{task}_coverage_80_deciles"] = [round(float(deciles.min()), 4), round(float(deciles.max()), 4)]
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
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = ap.parse_args(argv)
    result = {"generated": evaluate(*_generated(args.customers, args.seed)), "cdnow": evaluate(*_cdnow())}
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
