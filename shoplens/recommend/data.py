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


BROWSE_COLUMNS = ("customer_id", "product_id", "event_date", "n_product_views", "n_add_to_carts")


def browsing_events(events: pd.DataFrame | None,
                    table: str = "customer_product_browsing") -> pd.DataFrame | None:
    """Validate and normalise browsing rows (one per customer, product and day); None when there are none.

    The columns of the mart ``customer_product_browsing``. A shop without
    web events gives None: the recommender then uses purchases only.
    """
    if events is None or len(events) == 0:
        return None
    missing = [c for c in BROWSE_COLUMNS if c not in events.columns]
    if missing:
        raise RecommendError(f"{table} lacks column {missing[0]}: browsing needs {', '.join(BROWSE_COLUMNS)}")
    null = [c for c in BROWSE_COLUMNS[:3] if events[c].isna().any()]
    if null:
        raise RecommendError(f"{table}.{null[0]} has nulls: rule not_null (the mart never holds them)")
    out = events[list(BROWSE_COLUMNS)].copy()
    for col in ("customer_id", "product_id"):
        out[col] = out[col].astype(str)
    out["event_date"] = pd.to_datetime(out["event_date"]).dt.date
    for col in ("n_product_views", "n_add_to_carts"):
        out[col] = pd.to_numeric(out[col]).fillna(0).astype(np.float32)
    return out.reset_index(drop=True)


@dataclass
class Interactions:
    """Customer x product feedback: purchase counts (distinct orders holding the product), plus browsing.

    ``matrix`` is what ALS fits: purchase counts plus, when browsing is
    given, ``view_weight`` per product view and ``cart_weight`` per
    add-to-cart. ``purchases`` holds the purchase counts alone (the same
    object when there is no browsing).
    """

    customers: np.ndarray  # customer ids, row order
    products: np.ndarray  # product ids, column order (every product ever bought)
    matrix: sp.csr_matrix  # float32 feedback
    n_orders: np.ndarray  # distinct purchase orders per customer
    purchases: sp.csr_matrix | None = None  # float32 purchase counts (None: same as matrix)

    @property
    def bought(self) -> sp.csr_matrix:
        return self.matrix if self.purchases is None else self.purchases

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Row index of each customer id (-1 when unknown)."""
        index = pd.Index(self.customers)
        return index.get_indexer(ids)


def interactions(lines: pd.DataFrame, products: np.ndarray, end: dt.date,
                 customers: np.ndarray | None = None, browsing: pd.DataFrame | None = None,
                 weights: tuple[float, float] = (0.0, 0.0)) -> Interactions:
    """Counts of purchases on or before ``end``; columns follow ``products``.

    Rows are ``customers`` when given (customers without a purchase get an
    empty row), else every customer with a purchase line by ``end``. With
    ``browsing``, its events on or before ``end`` are added to ``matrix``
    with ``weights = (per view, per add-to-cart)`` (point in time: nothing
    after ``end`` is read).
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
    inter = Interactions(np.asarray(customers), np.asarray(products), matrix, n_orders)
    if browsing is not None:
        inter.purchases = matrix
        inter.matrix = (matrix + browsed(browsing, products, customers, end, weights)).tocsr()
    return inter


def browsed(browsing: pd.DataFrame, products: np.ndarray, customers: np.ndarray, end: dt.date,
            weights: tuple[float, float]) -> sp.csr_matrix:
    """Weighted views + add-to-carts per customer and product on or before ``end``.

    Products outside ``products`` (never bought) and customers outside
    ``customers`` are ignored.
    """
    part = browsing.loc[browsing["event_date"] <= end]
    row = pd.Index(customers).get_indexer(part["customer_id"])
    col = pd.Index(products).get_indexer(part["product_id"])
    keep = (row >= 0) & (col >= 0)
    value = (weights[0] * part["n_product_views"].to_numpy(np.float32)
             + weights[1] * part["n_add_to_carts"].to_numpy(np.float32))
    m = sp.csr_matrix((value[keep].astype(np.float32), (row[keep], col[keep])),
                      shape=(len(customers), len(products)))
    m.sum_duplicates()
    return m


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


def browsing_from_raw(tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """Browsing rows in the shape of ``customer_product_browsing`` from generator tables (tests, benches).

    Assumes clean raw data: product views and add-to-carts of known
    customers, UTC dates; None when the tables hold no events.
    """
    events = tables.get("events")
    if events is None or events.empty:
        return None
    ev = events.loc[events["event_type"].isin(["product_view", "add_to_cart"])
                    & events["customer_id"].notna() & events["product_id"].notna()]
    stamp = ev["occurred_at"]
    if not pd.api.types.is_datetime64_any_dtype(stamp):
        stamp = pd.to_datetime(stamp, utc=True, format="ISO8601")
    if stamp.dt.tz is not None:
        stamp = stamp.dt.tz_convert(None)
    ev = ev.assign(event_date=stamp.dt.normalize(),
                   n_product_views=(ev["event_type"] == "product_view").astype(int),
                   n_add_to_carts=(ev["event_type"] == "add_to_cart").astype(int))
    daily = ev.groupby(["customer_id", "product_id", "event_date"], as_index=False)[
        ["n_product_views", "n_add_to_carts"]].sum()
    return browsing_events(daily, "events")


def as_of_dates(as_of: pd.DataFrame) -> tuple[dt.date, dt.date, bool]:
    """``(as_of_date, data_end_date, has_holdout)`` from the one-row ``as_of`` mart."""
    row = as_of.iloc[0]
    return (pd.Timestamp(row["as_of_date"]).date(), pd.Timestamp(row["data_end_date"]).date(),
            bool(row["has_holdout"]))
