"""Purchase lines in, sparse customer x product matrices out.

Every model here reads *purchase lines*: one row per order line of a
completed order, with ``customer_id, order_id, product_id, order_date`` (the
columns of ``fct_order_items`` / ``holdout_order_items``). A product is
known by its id alone, so products missing from the ``products`` table are
recommended under their id, never dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoplens.recommend.config import RecommendError

LINE_COLUMNS = ("customer_id", "order_id", "product_id", "order_date")


def purchase_lines(lines: pd.DataFrame, table: str = "fct_order_items") -> pd.DataFrame:
    """Validate and normalise purchase lines (drops non-purchases when ``is_purchase`` is given)."""
    missing = [c for c in LINE_COLUMNS if c not in lines.columns]
    if missing:
        raise RecommendError(f"{table} lacks column {missing[0]}: the recommender needs {', '.join(LINE_COLUMNS)}")
    out = lines
    if "is_purchase" in out.columns:
        out = out.loc[out["is_purchase"].fillna(False).astype(bool)]
    null = [c for c in LINE_COLUMNS if out[c].isna().any()]
    if null:
        raise RecommendError(f"{table}.{null[0]} has nulls: rule not_null (fct tables never hold them)")
    extra = [c for c in ("line_amount", "category", "discount", "unit_price", "quantity") if c in out.columns]
    out = out[list(LINE_COLUMNS) + extra].copy()
    for col in ("customer_id", "order_id", "product_id"):
        if isinstance(out[col].dtype, pd.CategoricalDtype):  # ids stored once each (large shops)
            out[col] = out[col].cat.rename_categories(lambda c: str(c))
        else:
            out[col] = out[col].astype(str)
    out["order_date"] = pd.to_datetime(out["order_date"]).dt.date
    return out.reset_index(drop=True)


@dataclass
class Interactions:
    """Customer x product purchase counts (distinct orders holding the product)."""

    customers: np.ndarray  # customer ids, row order
    products: np.ndarray  # product ids, column order (every product ever bought)
    matrix: sp.csr_matrix  # float32 counts
    n_orders: np.ndarray  # distinct purchase orders per customer

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Row index of each customer id (-1 when unknown)."""
        index = pd.Index(self.customers)
        return index.get_indexer(ids)


def interactions(lines: pd.DataFrame, products: np.ndarray, end: dt.date,
                 customers: np.ndarray | None = None) -> Interactions:
    """Counts of purchases on or before ``end``; columns follow ``products``.

    Rows are ``customers`` when given (customers without a purchase get an
    empty row), else every customer with a purchase line by ``end``.
    """
    part = lines.loc[lines["order_date"] <= end]
    if customers is None:
        customers = np.sort(part["customer_id"].unique())
    row = pd.Index(customers).get_indexer(part["customer_id"])
    col = pd.Index(products).get_indexer(part["product_id"])
    keep = (row >= 0) & (col >= 0)
    pairs = pd.DataFrame({"r": row[keep], "c": col[keep], "o": part["order_id"].to_numpy()[keep]})
    per_pair = pairs.drop_duplicates(["r", "c", "o"]).groupby(["r", "c"]).size()
    matrix = sp.csr_matrix(
        (per_pair.to_numpy(np.float32), (per_pair.index.get_level_values(0), per_pair.index.get_level_values(1))),
        shape=(len(customers), len(products)),
    )
    n_orders = np.bincount(pairs.drop_duplicates(["r", "o"])["r"], minlength=len(customers))
    return Interactions(np.asarray(customers), np.asarray(products), matrix, n_orders)


def bought_in_window(lines: pd.DataFrame, products: np.ndarray, customers: np.ndarray,
                     start: dt.date, end: dt.date) -> sp.csr_matrix:
    """Binary customer x product matrix of purchases with ``start <= order_date <= end``.

    Products never seen before stay outside ``products`` and are ignored:
    no recommender can name them.
    """
    part = lines.loc[(lines["order_date"] >= start) & (lines["order_date"] <= end)]
    row = pd.Index(customers).get_indexer(part["customer_id"])
    col = pd.Index(products).get_indexer(part["product_id"])
    keep = (row >= 0) & (col >= 0)
    m = sp.csr_matrix((np.ones(keep.sum(), np.float32), (row[keep], col[keep])), shape=(len(customers), len(products)))
    m.data[:] = 1.0
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def sample_rows(n: int, limit: int, seed: int) -> np.ndarray:
    """Sorted seeded sample of at most ``limit`` of ``range(n)``."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def lines_from_raw(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Purchase lines in the shape of ``fct_order_items`` from generator tables.

    For tests and benches that skip dbt: assumes clean raw data (no
    quarantine), completed orders only, UTC dates.
    """
    orders = tables["orders"]
    orders = orders.loc[orders["status"] == "completed", ["order_id", "customer_id", "ordered_at"]]
    ordered = pd.to_datetime(orders["ordered_at"], utc=True, format="ISO8601")
    orders = orders.assign(order_date=ordered.dt.tz_localize(None).dt.normalize())
    items = tables["order_items"].merge(orders[["order_id", "customer_id", "order_date"]], on="order_id")
    cats = tables["products"][["product_id", "category"]] if "products" in tables else None
    if cats is not None:
        items = items.merge(cats, on="product_id", how="left")
    items["category"] = items.get("category", pd.Series(index=items.index, dtype=object)).fillna("uncategorised")
    items["line_amount"] = items["quantity"] * items["unit_price"] - items["discount"].fillna(0)
    return purchase_lines(items)


def as_of_dates(as_of: pd.DataFrame) -> tuple[dt.date, dt.date, bool]:
    """``(as_of_date, data_end_date, has_holdout)`` from the one-row ``as_of`` mart."""
    row = as_of.iloc[0]
    return (pd.Timestamp(row["as_of_date"]).date(), pd.Timestamp(row["data_end_date"]).date(),
            bool(row["has_holdout"]))
