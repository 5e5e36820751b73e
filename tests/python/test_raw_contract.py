"""The raw contract's edges (issue 15): hostile exports, secrets, paths, names.

Most cases build only the raw layer (base, staging, audit) in-process with a
manifest parsed once (tests/python/raw_layer.py); the ones that depend on the
working directory or on another process run dbt as a subprocess.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from raw_layer import RAW_LAYER, REPO, RawLayer, shared_raw_layer
from raw_layer import write_files as _write

pytestmark = pytest.mark.slow

EXPORT = {"export_date": "2025-12-31"}
HEADER = "order_id,customer_id,ordered_at,order_total,status\n"


@pytest.fixture(scope="module")
def raw_layer() -> RawLayer:
    return shared_raw_layer()


def _good_orders(n: int = 20) -> str:
    return HEADER + "".join(
        f"O{i},C{i % 7},2025-03-{1 + i % 28:02d}T10:00:00Z,{10 + i}.50,completed\n" for i in range(n))


def _rejection_warnings(outcome, table: str | None = None) -> list[str]:
    """The build's rejection-rate warning lines (those of ``table`` only, when given)."""
    return [m for m in outcome.messages
            if "max_rejection_rate" in m and (table is None or f"'{table}'" in m)]


def _audit(outcome) -> dict[str, str]:
    """{record_key: rule} of a build's audit table."""
    return {k: r for k, r in outcome.query("select record_key, rule from audit_rejected_rows")}


def test_two_files_for_one_table_is_an_error_naming_both(raw_layer, tmp_path):
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders()})
    pq.write_table(pa.table({"order_id": ["X"], "customer_id": ["C"],
                             "ordered_at": ["2025-01-01"], "order_total": ["1"]}), raw / "orders.parquet")
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert not out.success
    assert f"{raw}/orders.csv and {raw}/orders.parquet" in out.text
    assert "has 2 files" in out.text


def test_implausible_values_precision_and_conflicts_are_audited_with_their_rule(raw_layer, tmp_path):
    orders = _good_orders() + "".join([
        "BIG,C1,2025-03-02T10:00:00Z,1000000000000,completed\n",       # 1e12
        "EARLY,C1,1970-01-01T00:00:00Z,12.00,completed\n",
        "PREC,C1,2025-03-02T10:00:00Z,12.345,completed\n",
        "ZEROS,C1,2025-03-02T10:00:00Z,12.3400,completed\n",           # not extra precision
        "COMMA,C1,2025-03-02T10:00:00Z,\"12,50\",completed\n",
        "O1,C1,2025-03-02T10:00:00Z,99.00,completed\n",                # O1 again, other contents
        "O2,C2,2025-03-03T10:00:00Z,12.50,completed\n",                # O2 verbatim
    ])
    items = ("order_id,product_id,quantity,unit_price\n"
             "O3,P1,2,5.00\nO4,P1,1000000,5.00\nO5,P1,2.5,5.00\nO6,P1,1,5.12345\nNOPE,P1,1,5.00\n"
             "BIG,P1,1,5.00\nO7,P1,200,9000.00\nO8,P1,100,9000.00\n")  # O7: 1.8M, a line amount as unit_price
    events = ("event_id,occurred_at,event_type,customer_id\n"
              "E1,2025-03-01T10:00:00+02:00,Page_View,C1\n"
              "E2,2025-03-01T10:00:00+02:00,Page_View,STRANGER\n"
              "E3,1989-12-31T23:59:59Z,page_view,C1\n")
    raw = _write(tmp_path / "raw", {"orders.csv": orders, "order_items.csv": items, "events.csv": events})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert out.success, out.text
    audit = _audit(out)
    assert audit["BIG"] == "order_total_implausible"
    assert audit["EARLY"] == "ordered_at_too_early"
    assert audit["PREC"] == "order_total_too_precise"
    assert audit["COMMA"] == "order_total_invalid"
    assert audit["O4:P1"] == "quantity_implausible"
    assert audit["O5:P1"] == "quantity_invalid"        # 2.5 units are not rounded to 3
    assert audit["O6:P1"] == "unit_price_too_precise"
    assert audit["O7:P1"] == "line_amount_implausible" and "O8:P1" not in audit  # 900,000 is not above
    assert audit["NOPE:P1"] == "order_id_not_found"
    assert audit["BIG:P1"] == "order_rejected"  # its order is in the audit with its own rule
    assert audit["E2"] == "customer_id_not_found"
    assert audit["E3"] == "occurred_at_too_early"
    rules = out.query("select record_key, rule from audit_rejected_rows where record_key in ('O1', 'O2')")
    assert sorted(rules) == [("O1", "order_id_conflict"), ("O2", "duplicate_order_id")]
    kept = dict(out.query("select order_id, cast(order_total as varchar) from stg_shop__orders"))
    assert kept["ZEROS"] == "12.34" and kept["O1"] == "11.50" and "PREC" not in kept
    # raw_values hold the text as exported for every rule, reference rules included
    raw_values = dict(out.query("select record_key, raw_values from audit_rejected_rows"))
    assert json.loads(raw_values["E2"])["occurred_at"] == "2025-03-01T10:00:00+02:00"
    assert json.loads(raw_values["E2"])["event_type"] == "Page_View"
    assert json.loads(raw_values["NOPE:P1"])["unit_price"] == "5.00"
    assert json.loads(raw_values["PREC"])["order_total"] == "12.345"
    # the thresholds are vars: a larger max_order_total keeps the 1e12 order
    more = raw_layer.run(raw, tmp_path / "w2", {**EXPORT, "max_order_total": 1e13, "min_valid_date": "1960-01-01"})
    kept = {k for (k,) in more.query("select order_id from stg_shop__orders")}
    assert {"BIG", "EARLY"} <= kept


def test_lines_of_an_order_id_naming_two_orders_are_audited_not_given_to_the_kept_one(raw_layer, tmp_path):
    """GA4 exports give purchases without a transaction id the id '(not set)': the orders file keeps
    one of them (order_id_conflict for the others), and every line under that id went to the kept
    order (total 183.00, lines 632.88). Now the lines are order_id_conflict too; other orders'
    lines, and a line of the id with a rule of its own, keep theirs."""
    orders = _good_orders(5) + ("(not set),C1,2025-03-02T10:00:00Z,20.00,completed\n"
                                "(not set),C2,2025-03-04T10:00:00Z,35.00,completed\n")
    items = ("order_id,product_id,quantity,unit_price\n"
             "(not set),P1,2,10.00\n(not set),P2,1,35.00\n(not set),P2,1,35.00\n(not set),P3,2.5,1.00\n"
             "O1,P1,1,11.50\n")
    raw = _write(tmp_path / "raw", {"orders.csv": orders, "order_items.csv": items})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT, command="build",
                        select=["+fct_order_items", "+fct_orders", "+audit_rejected_rows"])
    assert out.success, out.text
    rules = sorted(out.query("select source_table, record_key, rule from audit_rejected_rows"))
    assert rules == [("order_items", "(not set):P1", "order_id_conflict"),
                     ("order_items", "(not set):P2", "order_id_conflict"),
                     ("order_items", "(not set):P2", "order_id_conflict"),
                     ("order_items", "(not set):P3", "quantity_invalid"),
                     ("orders", "(not set)", "order_id_conflict")]
    kept = out.query("select order_id, cast(order_total as varchar) from fct_orders where order_id = '(not set)'")
    assert kept == [("(not set)", "20.00")]  # the earlier one, without lines
    lines = out.query("select order_id, product_id from fct_order_items order by 1, 2")
    assert lines == [("O1", "P1")]


def test_half_cent_line_prices_round_to_cents_and_pass_the_line_amount_test(raw_layer, tmp_path):
    """Prices carry 4 decimals: 1 x 1.6950 is a line of 1.70 (half away from zero), 0.005 off
    the exact amount, and the mart's line-amount test accepts it (it failed the build before)."""
    items = ("order_id,product_id,quantity,unit_price,discount\n"
             "O1,P1,1,1.6950,\nO1,P2,3,0.125,\nO2,P1,1,0.665,0\nO3,P3,2,2.0025,0.0050\n")
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(5), "order_items.csv": items})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT, command="build", select=["+fct_order_items"])
    assert out.success, out.text
    amounts = out.query("select order_id, product_id, cast(line_amount as varchar) from fct_order_items order by 1, 2")
    assert amounts == [("O1", "P1", "1.70"), ("O1", "P2", "0.38"), ("O2", "P1", "0.67"), ("O3", "P3", "4.00")]


