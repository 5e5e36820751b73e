"""Draw the CLV calibration diagnostics of a built warehouse into reports/clv/.

    DUCKDB_PATH=warehouse.duckdb python scripts/plot_clv_diagnostics.py [--db FILE] [--out reports/clv]

One PNG per table (docs/clv.md "Reading the diagnostics"):

* ``period_transactions.png``: customers by repeat purchases before
  as_of_date, actual vs expected (clv_period_transactions);
* ``calibration_vs_holdout.png``: mean holdout purchases by calibration
  frequency, actual vs expected (clv_calibration_holdout);
* ``probability_alive_matrix.png``: P(alive) over frequency x recency
  (clv_probability_alive_matrix);
* ``cumulative_purchases.png``: cumulative repeat purchases over the holdout
  weeks, actual vs expected (clv_cumulative_purchases).

An empty table (no holdout, or the CLV step declined) is reported and
skipped; the other charts are still drawn.
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

ROOT = Path(__file__).resolve().parents[1]


def _bars(ax, labels, actual, expected, expected_label: str) -> None:
    pos = np.arange(len(labels))
    ax.bar(pos - 0.2, actual, 0.4, label="actual", color="black")
    ax.bar(pos + 0.2, expected, 0.4, label=expected_label)
    ax.set_xticks(pos, labels)
    ax.legend()


def period_chart(rows: pd.DataFrame, ax) -> None:
    model = rows["count_model"].iloc[0]
    _bars(ax, rows["frequency_bucket"], rows["n_customers_actual"], rows["n_customers_expected"],
          f"{model} expected")
    ax.set_xlabel("repeat purchase days before as_of_date")
    ax.set_ylabel("customers")
    ax.set_title(f"Frequency of repeat transactions (as of {rows['as_of_date'].iloc[0]:%Y-%m-%d})")


def calibration_chart(rows: pd.DataFrame, ax) -> None:
    model = rows["count_model"].iloc[0]
    _bars(ax, rows["frequency_bucket"], rows["actual_mean_purchases"], rows["predicted_mean_purchases"],
          f"{model} expected")
    ax.set_xlabel("repeat purchase days before as_of_date (calibration)")
    ax.set_ylabel("mean purchase days in the holdout")
    start, end = rows["holdout_start_date"].iloc[0], rows["holdout_end_date"].iloc[0]
    ax.set_title(f"Calibration vs holdout ({start:%Y-%m-%d} to {end:%Y-%m-%d})")


def alive_chart(rows: pd.DataFrame, ax) -> None:
    # cells no customer can have (no repeat purchase but recency > 0, or the reverse) stay blank
    shown = rows.assign(probability_alive=rows["probability_alive"].where(rows["is_possible_history"]))
    grid = shown.pivot(index="recency", columns="frequency", values="probability_alive").sort_index()
    image = ax.imshow(grid.to_numpy(), origin="upper", aspect="auto", vmin=0, vmax=1, cmap="viridis",
                      extent=(grid.columns.min() - 0.5, grid.columns.max() + 0.5, grid.index.max(), grid.index.min()))
    plt.colorbar(image, ax=ax, label="P(alive)")
    ax.set_xlabel("repeat purchase days (frequency)")
    ax.set_ylabel(f"recency ({rows['time_unit'].iloc[0]})")
    ax.set_title(f"P(alive) of a customer of age {rows['age'].iloc[0]:.0f} ({rows['count_model'].iloc[0]})")


def cumulative_chart(rows: pd.DataFrame, ax) -> None:
    model = rows["count_model"].iloc[0]
    ax.plot(rows["period"], rows["actual_cumulative"], color="black", label="actual")
    ax.plot(rows["period"], rows["predicted_cumulative"], linestyle="--", label=f"{model} given history")
    ax.plot(rows["period"], rows["predicted_cumulative_unconditional"], linestyle=":",
            label=f"{model} from age only")
    ax.set_xlabel("holdout week")
    ax.set_ylabel("cumulative repeat purchase days")
    ax.set_title(f"Tracking cumulative purchases ({int(rows['n_customers'].iloc[0])} customers)")
    ax.legend()


CHARTS = {
    "period_transactions": ("clv_period_transactions", "frequency", period_chart),
    "calibration_vs_holdout": ("clv_calibration_holdout", "frequency", calibration_chart),
    "probability_alive_matrix": ("clv_probability_alive_matrix", "frequency, recency", alive_chart),
    "cumulative_purchases": ("clv_cumulative_purchases", "period", cumulative_chart),
}


def draw(con: duckdb.DuckDBPyConnection, out: Path) -> list[Path]:
    """Every chart whose table has rows; prints why a chart is skipped."""
    paths = []
    for file_name, (table, order, chart) in CHARTS.items():
        try:
            rows = con.execute(f"select * from {table} order by {order}").df()
        except duckdb.CatalogException:
            print(f"skipped {file_name}.png: table {table} is missing (dbt build --select +{table})")
            continue
        if rows.empty:
            print(f"skipped {file_name}.png: {table} is empty (no holdout or CLV declined; see ml_model_status)")
            continue
        fig, ax = plt.subplots(figsize=(8, 4.5))
        chart(rows, ax)
        fig.tight_layout()
        paths.append(out / f"{file_name}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("DUCKDB_PATH", str(ROOT / "warehouse.duckdb")))
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "clv")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(args.db, read_only=True) as con:
        paths = draw(con, args.out)
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main()
