"""The generators of public export shapes (shoplens.testing.olist_shape, ga4_shape,
superstore_shape, rees46_shape, dunnhumby_shape), without dbt.

bench/probe_real_shapes.py builds the Olist and GA4 exports; this checks, at small
sizes, that each is seeded, that each raw export has the public file's columns and
quirks, that each conversion has the shape its docstring names (the careful ones
the raw contract's), and that the careful users' vars name every status and event
name exported.
"""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.testing import dunnhumby_shape, ga4_shape, olist_shape, rees46_shape, superstore_shape

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


def _decimals_at_most(values: pd.Series, places: int) -> bool:
    return bool(((values * 10**places).round() - values * 10**places).abs().max() < 1e-6)


def _assert_contract(out: dict[str, pd.DataFrame], line_sum_is_total: bool) -> None:
    """What every careful conversion gives the raw contract."""
    orders, items = out["orders"], out["order_items"]
    assert orders["order_id"].is_unique
    assert not items.duplicated(["order_id", "product_id"]).any()
    assert out["products"]["product_id"].is_unique and out["customers"]["customer_id"].is_unique
    assert _decimals_at_most(orders["order_total"], 2) and (orders["order_total"] >= 0).all()
    assert _decimals_at_most(items["unit_price"], 4) and (items["unit_price"] >= 0).all()
    assert pd.api.types.is_integer_dtype(items["quantity"]) and (items["quantity"] >= 1).all()
    discount = items.get("discount", pd.Series(0.0, index=items.index))
    assert _decimals_at_most(discount, 4)
    assert ((discount >= 0) & (discount <= items["quantity"] * items["unit_price"] + 1e-9)).all()
    assert set(items["order_id"]) <= set(orders["order_id"])
    assert set(orders["customer_id"]) <= set(out["customers"]["customer_id"])
    pd.to_datetime(orders["ordered_at"], format="ISO8601")  # raises on anything else
    if line_sum_is_total:
        amount = (items["quantity"] * items["unit_price"] - discount).groupby(
            items["order_id"]).sum()
        total = orders.set_index("order_id")["order_total"].reindex(amount.index)
        assert ((amount - total).abs() < 0.01).all()


# the sizes of each new shape's draw; a second draw of the same size and seed converts alike
SUPERSTORE = dict(n_orders=600, n_customers=150, seed=7)
REES46 = dict(n_users=800, n_products=300, seed=7)
DUNNHUMBY = dict(n_households=120, n_products=300, seed=7)


def _assert_converted_alike(out: dict[str, pd.DataFrame], shape, tables, sizes: dict) -> None:
    """A second draw of ``tables(**sizes)`` converts by ``shape`` to the same frames as ``out``."""
    again = shape.raw_contract_tables(tables(**sizes))
    for name, frame in out.items():
        pd.testing.assert_frame_equal(frame, again[name])


@pytest.fixture(scope="module")
def superstore():
    return superstore_shape.superstore_tables(**SUPERSTORE)


def test_superstore_raw_shape(superstore):
    rows = superstore["orders"]
    assert list(rows.columns) == superstore_shape.COLUMNS
    assert rows["Order Date"].str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}").all()
    assert not _decimals_at_most(rows["Sales"], 2) and _decimals_at_most(rows["Sales"], 4)
    assert rows["Discount"].between(0, 0.8).all() and (rows["Discount"] > 0).any()
    assert rows.drop(columns="Row ID").duplicated().sum() == 1  # one line written twice
    assert set(superstore["returns"]["Order ID"]) < set(rows["Order ID"])
    assert (superstore["returns"]["Returned"] == "Yes").all()


def test_superstore_careful_conversion(superstore, tmp_path):
    out = superstore_shape.raw_contract_tables(superstore)
    _assert_contract(out, line_sum_is_total=True)
    orders = out["orders"]
    assert orders["ordered_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(orders.loc[orders["status"] == "returned", "order_id"]) == set(
        superstore["returns"]["Order ID"])
    assert out["order_items"]["quantity"].sum() == superstore["orders"]["Quantity"].sum()
    _assert_converted_alike(out, superstore_shape, superstore_shape.superstore_tables, SUPERSTORE)
    written = superstore_shape.write_superstore(superstore, tmp_path / "s")
    assert written == {"raw_data_dir": str(tmp_path / "s"), **superstore_shape.VARS}
    assert (tmp_path / "s" / "order_items.csv").exists()