def test_a_placeholder_customer_holding_a_share_of_purchases_warns(raw_layer, tmp_path):
    """An export that gave every guest one customer id ('GUEST'): the build warns with the
    id (it does not fail); 60 customers of 20 purchases each do not."""
    rows = [f"O{i},C{i % 60},2025-03-{1 + i % 28:02d}T10:00:00Z,10.00,completed\n" for i in range(1200)]
    guests = [f"G{i},GUEST,2025-03-{1 + i % 28:02d}T10:00:00Z,10.00,completed\n" for i in range(150)]
    test = "no_customer_id_holds_a_share_of_purchases_like_a_placeholder"
    select = ["+fct_orders", test]
    plain = raw_layer.run(_write(tmp_path / "plain", {"orders.csv": HEADER + "".join(rows)}),
                          tmp_path / "w1", EXPORT, command="build", select=select)
    assert plain.success, plain.text
    assert not plain.warned(test)
    guest = raw_layer.run(_write(tmp_path / "guest", {"orders.csv": HEADER + "".join(rows + guests)}),
                          tmp_path / "w2", EXPORT, command="build", select=select)
    assert guest.success, guest.text  # a warning, not an error
    assert guest.warned(test, 1)


def test_purchases_in_more_than_one_currency_warn_with_each_currency(raw_layer, tmp_path):
    """A Shopify Markets-shaped export: each buyer's currency, totals never converted, which every
    revenue figure would add as they are. One currency in any case ('usd', 'USD') stays quiet;
    two warn (never fail) with a row per currency; a cancelled order in another currency is no
    purchase and does not count."""
    header = "order_id,customer_id,ordered_at,order_total,status,currency\n"

    def orders(currencies: list[str]) -> str:
        return header + "".join(f"O{i},C{i % 9},2025-03-{1 + i % 28:02d}T10:00:00Z,{10 + i}.00,completed,"
                                f"{currencies[i % len(currencies)]}\n" for i in range(60))

    test = "orders_are_in_one_currency"
    select = ["+fct_orders", "+fct_guest_orders", test]
    cancelled = "X1,C1,2025-03-02T10:00:00Z,99.00,cancelled,JPY\n"
    one = raw_layer.run(_write(tmp_path / "one", {"orders.csv": orders(["usd", "USD"]) + cancelled}),
                        tmp_path / "w1", EXPORT, command="build", select=select)
    assert one.success, one.text
    assert not one.warned(test)
    mixed = raw_layer.run(_write(tmp_path / "mixed", {"orders.csv": orders(["USD", "EUR", "USD"])}),
                          tmp_path / "w2", EXPORT, command="build", select=select)
    assert mixed.success, mixed.text  # a warning, not an error
    assert mixed.warned(test, 2)
    # the build's output names the rows, not only "WARN 2"
    shown = "\n".join(mixed.messages)
    assert f"shoplens WARNING: the test {test} warned with 2 row(s)" in shown
    assert "currency=EUR, n_purchases=20, share_of_purchases=0.333" in shown
    rows = mixed.query(raw_layer.singular_sql(test) + " order by currency")
    assert [(r[0], r[1], float(r[2]), r[4]) for r in rows] == [("EUR", 20, 0.333, 2), ("USD", 40, 0.667, 2)]


def test_guest_orders_count_once_in_the_shops_totals_and_warn_in_another_currency(raw_layer, tmp_path):
    """Orders without a customer are the shop's sales: once per id, never twice under one id,
    never an id whose other rows name a customer, and the last of them can end the data."""
    orders = ("order_id,customer_id,ordered_at,order_total,status,currency\n"
              + "".join(f"O{i},C{i % 5},2025-03-{1 + i:02d}T10:00:00Z,10.00,completed,EUR\n" for i in range(10))
              + "G1,,2025-03-02T11:00:00Z,20.00,completed,EUR\n"
              + "G1,,2025-03-02T11:00:00Z,20.00,completed,EUR\n"   # a verbatim repeat: counted once
              + "G2,,2025-03-03T11:00:00Z,20.00,completed,EUR\n"
              + "G2,,2025-03-03T11:00:00Z,30.00,completed,EUR\n"   # two versions: neither counts
              + "X2,C3,2025-03-04T11:00:00Z,40.00,pending,EUR\n"   # a customer's row, rejected ...
              + "X2,,2025-03-04T11:00:00Z,40.00,,EUR\n"            # ... so its later row is no guest's
              + "G3,,2025-03-05T11:00:00Z,-5.00,completed,EUR\n"   # breaks another rule
              + "G4,,2025-03-20T11:00:00Z,15.00,completed,EUR\n")  # after every customer's order
    lines = ("order_id,product_id,quantity,unit_price\n"
             + "".join(f"O{i},P1,1,10.00\n" for i in range(10))
             + "G1,P2,2,10.00\nG2,P2,3,10.00\nG2,P3,1,30.00\nX2,P2,4,10.00\nG4,P3,1,15.00\n")
    select = ["+monthly_sales", "+demand_daily", "+audit_rejected_rows", "orders_are_in_one_currency"]
    out = raw_layer.run(_write(tmp_path / "raw", {"orders.csv": orders, "order_items.csv": lines}),
                        tmp_path / "w", EXPORT, command="build", select=select, unit_tests=False)
    assert out.success, out.text[-3000:]
    assert out.query("select order_id, order_total from fct_guest_orders order by 1") == [
        ("G1", decimal.Decimal("20.00")), ("G4", decimal.Decimal("15.00"))]
    # the last guest order ends the data: as_of_date and the demand calendar reach it
    assert out.query("select as_of_date, data_start_date from as_of") == [
        (dt.date(2025, 3, 20), dt.date(2025, 3, 1))]
    assert out.query("select sum(units), sum(revenue), count(*) from demand_daily where series_level = 'total'") == [
        (10 + 2 + 1, decimal.Decimal("135.00"), 20)]
    assert out.query("select revenue, n_orders, n_purchasing_customers, n_guest_orders, guest_revenue "
                     "from monthly_sales") == [(decimal.Decimal("135.00"), 12, 5, 2, decimal.Decimal("35.00"))]
    # out of every customer model, in the audit with their rule
    assert out.query("select count(*) from fct_orders where order_id like 'G%' or order_id like 'X%'") == [(0,)]
    audit = dict(out.query("select record_key, count(*) from audit_rejected_rows "
                           "where source_table = 'orders' and rule = 'customer_id_null' group by 1"))
    assert audit == {"G1": 2, "G2": 2, "X2": 1, "G3": 1, "G4": 1}
    assert not out.warned("orders_are_in_one_currency")
    # a guest's purchase in another currency is added to the revenue too: it warns
    usd = orders.replace("G4,,2025-03-20T11:00:00Z,15.00,completed,EUR", "G4,,2025-03-20T11:00:00Z,15.00,completed,USD")
    mixed = raw_layer.run(_write(tmp_path / "usd", {"orders.csv": usd, "order_items.csv": lines}),
                          tmp_path / "w2", EXPORT, command="build", select=select, unit_tests=False)
    assert mixed.success, mixed.text[-3000:]
    assert mixed.warned("orders_are_in_one_currency", 2)


def test_an_as_of_date_in_a_near_empty_tail_of_the_export_warns(raw_layer, tmp_path):
    """Olist's shape: 3 purchases a day for 250 days, then 40 empty days and two late orders
    (one cancelled). The default as_of_date (the last order) leaves 1 purchase in its last 28
    days against a usual 84: a warning (not a failure) whose row has the counts and a
    suggested as_of_date. Without the tail, or with only 150 days before it, it stays quiet."""
    day0 = dt.date(2025, 1, 1)

    def orders(n_days: int, tail: bool) -> str:
        rows = [f"O{d}_{k},C{(3 * d + k) % 90},{day0 + dt.timedelta(days=d)}T10:00:00Z,20.00,completed\n"
                for d in range(n_days) for k in range(3)]
        if tail:
            late = day0 + dt.timedelta(days=n_days + 40)
            rows += [f"L1,C1,{late}T09:00:00Z,20.00,completed\n", f"L2,C2,{late}T10:00:00Z,20.00,cancelled\n"]
        return HEADER + "".join(rows)

    test = "as_of_date_does_not_fall_in_a_near_empty_tail_of_purchases"
    built = {}
    for name, n_days, tail in (("tail", 250, True), ("plain", 250, False), ("short", 150, True)):
        out = raw_layer.run(_write(tmp_path / name, {"orders.csv": orders(n_days, tail)}), tmp_path / f"w_{name}",
                            EXPORT, command="build", select=["+fct_orders", test])
        assert out.success, out.text  # a warning, never an error
        built[name] = out
    assert built["tail"].warned(test, 1)
    assert not built["plain"].warned(test)
    assert not built["short"].warned(test)
    row = built["tail"].query(raw_layer.singular_sql(test))
    # as_of 2025-10-18 (the cancelled order's day; the late purchase is on it too); 9 earlier 28-day
    # blocks, the usual one 84 purchases; the tail starts after the last day of volume, 2025-09-07
    assert row == [(dt.date(2025, 10, 18), 1, 84.0, 9, dt.date(2025, 10, 18), dt.date(2025, 9, 7),
                    "set the var as_of_date to the end of the real activity (suggested_as_of_date)")]


