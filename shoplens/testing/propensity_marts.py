"""A small pandas stand-in for the marts the propensity model reads.

Tests and the bench script train on generator data without running dbt; this
module turns raw tables (the raw contract of ``shoplens.datagen``) into frames
with the columns of ``fct_orders``, ``fct_sessions`` and ``dim_customers`` that
:func:`shoplens.propensity.run_propensity` uses. It assumes clean raw data
(no quarantine rules) and sessions identified by ``session_id``; the real
marts are built by dbt.
"""

from __future__ import annotations

import pandas as pd


def marts_from_raw(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Return ``orders``, ``sessions`` and ``customers`` frames from raw tables."""
    orders = _orders(tables["orders"])
    customers = _customers(tables, orders)
    sessions = _sessions(tables.get("events"))
    return {"orders": orders, "sessions": sessions, "customers": customers}


def _orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    ordered_at = pd.to_datetime(raw_orders["ordered_at"], utc=True, format="ISO8601").dt.tz_localize(None)
    return pd.DataFrame(
        {
            "order_id": raw_orders["order_id"].to_numpy(),
            "customer_id": raw_orders["customer_id"].to_numpy(),
            "ordered_at": ordered_at.to_numpy(),
            "order_total": raw_orders["order_total"].to_numpy("float64"),
            "is_purchase": (raw_orders["status"] == "completed").to_numpy(),
        }
    )


def _customers(tables: dict[str, pd.DataFrame], orders: pd.DataFrame) -> pd.DataFrame:
    """Customers with country, signup time and the top category of their first purchase."""
    purchases = orders.loc[orders["is_purchase"]].sort_values(["ordered_at", "order_id"])
    first = purchases.drop_duplicates("customer_id")[["customer_id", "order_id"]]
    items = tables["order_items"].merge(tables["products"][["product_id", "category"]], on="product_id")
    items = items.assign(amount=items["quantity"] * items["unit_price"] - items["discount"].fillna(0))
    first_items = items.merge(first, on="order_id")
    top = (
        first_items.groupby(["customer_id", "category"], as_index=False)["amount"].sum()
        .sort_values(["customer_id", "amount", "category"], ascending=[True, False, True])
        .drop_duplicates("customer_id")
        .rename(columns={"category": "first_order_category"})[["customer_id", "first_order_category"]]
    )
    raw_customers = tables["customers"]
    return pd.DataFrame(
        {
            "customer_id": raw_customers["customer_id"].to_numpy(),
            "country": raw_customers["country"].to_numpy(),
            "signed_up_at": pd.to_datetime(raw_customers["signed_up_at"], utc=True, format="ISO8601")
            .dt.tz_localize(None)
            .to_numpy(),
        }
    ).merge(top, on="customer_id", how="left")


def _sessions(events: pd.DataFrame | None) -> pd.DataFrame:
    """One row per session of a known customer: start time and event counts."""
    if events is None or len(events) == 0:
        return pd.DataFrame(columns=["customer_id", "started_at", "n_product_views", "n_add_to_carts", "n_checkouts"])
    ev = events.loc[events["customer_id"].notna()]
    kind = ev["event_type"]
    grouped = pd.DataFrame(
        {
            "session_id": ev["session_id"].to_numpy(),
            "customer_id": ev["customer_id"].to_numpy(),
            "occurred_at": pd.to_datetime(ev["occurred_at"], utc=True).dt.tz_localize(None).to_numpy(),
            "pv": (kind == "product_view").to_numpy("int64"),
            "atc": (kind == "add_to_cart").to_numpy("int64"),
            "co": (kind == "checkout").to_numpy("int64"),
        }
    ).groupby("session_id", sort=False)
    return pd.DataFrame(
        {
            "customer_id": grouped["customer_id"].first(),
            "started_at": grouped["occurred_at"].min(),
            "n_product_views": grouped["pv"].sum(),
            "n_add_to_carts": grouped["atc"].sum(),
            "n_checkouts": grouped["co"].sum(),
        }
    ).reset_index(drop=True)
