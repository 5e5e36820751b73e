"""The dbt inputs every family reads the same way: the as-of row and purchases.

``as_of`` is one row (``as_of_date``, ``data_end_date``, ``has_holdout``);
a *purchase* is an order with ``is_purchase`` true, and a *purchase day* a
calendar day of the shop (its stored wall-clock time, var ``shop_timezone``) with at least one (two orders on one day count once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoplens.memory import trim_heap


class InputError(ValueError):
    """A dbt input breaks its contract (the message names the table and the rule)."""


@dataclass(frozen=True)
class AsOf:
    as_of_date: dt.date
    data_end_date: dt.date
    has_holdout: bool


class LazyTable:
    """A table not read yet, answering ``columns``, ``project(select_list)`` and ``df()`` as
    dbt-duckdb's ``dbt.ref`` relation does, so that a helper written for that relation
    (``shoplens.clv.pipeline.covariate_args``) fetches only what it uses on another engine.

    ``fetch(select_list, limit)`` returns the rows as a DataFrame (``limit`` None: all)."""

    def __init__(self, fetch: Callable[[str, int | None], pd.DataFrame], select: str = "*") -> None:
        self.fetch, self.select = fetch, select

    @property
    def columns(self) -> list[str]:
        return list(self.fetch(self.select, 0).columns)

    def project(self, select: str) -> LazyTable:
        return LazyTable(self.fetch, select)

    def df(self) -> pd.DataFrame:
        return self.fetch(self.select, None)


def read_as_of(as_of: pd.DataFrame, error: type[ValueError] = InputError) -> AsOf:
    """The single row of the ``as_of`` model."""
    if len(as_of) != 1:
        raise error(f"table as_of must have one row, has {len(as_of)}.")
    row = as_of.iloc[0]
    return AsOf(
        pd.Timestamp(row["as_of_date"]).date(),
        pd.Timestamp(row["data_end_date"]).date(),
        bool(row["has_holdout"]),
    )


def purchases_only(orders: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``orders`` that are purchases (``is_purchase``; null counts as not)."""
    return orders.loc[orders["is_purchase"].fillna(False).astype(bool)]


def purchase_days(purchases: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and purchase day with the day's total spend.

    ``purchases`` needs ``customer_id``, ``order_date`` and ``order_total``
    and must hold purchases only (completed orders).
    """
    frame = purchases.loc[:, ["customer_id", "order_date", "order_total"]].copy()
    frame["order_date"] = pd.to_datetime(frame["order_date"]).dt.normalize()
    frame["order_total"] = pd.to_numeric(frame["order_total"]).astype("float64")
    return frame.groupby(["customer_id", "order_date"], as_index=False, sort=True)["order_total"].sum()


def read_with_categorical_ids(ref, ids: Collection[str], dates_as_datetime64: bool = False) -> pd.DataFrame:
    """A ref as a DataFrame whose ``ids`` columns are categoricals (each id string stored once).

    A DuckDB relation is read through Arrow: the ``ids`` columns come back
    dictionary-encoded, with no Python string per row (at a million customers,
    millions of rows of a few hundred thousand ids). ``dates_as_datetime64``:
    DATE columns as datetime64 rather than ``datetime.date`` objects. DECIMAL
    columns come back as float64 (:func:`decimals_as_double`). Anything
    else with ``.df()`` (the Spark runner's ref) is read through it, and a
    DataFrame is returned as it is: callers accept both kinds of id column.
    """
    import duckdb

    if isinstance(ref, pd.DataFrame):
        return ref
    if not isinstance(ref, duckdb.DuckDBPyRelation):
        return ref.df()
    frame = pd.DataFrame(arrow_columns(handed_over(decimals_as_double(ref).to_arrow_table()), lambda name, column: (
        column.dictionary_encode().to_pandas() if name in ids
        else column.to_pandas(date_as_object=not dates_as_datetime64))))
    trim_heap()  # the Arrow table and the conversion's buffers: 0.6 GiB kept at 1M customers otherwise
    return frame


def decimals_as_double(rel):
    """``rel`` with its DECIMAL columns cast to DOUBLE in DuckDB (the others as they are).

    pandas holds a DECIMAL as one Python ``Decimal`` per row: three money columns of
    4.2M order lines took 1.3 GiB that way, 0.1 GiB as float64. DuckDB's cast gives the
    double nearest to each decimal, as ``float(Decimal)`` does (Arrow's own cast does not:
    it moved 1.3M of 4.2M unit prices by an ulp)."""
    decimal = [getattr(t, "id", "") == "decimal" for t in rel.types]  # not lists or structs of them
    if not any(decimal):
        return rel
    from shoplens.serving.duck import quote

    return rel.project(", ".join(
        f"cast({quote(name)} as double) as {quote(name)}" if is_decimal else quote(name)
        for name, is_decimal in zip(rel.columns, decimal, strict=True)))


def arrow_columns(table, convert: Callable[[str, object], object]) -> dict:
    """``{name: convert(name, column)}`` over the columns of an Arrow table, in order.

    ``table`` is a reader (:func:`handed_over`): each column's Arrow buffers are released
    once it is converted, so the table and its conversion are never both whole in memory
    (9.8M session rows at 1M customers)."""
    table = read_now(table)
    out = {}
    for name in list(table.column_names):
        column = table.column(name)
        table = table.drop_columns([name])
        out[name] = convert(name, column)
        del column
    return out


def positions_in(values: pd.Series, index: pd.Index) -> np.ndarray:
    """``index.get_indexer(values)`` (-1 when absent), looking each distinct id up once when
    ``values`` is categorical."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return index.get_indexer(values)
    # a null's code is -1: the appended -1 is its position (also with no categories at all)
    per_category = np.append(index.get_indexer(values.cat.categories), -1)
    return per_category[values.cat.codes.to_numpy()]


def read_now(table):
    """``table`` itself, or, when it is a reader (a function of no arguments), what it returns.

    A dbt adapter that passes readers instead of frames keeps no reference to
    them: the step reads each input where it needs it and the frame is freed as
    soon as the step has turned it into its own arrays (at 1M customers the
    propensity inputs are about 1 GiB, the recommendation lines 0.5 GiB)."""
    return table() if callable(table) else table


def handed_over(value):
    """A reader (:func:`read_now`) that returns ``value`` once and keeps no reference to it.

    A caller that has built a large frame and deletes its own name for it after
    this call leaves the callee the only reference, so the callee can free the
    frame mid-step (an argument passed directly stays referenced by the caller
    until the call returns)."""
    box = [value]

    def reader():
        if not box:
            raise RuntimeError("a handed-over input is read once")
        return box.pop()

    return reader


def rows_where(frame: pd.DataFrame, keep) -> pd.DataFrame:
    """``frame.loc[keep]``, or ``frame`` itself when every row is kept (no copy of a large input)."""
    keep = np.asarray(keep, dtype=bool)
    return frame if keep.all() else frame.loc[keep]