def test_orders_all_dated_to_one_weekday_warn_as_week_level_dates(raw_layer, tmp_path):
    """A grocery panel's baskets dated to the first day of their week: every purchase on a
    Saturday, which every model reads as a shop selling every 7th day. Daily dates stay quiet."""
    day0 = dt.date(2025, 1, 4)  # a Saturday

    def orders(step: int) -> str:
        return HEADER + "".join(f"O{d}_{k},C{k},{day0 + dt.timedelta(days=d)}T00:00:00Z,20.00,completed\n"
                                for d in range(0, 140, step) for k in range(60 if step == 7 else 9))

    test = "orders_are_not_all_dated_to_one_weekday"
    warned = {}
    for name, step in (("weekly", 7), ("daily", 1)):
        out = raw_layer.run(_write(tmp_path / name, {"orders.csv": orders(step)}), tmp_path / f"w_{name}",
                            EXPORT, command="build", select=["+fct_orders", test])
        assert out.success, out.text
        warned[name] = out.warned(test, 1)
        if name == "weekly":  # 20 Saturdays of 60 baskets
            assert out.query(raw_layer.singular_sql(test)) == [(dt.date(2025, 5, 17), 1200, 1200, 1.0)]
    assert warned == {"weekly": True, "daily": False}


def test_a_session_lasting_days_warns_as_a_bot_or_a_shared_id(raw_layer, tmp_path):
    """A crawler viewing a product every two minutes for three days is one 72-hour session of
    one customer (a Retailrocket-shaped export's bot: one session of 76,752 events over 105
    days, its visitor in the top propensity decile); people's sessions stay quiet."""
    start = dt.datetime(2025, 3, 1, 8)
    orders = HEADER + "O1,C1,2025-03-01T10:00:00Z,20.00,completed\nO2,C2,2025-03-10T10:00:00Z,20.00,completed\n"

    def events(bot: bool) -> str:
        rows = [f"E{i},{(start + dt.timedelta(minutes=20 * i)).isoformat()}Z,page_view,C1\n" for i in range(3)]
        rows += [f"F{i},{(start + dt.timedelta(days=1, minutes=2 * i)).isoformat()}Z,product_view,C2\n"
                 for i in range(2161 if bot else 10)]
        return "event_id,occurred_at,event_type,customer_id\n" + "".join(rows)

    test = "sessions_do_not_last_a_day"
    warned = {}
    for name, bot in (("bot", True), ("people", False)):
        out = raw_layer.run(_write(tmp_path / name, {"orders.csv": orders, "events.csv": events(bot)}),
                            tmp_path / f"w_{name}", EXPORT, command="build", select=["+fct_sessions", test])
        assert out.success, out.text
        warned[name] = out.warned(test, 1)
        if bot:
            (row,) = out.query(raw_layer.singular_sql(test))
            assert row[0] == 1 and row[2] == "C2" and row[3] == 72.0 and row[4] == 2161
            assert row[5] == round(2161 / 2164, 4)
    assert warned == {"bot": True, "people": False}


def test_lines_adding_up_to_twice_their_orders_warn_as_line_amounts_passed_as_prices(raw_layer, tmp_path):
    """Ta Feng's SALES_PRICE is the line's amount; passed as unit_price, every line of q units
    is q times too large and the lines summed to 13 times the orders, with no rule broken."""
    orders = HEADER + "".join(f"O{i},C{i % 9},2025-03-{1 + i % 28:02d}T10:00:00Z,30.00,completed\n"
                              for i in range(120))

    def items(price: str) -> str:
        return "order_id,product_id,quantity,unit_price\n" + "".join(f"O{i},P1,3,{price}\n" for i in range(120))

    test = "order_lines_add_up_to_their_orders"
    warned = {}
    for name, price in (("line_amount", "30.00"), ("unit_price", "10.00")):
        out = raw_layer.run(_write(tmp_path / name, {"orders.csv": orders, "order_items.csv": items(price)}),
                            tmp_path / f"w_{name}", EXPORT, command="build",
                            select=["+fct_orders", "+fct_order_items", test])
        assert out.success, out.text
        warned[name] = out.warned(test, 1)
        if name == "line_amount":
            assert out.query(raw_layer.singular_sql(test)) == [(1.0, 120, 3.0, "O0")]
    assert warned == {"line_amount": True, "unit_price": False}


def test_order_lines_whose_products_lost_their_leading_zeros_warn(raw_layer, tmp_path):
    """H&M's article ids keep a leading zero (0108775015) in the articles file and lost it in
    the transactions read by pandas: every line was 'uncategorised', the catalogue never sold,
    and every step said ok. Listed ids stay quiet."""
    orders = HEADER + "".join(f"O{i},C{i % 9},2025-03-{1 + i % 28:02d}T10:00:00Z,30.00,completed\n" for i in range(120))
    products = "product_id,category,product_name,list_price\n" + "".join(
        f"0{108775015 + k},Trousers,Item {k},10.00\n" for k in range(4))

    def items(zero: str) -> str:
        return "order_id,product_id,quantity,unit_price\n" + "".join(
            f"O{i},{zero}{108775015 + i % 4},3,10.00\n" for i in range(120))

    test = "order_lines_name_listed_products"
    warned = {}
    for name, zero in (("lost", ""), ("kept", "0")):
        raw = _write(tmp_path / name, {"orders.csv": orders, "order_items.csv": items(zero), "products.csv": products})
        out = raw_layer.run(raw, tmp_path / f"w_{name}", EXPORT, command="build", select=["+dim_products", test])
        assert out.success, out.text
        warned[name] = out.warned(test, 1)
        if name == "lost":
            assert out.query(raw_layer.singular_sql(test)) == [(1.0, 120, "108775015", 4, 4)]
    assert warned == {"lost": True, "kept": False}


def test_order_lines_of_products_listed_without_a_category_warn_when_they_are_many(raw_layer, tmp_path):
    """Shopify's products export writes Type on a product's first variant row only: taken as
    exported, most variants were 'uncategorised', out of every category series, without a word.
    A quarter of the lines warns with the share; a gift card's few lines stay quiet."""
    orders = HEADER + "".join(f"O{i},C{i % 9},2025-03-{1 + i % 28:02d}T10:00:00Z,30.00,completed\n"
                              for i in range(120))
    items = "order_id,product_id,quantity,unit_price\n" + "".join(
        f"O{i},{'GIFT' if i % 20 == 0 else f'TEE-{i % 3}'},1,10.00\n" for i in range(120))

    def products(first_row_only: bool) -> str:
        rows = [f"TEE-{k},{'Tees' if k == 0 or not first_row_only else ''},Tee / {k}\n" for k in range(3)]
        return "product_id,category,product_name\n" + "".join(rows) + "GIFT,,Gift card\n"

    test = "order_lines_name_categorised_products"
    warned = {}
    for name, first_row_only in (("first_row", True), ("filled", False)):
        raw = _write(tmp_path / name, {"orders.csv": orders, "order_items.csv": items,
                                       "products.csv": products(first_row_only)})
        out = raw_layer.run(raw, tmp_path / f"w_{name}", EXPORT, command="build", select=["+dim_products", test])
        assert out.success, out.text
        warned[name] = out.warned(test, 1)
        if first_row_only:  # TEE-1, TEE-2 and the gift card: 6 + 76 of 120 lines
            row = out.query(raw_layer.singular_sql(test))
            assert [(float(r[0]), *r[1:]) for r in row] == [(0.683, 120, 3, "GIFT")]
    assert warned == {"first_row": True, "filled": False}


def test_customer_ids_that_are_email_addresses_warn_without_showing_one(raw_layer, tmp_path):
    """A Shopify export keyed by e-mail: every table would hold the addresses in clear (only the
    publish step refused). The build warns with the counts, and its printed rows show none."""
    def orders(key) -> str:  # 1,200 purchases of 61 customers, one of them 150 (a placeholder's share)
        return HEADER + "".join(f"O{i},{key(60 if i < 150 else i % 60)},2025-03-{1 + i % 28:02d}T10:00:00Z,"
                                "30.00,completed\n" for i in range(1200))

    test = "customer_ids_are_not_email_addresses"
    placeholder = "no_customer_id_holds_a_share_of_purchases_like_a_placeholder"
    select = ["+fct_orders", "+stg_shop__customers", test, placeholder]
    mail = raw_layer.run(_write(tmp_path / "mail", {"orders.csv": orders(lambda k: f"Buyer.{k}@Example.com")}),
                         tmp_path / "w1", EXPORT, command="build", select=select)
    assert mail.success, mail.text
    shown = "\n".join(mail.messages)
    assert mail.warned(test, 1)
    assert "n_customer_ids=61, n_email_like=61, share_email_like=1" in shown
    # the placeholder's row names its id: an address is shown as such, never itself (the review)
    assert mail.warned(placeholder, 1)
    assert "customer_id=<an e-mail address>, n_purchases=150" in shown and "@" not in shown
    plain = raw_layer.run(_write(tmp_path / "plain", {"orders.csv": orders(lambda k: f"C{k}")}),
                          tmp_path / "w2", EXPORT, command="build", select=select)
    assert plain.success, plain.text
    assert not plain.warned(test)