@pytest.fixture(scope="module")
def rees46():
    return rees46_shape.rees46_tables(**REES46)


def test_rees46_raw_shape(rees46):
    events = rees46["events"]
    assert list(events.columns) == rees46_shape.COLUMNS
    assert events["event_time"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC").all()
    assert events.duplicated().any()  # rows repeated verbatim
    assert set(events["event_type"]) == {"view", "cart", "remove_from_cart", "purchase"}
    assert (events["category_code"] == "").any() and (events["brand"] == "").any()
    bought = events[events["event_type"] == "purchase"].drop_duplicates()
    assert bought.duplicated(["user_session", "user_id", "product_id"]).any()  # bought twice


def test_rees46_careful_conversion(rees46):
    out = rees46_shape.raw_contract_tables(rees46)
    _assert_contract(out, line_sum_is_total=True)
    events, rows = out["events"], rees46["events"]
    assert len(events) == len(rows.drop_duplicates()) and events["event_id"].is_unique
    assert events["occurred_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z").all()
    assert set(out["customers"]["customer_id"]) == set(rows["user_id"])
    bought = rows[rows["event_type"] == "purchase"].drop_duplicates()
    assert out["order_items"]["quantity"].sum() == len(bought)
    names = set(rees46_shape.VARS["event_type_map"]) | {"purchase"}
    assert set(events["event_type"]) == names
    assert set(rees46_shape.VARS["event_type_map"].values()) <= PROJECT_EVENTS
    _assert_converted_alike(out, rees46_shape, rees46_shape.rees46_tables, REES46)


@pytest.fixture(scope="module")
def dunnhumby():
    return dunnhumby_shape.dunnhumby_tables(**DUNNHUMBY)


def test_dunnhumby_raw_shape(dunnhumby):
    tx = dunnhumby["transaction_data"]
    assert list(tx.columns) == dunnhumby_shape.TRANSACTION_COLUMNS
    assert pd.api.types.is_integer_dtype(tx["DAY"]) and tx["DAY"].between(1, 711).all()
    assert (tx["RETAIL_DISC"] <= 0).mean() > 0.99 and (tx["RETAIL_DISC"] < 0).any()
    assert ((tx["QUANTITY"] == 0) & (tx["SALES_VALUE"] > 0)).any()
    assert tx.duplicated().any()  # a product scanned twice
    fuel = tx["PRODUCT_ID"].isin(list(dunnhumby_shape.FUEL))
    assert (tx.loc[fuel, "QUANTITY"] >= 1000).all() and fuel.any()


def test_dunnhumby_careful_conversion(dunnhumby):
    out = dunnhumby_shape.raw_contract_tables(dunnhumby)
    _assert_contract(out, line_sum_is_total=True)
    tx, items = dunnhumby["transaction_data"], out["order_items"]
    assert set(out["customers"]["customer_id"]) == set(tx["household_key"])
    assert out["orders"]["ordered_at"].min().startswith("2022-01-01T")
    assert (items.loc[items["product_id"].isin(list(dunnhumby_shape.FUEL)), "quantity"] < 10).all()
    assert len(items) == len(tx.drop_duplicates(["BASKET_ID", "PRODUCT_ID"]))
    assert (items["discount"] > 0).any()
    _assert_converted_alike(out, dunnhumby_shape, dunnhumby_shape.dunnhumby_tables, DUNNHUMBY)
    chosen = dunnhumby_shape.dbt_vars(dunnhumby)
    cuts = chosen["rfm_frequency_breakpoints"]
    assert len(cuts) == 4 and cuts == sorted(set(cuts)) and cuts[0] >= 2
    assert chosen["as_of_date"] < out["orders"]["ordered_at"].max()
