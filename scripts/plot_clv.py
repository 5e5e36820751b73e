"""Draw the CLV evidence charts from a built warehouse into reports/clv/.

    DUCKDB_PATH=warehouse.duckdb python scripts/plot_clv.py [--db FILE] [--out reports/clv]

* ``calibration_holdout.png``: per calibration frequency bucket, mean repeat
  purchase days expected by every count model in the evaluation window
  (holdout or backtest) next to the actual mean (from ml_clv_evaluation);
* ``cumulative_repeat_transactions.png``: actual cumulative repeat purchase
  days of the customers acquired up to as_of_date, by calendar day, against
  the selected model's expectation (sum over customers of the unconditional
  E[X(t - first purchase)]), with as_of_date marked.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb
import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shoplens.clv import DAYS_PER_UNIT, expected_purchases_unconditional  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def calibration_chart(con: duckdb.DuckDBPyConnection, out: Path) -> Path:
    rows = con.execute(
        """
        select model_name, slice, metric, value, evaluation_type
        from ml_clv_evaluation
        where task = 'repeat_purchases' and slice like 'frequency=%'
          and metric in ('predicted_mean', 'actual_mean')
        """
    ).df()
    if rows.empty:
        raise SystemExit("ml_clv_evaluation has no frequency-bucket rows: build ml_clv_evaluation first.")
    rows["bucket"] = rows["slice"].str.removeprefix("frequency=")
    order = sorted(rows["bucket"].unique(), key=lambda b: int(b.rstrip("+")))
    models = sorted(rows["model_name"].unique())
    actual = rows.loc[rows["metric"] == "actual_mean"].groupby("bucket")["value"].first().reindex(order)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / (len(models) + 1)
    pos = np.arange(len(order))
    ax.bar(pos, actual.to_numpy(), width, label="actual", color="black")
    for i, model in enumerate(models):
        pred = rows.loc[(rows["metric"] == "predicted_mean") & (rows["model_name"] == model)]
        pred = pred.groupby("bucket")["value"].first().reindex(order)
        ax.bar(pos + (i + 1) * width, pred.to_numpy(), width, label=model)
    ax.set_xticks(pos + width * len(models) / 2, order)
    ax.set_xlabel("repeat purchase days before as_of_date (frequency)")
    ax.set_ylabel("mean repeat purchase days in the window")
    ax.set_title(f"Predicted vs actual by frequency ({rows['evaluation_type'].iloc[0]})")
    ax.legend()
    fig.tight_layout()
    path = out / "calibration_holdout.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def cumulative_chart(con: duckdb.DuckDBPyConnection, out: Path) -> Path:
    params = con.execute(
        "select model_name, parameter, estimate, time_unit, as_of_date from ml_clv_parameters"
        " where model_role = 'count' and model_name = (select replace(model_name, '_cov', '')"
        "  from ml_clv_parameters where is_selected and model_role = 'count' limit 1)"
        # with covariates served, the curve of the same model without them
    ).df()
    name = str(params["model_name"].iloc[0])
    unit = DAYS_PER_UNIT[str(params["time_unit"].iloc[0])]
    as_of = pd.Timestamp(params["as_of_date"].iloc[0])
    p = dict(zip(params["parameter"], params["estimate"], strict=True))
    days = con.execute(
        """
        with purchases as (
            select customer_id, order_date from fct_orders where is_purchase
            union
            select customer_id, order_date from holdout_orders where is_purchase
        ),
        first_day as (
            select customer_id, min(order_date) as first_date from purchases group by 1
        )
        select p.customer_id, p.order_date, f.first_date
        from purchases as p
        inner join first_day as f on p.customer_id = f.customer_id
        where f.first_date <= ?
        """,
        [as_of.date()],
    ).df()
    days["order_date"] = pd.to_datetime(days["order_date"])
    days["first_date"] = pd.to_datetime(days["first_date"])
    repeat = days.loc[days["order_date"] > days["first_date"]]
    start = days["first_date"].min()
    end = days["order_date"].max()
    calendar = pd.date_range(start, end, freq="D")
    actual = repeat.groupby("order_date").size().reindex(calendar, fill_value=0).cumsum()
    births = days.groupby("customer_id")["first_date"].first().value_counts()
    expected = np.zeros(len(calendar))
    for birth, count in births.items():
        t = (calendar - birth).days.to_numpy(dtype=float)
        t = np.clip(t, 0, None) / unit
        expected += count * expected_purchases_unconditional(name, p, t)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(calendar, actual.to_numpy(), color="black", label="actual")
    ax.plot(calendar, expected, linestyle="--", label=f"{name} expected")
    ax.axvline(as_of, color="grey", linestyle=":", label="as_of_date")
    ax.set_ylabel("cumulative repeat purchase days")
    ax.set_title("Cumulative repeat transactions of customers acquired by as_of_date")
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    path = out / "cumulative_repeat_transactions.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("DUCKDB_PATH", str(ROOT / "warehouse.duckdb")))
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "clv")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(args.db, read_only=True)
    try:
        paths = [calibration_chart(con, args.out), cumulative_chart(con, args.out)]
    finally:
        con.close()
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main()
