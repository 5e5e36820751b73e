"""The SQL layer end to end: real dbt builds of generated and hand-broken exports."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import SQL_LAYER, parse_utc, query, run_dbt
from lifetimes.utils import summary_data_from_transaction_data

from shoplens import datagen

pytestmark = pytest.mark.slow

N_CUSTOMERS = 700
SEED = 31
AS_OF = "2025-09-30"  # leaves three months of holdout in a 2024-2025 shop
EXPORT = "2025-12-31"


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    """A dirty CSV export and the clean export of the same seed, both built."""
    root = tmp_path_factory.mktemp("warehouse")
    out = {}
    for name, rate in (("clean", 0.0), ("dirty", 0.04)):
        tables = datagen.generate_shop(n_customers=N_CUSTOMERS, seed=SEED, dirty_rate=rate)
        raw = datagen.write_shop(tables, root / f"raw_{name}", fmt="csv")
        db = root / f"{name}.duckdb"
        run_dbt("build", db, raw, {"as_of_date": AS_OF, "export_date": EXPORT}, SQL_LAYER)
        out[name] = {"raw": raw, "db": db, "tables": tables, "truth": tables["ground_truth"]}
    return out


def test_every_dirty_row_is_quarantined_with_its_rule(shops):
    dirty = shops["dirty"]
    kinds = dirty["truth"]["dirty_rows"]
    audit = query(dirty["db"], "select source_table, rule, count(*) as n from audit_rejected_rows group by all")
    got = {(r.source_table, r.rule): r.n for r in audit.itertuples()}
    o, i, e = kinds["orders"], kinds["order_items"], kinds["events"]
    expected = {
        ("orders", "duplicate_order_id"): o["duplicate_row"],
        ("orders", "order_id_null"): o["order_id_null"],
        ("orders", "customer_id_null"): o["customer_id_null"],
        ("orders", "order_total_negative"): o["order_total_negative"],
        ("orders", "status_unknown"): o["status_unknown"],
        ("orders", "ordered_at_invalid"): o["ordered_at_invalid"],
        ("orders", "ordered_at_in_future"): o["ordered_at_in_future"],
        ("order_items", "duplicate_row"): i["duplicate_row"],
        ("order_items", "quantity_not_positive"): i["quantity_not_positive"],
        # Lines copied onto every extra order with a new id; those of the
        # cancelled and returned orders are valid, the rest belong to rejected orders.
        ("order_items", "order_rejected"): i["lines_of_extra_orders"] - o["cancelled_orders"] - o["returned_orders"],
        ("customers", "duplicate_customer_id"): kinds["customers"]["duplicate_row"],
        ("events", "duplicate_event_id"): e["duplicate_row"],
        ("events", "customer_id_not_found"): e["unknown_customer"],
        ("events", "event_type_unknown"): e["event_type_unknown"],
    }
    assert got == expected
    # Every audit row names its column and keeps the raw values, with no clear-text email.
    rows = query(dirty["db"], "select * from audit_rejected_rows")
    assert rows["failed_column"].notna().all() and rows["raw_values"].notna().all()
    assert not rows["raw_values"].str.contains("@").any()
    sample = json.loads(rows[rows["rule"] == "ordered_at_invalid"]["raw_values"].iloc[0])
    assert sample["ordered_at"] == "not a timestamp"


def test_dirty_export_builds_the_same_marts_as_the_clean_one(shops):
    """No valid row is lost or changed by the dirt around it."""
    for table, key in (
        ("fct_order_items where is_purchase", "order_item_id"),
        ("fct_sessions", "session_id"),
        ("customer_btyd_summary", "customer_id"),
        ("customer_rfm", "customer_id"),
        ("demand_daily", "series_level, series_key, demand_date"),
        ("dim_products", "product_id"),
    ):
        a = query(shops["clean"]["db"], f"select * from {table} order by {key}")
        b = query(shops["dirty"]["db"], f"select * from {table} order by {key}")
        pd.testing.assert_frame_equal(a, b, obj=table)
    # Orders: the dirty export adds valid cancelled and returned orders only.
    clean = query(shops["clean"]["db"], "select * from fct_orders where is_purchase order by order_id")
    dirty = query(shops["dirty"]["db"], "select * from fct_orders where is_purchase order by order_id")
    pd.testing.assert_frame_equal(clean, dirty)
    statuses = query(shops["dirty"]["db"], "select status, count(*) as n from (select status from fct_orders union all select status from holdout_orders) group by 1")
    kinds = shops["dirty"]["truth"]["dirty_rows"]["orders"]
    counts = dict(zip(statuses["status"], statuses["n"], strict=True))
    assert counts["cancelled"] == kinds["cancelled_orders"] and counts["returned"] == kinds["returned_orders"]


def test_valid_orders_are_split_at_as_of_date_and_none_is_dropped(shops):
    clean = shops["clean"]
    n_completed = clean["truth"]["counts"]["n_orders_completed"]
    counts = query(clean["db"], """
        select
            (select count(*) from fct_orders) as before,
            (select count(*) from holdout_orders) as after,
            (select max(order_date) from fct_orders) as last_before,
            (select min(order_date) from holdout_orders) as first_after,
            (select has_holdout from as_of) as has_holdout
    """).iloc[0]
    assert counts["before"] + counts["after"] == n_completed
    assert str(counts["last_before"])[:10] <= AS_OF < str(counts["first_after"])[:10]
    assert counts["has_holdout"]


def test_timestamps_are_converted_toparse_utc(shops):
    raw = shops["clean"]["tables"]["orders"]
    expected = raw.assign(ordered_at=parse_utc(raw["ordered_at"]))[["order_id", "ordered_at"]]
    built = query(shops["clean"]["db"], "select order_id, ordered_at from fct_orders union all select order_id, ordered_at from holdout_orders")
    merged = expected.merge(built, on="order_id", suffixes=("_raw", "_built"))
    assert len(merged) == len(raw)
    assert (merged["ordered_at_raw"] == merged["ordered_at_built"]).all()
    # The raw file really mixes offsets, so the test means something.
    assert raw["ordered_at"].str.contains(r"[+-]\d\d:\d\d$").sum() > 50


@pytest.mark.parametrize("unit, multiplier", [("days", 1), ("weeks", 7)])
def test_btyd_summary_equals_lifetimes(shops, tmp_path, unit, multiplier):
    """customer_btyd_summary is lifetimes' summary of the same purchases."""
    clean = shops["clean"]
    db = clean["db"]
    if unit == "weeks":
        db = tmp_path / "weeks.duckdb"
        shutil.copy(clean["db"], db)
        run_dbt("run", db, clean["raw"], {"as_of_date": AS_OF, "export_date": EXPORT, "btyd_time_unit": "weeks"},
                ["--select", "customer_btyd_summary"])
    orders = query(db, "select customer_id, order_date, order_total from fct_orders where is_purchase")
    orders["order_total"] = orders["order_total"].astype(float)
    ref = summary_data_from_transaction_data(
        orders, "customer_id", "order_date", monetary_value_col="order_total",
        observation_period_end=AS_OF, freq="D", freq_multiplier=multiplier,
    )
    ours = query(db, 'select customer_id, frequency, recency, "T", monetary_value from customer_btyd_summary').set_index("customer_id")
    ours = ours.loc[ref.index]
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float), rtol=1e-9, atol=1e-9, err_msg=col)


