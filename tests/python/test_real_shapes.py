"""The Olist- and GA4-shaped generators (shoplens.testing.olist_shape, ga4_shape), without dbt.

bench/probe_real_shapes.py builds their exports; this checks, at small sizes,
that each is seeded, that each conversion has the shape its docstring names,
and that the careful users' vars name every status and event name exported.
"""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.testing import ga4_shape, olist_shape

PROJECT_STATUSES = {"completed", "cancelled", "returned"}
PROJECT_EVENTS = {"page_view", "product_view", "add_to_cart", "checkout", "purchase", "ignore"}


@pytest.fixture(scope="module")
def olist():
    return olist_shape.olist_tables(n_orders=3000, n_products=400, seed=7)


@pytest.fixture(scope="module")
def ga4():
    return ga4_shape.ga4_tables(n_users=1500, n_products=60, seed=7)


def test_olist_is_seeded_and_its_map_names_every_status(olist):
    again = olist_shape.olist_tables(n_orders=3000, n_products=400, seed=7)
    for name, frame in olist.items():
        pd.testing.assert_frame_equal(frame, again[name])
    statuses = set(olist["orders"]["order_status"])
    assert statuses == set(olist_shape.ORDER_STATUS_MAP)
    assert set(olist_shape.dbt_vars("careful")["order_status_map"].values()) <= PROJECT_STATUSES
    # a thin truncated tail: nothing between 2018-08-30 and September, the last order later
    ts = pd.to_datetime(olist["orders"]["order_purchase_timestamp"])
    assert not ((ts >= "2018-08-30") & (ts < "2018-09-01")).any() and ts.max() > pd.Timestamp("2018-10-01")


def test_olist_conversions(olist, tmp_path):
    units = len(olist["order_items"])
    careful = olist_shape.raw_contract_tables(olist, "careful")
    naive = olist_shape.raw_contract_tables(olist, "naive")
    assert careful["order_items"]["quantity"].sum() == units == len(naive["order_items"])
    assert not careful["order_items"].duplicated(["order_id", "product_id"]).any()
    assert naive["order_items"].duplicated(["order_id", "product_id"]).any()
    persons = olist["customers"]["customer_unique_id"]
    assert careful["orders"]["customer_id"].nunique() == persons.nunique() < len(persons)
    assert naive["orders"]["customer_id"].is_unique
    assert set(careful["orders"]["customer_id"]) == set(careful["customers"]["customer_id"])
    assert (careful["orders"]["order_total"] == careful["orders"]["order_total"].round(2)).all()
    offset = olist_shape.write_olist(olist, tmp_path / "offset", "offset")
    assert pd.read_csv(offset / "orders.csv")["ordered_at"].str.endswith("-03:00").all()
    comma = olist_shape.write_olist(olist, tmp_path / "comma", "comma")
    text = (comma / "order_items.csv").read_text().splitlines()
    assert text[0] == "order_id;product_id;quantity;unit_price" and "," in text[1].split(";")[3]
    with pytest.raises(ValueError, match="none of"):
        olist_shape.write_olist(olist, tmp_path / "x", "us_dates")


def test_ga4_is_seeded_and_its_careful_map_names_every_event(ga4):
    again = ga4_shape.ga4_tables(n_users=1500, n_products=60, seed=7)
    pd.testing.assert_frame_equal(ga4["flat"], again["flat"])
    names = set(ga4["flat"]["event_name"])
    mapped = ga4_shape.dbt_vars("careful")["event_type_map"]
    assert names <= set(mapped) | {"page_view", "add_to_cart", "purchase"}
    assert set(mapped.values()) <= PROJECT_EVENTS
    assert ga4_shape.dbt_vars("clean_gasid") == {} == ga4_shape.dbt_vars("naive")
    flat = ga4["flat"]
    assert flat["event_timestamp"].max() <= ga4_shape.END.value // 1000
    # some ga_session_ids are used by two visitors; some purchases are '(not set)' or resent
    shared = flat.groupby("ga_session_id")["user_pseudo_id"].nunique()
    assert (shared > 1).sum() >= ga4_shape.SHARED_SESSION_PAIRS // 2
    purchases = flat[flat["event_name"] == "purchase"].drop_duplicates(
        ["event_timestamp", "user_pseudo_id"])
    assert (purchases["transaction_id"] == "(not set)").any()
    assert purchases["transaction_id"].duplicated().any()


def test_ga4_conversions(ga4):
    careful = ga4_shape.raw_contract_tables(ga4, "careful")
    gasid = ga4_shape.raw_contract_tables(ga4, "clean_gasid")
    naive = ga4_shape.raw_contract_tables(ga4, "naive")
    assert careful["orders"]["order_id"].is_unique
    assert "(not set)" not in set(careful["orders"]["order_id"])
    assert set(careful["order_items"]["order_id"]) == set(careful["orders"]["order_id"])
    lines = careful["order_items"].assign(amount=lambda d: d["quantity"] * d["unit_price"])
    totals = lines.groupby("order_id")["amount"].sum().round(2)
    head = careful["orders"].set_index("order_id")["order_total"]
    assert ((head.reindex(totals.index) - totals).abs() < 0.005).all()
    assert careful["events"]["occurred_at"].str.endswith("Z").all()
    sessions = careful["events"].groupby("session_id")["customer_id"].nunique()
    assert (sessions == 1).all()
    assert set(gasid["events"]["event_type"]) == set(ga4_shape.MAPPABLE)
    assert (gasid["events"].groupby("session_id")["customer_id"].nunique() > 1).any()
    assert pd.api.types.is_integer_dtype(naive["events"]["occurred_at"])
    assert naive["orders"]["order_id"].duplicated().any()  # resends and '(not set)'
    assert set(naive["customers"]["customer_id"]) == set(naive["orders"]["customer_id"])
    assert len(careful["customers"]) == ga4["flat"]["user_pseudo_id"].nunique()
