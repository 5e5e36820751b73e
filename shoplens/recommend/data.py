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

from shoplens.inputs import (
    arrow_columns,
    handed_over,
    positions_in,
    read_with_categorical_ids,
    rows_where,
)
from shoplens.memory import trim_heap
from shoplens.recommend.config import RecommendError

LINE_COLUMNS = ("customer_id", "order_id", "product_id", "order_date")


def purchase_lines(lines: pd.DataFrame, table: str = "fct_order_items") -> pd.DataFrame:
    """Validate and normalise purchase lines (drops non-purchases when ``is_purchase`` is given).

    Customer and product ids come back as text (categoricals of text when read
    by :func:`read_lines`); ``order_id`` as :func:`order_keys` (uint64);
    ``order_date`` as datetime64 at midnight (compare it with
    :func:`on_or_before`, which takes a ``datetime.date``).
    """
    missing = [c for c in LINE_COLUMNS if c not in lines.columns]
    if missing:
        raise RecommendError(f"{table} lacks column {missing[0]}: the recommender needs {', '.join(LINE_COLUMNS)}")
    keep = lines["is_purchase"].fillna(False).astype(bool).to_numpy() if "is_purchase" in lines.columns else None
    null = [c for c in LINE_COLUMNS if (lines[c].isna().to_numpy() & (True if keep is None else keep)).any()]
    if null:
        raise RecommendError(f"{table}.{null[0]} has nulls: rule not_null (fct tables never hold them)")
    extra = [c for c in ("line_amount", "category", "discount", "unit_price", "quantity") if c in lines.columns]
    # rows and columns taken in one copy (1M customers: 4.17M lines, one copy less at the peak)
    columns = list(LINE_COLUMNS) + extra
    out = lines[columns].copy() if keep is None else lines.loc[keep, columns]
    out["order_id"] = order_keys(out["order_id"])
    for col in ("customer_id", "product_id"):
        if isinstance(out[col].dtype, pd.CategoricalDtype):  # ids stored once each (large shops)
            # read_lines' categories are strings already: renaming them one Python call each is
            # skipped (it cost ~3 s at 1M customers when the 2.5M order ids were renamed too)
            if pd.api.types.infer_dtype(out[col].cat.categories, skipna=False) != "string":
                out[col] = out[col].cat.rename_categories(lambda c: str(c))
        else:
            out[col] = out[col].astype(str)
    out["order_date"] = line_days(out["order_date"])
    return out.reset_index(drop=True)


def line_days(column: pd.Series) -> np.ndarray:
    """Purchase-line dates (dates, timestamps or text) as datetime64 at midnight, in the column's
    own unit (a date DuckDB gives in microseconds stays one: 9999-12-31 does not wrap around).

    A timestamp with a time zone keeps its local date. 8 bytes a line: 1M
    customers' 4.1M lines as Python dates took 157 MiB, and each comparison
    with a date ran in Python (0.23 s against 0.01 s).
    """
    if isinstance(column.dtype, pd.ArrowDtype):  # pandas' Arrow-backed columns as numpy-backed ones
        column = column.array.__arrow_array__().to_pandas()
    if not pd.api.types.is_datetime64_any_dtype(column.dtype):
        column = pd.to_datetime(column)
    if getattr(column.dt, "tz", None) is not None:
        column = column.dt.tz_localize(None)
    return column.dt.normalize().to_numpy()


def on_or_before(dates: pd.Series, day: dt.date) -> np.ndarray:
    """Which purchase lines fall on or before ``day`` (a mask; ``~`` gives the lines after it).

    ``dates``: :func:`purchase_lines`' ``order_date`` (datetime64 at midnight),
    or a caller's own column of dates, timestamps (any time of the day
    counts as its date) or text, converted first by :func:`line_days`.
    """
    if pd.api.types.is_datetime64_dtype(dates.dtype):  # naive, numpy-backed: compared as they are
        values = dates.to_numpy()
    else:
        values = line_days(dates)
    return values < np.datetime64(day, "D") + np.timedelta64(1, "D")  # before the next midnight


def order_keys(column: pd.Series) -> np.ndarray:
    """Each order id as a uint64 hash of its text (an id read as text or as an integer gives the
    same key; ``10.0`` is the text "10.0"). Nulls raise: :func:`purchase_lines` rejects them first.

    The models only count a customer's distinct orders (of a product, and in
    all), so the ids' strings are not kept: 1M customers' 4.1M lines hold
    2.6M order ids, 238 MiB as a categorical of strings, 31 MiB as keys. Two
    orders could share a key only by a 64-bit hash collision, and it would
    change a count only for two orders of one customer.
    """
    if column.isna().any():
        raise ValueError("order ids hold nulls: they have no key (purchase_lines rejects them)")
    if isinstance(column.dtype, pd.CategoricalDtype):  # each distinct id hashed once
        keys = pd.util.hash_array(column.cat.categories.astype(str).to_numpy(dtype=object), categorize=False)
        return keys[column.cat.codes.to_numpy()]
    return pd.util.hash_array(column.astype(str).to_numpy(dtype=object))


