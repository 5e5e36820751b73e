"""Plot history, forecast and 80/95% intervals for the total and top categories.

Reads ``demand_daily`` and ``pred_demand_forecast`` from the warehouse and
writes one PNG per series and measure into ``reports/forecast/``:

    python scripts/plot_forecast.py                      # warehouse.duckdb
    python scripts/plot_forecast.py --db target/x.duckdb --top-categories 3
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load(db: Path, top_categories: int, history_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History (last ``history_days`` days) and forecasts of the plotted series."""
    if not db.exists():
        raise SystemExit(f"warehouse {db} not found: run `make build` first or pass --db")
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = set(con.sql("select table_name from information_schema.tables").df()["table_name"])
        for table in ("demand_daily", "pred_demand_forecast"):
            if table not in tables:
                raise SystemExit(f"table {table} missing in {db}: run `make build` first")
        top = con.execute(
            """
            select series_key
            from demand_daily
            where series_level = 'category'
            group by series_key
            order by sum(revenue) desc, series_key
            limit ?
            """,
            [top_categories],
        ).df()["series_key"].tolist()
        keys = [("total", "all")] + [("category", key) for key in top]
        wanted = pd.DataFrame(keys, columns=["series_level", "series_key"])
        con.register("wanted", wanted)
        history = con.execute(
            """
            select d.series_level, d.series_key, d.demand_date,
                cast(d.units as double) as units, cast(d.revenue as double) as revenue
            from demand_daily as d
            inner join wanted using (series_level, series_key)
            where d.demand_date > (select max(demand_date) from demand_daily) - ?
            """,
            [history_days],
        ).df()
        forecasts = con.sql(
            """
            select f.*
            from pred_demand_forecast as f
            inner join wanted using (series_level, series_key)
            """
        ).df()
    finally:
        con.close()
    return history, forecasts


def plot_series(history: pd.DataFrame, forecast: pd.DataFrame, title: str, path: Path) -> None:
    """One PNG: history as a line, forecast with shaded 95% and 80% bands."""
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(history["demand_date"], history["value"], color="0.35", lw=0.9, label="history")
    ax.fill_between(forecast["forecast_date"], forecast["lower_95"], forecast["upper_95"],
                    color="tab:blue", alpha=0.15, label="95% interval")
    ax.fill_between(forecast["forecast_date"], forecast["lower_80"], forecast["upper_80"],
                    color="tab:blue", alpha=0.3, label="80% interval")
    ax.plot(forecast["forecast_date"], forecast["point_forecast"], color="tab:blue", lw=1.5,
            label="forecast")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path,
                        default=Path(os.environ.get("DUCKDB_PATH", ROOT / "warehouse.duckdb")))
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "forecast")
    parser.add_argument("--top-categories", type=int, default=4)
    parser.add_argument("--history-days", type=int, default=180)
    args = parser.parse_args()

    history, forecasts = load(args.db, args.top_categories, args.history_days)
    if forecasts.empty:
        raise SystemExit("pred_demand_forecast has no rows for the total or the categories")
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for (level, key), fc in forecasts.groupby(["series_level", "series_key"]):
        hist = history[(history["series_level"] == level) & (history["series_key"] == key)]
        for measure, part in fc.groupby("measure"):
            part = part.sort_values("forecast_date")
            h = hist.sort_values("demand_date").rename(columns={measure: "value"})
            method = part["model_order"].iloc[0]
            title = f"{level} {key}: daily {measure}, as of {pd.Timestamp(part['as_of_date'].iloc[0]).date()} ({method})"
            path = args.out / f"forecast_{level}_{key}_{measure}.png".replace(" ", "_")
            plot_series(h, part, title, path)
            written.append(path)
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
