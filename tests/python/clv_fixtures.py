"""Shared helpers of the CLV tests (not a conftest: other areas own that)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import parse_utc

from shoplens.testing.cdnow import read_cdnow_sample


def cdnow_transactions() -> pd.DataFrame:
    """CDNOW_sample.txt (shipped with lifetimes): one row per customer, day and purchase."""
    return read_cdnow_sample().rename(columns={"customer": "customer_id", "id": "customer_seq"})


def cdnow_raw_orders() -> pd.DataFrame:
    """CDNOW in the raw orders contract (one completed order per CDNOW line).

    Written as in the file: eight customers' first purchase is $0.00, a
    valid purchase (only negative totals are rejected), so all 2,357
    customers reach the models.
    """
    raw = cdnow_transactions()
    return pd.DataFrame(
        {
            "order_id": [f"O{i:06d}" for i in range(len(raw))],
            "customer_id": "C" + raw["customer_id"],
            "ordered_at": raw["order_date"].dt.strftime("%Y-%m-%dT12:00:00Z"),
            "order_total": raw["dollars"].map(lambda v: f"{v:.2f}"),
            "status": "completed",
            "currency": "USD",
        }
    )


def shop_purchases(tables: dict) -> pd.DataFrame:
    """Completed orders of a generated shop as (customer_id, order_date, order_total)."""
    orders = tables["orders"]
    orders = orders.loc[orders["status"] == "completed"]
    return pd.DataFrame(
        {
            "customer_id": orders["customer_id"].to_numpy(),
            # value by value: pandas' vectorised ISO parser misreads naive
            # timestamps that sit among timestamps with offsets
            "order_date": parse_utc(orders["ordered_at"]).dt.normalize().to_numpy(),
            "order_total": pd.to_numeric(orders["order_total"]).to_numpy(dtype=float),
        }
    )


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def max_rel_diff(a, b) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