def test_demand_and_features_agree_with_the_facts(shops):
    db = shops["clean"]["db"]
    totals = query(db, """
        select
            (select sum(quantity) from fct_order_items where is_purchase) as units_items,
            (select sum(units) from demand_daily where series_level = 'total') as units_total,
            (select sum(units) from demand_daily where series_level = 'category') as units_categories,
            (select sum(units) from demand_daily where series_level = 'product') as units_products,
            (select count(*) from demand_daily) as n_rows,
            (select count(*) from (select distinct series_level, series_key from demand_daily)) as n_series,
            (select count(distinct demand_date) from demand_daily) as n_days,
            (select {{ d }} from as_of) as n_days_expected
    """.replace("{{ d }}", "as_of_date - data_start_date + 1")).iloc[0]
    assert totals["units_items"] == totals["units_total"] == totals["units_categories"] == totals["units_products"]
    assert totals["n_rows"] == totals["n_series"] * totals["n_days"]
    assert totals["n_days"] == totals["n_days_expected"]
    # Windowed features, recomputed in pandas for every customer.
    orders = query(db, "select customer_id, order_date, order_total from fct_orders where is_purchase")
    end = pd.Timestamp(AS_OF)
    orders["age"] = (end - pd.to_datetime(orders["order_date"])).dt.days
    expect = orders.groupby("customer_id").agg(
        n_orders_90d=("age", lambda a: int((a < 90).sum())),
        n_purchases_total=("age", "size"),
        days_since_last_purchase=("age", "min"),
    )
    feats = query(db, "select * from customer_features").set_index("customer_id")
    pd.testing.assert_frame_equal(
        feats[expect.columns].sort_index().astype("int64"), expect.sort_index().astype("int64")
    )


