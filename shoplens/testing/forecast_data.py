"""Build a ``demand_daily``-shaped frame straight from raw shop tables.

The warehouse builds ``demand_daily`` in SQL; tests and the benchmark need the
same shape without running dbt. This follows the mart's definition in
``docs/marts.md``: completed orders only, one row per series per day, zero
days filled from the first to the last order day. Revenue is the sum of line
amounts (``quantity * unit_price - discount``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def demand_daily_from_raw(
    orders: pd.DataFrame,
    order_items: pd.DataFrame,
    products: pd.DataFrame,
    as_of_date: dt.date | None = None,
) -> pd.DataFrame:
    """Daily units, revenue and orders per total / category / product.

    Only clean raw data is expected (as from ``generate_shop(dirty_rate=0)``).
    Days after ``as_of_date`` are dropped; every series spans the same days.
    """
    ordered = pd.to_datetime(orders["ordered_at"], utc=True, format="mixed")
    head = pd.DataFrame(
        {
            "order_id": orders["order_id"].to_numpy(),
            "demand_date": ordered.dt.tz_localize(None).dt.normalize().to_numpy(),
            "status": orders["status"].to_numpy(),
        }
    )
    head = head[head["status"] == "completed"]
    lines = order_items.merge(head, on="order_id").merge(
        products[["product_id", "category"]], on="product_id"
    )
    lines["revenue"] = lines["quantity"] * lines["unit_price"] - lines["discount"]
    lines["units"] = lines["quantity"].astype("float64")
    lines["promo_units"] = np.where(lines["discount"] > 0, lines["units"], 0.0)
    if as_of_date is not None:
        lines = lines[lines["demand_date"] <= pd.Timestamp(as_of_date)]
    days = pd.date_range(lines["demand_date"].min(), lines["demand_date"].max(), freq="D")

    parts = []
    for level, key_col in (("total", None), ("category", "category"), ("product", "product_id")):
        keys = ["all"] if key_col is None else sorted(lines[key_col].unique())
        group_col = key_col or "_all"
        if key_col is None:
            lines["_all"] = "all"
        agg = lines.groupby([group_col, "demand_date"]).agg(
            units=("units", "sum"), revenue=("revenue", "sum"), n_orders=("order_id", "nunique"),
            units_on_promotion=("promo_units", "sum"),
        )
        full = pd.MultiIndex.from_product([keys, days], names=["series_key", "demand_date"])
        agg.index = agg.index.set_names(["series_key", "demand_date"])
        agg = agg.reindex(full, fill_value=0).reset_index()
        agg.insert(0, "series_level", level)
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    out["revenue"] = out["revenue"].astype("float64").round(2)
    out["units"] = out["units"].astype("float64")
    out["n_orders"] = out["n_orders"].astype("int64")
    out["units_on_promotion"] = out["units_on_promotion"].astype("float64")
    out["demand_date"] = out["demand_date"].dt.date
    columns = ["series_level", "series_key", "demand_date", "units", "revenue", "n_orders",
               "units_on_promotion"]
    return out[columns]


def weekly_profile(values: np.ndarray, dates: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Mean of ``values`` per weekday (Monday first) divided by the overall mean."""
    weekday = pd.DatetimeIndex(pd.to_datetime(dates)).dayofweek
    frame = pd.DataFrame({"v": np.asarray(values, dtype="float64"), "w": weekday})
    means = frame.groupby("w")["v"].mean().reindex(range(7)).to_numpy()
    return means / np.nanmean(means)


def generated_demand(n_customers: int, n_products: int, n_days: int, seed: int) -> pd.DataFrame:
    """``demand_daily`` of a clean generated shop without events (the forecast benchmarks')."""
    return generated_shop_demand(n_customers, n_products, n_days, seed)[0]


def generated_shop_demand(n_customers: int, n_products: int, n_days: int,
                          seed: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """``generated_demand`` and the shop's category per product_id."""
    from shoplens.datagen import generate_shop

    shop = generate_shop(n_customers=n_customers, n_days=n_days, n_products=n_products,
                         seed=seed, events=False)
    products = shop["products"]
    categories = dict(zip(products["product_id"].astype(str), products["category"].astype(str),
                          strict=True))
    return demand_daily_from_raw(shop["orders"], shop["order_items"], products), categories


def with_spike(demand: pd.DataFrame, categories: dict[str, str], days_before_end: int,
               factor: float) -> pd.DataFrame:
    """``demand`` with one wholesale-sized order: ``factor`` times the shop total's mean
    daily units of its top product (by revenue), at its mean price, on the day
    ``days_before_end`` days before the last, added to the product, its category and the
    total (the UCI Online Retail export has single orders of 74,215 and 80,995 units)."""
    d = demand.assign(demand_date=pd.to_datetime(demand["demand_date"]))
    day = d["demand_date"].max() - pd.Timedelta(days=days_before_end)
    total = d[d["series_level"] == "total"]
    products = d[d["series_level"] == "product"]
    product = str(products.groupby("series_key")["revenue"].sum().idxmax())
    own = products[products["series_key"] == product]
    units = factor * float(total["units"].mean())
    price = float(own["revenue"].sum() / own["units"].sum())
    for level, key in (("product", product), ("category", categories[product]),
                       ("total", "all")):
        row = ((d["series_level"] == level) & (d["series_key"] == key)
               & (d["demand_date"] == day))
        if row.sum() != 1:
            raise ValueError(f"no {level} row {key} on {day.date()}")
        d.loc[row, "units"] += units
        d.loc[row, "revenue"] += units * price
        d.loc[row, "n_orders"] += 1
    return d


def warehouse_demand(path: str) -> tuple[pd.DataFrame, dict]:
    """A built warehouse's ``demand_daily`` and the build's forecast context: the keyword
    arguments ``as_of_date`` and ``country_weights`` of the forecast entry points."""
    import duckdb

    from shoplens.forecast.calendar import country_weights_from_customers

    con = duckdb.connect(path, read_only=True)
    try:
        kwargs = {"as_of_date": con.sql("select as_of_date from as_of").fetchone()[0],
                  "country_weights": country_weights_from_customers(
                      con.sql("select * from dim_customers").df())}
        return con.sql("select * from demand_daily").df(), kwargs
    finally:
        con.close()


def closed_on_saturdays(demand: pd.DataFrame, christmas: bool = False) -> pd.DataFrame:
    """``demand`` as if the shop closed on Saturdays: each Saturday's demand moves onto the
    Friday before (customers buy a day earlier), Saturdays are zero. ``christmas``: also
    closed from 24 December to 2 January, that demand lost. The shape of the UCI Online
    Retail shop, which the generator does not make."""
    d = demand.assign(demand_date=pd.to_datetime(demand["demand_date"]))
    measures = [c for c in ("units", "revenue", "n_orders", "units_on_promotion") if c in d.columns]
    saturday = d["demand_date"].dt.dayofweek == 5
    moved = d[saturday].assign(demand_date=lambda f: f["demand_date"] - pd.Timedelta(days=1))
    d.loc[saturday, measures] = 0
    d = (pd.concat([d, moved]).groupby(["series_level", "series_key", "demand_date"],
                                       as_index=False)[measures].sum())
    if christmas:
        month_day = d["demand_date"].dt.strftime("%m-%d")
        d.loc[(month_day >= "12-24") | (month_day <= "01-02"), measures] = 0
    return d.assign(demand_date=d["demand_date"].dt.date)
