"""Point-in-time checks: what a warehouse says "as of" a date, against what was known then.

The rule (docs/marts.md, DECISIONS.md): an as-of mart at date D uses only
rows stamped on or before D by their own event time (the shop's calendar days,
var ``shop_timezone``).
These helpers let a script or a test verify it from the outside:

* :func:`truncate_export` writes the raw export as it stood at the end of D
  (rows stamped after D removed), the strongest reference for a build cut at D;
* :func:`diff_cells` counts the cells in which two versions of a mart differ;
* :func:`propensity_frame` and :func:`clv_frame` are the training frames that
  the propensity and CLV steps build internally at a cut-off, as tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

#: Raw tables and the timestamp that stamps each row (None: not stamped).
STAMPS: dict[str, str | None] = {
    "orders": "ordered_at",
    "events": "occurred_at",
    "customers": "signed_up_at",
    "order_items": None,  # a line follows its order
    "products": None,
}


def _raw_file(raw_dir: Path, table: str) -> Path | None:
    for ext in ("parquet", "csv"):
        path = raw_dir / f"{table}.{ext}"
        if path.exists():
            return path
    return None


def _csv_quoting(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """The quoting options the raw reader uses for this CSV (macro shoplens_csv_quoting): RFC
    4180's double quote when the sniffer's sample holds no quote and reads the same with it,
    else none (the sniffer decides)."""
    delim, quote, n_cols = con.execute("select Delimiter, Quote, len(Columns) from sniff_csv(?)", [str(path)]).fetchone()
    if quote != "(empty)":
        return ""
    rfc = con.execute("""select Delimiter, len(Columns) from sniff_csv(?, quote = '"', escape = '"')""",
                      [str(path)]).fetchone()
    return """, quote = '"', escape = '"'""" if rfc == (delim, n_cols) else ""


#: Text naming its offset or zone after the time of day (macro shoplens_zoned_text_pattern).
ZONED_TEXT = "[0-9]:[0-9][0-9](:[0-9][0-9]([.,][0-9]+)?)? *([zZ] *$|[+-][0-9]|[A-Za-z][A-Za-z])"


def _shop_stamp(stamp: str, kind: str, shop_timezone: str, naive_timestamps: str) -> str:
    """SQL of a raw stamp as staging reads it (macro shop_timestamp): the shop's wall-clock
    time, a naive timestamp; with ``shop_timezone`` UTC, the UTC time."""
    instant = (f"coalesce(try_cast({stamp} as timestamptz), try_cast(regexp_replace("
               f"{stamp}, ' +([+-][0-9]{{2}}(:?[0-9]{{2}})?) *$', '\\1') as timestamptz))")
    utc = shop_timezone.strip().upper() in ("", "UTC", "ETC/UTC", "Z")
    tz = "UTC" if utc else shop_timezone.strip().replace("'", "''")
    naive_utc = naive_timestamps.lower() == "utc" and not utc
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"timezone('{tz}', {stamp})"
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        plain = f"cast({stamp} as timestamp)"
        return f"timezone('{tz}', timezone('UTC', {plain}))" if naive_utc and kind != "DATE" else plain
    if utc:
        return f"timezone('UTC', {instant})"
    naive = (f"when regexp_matches({stamp}, '[0-9]:[0-9][0-9]') then timezone('{tz}', {instant}) "
             if naive_utc else "")
    return (f"case when regexp_matches({stamp}, '{ZONED_TEXT}') then timezone('{tz}', {instant}) "
            f"{naive}else try_cast({stamp} as timestamp) end")


def truncate_export(raw_dir: str | Path, out_dir: str | Path, as_of_date: dt.date | str,
                    shop_timezone: str = "UTC", naive_timestamps: str = "local") -> Path:
    """Copy the raw export in ``raw_dir`` to ``out_dir`` as it stood at the end of ``as_of_date``.

    Rows whose timestamp (parsed as staging parses it, macro shop_timestamp:
    ISO-8601 text with or without an offset, or a typed Parquet timestamp, as
    the wall-clock time of ``shop_timezone``, the dbt var of that name; text
    without an offset is that time, or UTC with ``naive_timestamps="utc"``)
    falls after ``as_of_date`` 24:00 in that zone are removed; rows whose timestamp does not parse
    stay (staging quarantines them either way). Order lines follow their
    order: the lines of an order id that only has removed rows are removed.
    Products are kept. Files keep their format; other files are copied.
    """
    raw, out = Path(raw_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    end = pd.Timestamp(as_of_date).date() + dt.timedelta(days=1)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        views = {}
        for table in STAMPS:
            path = _raw_file(raw, table)
            if path is None:
                continue
            reader = (
                f"read_parquet('{path}')" if path.suffix == ".parquet"
                else f"read_csv('{path}', all_varchar = true, header = true{_csv_quoting(con, path)})"
            )
            con.execute(f"create view src_{table} as select * from {reader}")
            views[table] = path
        for table, path in views.items():
            stamp = STAMPS[table]
            if stamp is not None:
                rel = con.sql(f"select * from src_{table} limit 0")
                kind = str(rel.types[rel.columns.index(stamp)]).upper()
                parsed = _shop_stamp(stamp, kind, shop_timezone, naive_timestamps)
                kept = f"select * from src_{table} where {parsed} is null or {parsed} < timestamp '{end}'"
            elif table == "order_items" and "orders" in views:
                kept = (
                    "select * from src_order_items where order_id in (select order_id from kept_orders)"
                    " or order_id not in (select order_id from src_orders where order_id is not null)"
                )
            else:
                kept = f"select * from src_{table}"
            con.execute(f"create table kept_{table} as {kept}")
            target = out / path.name
            fmt = "(format parquet)" if path.suffix == ".parquet" else "(header, delimiter ',')"
            con.execute(f"copy kept_{table} to '{target}' {fmt}")
    finally:
        con.close()
    for path in raw.iterdir():
        if path.is_file() and not (out / path.name).exists():
            shutil.copy(path, out / path.name)
    return out


@dataclasses.dataclass
class CellDiff:
    """How two versions of one table differ, cell by cell."""

    rows_left: int
    rows_right: int
    missing_rows: int  # keys only on the left
    extra_rows: int  # keys only on the right
    differing_cells: int  # in rows on both sides
    n_cells: int  # cells compared (rows on both sides x columns)
    examples: list[str]

    @property
    def total(self) -> int:
        """Differing cells, counting every cell of a row present on one side only."""
        return self.differing_cells + (self.missing_rows + self.extra_rows) * max(self.width, 1)

    width: int = 0


def _same(a: object, b: object, rtol: float) -> bool:
    a_na = a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NaT
    b_na = b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NaT
    if a_na or b_na:
        return a_na and b_na
    if isinstance(a, int | float | np.integer | np.floating) and isinstance(b, int | float | np.integer | np.floating):
        return abs(float(a) - float(b)) <= rtol * max(1.0, abs(float(a)), abs(float(b)))
    return a == b


def _normal(value: object) -> object:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    if isinstance(value, pd._libs.missing.NAType):  # pandas NA
        return None
    return value


def diff_cells(
    left: pd.DataFrame, right: pd.DataFrame, keys: Sequence[str],
    columns: Sequence[str] | None = None, rtol: float = 1e-9, max_examples: int = 5,
) -> CellDiff:
    """Compare two versions of a table keyed by ``keys`` (numbers to ``rtol``, NULL = NULL)."""
    keys = list(keys)
    cols = list(columns) if columns is not None else [c for c in left.columns if c not in keys]
    for name, frame in (("left", left), ("right", right)):
        missing = [c for c in keys + cols if c not in frame.columns]
        if missing:
            raise ValueError(f"diff_cells: the {name} table has no columns {missing}")
        if frame.duplicated(keys).any():
            raise ValueError(f"diff_cells: the {name} table repeats keys {keys}")
    merged = left[keys + cols].merge(right[keys + cols], on=keys, how="outer", suffixes=("_l", "_r"), indicator=True)
    both = merged.loc[merged["_merge"] == "both"]
    differing, examples = 0, []
    for c in cols:
        lv, rv = both[f"{c}_l"].map(_normal), both[f"{c}_r"].map(_normal)
        bad = [not _same(a, b, rtol) for a, b in zip(lv, rv, strict=True)]
        n_bad = int(sum(bad))
        differing += n_bad
        if n_bad and len(examples) < max_examples:
            row = both.loc[np.asarray(bad)].iloc[0]
            examples.append(f"{dict(row[keys])} {c}: {row[f'{c}_l']!r} != {row[f'{c}_r']!r}")
    return CellDiff(
        rows_left=len(left),
        rows_right=len(right),
        missing_rows=int((merged["_merge"] == "left_only").sum()),
        extra_rows=int((merged["_merge"] == "right_only").sum()),
        differing_cells=differing,
        n_cells=len(both) * len(cols),
        examples=examples,
        width=len(cols),
    )


def propensity_frame(
    orders: pd.DataFrame, sessions: pd.DataFrame | None, customers: pd.DataFrame,
    cutoff: dt.date, weeks: int = 12,
) -> pd.DataFrame:
    """The propensity step's features at ``cutoff`` as a table keyed by customer_id.

    ``orders``, ``sessions``, ``customers`` are the frames that
    ``ml_purchase_propensity`` reads (see :func:`shoplens.propensity.prepare_history`).
    One row per customer known at the cut-off: the static features, the
    BTYD-style counts and every cell of the weekly sequence (``seq_<channel>_w<k>``).
    """
    from shoplens.propensity import prepare_history, snapshot

    history = prepare_history(orders, sessions, customers)
    snap = snapshot(history, cutoff, weeks)
    frame = snap.static.copy()
    frame.insert(0, "customer_id", history.customer_ids[snap.index].astype(str))
    for name in ("frequency", "recency_days", "age_days", "days_since_last", "n_purchase_days", "revenue_total"):
        frame[name] = getattr(snap, name)
    frame["n_weeks"] = snap.n_weeks
    channels = history.channels
    flat = snap.seq.reshape(len(snap.index), -1)
    seq = pd.DataFrame(
        flat, columns=[f"seq_{ch}_w{w}" for w in range(weeks) for ch in channels], index=frame.index
    )
    return pd.concat([frame, seq], axis=1)


def clv_frame(orders: pd.DataFrame, cutoff: dt.date, time_unit: str = "days") -> pd.DataFrame:
    """The CLV step's summary at ``cutoff`` (its backtest refit), from fct_orders rows."""
    from shoplens.clv.evaluation import summary_from_purchases

    purchases = orders.loc[orders["is_purchase"].fillna(False).astype(bool)]
    return summary_from_purchases(purchases, cutoff, time_unit)


