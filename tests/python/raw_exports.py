"""Hypothesis strategies for raw exports with a known fate for every row.

An export is drawn as rows of the five raw tables, each row either valid or
broken in one way, with the place it must end in: the clean table, or
``audit_rejected_rows`` with a given rule. The files are then written with a
random format (CSV or Parquet), delimiter, encoding, header case and column
order. :func:`expected_places` and :func:`actual_places` give the two sides
of the raw contract's invariant: every input row in exactly one place.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

EXPORT_DATE = "2025-12-31"
COLUMNS = {
    "orders": ["order_id", "customer_id", "ordered_at", "order_total", "status", "currency"],
    "order_items": ["order_id", "product_id", "quantity", "unit_price", "discount"],
    "products": ["product_id", "category", "product_name", "list_price"],
    "customers": ["customer_id", "email", "signed_up_at", "country"],
    "events": ["event_id", "occurred_at", "event_type", "customer_id", "session_id", "product_id"],
}
CLEAN = "clean"

# Valid spellings the contract accepts (whitespace, case, offsets, missing optionals).
good_time = st.sampled_from([
    "2025-03-01T10:00:00Z", "2025-03-01 10:00:00", "2025-03-01T12:00:00+02:00",
    "2025-06-30T23:59:59-05:00", " 2025-07-04T08:30:00Z ", "2025-01-15",
])
good_total = st.sampled_from(["12.50", "7", " 99.99 ", "1000000", "0.01", "12.3400", "15.5"])
good_status = st.sampled_from(["completed", "Completed", " cancelled ", "RETURNED", ""])
good_name = st.sampled_from(["", "Mug", "Tasse à café", "naïve; \"quoted\", name", "Ünïcode ✓"])

# Broken values and the rule each must be audited with.
ORDER_BREAKS = {
    "customer_id_null": ("customer_id", st.sampled_from(["", "   "])),
    "ordered_at_invalid": ("ordered_at", st.sampled_from(["yesterday", "2025-13-45", "01/02/2025 10:00"])),
    "ordered_at_in_future": ("ordered_at", st.sampled_from(["2027-01-01T00:00:00Z", "2026-01-01T00:00:01Z"])),
    "ordered_at_too_early": ("ordered_at", st.sampled_from(["1970-01-01T00:00:00Z", "1989-12-31"])),
    "order_total_invalid": ("order_total", st.sampled_from(["12,50", "abc", "1.234,50", "nan"])),
    "order_total_negative": ("order_total", st.sampled_from(["-0.01", "-5.00", "-120"])),
    "order_total_implausible": ("order_total", st.sampled_from(["1000000.01", "1e12", "inf"])),
    "order_total_too_precise": ("order_total", st.sampled_from(["12.345", "0.001", "99.999"])),
    "status_unknown": ("status", st.sampled_from(["pending", "shipped?"])),
}
ITEM_BREAKS = {
    "product_id_null": ("product_id", st.just("")),
    "quantity_invalid": ("quantity", st.sampled_from(["two", "2.5", ""])),
    "quantity_not_positive": ("quantity", st.sampled_from(["0", "-1"])),
    "quantity_implausible": ("quantity", st.sampled_from(["10001", "1e9"])),
    "unit_price_invalid": ("unit_price", st.sampled_from(["", "5,00", "free"])),
    "unit_price_negative": ("unit_price", st.just("-1.00")),
    "unit_price_too_precise": ("unit_price", st.just("1.23456")),
    "discount_out_of_range": ("discount", st.sampled_from(["-1", "1000"])),
}
CUSTOMER_BREAKS = {
    "signed_up_at_invalid": ("signed_up_at", st.just("last week")),
    "signed_up_at_in_future": ("signed_up_at", st.just("2030-01-01")),
    "signed_up_at_too_early": ("signed_up_at", st.just("1900-01-01")),
}
EVENT_BREAKS = {
    "occurred_at_invalid": ("occurred_at", st.just("soon")),
    "occurred_at_in_future": ("occurred_at", st.just("2026-06-01T00:00:00Z")),
    "event_type_unknown": ("event_type", st.sampled_from(["click", ""])),
}
PRODUCT_BREAKS = {
    "list_price_invalid": ("list_price", st.just("cheap")),
    "list_price_negative": ("list_price", st.just("-3")),
    "list_price_too_precise": ("list_price", st.just("3.333")),
}


@dataclass
class Export:
    """Rows per table (dicts of text) and the place each row must end in."""

    rows: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in COLUMNS})
    fates: dict[str, list[tuple[str | None, str]]] = field(default_factory=lambda: {t: [] for t in COLUMNS})

    def add(self, table: str, row: dict, key: str | None, fate: str) -> None:
        self.rows[table].append(row)
        self.fates[table].append((key, fate))


@st.composite
def exports(draw) -> Export:  # noqa: C901 - one generator reads best as one recipe
    ex = Export()
    n = 0

    def uid(prefix: str) -> str:
        nonlocal n
        n += 1
        return f"{prefix}{n}"

    customers = [draw(st.sampled_from(["C", "Ü", "c "])).strip() + str(i) for i in range(draw(st.integers(1, 4)))]
    use_customers = draw(st.booleans())
    if use_customers:
        for cid in customers:
            ex.add("customers", {"customer_id": cid, "email": f"{cid}@example.com",
                                 "signed_up_at": draw(st.sampled_from(["2024-01-01", "", "2024-05-05T10:00:00+01:00"])),
                                 "country": draw(st.sampled_from(["de", "FR", ""]))}, cid, CLEAN)
        for rule, (col, values) in CUSTOMER_BREAKS.items():
            if draw(st.booleans()):
                cid = uid("CB")
                ex.add("customers", {"customer_id": cid, "email": "", "signed_up_at": "2024-01-01",
                                     "country": "", col: draw(values)}, cid, rule)
        if draw(st.booleans()):  # a verbatim repeat of the first customer
            ex.add("customers", dict(ex.rows["customers"][0]), customers[0], "duplicate_customer_id")

    valid_orders: list[dict] = []
    for _ in range(draw(st.integers(1, 6))):
        row = {"order_id": uid("O"), "customer_id": draw(st.sampled_from(customers)),
               "ordered_at": draw(good_time), "order_total": draw(good_total),
               "status": draw(good_status), "currency": draw(st.sampled_from(["", "eur", "USD"]))}
        ex.add("orders", row, row["order_id"], CLEAN)
        valid_orders.append(row)
    for rule, (col, values) in ORDER_BREAKS.items():
        for _ in range(draw(st.integers(0, 2))):
            row = {**valid_orders[0], "order_id": uid("OB"), col: draw(values)}
            ex.add("orders", row, row["order_id"], rule)
    if draw(st.booleans()):
        ex.add("orders", {**valid_orders[0], "order_id": ""}, None, "order_id_null")
    if draw(st.booleans()):
        ex.add("orders", dict(valid_orders[-1]), valid_orders[-1]["order_id"], "duplicate_order_id")
    conflicted = set()
    if draw(st.booleans()):  # same id, other contents, later: the first stays clean, its lines do not
        ex.add("orders", {**valid_orders[0], "ordered_at": "2025-11-30T00:00:00Z", "order_total": "1.00"},
               valid_orders[0]["order_id"], "order_id_conflict")
        conflicted.add(valid_orders[0]["order_id"])

    def line_fate(order_id: str, fate: str) -> str:
        """A line that breaks no rule of its own, of an order id that names two orders."""
        return "order_id_conflict" if order_id in conflicted else fate
    rejected_orders = [r["order_id"] for r in ex.rows["orders"][len(valid_orders):]
                       if r["order_id"].startswith("OB")]

    products = [uid("P") for _ in range(draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        for pid in products:
            ex.add("products", {"product_id": pid, "category": draw(st.sampled_from(["Mugs", "", "tea"])),
                                "product_name": draw(good_name), "list_price": draw(st.sampled_from(["", "4.5", "10"]))},
                   pid, CLEAN)
        for rule, (col, values) in PRODUCT_BREAKS.items():
            if draw(st.booleans()):
                pid = uid("PB")
                ex.add("products", {"product_id": pid, "category": "x", "product_name": "", "list_price": "1",
                                    col: draw(values)}, pid, rule)

    if draw(st.booleans()):
        for order in valid_orders:
            for pid in draw(st.lists(st.sampled_from(products), max_size=2, unique=True)):
                row = {"order_id": order["order_id"], "product_id": pid,
                       "quantity": draw(st.sampled_from(["1", "3", " 2 "])),
                       "unit_price": draw(st.sampled_from(["4.5000", "0", "19.99"])), "discount": ""}
                ex.add("order_items", row, f"{order['order_id']}:{pid}", line_fate(order["order_id"], CLEAN))
        base = {"order_id": valid_orders[0]["order_id"], "product_id": products[0], "quantity": "1",
                "unit_price": "2.00", "discount": ""}
        for rule, (col, values) in ITEM_BREAKS.items():
            if draw(st.booleans()):
                row = {**base, "product_id": uid("PX"), col: draw(values)}
                key = f"{row['order_id']}:{row['product_id']}" if row["product_id"] else None
                ex.add("order_items", row, key, rule)
        if draw(st.booleans()):
            row = {**base, "order_id": uid("GHOST"), "product_id": uid("PX")}
            ex.add("order_items", row, f"{row['order_id']}:{row['product_id']}", "order_id_not_found")
        if rejected_orders and draw(st.booleans()):  # a clean line of a rejected order
            row = {**base, "order_id": rejected_orders[0], "product_id": uid("PX")}
            ex.add("order_items", row, f"{row['order_id']}:{row['product_id']}", "order_rejected")
        lines = [r for r, (_, f) in zip(ex.rows["order_items"], ex.fates["order_items"], strict=True)
                 if f in (CLEAN, "order_id_conflict")]
        if lines and draw(st.booleans()):
            row = dict(lines[0])
            ex.add("order_items", row, f"{row['order_id']}:{row['product_id']}",
                   line_fate(row["order_id"], "duplicate_row"))

    known = sorted({o["customer_id"] for o in valid_orders} | (set(customers) if use_customers else set()))
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 5))):
            eid = uid("E")
            ex.add("events", {"event_id": eid, "occurred_at": draw(good_time),
                              "event_type": draw(st.sampled_from(["page_view", "Product_View", " checkout "])),
                              "customer_id": draw(st.sampled_from(["", *known])),
                              "session_id": draw(st.sampled_from(["", "S1"])), "product_id": ""}, eid, CLEAN)
        for rule, (col, values) in EVENT_BREAKS.items():
            if draw(st.booleans()):
                eid = uid("EB")
                ex.add("events", {"event_id": eid, "occurred_at": "2025-02-02T02:02:02Z", "event_type": "page_view",
                                  "customer_id": "", "session_id": "", "product_id": "", col: draw(values)}, eid, rule)
        if draw(st.booleans()):
            eid = uid("EU")
            ex.add("events", {"event_id": eid, "occurred_at": "2025-02-02T02:02:02Z", "event_type": "page_view",
                              "customer_id": "STRANGER", "session_id": "", "product_id": ""}, eid, "customer_id_not_found")
        if draw(st.booleans()):
            ex.add("events", {"event_id": "", "occurred_at": "2025-02-02T02:02:02Z", "event_type": "page_view",
                              "customer_id": "", "session_id": "", "product_id": ""}, None, "event_id_null")
    return ex


@dataclass(frozen=True)
class Layout:
    """How the files are written."""

    fmt: str            # csv or parquet
    delimiter: str
    encoding: str       # utf-8, utf-8-sig (BOM) or latin-1
    upper: tuple[bool, ...]   # per column: header in upper case
    shuffle_seed: int
    drop_optional: bool


layouts = st.builds(
    Layout,
    fmt=st.sampled_from(["csv", "csv", "parquet"]),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]),
    upper=st.tuples(*[st.booleans()] * 6),
    shuffle_seed=st.integers(0, 10_000),
    drop_optional=st.booleans(),
)

OPTIONAL = {"status", "currency", "discount", "product_name", "list_price", "email", "signed_up_at",
            "country", "session_id"}


def _latin1_safe(ex: Export) -> bool:
    try:
        for rows in ex.rows.values():
            for row in rows:
                for value in row.values():
                    value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def write_export(ex: Export, layout: Layout, folder: Path) -> dict:
    """Write the export's files; returns the dbt vars the layout needs (the CSV encoding).

    An optional column is dropped only when no row of its table uses it for a
    rule, so dropping never changes a row's fate.
    """
    import random

    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(layout.shuffle_seed)
    encoding = layout.encoding
    if encoding == "latin-1" and not _latin1_safe(ex):
        encoding = "utf-8"
    for table, rows in ex.rows.items():
        if not rows and table != "orders":
            continue
        columns = list(COLUMNS[table])
        if layout.drop_optional:
            # a missing optional column is NULL for every row: drop it only when all rows leave it empty
            columns = [c for c in columns if c not in OPTIONAL or any(r.get(c, "") != "" for r in rows)]
        rnd.shuffle(columns)
        header = [c.upper() if layout.upper[i % len(layout.upper)] else c for i, c in enumerate(columns)]
        if layout.fmt == "parquet":
            data = {h: pa.array([r[c] if r[c] != "" else None for r in rows], pa.string())
                    for h, c in zip(header, columns, strict=True)}
            pq.write_table(pa.table(data), folder / f"{table}.parquet")
            continue
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=layout.delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        for r in rows:
            writer.writerow([r[c] for c in columns])
        (folder / f"{table}.csv").write_bytes(buf.getvalue().encode(encoding))
    return {"raw_csv_encoding": "latin-1"} if encoding == "latin-1" else {}


def expected_places(ex: Export) -> Counter:
    """Counter of (table, key, place): place is 'clean' or the audit rule."""
    return Counter((t, key, fate) for t, fates in ex.fates.items() for key, fate in fates)


CLEAN_KEYS = {
    "orders": "select order_id from stg_shop__orders",
    "order_items": "select order_id || ':' || product_id from stg_shop__order_items "
                   "where order_id in (select order_id from stg_shop__orders)",
    "products": "select product_id from stg_shop__products",
    "customers": "select customer_id from stg_shop__customers",
    "events": "select event_id from stg_shop__events where customer_id is null "
              "or customer_id in (select customer_id from int_known_customers)",
}


def actual_places(query) -> Counter:
    """The same Counter read from a built raw layer (``query(sql)`` returns rows)."""
    out: Counter = Counter()
    for table, sql in CLEAN_KEYS.items():
        for (key,) in query(sql):
            out[(table, key, CLEAN)] += 1
    for table, key, rule in query("select source_table, record_key, rule from audit_rejected_rows"):
        out[(table, key, rule)] += 1
    return out