def test_hash_customer_ids_keys_every_table_by_the_salted_hash_of_the_address(raw_layer, tmp_path):
    """hash_customer_ids: an export keyed by e-mail (Shopify's orders export) gets the same
    salted hash in orders, customers and events, case and spaces aside, so they still meet;
    no table, the audit's raw values included, holds an address; the warning stays quiet."""
    orders = HEADER + "".join(
        f"O{i},{key},2025-03-{1 + i:02d}T10:00:00Z,{total},completed\n"
        for i, (key, total) in enumerate([("Ann@Example.com", "10.00"), (" ann@example.com", "12.00"),
                                          ("bob@example.com", "-5.00"), ("Bob@example.com", "7.00"),
                                          ("cy@example.com", "9.00")]))
    customers = "customer_id,email,signed_up_at,country\nANN@example.com,ann@example.com,2025-01-01,DE\n" \
                "bob@example.com,bob@example.com,2025-01-02,DE\n"
    events = "event_id,occurred_at,event_type,customer_id,session_id\n" \
             "E1,2025-03-01T09:00:00Z,page_view,ann@EXAMPLE.com,S1\nE2,2025-03-01T09:01:00Z,page_view,,S1\n"
    raw = _write(tmp_path / "raw", {"orders.csv": orders, "customers.csv": customers, "events.csv": events})
    test = "customer_ids_are_not_email_addresses"
    out = raw_layer.run(raw, tmp_path / "w", {**EXPORT, "hash_customer_ids": True}, command="build",
                        select=[*RAW_LAYER, "+fct_orders", test])
    assert out.success, out.text
    assert not out.warned(test)
    ids = out.query("select customer_id, count(*) from stg_shop__orders group by 1 order by 2 desc, 1")
    assert [n for _, n in ids] == [2, 1, 1] and all(len(k) == 64 and "@" not in k for k, _ in ids)
    # Ann's two spellings are one customer, known from customers.csv, with her session
    ann = ids[0][0]
    assert out.query("select customer_id from stg_shop__customers where customer_id = ?".replace("?", f"'{ann}'"))
    assert out.query("select distinct customer_id from stg_shop__events where customer_id is not null") == [(ann,)]
    assert out.query("select count(*) from fct_orders")[0][0] == 4
    # bob's negative order is audited without his address, as is everything else
    dumped = out.query("select string_agg(raw_values, ' ') from audit_rejected_rows")[0][0]
    assert "order_total_negative" in dict(out.query("select record_key, rule from audit_rejected_rows")).values()
    assert "@" not in dumped
    for table in ("base_shop__orders", "base_shop__customers", "base_shop__events", "fct_orders"):
        assert out.query(f"select count(*) from {table} t where cast(to_json(t) as varchar) like '%@%'") == [(0,)], table
    bad = raw_layer.run(raw, tmp_path / "bad", {**EXPORT, "hash_customer_ids": "maybe"}, select=["base_shop__orders"])
    assert not bad.success and "var hash_customer_ids: 'maybe' must be true" in bad.text


def test_a_calendar_file_is_typed_audited_and_kept_with_its_future_days(raw_layer, tmp_path):
    """The optional calendar (event_date, event_name): names lower-cased, a stamp read as its
    day, future days kept (a planned sale), bad rows audited with their rule; without the file
    calendar_events is empty."""
    calendar = ("event_date,event_name\n2025-03-10,Sale\n2025-03-10,sale\n2025-13-01,sale\n2025-03-20,\n"
                "1970-01-01,sale\n2026-01-05T23:30:00-05:00,Launch\n2025-03-25, payday \n3025-03-10,sale\n")
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(), "calendar.csv": calendar})
    select = [*RAW_LAYER, "+calendar_events"]
    out = raw_layer.run(raw, tmp_path / "w", {**EXPORT, "shop_timezone": "America/New_York"},
                        command="build", select=[*select, "calendar_has_few_event_names"])
    assert out.success, out.text
    assert out.query("select cast(event_date as varchar), event_name, is_after_as_of from calendar_events"
                     " order by 1") == [("2025-03-10", "sale", False), ("2025-03-25", "payday", True),
                                        ("2026-01-05", "launch", True)]
    assert set(out.query("select record_key, rule from audit_rejected_rows where source_table = 'calendar'")) == {
        ("2025-03-10:sale", "duplicate_calendar_event"), ("?:sale", "event_date_invalid"),
        ("1970-01-01:sale", "event_date_too_early"), ("2025-03-20:?", "event_name_null"),
        ("3025-03-10:sale", "event_date_too_late")}
    # a typed calendar: the day as written, never moved by the shop's zone (a UTC midnight
    # of a time zone-aware timestamp was the day before in New York; the review)
    typed = tmp_path / "typed"
    _write(typed, {"orders.csv": _good_orders()})
    pq.write_table(pa.table({
        "event_date": pa.array([dt.datetime(2025, 3, 10, tzinfo=dt.UTC), dt.datetime(2025, 3, 25, tzinfo=dt.UTC)],
                               pa.timestamp("us", tz="UTC")),
        "event_name": ["sale", "sale"]}), typed / "calendar.parquet")
    for naive in ("local", "utc"):
        got = raw_layer.run(typed, tmp_path / f"wt_{naive}", {**EXPORT, "shop_timezone": "America/New_York",
                                                              "naive_timestamps": naive},
                            command="build", select=select)
        assert got.success, got.text
        assert got.query("select cast(event_date as varchar) from calendar_events order by 1") == [
            ("2025-03-10",), ("2025-03-25",)]
    none = raw_layer.run(_write(tmp_path / "raw2", {"orders.csv": _good_orders()}), tmp_path / "w2", EXPORT,
                         command="build", select=[*select, "calendar_has_few_event_names"])
    assert none.success, none.text
    assert none.query("select count(*) from calendar_events") == [(0,)]
    test = "calendar_has_few_event_names"
    assert not out.warned(test) and not none.warned(test)
    many = "event_date,event_name\n" + "".join(f"2025-03-{1 + k % 28:02d},note{k}\n" for k in range(31))
    crowded = raw_layer.run(_write(tmp_path / "raw3", {"orders.csv": _good_orders(), "calendar.csv": many}),
                            tmp_path / "w3", EXPORT, command="build", select=[*select, test])
    assert crowded.success, crowded.text
    assert crowded.warned(test, 1) and "n_event_names=31" in "\n".join(crowded.messages)


def test_the_forecast_step_reads_the_shops_calendar(raw_layer, tmp_path):
    """ml_demand_forecast gets calendar_events: an event with days in the history is a
    regressor of the shop total's forecast (its model_order names it)."""
    raw = tmp_path / "raw"
    subprocess.run([sys.executable, "-m", "shoplens.datagen", "--customers", "300", "--days", "200",
                    "--products", "8", "--seed", "5", "--dirty-rate", "0", "--format", "csv",
                    "--holdout-days", "0", "--out", str(raw)], check=True, cwd=REPO, capture_output=True)
    start = dt.date.fromisoformat(json.loads((raw / "ground_truth.json").read_text())["export_date"])
    days = [start - dt.timedelta(days=k) for k in range(-20, 200, 9)]
    (raw / "calendar.csv").write_text("event_date,event_name\n" + "".join(f"{d},sale\n" for d in days))
    out = raw_layer.run(raw, tmp_path / "w", {"export_date": str(start)}, select=["+ml_demand_forecast"])
    assert out.success, out.text
    orders = out.query("select distinct model_order from ml_demand_forecast where series_level = 'total'")
    assert orders and all("event:sale" in o for (o,) in orders), orders


def test_typed_parquet_columns_are_accepted(raw_layer, tmp_path):
    """timestamp, timestamptz, date, decimal and integer ids, with the unit tests run."""
    raw = tmp_path / "raw"
    raw.mkdir()
    paris = dt.timezone(dt.timedelta(hours=2))
    pq.write_table(pa.table({
        "order_id": pa.array([1, 2, 3, 3], pa.int64()),
        "customer_id": pa.array([10, 11, 10, 10], pa.int32()),
        "ordered_at": pa.array([dt.datetime(2025, 6, 1, 10, tzinfo=paris)] * 4, pa.timestamp("us", tz="Europe/Paris")),
        "order_total": pa.array([decimal.Decimal(x) for x in ("12.345", "20.000", "5.500", "5.500")], pa.decimal128(10, 3)),
    }), raw / "orders.parquet")
    pq.write_table(pa.table({
        "customer_id": pa.array([10, 11], pa.int64()),
        "signed_up_at": pa.array([dt.date(2024, 1, 2), dt.date(2024, 2, 3)], pa.date32()),
    }), raw / "customers.parquet")
    pq.write_table(pa.table({
        "event_id": pa.array([1, 2], pa.int64()),
        "occurred_at": pa.array([dt.datetime(2025, 6, 1, 8), dt.datetime(2025, 6, 2, 9)], pa.timestamp("ns")),
        "event_type": ["page_view", "checkout"],
        "customer_id": pa.array([10, 11], pa.int64()),
    }), raw / "events.parquet")
    out = raw_layer.run(raw, tmp_path / "w", EXPORT, command="build",
                        select=["base_shop__orders", "base_shop__customers", "base_shop__events", "int_known_customers",
                                "stg_shop__orders", "stg_shop__customers", "stg_shop__events"])
    assert out.success, out.text
    orders = out.query("select order_id, customer_id, cast(ordered_at as varchar), cast(order_total as varchar), dq_rule "
                       "from base_shop__orders order by order_id, dq_rule nulls first")
    assert orders == [
        ("1", "10", "2025-06-01 08:00:00", "12.35", "order_total_too_precise"),
        ("2", "11", "2025-06-01 08:00:00", "20.00", None),
        ("3", "10", "2025-06-01 08:00:00", "5.50", None),
        ("3", "10", "2025-06-01 08:00:00", "5.50", "duplicate_order_id"),
    ]
    assert out.query("select customer_id, cast(signed_up_at as varchar) from stg_shop__customers order by 1") == [
        ("10", "2024-01-02 00:00:00"), ("11", "2024-02-03 00:00:00")]
    assert out.query("select event_id, cast(occurred_at as varchar) from stg_shop__events order by 1") == [
        ("1", "2025-06-01 08:00:00"), ("2", "2025-06-02 09:00:00")]