def read_lines(ref) -> pd.DataFrame:
    """A ref of order lines as a DataFrame with categorical ids (each id string stored once).

    See :func:`shoplens.inputs.read_with_categorical_ids` (Spark's ``.df()``
    and DataFrames pass through as they are).
    """
    return read_with_categorical_ids(ref, {"customer_id", "order_id", "product_id", "category"})


BROWSE_COLUMNS = ("customer_id", "product_id", "event_date", "n_product_views", "n_add_to_carts")
BROWSING_ROWS_PER_PASS = 5_000_000  # browsing rows summed per pass (see browsing_events)


def browsing_cutoffs(as_of: dt.date, validation_days: int) -> tuple[dt.date, dt.date]:
    """The only dates browsing is read up to: the validation cut-off and ``as_of``."""
    return as_of - dt.timedelta(days=validation_days), as_of


def browsing_events(events, table: str = "customer_product_browsing",
                    cutoffs: tuple[dt.date, ...] | None = None) -> pd.DataFrame | None:
    """Validate and sum browsing rows in DuckDB; None when there are none.

    ``events`` (a DataFrame or a DuckDB relation) holds the columns of the
    mart ``customer_product_browsing``, one row per customer, product and
    day. Without ``cutoffs`` the day grain is kept; with them, events are
    summed per customer, product and cut-off (``event_date`` becomes the
    first cut-off on or after the event; later events are dropped), so the
    result grows with the (customer, product) pairs, not with the days.
    Ids come back as categoricals, ``event_date`` as datetime64 and the
    counts as float32 (no Python object per row). A shop without web events
    gives None: the recommender then uses purchases only.
    """
    if events is None:
        return None
    rel = _relation(events)
    missing = [c for c in BROWSE_COLUMNS if c not in rel.columns]
    if missing:
        raise RecommendError(f"{table} lacks column {missing[0]}: browsing needs {', '.join(BROWSE_COLUMNS)}")
    nulls = ", ".join(f"count(*) filter (where {c} is null)" for c in BROWSE_COLUMNS[:3])
    counts = rel.query("browsing", f"select count(*), {nulls} from browsing").fetchone()
    if counts[0] == 0:
        return None
    null = [c for c, n in zip(BROWSE_COLUMNS[:3], counts[1:], strict=True) if n]
    if null:
        raise RecommendError(f"{table}.{null[0]} has nulls: rule not_null (the mart never holds them)")
    def convert(name: str, column):
        if name in ("customer_id", "product_id"):
            return column.dictionary_encode().to_pandas()
        if name == "event_date":
            return column.to_pandas(date_as_object=False)
        return column.to_numpy().astype(np.float32)

    # summed in passes over hash-partitions of the customers: each pass's hash table is a
    # part of the whole (1M customers, 19.9M rows: DuckDB's working memory 1.31 -> 0.33 GiB
    # in 4 passes, 3.7 -> 4.1 s)
    import pyarrow as pa

    passes = max(1, -(-counts[0] // BROWSING_ROWS_PER_PASS))
    # no name holds the summed table: arrow_columns frees it column by column
    out = pd.DataFrame(arrow_columns(handed_over(pa.concat_tables([
        rel.query("browsing", _summed_sql(cutoffs, part, passes)).to_arrow_table() for part in range(passes)])),
        convert))
    out.attrs["cutoffs"] = None if cutoffs is None else tuple(sorted(cutoffs))
    trim_heap()  # the query's and the conversion's freed buffers (see read_with_categorical_ids)
    return out


def _relation(events):
    """A DuckDB relation over ``events``: a DuckDB relation as it is; a DataFrame read
    in place (not copied); anything else with ``.df()`` (the Spark runner's ref) read
    through it."""
    import duckdb

    if isinstance(events, duckdb.DuckDBPyRelation):
        return events
    frame = events if isinstance(events, pd.DataFrame) else events.df()
    return duckdb.connect().from_df(frame)


def _summed_sql(cutoffs: tuple[dt.date, ...] | None, part: int = 0, parts: int = 1) -> str:
    """Views and add-to-carts per customer, product and day (or cut-off bucket); with
    ``parts`` > 1 only the customers whose id hashes to ``part`` (modulo ``parts``)."""
    date = "cast(event_date as date)"
    day, keep = date, []
    if cutoffs:
        ends = sorted(cutoffs)
        whens = " ".join(f"when {date} <= date '{d.isoformat()}' then date '{d.isoformat()}'" for d in ends)
        day = f"case {whens} end"
        keep.append(f"{date} <= date '{ends[-1].isoformat()}'")
    if parts > 1:
        keep.append(f"hash(cast(customer_id as varchar)) % {int(parts)} = {int(part)}")
    where = f"where {' and '.join(keep)}" if keep else ""
    return f"""
        select
            cast(customer_id as varchar) as customer_id,
            cast(product_id as varchar) as product_id,
            {day} as event_date,
            cast(coalesce(sum(n_product_views), 0) as double) as n_product_views,
            cast(coalesce(sum(n_add_to_carts), 0) as double) as n_add_to_carts
        from browsing {where}
        group by all
    """


def browsed_by(browsing: pd.DataFrame, end: dt.date) -> pd.Series:
    """Rows of ``browsing`` (from :func:`browsing_events`) dated on or before ``end``."""
    cutoffs = browsing.attrs.get("cutoffs")
    if cutoffs is not None and end not in cutoffs and end < cutoffs[-1]:
        raise RecommendError(f"browsing was summed up to the cut-offs {cutoffs}: {end} is not one of them")
    return browsing["event_date"] <= pd.Timestamp(end)


def _positions(ids: np.ndarray, column: pd.Series) -> np.ndarray:
    """Position of each value of ``column`` in ``ids`` (-1 when absent); categoricals looked up once per id."""
    return positions_in(column, pd.Index(ids))


def _codes(column: pd.Series) -> np.ndarray:
    """An integer per distinct value of ``column`` (its codes when categorical): for counting, not lookup."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy()
    if pd.api.types.is_integer_dtype(column.dtype):  # order_keys already
        return column.to_numpy()
    return pd.factorize(column)[0]


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
    part = rows_where(lines, on_or_before(lines["order_date"], end))  # the served fit reads every line: no copy
    if customers is None:
        customers = np.sort(part["customer_id"].unique())
    row = _positions(customers, part["customer_id"])
    col = _positions(products, part["product_id"])
    keep = (row >= 0) & (col >= 0)
    pairs = pd.DataFrame({"r": row[keep], "c": col[keep], "o": _codes(part["order_id"])[keep]})
    del part, row, col, keep
    per_pair = pairs.drop_duplicates(["r", "c", "o"]).groupby(["r", "c"]).size()
    n_orders = np.bincount(pairs.drop_duplicates(["r", "o"])["r"], minlength=len(customers))
    del pairs  # freed before the browsing is read (1M customers: the served matrix's peak)
    matrix = sp.csr_matrix(
        (per_pair.to_numpy(np.float32), (per_pair.index.get_level_values(0), per_pair.index.get_level_values(1))),
        shape=(len(customers), len(products)),
    )
    del per_pair
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
    # masks over the whole columns instead of a copy of the rows up to ``end`` (1M customers:
    # 13.9M rows, 0.4 GiB); the kept entries and their order are the same. Each whole-column
    # array is cut to the kept rows as soon as the mask allows, so at most two are held at once.
    row = _positions(customers, browsing["customer_id"])
    keep = np.asarray(browsed_by(browsing, end), dtype=bool) & (row >= 0)
    col = _positions(products, browsing["product_id"])
    keep &= col >= 0
    row, col = row[keep].astype(np.int32), col[keep].astype(np.int32)
    value = (weights[0] * browsing["n_product_views"].to_numpy(np.float32)[keep]
             + weights[1] * browsing["n_add_to_carts"].to_numpy(np.float32)[keep]).astype(np.float32, copy=False)
    del keep
    m = sp.coo_matrix((value, (row, col)), shape=(len(customers), len(products)))
    del value, row, col
    m = m.tocsr()
    m.sum_duplicates()
    return m


def bought_in_window(lines: pd.DataFrame, products: np.ndarray, customers: np.ndarray,
                     start: dt.date, end: dt.date) -> sp.csr_matrix:
    """Binary customer x product matrix of purchases with ``start <= order_date <= end``.

    Products never seen before stay outside ``products`` and are ignored:
    no recommender can name them.
    """
    part = lines.loc[~on_or_before(lines["order_date"], start - dt.timedelta(days=1))
                     & on_or_before(lines["order_date"], end)]
    row = _positions(customers, part["customer_id"])
    col = _positions(products, part["product_id"])
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