def test_no_clear_text_pii_in_any_table(shops):
    db = shops["dirty"]["db"]
    columns = query(db, "select table_schema, table_name, column_name from information_schema.columns where data_type = 'VARCHAR' and table_schema = 'main'")
    for r in columns.itertuples():
        hit = query(db, f'select count(*) as n from "{r.table_schema}"."{r.table_name}" where "{r.column_name}" like \'%@example.com%\'')
        assert hit["n"].iloc[0] == 0, f"clear-text email in {r.table_name}.{r.column_name}"
    hashes = query(db, "select email_hash from dim_customers where email_hash is not null")
    assert hashes["email_hash"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_rerun_is_idempotent(shops):
    dirty = shops["dirty"]
    tables = ["fct_orders", "fct_order_items", "fct_sessions", "audit_rejected_rows", "customer_features", "demand_daily"]
    sql = " union all ".join(f"select '{t}' as t, count(*) as n from {t}" for t in tables)
    before = query(dirty["db"], sql)
    run_dbt("run", dirty["db"], dirty["raw"], {"as_of_date": AS_OF, "export_date": EXPORT}, SQL_LAYER)
    after = query(dirty["db"], sql)
    pd.testing.assert_frame_equal(before, after)
    dup = query(dirty["db"], "select count(*) - count(distinct order_id) as d from fct_orders")
    assert dup["d"].iloc[0] == 0


def test_orders_only_export_builds_with_empty_optional_marts(tmp_path):
    tables = datagen.generate_shop(n_customers=300, seed=2)
    raw = tmp_path / "raw"
    raw.mkdir()
    # Only orders, without the optional status and currency columns.
    tables["orders"].drop(columns=["status", "currency"]).to_csv(raw / "orders.csv", index=False)
    db = tmp_path / "w.duckdb"
    run_dbt("build", db, raw, {"export_date": EXPORT}, SQL_LAYER)
    counts = query(db, """select
        (select count(*) from fct_orders) as orders,
        (select count(*) from fct_sessions) as sessions,
        (select count(*) from fct_order_items) as items,
        (select count(*) from customer_features) as features,
        (select sum(n_sessions_90d) from customer_features) as session_sum,
        (select count(*) from dim_customers) as customers,
        (select min(currency) from fct_orders) as currency""").iloc[0]
    assert counts["orders"] == len(tables["orders"]) and counts["sessions"] == 0 and counts["items"] == 0
    assert counts["features"] == counts["customers"] == 300 and counts["session_sum"] == 0
    assert counts["currency"] == "EUR"


def test_missing_session_ids_are_derived_with_the_30_minute_rule(tmp_path):
    tables = datagen.generate_shop(n_customers=200, seed=9)
    raw = datagen.write_shop({k: v for k, v in tables.items() if k != "events"}, tmp_path / "raw", fmt="parquet")
    tables["events"].drop(columns=["session_id"]).to_parquet(raw / "events.parquet")
    db = tmp_path / "w.duckdb"
    run_dbt("build", db, raw, {"export_date": EXPORT}, SQL_LAYER)
    s = query(db, "select count(*) as n, count(*) filter (where is_derived_session) as derived, max(ended_at - started_at) as longest from fct_sessions").iloc[0]
    assert s["n"] == s["derived"] > 0
    # Generated sessions have gaps of minutes and sessions days apart: the rule
    # finds roughly the generator's logged-in sessions.
    logged_in = tables["events"].dropna(subset=["customer_id"])["session_id"].nunique()
    anonymous = tables["events"]["customer_id"].isna().sum()
    assert 0.9 * logged_in <= s["n"] - anonymous <= 1.1 * logged_in


def _orders_csv(path, text):
    path.mkdir(parents=True, exist_ok=True)
    (path / "orders.csv").write_text(text)


def test_missing_required_column_names_file_and_column(tmp_path):
    raw = tmp_path / "raw"
    _orders_csv(raw, "order_id,customer_id,ordered_at\nO1,C1,2025-01-01T00:00:00Z\n")
    proc = run_dbt("build", tmp_path / "w.duckdb", raw, extra=SQL_LAYER, check=False)
    assert proc.returncode != 0
    assert f"{raw}/orders.csv" in proc.stdout and "missing required column 'order_total'" in proc.stdout


def test_missing_orders_file_is_a_clear_error(tmp_path):
    raw = tmp_path / "empty"
    raw.mkdir()
    proc = run_dbt("build", tmp_path / "w.duckdb", raw, extra=SQL_LAYER, check=False)
    assert proc.returncode != 0
    assert "required raw table 'orders' not found" in proc.stdout and str(raw) in proc.stdout


def test_unreadable_file_is_a_clear_error(tmp_path):
    raw = tmp_path / "raw"
    _orders_csv(raw, "order_id,customer_id,ordered_at,order_total\nO1,C1,2025-01-01T00:00:00Z,10\n")
    (raw / "products.parquet").write_bytes(b"this is not parquet at all")
    proc = run_dbt("build", tmp_path / "w.duckdb", raw, extra=SQL_LAYER, check=False)
    assert proc.returncode != 0
    assert f"{raw}/products.parquet" in proc.stdout


def test_holdout_demand_matches_holdout_orders(shops):
    """The forecast holdout: every series' demand after as_of_date, consistent with the orders."""
    db = shops["clean"]["db"]
    got = query(db, """select
        (select sum(n_units) from holdout_orders where is_purchase) as units_orders,
        (select sum(units) from holdout_demand_daily where series_level = 'total') as units_total,
        (select sum(units) from holdout_demand_daily where series_level = 'category') as units_categories,
        (select sum(units) from holdout_demand_daily where series_level = 'product') as units_products,
        (select min(demand_date) from holdout_demand_daily) as first_day""").iloc[0]
    assert got["units_orders"] == got["units_total"] == got["units_categories"] == got["units_products"] > 0
    assert str(got["first_day"])[:10] > AS_OF
    from shoplens.forecast import actuals_from_holdout_demand

    actuals = actuals_from_holdout_demand(query(db, "select * from holdout_demand_daily"))
    assert set(actuals["measure"]) == {"units", "revenue"}
    assert actuals.loc[actuals["measure"] == "units", "actual"].sum() == got["units_total"] * 3