def test_whole_float_ids_meet_the_integer_ids_of_other_files(raw_layer, tmp_path):
    """pandas writes an integer id column with a gap (a guest order's NaN) as float64: the
    orders' 12361.0 is the customers' 12361 (before: two customers, one without orders and
    one without a country), a fraction stays as it is, and a NaN is no id, like a null."""
    raw = tmp_path / "raw"
    raw.mkdir()
    pq.write_table(pa.table({
        "order_id": pa.array([536365.0, 536366.0, 536367.0, 536368.0, 536369.0], pa.float64()),
        "customer_id": pa.array([12361.0, 12.5, None, float("nan"), 1e20], pa.float64()),
        "ordered_at": ["2025-06-01T10:00:00Z"] * 5,
        "order_total": pa.array([decimal.Decimal("10.00")] * 5, pa.decimal128(10, 2)),
    }), raw / "orders.parquet")
    pq.write_table(pa.table({"customer_id": pa.array([12361], pa.int64()), "country": ["GB"]}),
                   raw / "customers.parquet")
    pq.write_table(pa.table({"product_id": pa.array([85123.0], pa.float64()), "category": ["gifts"]}),
                   raw / "products.parquet")
    pq.write_table(pa.table({"order_id": pa.array([536365], pa.int64()), "product_id": pa.array([85123], pa.int64()),
                             "quantity": [2], "unit_price": [5.0]}), raw / "order_items.parquet")
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert out.success, out.text
    assert out.query("select order_id, customer_id, dq_rule from base_shop__orders order by 1") == [
        ("536365", "12361", None), ("536366", "12.5", None), ("536367", None, "customer_id_null"),
        ("536368", None, "customer_id_null"), ("536369", "1e+20", None)]
    assert out.query("select customer_id from stg_shop__customers") == [("12361",)]
    assert out.query("select order_id, product_id from stg_shop__order_items") == [("536365", "85123")]
    assert out.query("select product_id from stg_shop__products") == [("85123",)]


@pytest.mark.parametrize("body, expected", [
    ("".join(f"O{i},C{i},2025-03-01T10:00:00Z,\"1{i},50\",completed\n" for i in range(12)),
     "has no valid row: all 12 rows were rejected, by order_total_invalid (12); e.g. order_total '10,50' "
     "(a decimal comma; write a decimal point: 12.50)"),
    ("".join(f"O{i},C{i},2025-03-01T10:00:00Z,\"1,2{i}0.50\",completed\n" for i in range(3)),
     "order_total '1,200.50' (a thousands separator; write the number without it: 1234.50)"),
    ("".join(f"O{i},C{i},2025-03-01T10:00:00Z,$1{i}.50,completed\n" for i in range(3)),
     "order_total '$10.50' (a currency sign or code; write the number only, and the currency in orders.currency)"),
    ("".join(f"O{i},C{i},2025-03-01T10:00:00Z,0.050847457627118{i},completed\n" for i in range(3)),  # H&M's prices
     "order_total '0.0508474576271180' (a fraction of one unit with many decimals: most likely prices scaled"
     " or normalised by the export; multiply them back to the currency unit first, then round)"),
    ("".join(f"O{i},C{i},2025-03-01T10:00:00Z,1.6{i}e-05,completed\n" for i in range(3)),  # a float written by pandas
     "order_total '1.60e-05' (a fraction of one unit with many decimals"),
    ("".join(f"O{i},C{i},2025-03-01T10:00:00Z,n3091{i}.000,completed\n" for i in range(3)),  # Retailrocket's prices
     "order_total 'n30910.000' (letters beside the number, such as a unit or a type prefix; write the number"
     " only: 30910.000)"),
    ("", "'orders' has no rows"),
    ("".join(f"O{i},C{i},2025-03-01T10:00:00Z,10.00,delivered\n" for i in range(4)),
     "status_unknown (4; var order_status_map)"),
    ("".join(f"O{i},C{i},2027-03-01T10:00:00Z,10.00,completed\n" for i in range(3)),
     "ordered_at_in_future (3; var export_date)"),
])
def test_required_table_without_valid_rows_stops_naming_table_and_rules(raw_layer, tmp_path, body, expected):
    raw = _write(tmp_path / "raw", {"orders.csv": HEADER + body})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert not out.success
    assert expected in out.text


def test_a_table_mostly_unreadable_stops_though_a_few_rows_read_by_chance(raw_layer, tmp_path):
    """A European export: totals with a decimal comma, of which the whole-number ones read.
    98.5% of a Superstore-shaped shop's orders were rejected and the build exited 0, its
    models fitted on the 76 that read."""
    body = "".join(f"O{i},C{i},2025-03-01T10:00:00Z,\"1{i},50\",completed\n" for i in range(8))
    body += "W1,C1,2025-03-02T10:00:00Z,12,completed\n"
    raw = _write(tmp_path / "raw", {"orders.csv": HEADER + body})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert not out.success
    assert ("the raw table 'orders' could not read 8 of its 9 rows (88.9%, more than the var max_unreadable_rate"
            " 0.5): order_total_invalid (8); e.g. order_total '10,50' (a decimal comma") in out.text
    assert "or raise the var to build on the 1 of 9 that read" in out.text
    bad_var = raw_layer.run(raw, tmp_path / "w3", {**EXPORT, "max_unreadable_rate": "50%"})
    assert "the var max_unreadable_rate must be a share from 0 to 1, got 50%" in bad_var.text
    ok = raw_layer.run(raw, tmp_path / "w2", {**EXPORT, "max_unreadable_rate": 0.9})
    assert ok.success, ok.text
    assert ok.query("select order_id from stg_shop__orders") == [("W1",)]


def test_no_valid_order_keeps_the_rows_it_points_at_and_ends_the_build_log(raw_layer, tmp_path):
    """US-style dates only: the stop names the rule with a value as exported; the rejected rows
    stay in base_shop__orders (a post-hook's error rolled that table back, so the message
    pointed at nothing) and the build log records the failure (it stayed 'running')."""
    body = "".join(f"O{i},C{i},12/{i}/2009 7:45,10.00,completed\n" for i in range(1, 4))
    raw = _write(tmp_path / "raw", {"orders.csv": HEADER + body})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert not out.success
    assert ("all 3 rows were rejected, by ordered_at_invalid (3); e.g. ordered_at '12/1/2009 7:45' "
            "(a date with day and month in an order the file does not say, M/D/YYYY or D/M/YYYY as a "
            "spreadsheet shows it; write ISO-8601 text such as 2025-03-01T10:00:00Z) "
            "(the rows are in base_shop__orders with dq_rule set)") in out.text
    assert out.query("select count(*), min(dq_rule), max(dq_rule) from base_shop__orders") == [
        (3, "ordered_at_invalid", "ordered_at_invalid")]
    assert out.query("select status, finished_at is not null, is_partial from build_status") == [
        ("failed", True, True)]


@pytest.mark.parametrize("files, expected", [
    # a decimal comma in the lines only: the build went on, and the forecasts said "add an order_items file"
    ({"order_items.csv": "order_id,product_id,quantity,unit_price\n"
                         + "".join(f"O{i},P{i},1,\"1{i},50\"\n" for i in range(5))},
     "the raw table 'order_items' has no valid row: all 5 rows were rejected, by unit_price_invalid (5); "
     "e.g. unit_price '10,50' (a decimal comma; write a decimal point: 12.50) (the rows are in "
     "base_shop__order_items with dq_rule set; the table is optional"),
    # GA4's event_timestamp as exported: microseconds since the epoch
    ({"events.csv": "event_id,occurred_at,event_type,customer_id\n"
                    + "".join(f"E{i},160624931762810{i},page_view,C1\n" for i in range(3))},
     "by occurred_at_invalid (3); e.g. occurred_at '1606249317628100' (a number: most likely Unix epoch "
     "microseconds, which the contract does not read; write ISO-8601 text"),
    ({"customers.csv": "customer_id,signed_up_at\nC1,1606249317\nC2,1606249318\n"},
     "e.g. signed_up_at '1606249317' (a number: most likely Unix epoch seconds"),
    ({"customers.csv": "customer_id,signed_up_at\nC1,20250301103000\nC2,20250302\n"},
     "e.g. signed_up_at '20250301103000' (a date written without separators"),
    # a grocery panel's DAY (1..711) written as the timestamp
    ({"events.csv": "event_id,occurred_at,event_type,customer_id\nE1,641,page_view,C1\nE2,45000,page_view,C1\n"},
     "e.g. occurred_at '641' (a small number: most likely a day index or a spreadsheet serial date"),
])
def test_an_optional_table_with_rows_but_no_valid_one_stops_naming_table_rule_and_value(
        raw_layer, tmp_path, files, expected):
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(), **files})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert not out.success
    assert expected in out.text