HOLDOUT_COLUMNS = ["customer_id", "ordered_at", "order_date", "order_total", "currency", "status",
                   "is_purchase", "n_items", "n_units"]


def read(db: str | Path, sql: str) -> pd.DataFrame:
    """A query on a built warehouse, read-only."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).df()


def read_marts(db: str | Path) -> dict[str, pd.DataFrame]:
    """The as-of marts of a built warehouse and the frames the Python steps read."""
    return {
        "customer_features": read(db, "select * from customer_features"),
        "customer_rfm": read(db, "select * from customer_rfm"),
        "customer_btyd_summary": read(db, "select * from customer_btyd_summary"),
        "fct_orders": read(db, "select * from fct_orders"),
        "holdout_orders": read(db, "select * from holdout_orders"),
        "holdout_demand_daily": read(db, "select * from holdout_demand_daily"),
        "demand_daily": read(db, "select * from demand_daily"),
        "sessions": read(db, "select customer_id, started_at, n_product_views, n_add_to_carts, n_checkouts"
                             " from fct_sessions"),
        "session_days": read(db, "select customer_id, session_started_at as started_at, activity_date,"
                                 " n_product_views, n_add_to_carts, n_checkouts from int_session_days"),
        "customers": read(db, "select customer_id, country, first_order_category, signed_up_at from dim_customers"),
    }


def compare_at(
    d: dt.date, full: dict, cut: dict, trunc: dict | None, demand_after: pd.DataFrame, weeks: int = 12,
) -> dict[str, CellDiff]:
    """Every comparison at snapshot date ``d``; returns {check: CellDiff}.

    ``full``, ``cut``, ``trunc``: :func:`read_marts` of the all-data build, of a
    build with as_of_date = d, and of a build of the export truncated at d
    (None: skip those checks). ``demand_after``: the all-data
    int_demand_by_series_day.
    """
    feats = full["customer_features"]
    snap = feats.loc[pd.to_datetime(feats["as_of_date"]).dt.date == d]
    orders = full["fct_orders"]
    order_day = pd.to_datetime(orders["order_date"]).dt.date
    # every valid order of the export: the all-data build's own holdout included
    every_order = pd.concat([orders[["order_id", *HOLDOUT_COLUMNS]], full["holdout_orders"]], ignore_index=True)
    key = ["customer_id", "as_of_date"]
    checks = {"customer_features: snapshot vs cut": diff_cells(snap, cut["customer_features"], key)}
    if trunc is not None:
        checks["customer_features: snapshot vs truncated"] = diff_cells(snap, trunc["customer_features"], key)
        checks["customer_rfm: cut vs truncated"] = diff_cells(
            cut["customer_rfm"], trunc["customer_rfm"], ["customer_id"])
        checks["customer_btyd_summary: cut vs truncated"] = diff_cells(
            cut["customer_btyd_summary"], trunc["customer_btyd_summary"], ["customer_id"])
        # the shop's totals (guests' orders in them) up to D, which the forecasts read
        checks["demand_daily: cut vs truncated"] = diff_cells(
            cut["demand_daily"], trunc["demand_daily"], ["series_level", "series_key", "demand_date"])
    return checks | {
        "fct_orders: cut vs all-data <= D": diff_cells(
            orders.loc[order_day <= d], cut["fct_orders"], ["order_id"]),
        "holdout_orders: cut vs all-data > D": diff_cells(
            every_order.loc[pd.to_datetime(every_order["order_date"]).dt.date > d],
            cut["holdout_orders"], ["order_id"], HOLDOUT_COLUMNS),
        "holdout_demand_daily: cut vs all-data > D": diff_cells(
            demand_after.loc[pd.to_datetime(demand_after["demand_date"]).dt.date > d],
            cut["holdout_demand_daily"], ["series_level", "series_key", "demand_date"]),
        "propensity frame: all-data vs cut": diff_cells(
            propensity_frame(orders, full["session_days"], full["customers"], d, weeks),
            propensity_frame(cut["fct_orders"], cut["sessions"], cut["customers"], d, weeks),
            ["customer_id"], rtol=1e-6),
        "clv frame: all-data vs cut": diff_cells(
            clv_frame(orders, d), cut["customer_btyd_summary"],
            ["customer_id"], ["frequency", "recency", "T", "monetary_value"]),
    }
