"""The CDNOW sample shipped with ``lifetimes``, read once for every area's tests and benches.

``lifetimes/datasets/CDNOW_sample.txt`` holds one line per purchase record:
customer id, a second id, date (yyyymmdd), number of CDs and dollars; 2,357
customers who first bought in 1997-Q1, observed to 1998-06-30. The classic
split is an as-of date of 1997-09-30 and a 39-week (273-day) holdout.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

CDNOW_AS_OF = dt.date(1997, 9, 30)
CDNOW_WINDOW_DAYS = 273  # 39 weeks


def cdnow_path() -> Path:
    import lifetimes

    return Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"


def read_cdnow_sample(path: str | Path | None = None) -> pd.DataFrame:
    """The sample as it is: ``customer`` (text, as in the file), ``id``,
    ``date`` (yyyymmdd text), ``n_cds``, ``dollars``, plus ``order_date``."""
    raw = pd.read_csv(
        path or cdnow_path(),
        sep=r"\s+",
        header=None,
        names=["customer", "id", "date", "n_cds", "dollars"],
        dtype={"customer": "str", "id": "str", "date": "str", "n_cds": "int64", "dollars": "float64"},
    )
    raw["order_date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


def cdnow_raw_orders(path: str | Path | None = None, raw: pd.DataFrame | None = None) -> pd.DataFrame:
    """The sample (or ``raw``: :func:`read_cdnow_master`) in the raw ``orders`` contract (one
    completed order per line, USD)."""
    raw = read_cdnow_sample(path) if raw is None else raw
    return pd.DataFrame(
        {
            "order_id": [f"cdnow-{i}" for i in range(len(raw))],
            "customer_id": raw["customer"].astype("int64"),
            "ordered_at": raw["order_date"].dt.strftime("%Y-%m-%dT00:00:00Z"),
            "order_total": raw["dollars"].round(2),
            "status": "completed",
            "currency": "USD",
        }
    )


def cdnow_marts(path: str | Path | None = None, raw: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Mart-shaped frames (``fct_orders``-like orders, ``dim_customers``-like customers).

    The sample has no web events and no customer attributes, so sessions is
    empty and country / first-order category are unknown.
    """
    raw = cdnow_raw_orders(path, raw)
    orders = raw.assign(
        ordered_at=pd.to_datetime(raw["ordered_at"], utc=True).dt.tz_localize(None),
        is_purchase=True,
    )
    customers = pd.DataFrame(
        {
            "customer_id": orders["customer_id"].drop_duplicates().to_numpy(),
            "country": "unknown",
            "first_order_category": None,
            "signed_up_at": pd.NaT,
        }
    )
    sessions = pd.DataFrame(
        columns=["customer_id", "started_at", "n_product_views", "n_add_to_carts", "n_checkouts"]
    )
    return {"orders": orders, "customers": customers, "sessions": sessions}


def read_cdnow_master() -> pd.DataFrame:
    """``lifetimes/datasets/CDNOW_master.txt`` (23,570 customers, 69,659 purchase records) in the
    columns of :func:`read_cdnow_sample` (``id`` is empty: the master file has none)."""
    import lifetimes

    raw = pd.read_csv(
        Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt",
        sep=r"\s+",
        header=0,
        names=["customer", "date", "n_cds", "dollars"],
        dtype={"customer": "str", "date": "str", "n_cds": "int64", "dollars": "float64"},
    )
    raw.insert(1, "id", "")
    raw["order_date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


def cdnow_total_demand(raw: pd.DataFrame, as_of_date: dt.date | None = None) -> pd.DataFrame:
    """The shop total of a CDNOW file as ``demand_daily`` (units: CDs, revenue: dollars), from
    the first purchase day to ``as_of_date`` (default: the last purchase day), zeros filled.

    Real daily demand for the forecasts: one cohort acquired in 1997-Q1, whose
    purchases fall by two thirds when acquisition stops at the end of March.
    The files have no products, so there are no category or product series.
    """
    last = pd.Timestamp(as_of_date) if as_of_date is not None else raw["order_date"].max()
    kept = raw[raw["order_date"] <= last]
    days = pd.date_range(kept["order_date"].min(), last, freq="D", name="demand_date")
    daily = (kept.groupby("order_date")
             .agg(units=("n_cds", "sum"), revenue=("dollars", "sum"), n_orders=("n_cds", "size"))
             .reindex(days, fill_value=0).reset_index())
    return pd.DataFrame({
        "series_level": "total",
        "series_key": "all",
        "demand_date": daily["demand_date"].dt.date,
        "units": daily["units"].astype("float64"),
        "revenue": daily["revenue"].astype("float64").round(2),
        "n_orders": daily["n_orders"].astype("int64"),
        "units_on_promotion": 0.0,
    })