def test_an_optional_table_without_rows_builds_as_if_absent(raw_layer, tmp_path):
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(),
                                    "order_items.csv": "order_id,product_id,quantity,unit_price\n",
                                    "events.csv": "event_id,occurred_at,event_type\n"})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert out.success, out.text
    assert out.query("select count(*) from stg_shop__orders") == [(20,)]


def test_the_rejection_warning_shows_a_value_and_the_hint_for_one_row_per_unit(raw_layer, tmp_path):
    """An Olist-style export writes one row per unit (no quantity column): the repeats are
    duplicate_row, and the warning says to sum them into quantity, with a value as exported."""
    items = "order_id,product_id,quantity,unit_price\n" + "".join(
        f"O{i},P1,1,9.90\nO{i},P1,1,9.90\n" for i in range(10))
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(), "order_items.csv": items})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert out.success, out.text
    warning = _rejection_warnings(out, "order_items")
    assert len(warning) == 1
    assert ("duplicate_row (10; an export with one row per unit sums them into quantity); "
            "e.g. order_id 'O0'") in warning[0]


def test_the_rejection_warning_says_to_round_totals_summed_from_four_decimal_prices(raw_layer, tmp_path):
    """A spreadsheet's sales after a percentage discount (957.5775) summed into order totals:
    a third of a Superstore-shaped shop's orders were order_total_too_precise, and the
    warning said nothing of the fix."""
    bad = "".join(f"T{i},C{i},2025-03-01T10:00:00Z,2119.67{i},completed\n" for i in range(1, 6))
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(12) + bad})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert out.success, out.text
    warning = _rejection_warnings(out, "orders")
    assert len(warning) == 1
    assert ("order_total_too_precise (5; totals are money in cents: round each order total to 2 decimals); "
            "e.g. order_total '2119.671'") in warning[0]


def test_rejection_rate_above_the_var_warns_naming_table_and_rules(raw_layer, tmp_path):
    bad = "".join(f"B{i},,2025-03-01T10:00:00Z,10.00,completed\n" for i in range(8))
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(12) + bad})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert out.success, out.text
    warning = _rejection_warnings(out)
    assert len(warning) == 1
    assert "8 of 20 rows of the raw table 'orders' (40.0%)" in warning[0]
    assert ("customer_id_null (8; no customer: a guest's order counts in the shop's totals (fct_guest_orders),"
            " in no customer model; an export that fills an order's columns on its first line only (Shopify) fills them down first)") in warning[0]
    calm = raw_layer.run(raw, tmp_path / "w2", {**EXPORT, "max_rejection_rate": 0.5})
    assert not _rejection_warnings(calm)


@pytest.mark.parametrize("folder", ["it's a shop", "brackets [v2] & 100%", "ünïcödé ørders"])
def test_any_folder_name_works(raw_layer, tmp_path, folder):
    raw = _write(tmp_path / folder, {"orders.csv": _good_orders(5)})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert out.success, out.text
    assert out.query("select count(*) from stg_shop__orders") == [(5,)]


def test_a_wrongly_encoded_csv_stops_naming_the_file(raw_layer, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_bytes((HEADER + "Ö1,C1,2025-03-01T10:00:00Z,10.00,completed\n").encode("latin-1"))
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert not out.success
    assert f"{raw}/orders.csv" in out.text and "raw_csv_encoding" in out.text
    latin = raw_layer.run(raw, tmp_path / "w2", {**EXPORT, "raw_csv_encoding": "latin-1"})
    assert latin.success, latin.text
    assert latin.query("select order_id from stg_shop__orders") == [("Ö1",)]


def test_a_quoted_field_first_met_after_the_sniffed_rows_is_read(raw_layer, tmp_path):
    """A Shopify-shaped products file: 30,000 variant rows without a quote, then one product name
    with a comma, quoted as RFC 4180 says. DuckDB's sniffer guessed 'no quote character' from
    the first rows, and the build failed on that line (printing it, which can hold an e-mail);
    the reader now quotes as RFC 4180, so every row reads and the name keeps its comma."""
    rows = [f"P{i},tees,Tee {i} - Blue / M\n" for i in range(30_000)]
    rows[26_736] = 'P26736,hoodies,"Neon Hoodie, limited - White / XL"\n'
    items = "order_id,product_id,quantity,unit_price\n" + "".join(f"O{i},P{26_730 + i},1,9.50\n" for i in range(5))
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(5), "order_items.csv": items,
                                    "products.csv": "product_id,category,product_name\n" + "".join(rows)})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT, command="build", select=["+stg_shop__products"])
    assert out.success, out.text
    assert out.query("select count(*) from stg_shop__products") == [(30_000,)]
    assert out.query("select category, product_name from stg_shop__products where product_id = 'P26736'") == [
        ("hoodies", "Neon Hoodie, limited - White / XL")]
    # files the sniffer reads with another quoting are left to it (RFC quoting forced broke them)
    for name, row, expected in (("backslash", 'P1,tees,"Say \\"hi\\", ok"', 'Say "hi", ok'),
                                ("stray", 'P1,tees,"Best" tee', '"Best" tee'),
                                ("single", "P1,tees,'a, b'", "a, b")):
        raw = _write(tmp_path / name, {"orders.csv": _good_orders(5),
                                       "products.csv": f"product_id,category,product_name\n{row}\nP2,tees,plain\n"})
        out = raw_layer.run(raw, tmp_path / f"w_{name}", EXPORT, command="build", select=["+stg_shop__products"])
        assert out.success, out.text
        assert out.query("select product_name from stg_shop__products where product_id = 'P1'") == [(expected,)]


def test_a_csv_line_that_does_not_read_stops_naming_the_line_never_its_contents(raw_layer, tmp_path):
    """A field holding the delimiter without quotes: DuckDB's error printed the line (a customer's
    e-mail in the console, dbt.log and run_results.json). The build stops naming the file, the
    table and the line numbers, and no output or log holds the line."""
    rows = [f"O{i},C{i % 7},2025-03-{1 + i % 28:02d}T10:00:00Z,{10 + i}.50,completed\n" for i in range(40)]
    rows[30] = "O30,jane.doe@example.com,2025-03-03T10:00:00Z,1,234.50,completed\n"
    raw = _write(tmp_path / "raw", {"orders.csv": HEADER + "".join(rows)})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert not out.success
    assert (f"shoplens: raw file {raw}/orders.csv (table 'orders'): 1 line(s) do not read with the header's"
            " columns: line 32 (too many columns)") in out.text
    assert "export Parquet" in out.text
    logs = [p.read_text(encoding="utf-8", errors="replace") for p in (raw_layer.work / "logs").rglob("*.log")]
    assert "jane.doe" not in out.text and not any("jane.doe" in log for log in logs)


def test_a_windows_cp1252_export_is_read_and_latin1_names_its_quote_byte(raw_layer, tmp_path):
    """Excel on Windows writes cp1252: curly quotes, dashes and the euro sign are bytes
    0x80-0x9f, which DuckDB's latin-1 refused with 'File is not latin-1 encoded' and no
    file name, and which latin-1 would read as control characters."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_bytes((HEADER.replace("\n", "\r\n") + "O1,C1,2025-03-01T10:00:00Z,10.00,completed\r\n")
                                     .encode("cp1252"))
    (raw / "products.csv.gz").write_bytes(__import__("gzip").compress(
        "product_id,category,product_name\r\nP1,Caf\u00e9,\u201cBest\u201d mug \u2013 \u20ac5\r\n".encode("cp1252")))
    latin = raw_layer.run(raw, tmp_path / "w", {**EXPORT, "raw_csv_encoding": "latin-1"})
    assert not latin.success
    assert f"{raw}/products.csv.gz" in latin.text and "byte 0x93" in latin.text and "cp1252" in latin.text
    cp = raw_layer.run(raw, tmp_path / "w2", {**EXPORT, "raw_csv_encoding": "cp1252"})
    assert cp.success, cp.text
    assert cp.query("select product_id, category, product_name from stg_shop__products") == [
        ("P1", "café", "\u201cBest\u201d mug \u2013 \u20ac5")]  # categories are lower-cased
    assert cp.query("select count(*) from stg_shop__orders") == [(1,)]
    unknown = raw_layer.run(raw, tmp_path / "w3", {**EXPORT, "raw_csv_encoding": "klingon"})
    assert not unknown.success and "'klingon' is unknown" in unknown.text and "cp1252" in unknown.text


def test_an_exports_own_statuses_and_event_names_are_mapped_by_vars(raw_layer, tmp_path):
    """order_status_map / event_type_map: keys in any case; the default names US and GA4
    spellings; a map given replaces the default; unmapped values stay quarantined."""
    orders = HEADER + "".join(
        f"O{i},C1,2025-03-0{i}T10:00:00Z,10.00,{status}\n"
        for i, status in enumerate([" Delivered", "CANCELED", "refunded", "pending", "complete", ""], 1))
    events = ("event_id,occurred_at,event_type,customer_id\n"
              "E1,2025-03-01T09:00:00Z,view_item,C1\nE2,2025-03-01T09:01:00Z,Begin_Checkout,C1\n"
              "E3,2025-03-01T09:02:00Z,scroll,C1\n")
    raw = _write(tmp_path / "raw", {"orders.csv": orders, "events.csv": events})
    statuses = "select order_id, coalesce(dq_rule, status) from base_shop__orders order by 1"

    default = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert default.success, default.text
    assert default.query(statuses) == [
        ("O1", "status_unknown"), ("O2", "cancelled"), ("O3", "status_unknown"),
        ("O4", "status_unknown"), ("O5", "completed"), ("O6", "completed")]
    assert default.query("select event_id, coalesce(dq_rule, event_type) from base_shop__events order by 1") == [
        ("E1", "product_view"), ("E2", "checkout"), ("E3", "event_type_unknown")]
    # the audit keeps the value as exported
    assert default.query("select json_extract_string(raw_values, '$.status') from audit_rejected_rows "
                         "where record_key = 'O1'") == [(" Delivered",)]

    mapped = raw_layer.run(raw, tmp_path / "w2", {
        **EXPORT, "order_status_map": {"delivered": "completed", "Refunded": "returned", "pending": "Cancelled"},
        "event_type_map": {"SCROLL": "page_view"}})
    assert mapped.success, mapped.text
    assert mapped.query(statuses) == [
        ("O1", "completed"), ("O2", "status_unknown"), ("O3", "returned"),
        ("O4", "cancelled"), ("O5", "status_unknown"), ("O6", "completed")]
    assert mapped.query("select event_id, coalesce(dq_rule, event_type) from base_shop__events order by 1") == [
        ("E1", "event_type_unknown"), ("E2", "event_type_unknown"), ("E3", "page_view")]
    assert mapped.query("select count(*) from stg_shop__orders where is_purchase") == [(2,)]


def test_an_offset_after_a_space_is_read_as_spark_reads_it(raw_layer, tmp_path):
    """Shopify's `Created at` (`2023-02-03 16:37:04 -0500`): DuckDB read no offset after a space,
    and every order was ordered_at_invalid (Spark read them). Now both engines read the offset,
    with or without its colon; text that is no timestamp stays invalid."""
    stamps = ["2023-02-03 16:37:04 -0500", "2023-07-03 16:37:04 -0400", "2023-02-03 16:37:04 +05:30",
              "2023-02-03 16:37:04-0500 ", "2023-02-03T16:37:04Z", "2023-02-03 16:37:04 -05 "]
    orders = HEADER + "".join(f"O{i},C1,{t},10.00,completed\n" for i, t in enumerate(stamps))
    out = raw_layer.run(_write(tmp_path / "raw", {"orders.csv": orders}), tmp_path / "w", EXPORT)
    assert out.success, out.text
    got = dict(out.query("select order_id, coalesce(cast(ordered_at as varchar), dq_rule) from base_shop__orders"))
    assert got == {"O0": "2023-02-03 21:37:04", "O1": "2023-07-03 20:37:04", "O2": "2023-02-03 11:07:04",
                   "O3": "2023-02-03 21:37:04", "O4": "2023-02-03 16:37:04", "O5": "2023-02-03 21:37:04"}


#: (raw ordered_at, its wall-clock time in New York, the same with naive_timestamps: utc)
NEW_YORK = [
    ("2025-03-02T02:30:00Z", "2025-03-01 21:30:00", "2025-03-01 21:30:00"),  # EST, the day before
    ("2025-07-01 22:15:00 -0400", "2025-07-01 22:15:00", "2025-07-01 22:15:00"),  # Shopify's, EDT
    ("2025-03-01T10:00:00+01:00", "2025-03-01 04:00:00", "2025-03-01 04:00:00"),
    ("2025-03-01T10:00:00.5+0100", "2025-03-01 04:00:00.5", "2025-03-01 04:00:00.5"),
    ("2019-10-01 03:00:00 UTC", "2019-09-30 23:00:00", "2019-09-30 23:00:00"),  # REES46's
    ("2025-03-01 23:45:00", "2025-03-01 23:45:00", "2025-03-01 18:45:00"),  # no offset
    ("2025-03-01", "2025-03-01 00:00:00", "2025-03-01 00:00:00"),  # a date: that day
    ("01/02/2025 10:00", "ordered_at_invalid", "ordered_at_invalid"),
]


@pytest.mark.parametrize("naive", ["local", "utc"])
def test_a_shops_time_zone_gives_its_wall_clock_and_calendar_days(raw_layer, tmp_path, naive):
    """shop_timezone: timestamps with an offset are converted to the shop's time, those
    without one are its own time (or UTC, converted), and order_date, event_date and the
    typed Parquet stamps follow. Before the var every date was a UTC day: an order placed
    in New York at 21:30 on 1 March was dated 2 March."""
    orders = HEADER + "".join(f"O{i},C1,{raw},10.00,completed\n" for i, (raw, _, _) in enumerate(NEW_YORK))
    raw = _write(tmp_path / "raw", {"orders.csv": orders})
    pq.write_table(pa.table({
        "event_id": pa.array([1, 2], pa.int64()),
        "occurred_at": pa.array([dt.datetime(2025, 6, 1, 2, 30, tzinfo=dt.UTC)] * 2,
                                pa.timestamp("us", tz="UTC")),
        "event_type": ["page_view", "checkout"],
        "customer_id": ["C1", "C1"],
        "session_id": ["S1", "S1"],
    }), raw / "events.parquet")
    pq.write_table(pa.table({
        "customer_id": ["C1"],
        "signed_up_at": pa.array([dt.datetime(2025, 1, 1, 3, 0)], pa.timestamp("us")),
    }), raw / "customers.parquet")
    out = raw_layer.run(raw, tmp_path / "w", {**EXPORT, "shop_timezone": "America/New_York",
                                              "naive_timestamps": naive})
    assert out.success, out.text
    got = dict(out.query("select order_id, coalesce(cast(ordered_at as varchar), dq_rule) from base_shop__orders"))
    column = 1 if naive == "local" else 2
    assert got == {f"O{i}": row[column] for i, row in enumerate(NEW_YORK)}
    dates = dict(out.query("select order_id, cast(order_date as varchar) from stg_shop__orders"))
    assert dates["O0"] == "2025-03-01" and dates["O4"] == "2019-09-30"
    # a typed instant (timestamptz) is converted, a typed naive stamp is local or UTC
    assert out.query("select distinct cast(occurred_at as varchar), cast(event_date as varchar)"
                     " from stg_shop__events") == [("2025-05-31 22:30:00", "2025-05-31")]
    signed = "2025-01-01 03:00:00" if naive == "local" else "2024-12-31 22:00:00"
    assert out.query("select cast(signed_up_at as varchar) from stg_shop__customers") == [(signed,)]


def test_an_order_placed_today_in_a_shop_ahead_of_utc_is_not_in_the_future(raw_layer, tmp_path):
    """The default export_date is the shop's today: an order written a minute ago in Kiritimati's
    own time (UTC+14, no offset) is valid whatever the UTC date is."""
    from zoneinfo import ZoneInfo

    now = dt.datetime.now(ZoneInfo("Pacific/Kiritimati")).replace(tzinfo=None) - dt.timedelta(minutes=1)
    orders = HEADER + f"O1,C1,{now:%Y-%m-%d %H:%M:%S},10.00,completed\n"
    out = raw_layer.run(_write(tmp_path / "raw", {"orders.csv": orders}), tmp_path / "w",
                        {"shop_timezone": "Pacific/Kiritimati"}, select=["base_shop__orders"])
    assert out.success, out.text
    assert out.query("select dq_rule from base_shop__orders") == [(None,)]
    # the UTC date and Kiritimati's differ from 10:00 UTC only: the compiled rule says which
    compiled = (raw_layer.work / "target" / "compiled" / "shoplens" / "models" / "staging" / "shop" / "base"
                / "base_shop__orders.sql").read_text(encoding="utf-8")
    assert "cast(timezone('Pacific/Kiritimati', now()) as date)" in compiled and "current_date" not in compiled


@pytest.mark.parametrize(("variables", "expected"), [
    ({"shop_timezone": "Europe/Londn"}, "var shop_timezone: 'Europe/Londn' is not an IANA time zone name"),
    ({"shop_timezone": "UTC'; drop table x; --"}, "var shop_timezone: 'UTC'; drop table x; --' is not an IANA"),
    ({"shop_timezone": "Europe/London", "naive_timestamps": "gmt"}, "var naive_timestamps: 'gmt' must be local"),
])
def test_a_time_zone_var_that_names_no_zone_stops_naming_the_var(raw_layer, tmp_path, variables, expected):
    out = raw_layer.run(_write(tmp_path / "raw", {"orders.csv": _good_orders()}), tmp_path / "w",
                        {**EXPORT, **variables}, select=["base_shop__orders"])
    assert not out.success
    assert expected in out.text


def test_statuses_and_event_names_nobody_mapped_warn_however_few(raw_layer, tmp_path):
    """A WooCommerce-shaped export with 3% of its orders on hold or pending: below
    max_rejection_rate, so they left every total without a word. A value nobody mapped is a
    setting missing: the build warns with each value, its count and the var (never fails)."""
    orders = _good_orders(97) + "".join(
        f"W{i},C1,2025-03-0{1 + i}T10:00:00Z,10.00,{status}\n"
        for i, status in enumerate(["wc-on-hold", "WC-On-Hold", "wc-pending"]))
    events = ("event_id,occurred_at,event_type,customer_id\n"
              + "".join(f"E{i},2025-03-01T10:{i:02d}:00Z,page_view,C1\n" for i in range(40))
              + "X1,2025-03-01T11:00:00Z,video_start,C1\nX2,2025-03-01T11:01:00Z,,C1\n")
    raw = _write(tmp_path / "raw", {"orders.csv": orders, "events.csv": events})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert out.success, out.text
    assert not _rejection_warnings(out)  # 3 of 100 orders, 2 of 42 events: under 5%
    said = [m for m in out.messages if "that neither the project nor the var" in m]
    assert len(said) == 2, out.messages
    assert ("3 row(s) of the raw table 'orders' have a status that neither the project nor the var"
            " order_status_map knows: 'wc-on-hold' (2), 'wc-pending' (1)") in said[0]
    assert "map each to completed, cancelled or returned with the var order_status_map" in said[0]
    assert "'video_start' (1)" in said[1] and "event_type_map" in said[1]
    assert "1 row(s) of the raw table 'events'" in said[1] and "None" not in said[1]  # an empty name is no name
    mapped = raw_layer.run(raw, tmp_path / "w2", {**EXPORT, "event_type_map": {"video_start": "ignore"},
                                                  "order_status_map": {"wc-on-hold": "completed",
                                                                       "wc-pending": "cancelled"}})
    assert mapped.success, mapped.text
    assert not [m for m in mapped.messages if "that neither the project nor the var" in m]
    assert mapped.query("select count(*) from stg_shop__orders where is_purchase") == [(99,)]


def test_event_names_mapped_to_ignore_are_audited_apart_and_do_not_warn(raw_layer, tmp_path):
    """A GA4 export holds a dozen event names the project has no use for (session_start, scroll,
    user_engagement: 61% of the probe's rows), which were event_type_unknown and a rejection
    warning on every build. Mapped to ignore, they are event_type_ignored in the audit table
    (every row still accounted for), and the warning counts only the other rejections."""
    names = ["session_start"] * 6 + ["scroll"] * 6 + ["page_view"] * 7 + ["ignore"]  # a raw name, not the var
    events = "event_id,occurred_at,event_type,customer_id\n" + "".join(
        f"E{i},2025-03-01T10:{i:02d}:00Z,{name},C1\n" for i, name in enumerate(names))
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(), "events.csv": events})
    before = raw_layer.run(raw, tmp_path / "w", EXPORT)
    assert before.success, before.text
    assert _rejection_warnings(before, "events")
    out = raw_layer.run(raw, tmp_path / "w2", {**EXPORT, "event_type_map": {
        "Session_Start": "ignore", "scroll": "IGNORE", "view_item": "product_view"}})
    assert out.success, out.text
    counts = out.query("select rule, failed_column, count(*) from audit_rejected_rows "
                       "where source_table = 'events' group by 1, 2 order by 1")
    assert counts == [("event_type_ignored", "event_type", 12), ("event_type_unknown", "event_type", 1)]
    assert out.query("select count(*) from stg_shop__events") == [(7,)]
    # 1 rejection of the 8 rows not ignored is 12.5%: still a warning, on that count alone
    warning = _rejection_warnings(out, "events")
    assert len(warning) == 1 and "1 of 8 rows" in warning[0] and "event_type_ignored" not in warning[0]
    calm = raw_layer.run(raw, tmp_path / "w3", {**EXPORT, "max_rejection_rate": 0.2, "event_type_map": {
        "session_start": "ignore", "scroll": "ignore"}})
    assert calm.success and not _rejection_warnings(calm)
    # a file of ignored events only builds as a shop without events (it stopped as 'no valid row')
    only = _write(tmp_path / "raw2", {"orders.csv": _good_orders(), "events.csv": events.replace(
        "page_view", "scroll").replace("ignore", "scroll")})
    quiet = raw_layer.run(only, tmp_path / "w4", {**EXPORT, "event_type_map": {
        "session_start": "ignore", "scroll": "ignore"}})
    assert quiet.success, quiet.text
    assert quiet.query("select count(*) from stg_shop__events") == [(0,)]


@pytest.mark.parametrize(("value_map", "expected"), [
    ({"delivered": "shipped"},
     "the var order_status_map maps 'delivered' to 'shipped'; a value must be one of completed, cancelled, returned"),
    ({"Delivered": "completed", "DELIVERED": "returned"},
     "the var order_status_map maps 'delivered' (in any case) to both 'completed' and 'returned'"),
    (["delivered"], "the var order_status_map must map exported values to one of completed, cancelled, returned"),
])
def test_a_status_map_outside_the_projects_values_stops_naming_the_var(raw_layer, tmp_path, value_map, expected):
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(3)})
    out = raw_layer.run(raw, tmp_path / "w", {**EXPORT, "order_status_map": value_map})
    assert not out.success
    assert expected in out.text


def _dbt(args: list[str], db: Path, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    work = db.parent / f"dbt_{db.stem}"
    cmd = [str(Path(sys.executable).with_name("dbt")), *args, "--project-dir", str(REPO), "--profiles-dir", str(REPO),
           "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    full_env = {**os.environ, "DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **(env or {})}
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True)


def test_relative_raw_data_dir_is_read_from_the_project_root(tmp_path):
    rel = Path("target") / f"pytest-relative-{uuid.uuid4().hex[:8]}"
    try:
        _write(REPO / rel, {"orders.csv": _good_orders(4)})
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        # run from another folder, with a PWD that points to yet another place
        proc = _dbt(["run", "--select", "base_shop__orders", "--vars",
                     json.dumps({"raw_data_dir": str(rel), **EXPORT})],
                    tmp_path / "w.duckdb", cwd=elsewhere, env={"PWD": "/"})
        assert proc.returncode == 0, proc.stdout[-3000:]
    finally:
        shutil.rmtree(REPO / rel, ignore_errors=True)


def test_the_salt_is_never_rendered_and_real_data_needs_one(raw_layer, tmp_path):
    salt = f"pepper-{uuid.uuid4().hex}"
    customers = "customer_id,email\nC1, Ann@Example.com \n"
    raw = _write(tmp_path / "raw", {"orders.csv": _good_orders(3), "customers.csv": customers})
    out = raw_layer.run(raw, tmp_path / "w", EXPORT, env={"SHOPLENS_PII_SALT": salt})
    assert out.success, out.text
    expected = hashlib.sha256((salt + "ann@example.com").encode()).hexdigest()
    assert out.query("select email_hash from stg_shop__customers") == [(expected,)]
    docs = _dbt(["docs", "generate", "--vars", json.dumps({"raw_data_dir": str(raw), **EXPORT})],
                out.db, cwd=REPO, env={"SHOPLENS_PII_SALT": salt})
    assert docs.returncode == 0, docs.stdout[-3000:]
    searched = 0
    for folder in (raw_layer.work, out.db.parent):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix != ".duckdb":
                searched += 1
                assert salt.encode() not in path.read_bytes(), f"the salt is in {path}"
    assert searched > 10  # manifest, run_results, compiled SQL, catalog, index.html, logs
    # real data without a salt: stop, saying how to set one
    bare = raw_layer.run(raw, tmp_path / "w2", EXPORT, env={"SHOPLENS_PII_SALT": None})
    assert not bare.success
    assert "SHOPLENS_PII_SALT is not set" in bare.text and "export SHOPLENS_PII_SALT=" in bare.text
    # the bundled sample builds with no configuration
    sample = raw_layer.run(REPO / "data" / "sample", tmp_path / "w3", {},
                           select=["base_shop__customers"], env={"SHOPLENS_PII_SALT": None})
    assert sample.success, sample.text


def test_a_locked_warehouse_gives_one_line_naming_the_process(tmp_path):
    db = tmp_path / "held.duckdb"
    import duckdb

    duckdb.connect(str(db)).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
                               "print('held', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = _dbt(["run", "--select", "base_shop__orders"], db, cwd=REPO)
    finally:
        holder.kill()
        holder.wait()
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [line for line in output.splitlines() if "is open in another process" in line]
    assert len(lines) == 1
    assert f"PID {holder.pid}" in lines[0] and "close that connection" in lines[0]
    assert "Traceback" not in output
