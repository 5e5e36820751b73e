"""The point-in-time rule: every as-of mart at snapshot D equals a build cut at D.

One small generated shop, with sessions and orders that straddle midnight
(UTC) of every snapshot date, their timestamps written in UTC, naive and
non-UTC offsets (some whose local date is not their UTC date). It is built
once over all the data with several feature snapshots; hypothesis then draws
snapshot dates and, for each, builds the as-of marts with as_of_date = D and
from the export truncated at D, and compares every cell (shoplens.point_in_time).
The number of drawn dates is 2 in `make test`, 20 in `make fuzz` (FUZZ=1), or
FUZZ_EXAMPLES; each costs two dbt builds of the as-of marts and their parents,
and a larger number also builds more snapshots to draw from (up to 20).

The same build is recomputed from the raw files in plain pandas
(test_marts_recomputed_in_pandas), and the RFM scale is checked on the
bundled sample and on an orders-only export (CDNOW, real data).
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest
from conftest import SQL_LAYER, parse_utc, query, run_dbt
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shoplens import datagen
from shoplens.point_in_time import compare_at, read, read_marts, truncate_export
from shoplens.testing.cdnow import CDNOW_AS_OF, cdnow_raw_orders

pytestmark = pytest.mark.slow

# `make test`: 2 dates, the same every run; `make fuzz` (FUZZ=1): 20 (or FUZZ_EXAMPLES), random
FUZZ = bool(os.environ.get("FUZZ"))
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 20 if FUZZ else 2))
# more examples draw from more snapshot dates (at most 20 fit the generated 300 days)
N_SNAPSHOTS = min(max(6, FUZZ_EXAMPLES), 20)
STEP_DAYS = 11
EXPORT = "2025-12-31"
#: The as-of marts, their parents, and what the Python steps read: a cut build selects only these.
CUT_SELECT = [
    "--select", "+customer_features", "+customer_rfm", "+customer_btyd_summary", "+holdout_orders",
    "+holdout_demand_daily", "+demand_daily", "+dim_customers", "+fct_sessions", "+int_session_days",
    "--resource-type", "model", "--resource-type", "seed",
]


def _iso(ts: pd.Timestamp, offset_minutes: int | None) -> str:
    """A UTC instant as ISO text: 'Z' (offset 0), naive (None) or local time with an offset."""
    if offset_minutes is None:
        return ts.strftime("%Y-%m-%d %H:%M:%S")
    local = ts + pd.Timedelta(minutes=offset_minutes)
    if offset_minutes == 0:
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{minutes:02d}"


def add_straddles(tables: dict, dates: list[dt.date], rng: np.random.Generator) -> dict:
    """Sessions and orders across midnight (UTC) of every date, in several UTC offsets.

    Per date, for a customer who bought before it: an exported session from
    23:40 to 00:25 UTC whose cart is filled before midnight and bought after
    it; a session without session_id (derived by the 30-minute rule) from
    23:50 to 00:10; orders at 23:59:59 and at 00:00:01 and 00:30 UTC, the last
    written at -04:00 so that its local date is the snapshot date. Two guests'
    orders at 23:30 whose ids come back at 00:40: one naming that customer,
    one as a second guest version.
    """
    orders, items, events = tables["orders"].copy(), tables["order_items"].copy(), tables["events"].copy()
    events["occurred_at"] = [_iso(pd.Timestamp(t), None) for t in events["occurred_at"]]
    events["session_id"] = "s" + events["session_id"].astype(str)
    events["event_id"] = events["event_id"].astype(str)
    products = tables["products"]["product_id"].tolist()
    new_orders, new_items, new_events = [], [], []
    for n, d in enumerate(dates):
        midnight = pd.Timestamp(d) + pd.Timedelta(days=1)
        buyers = orders.loc[pd.to_datetime(parse_utc(orders["ordered_at"])) < midnight - pd.Timedelta(days=20),
                            "customer_id"].unique()
        cust = str(rng.choice(sorted(buyers)))
        session = [  # (minutes from midnight, event type, offset minutes)
            (-20, "page_view", 0), (-12, "product_view", 330), (-8, "add_to_cart", None),
            (3, "product_view", -180), (9, "product_view", 60), (18, "add_to_cart", 0),
            (22, "checkout", 540), (25, "purchase", -300),
        ]
        for k, (minutes, kind, offset) in enumerate(session):
            new_events.append({"event_id": f"x{n}a{k}", "occurred_at": _iso(midnight + pd.Timedelta(minutes=minutes), offset),
                               "customer_id": cust, "session_id": f"x{n}", "event_type": kind,
                               "product_id": products[k % len(products)] if kind != "page_view" else None})
        for k, (minutes, kind, offset) in enumerate([(-10, "page_view", 0), (-1, "product_view", -90),
                                                     (10, "product_view", 120)]):
            new_events.append({"event_id": f"x{n}b{k}", "occurred_at": _iso(midnight + pd.Timedelta(minutes=minutes), offset),
                               "customer_id": cust, "session_id": None, "event_type": kind,
                               "product_id": products[-1] if kind != "page_view" else None})
        for k, (seconds, offset) in enumerate([(-1, -300), (1, 540), (1800, -240)]):
            order_id = f"X{n:03d}{k}"
            new_orders.append({"order_id": order_id, "customer_id": cust,
                               "ordered_at": _iso(midnight + pd.Timedelta(seconds=seconds), offset),
                               "order_total": 20.0 + 5 * k, "status": "completed", "currency": "EUR"})
            new_items.append({"order_id": order_id, "product_id": products[(n + k) % len(products)],
                              "quantity": 1, "unit_price": 20.0 + 5 * k, "discount": 0.0})
        # a guest's order before midnight whose id comes back after it: once naming the
        # customer (a later version: order_id_conflict) and once as another guest version
        for k, (later_customer, total) in enumerate([(cust, 31.0), (None, 32.0)]):
            order_id = f"G{n:03d}{k}"
            new_orders.append({"order_id": order_id, "customer_id": None,
                               "ordered_at": _iso(midnight - pd.Timedelta(minutes=30), 0),
                               "order_total": 30.0, "status": "completed", "currency": "EUR"})
            new_orders.append({"order_id": order_id, "customer_id": later_customer,
                               "ordered_at": _iso(midnight + pd.Timedelta(minutes=40), 0),
                               "order_total": total, "status": "completed", "currency": "EUR"})
            new_items.append({"order_id": order_id, "product_id": products[(n + 2 * k) % len(products)],
                              "quantity": 1, "unit_price": 30.0, "discount": 0.0})
    out = dict(tables)
    out["orders"] = pd.concat([orders, pd.DataFrame(new_orders)], ignore_index=True)
    out["order_items"] = pd.concat([items, pd.DataFrame(new_items)], ignore_index=True)
    out["events"] = pd.concat([events, pd.DataFrame(new_events)], ignore_index=True)
    return out


@pytest.fixture(scope="module")
def pit(tmp_path_factory):
    """The straddling shop, built once over all the data with N_SNAPSHOTS snapshots."""
    root = tmp_path_factory.mktemp("point_in_time")
    tables = datagen.generate_shop(n_customers=250, n_days=300, n_products=30, seed=5, start_date="2025-01-01")
    end = dt.date.fromisoformat(tables["ground_truth"]["end_date"])
    as_of = end - dt.timedelta(days=10)  # a holdout follows the all-data build as well
    dates = [as_of - dt.timedelta(days=STEP_DAYS * k) for k in range(N_SNAPSHOTS)]
    tables = add_straddles(tables, dates, np.random.default_rng(5))
    raw = datagen.write_shop(tables, root / "raw", fmt="csv")
    db = root / "all.duckdb"
    variables = {"as_of_date": str(as_of), "export_date": EXPORT,
                 "feature_snapshots": N_SNAPSHOTS, "feature_snapshot_step_days": STEP_DAYS}
    run_dbt("build", db, raw, variables, SQL_LAYER)
    return {"root": root, "raw": raw, "db": db, "dates": dates, "as_of": as_of, "tables": tables,
            "full": read_marts(db), "demand": read(db, "select * from int_demand_by_series_day"), "cuts": {}}


def cut_builds(pit: dict, d: dt.date) -> tuple[dict, dict]:
    """Marts of a build with as_of_date = d and of a build of the export truncated at d."""
    if d not in pit["cuts"]:
        cut_db, trunc_db = pit["root"] / f"cut_{d}.duckdb", pit["root"] / f"trunc_{d}.duckdb"
        variables = {"as_of_date": str(d), "export_date": EXPORT}
        run_dbt("build", cut_db, pit["raw"], variables, CUT_SELECT)
        truncated = truncate_export(pit["raw"], pit["root"] / f"raw_{d}", d)
        run_dbt("build", trunc_db, truncated, variables, CUT_SELECT)
        pit["cuts"][d] = (read_marts(cut_db), read_marts(trunc_db), cut_db)
    return pit["cuts"][d][:2]


# no shrinking: one example is two dbt builds, and a failure names its date anyway
@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          derandomize=not FUZZ,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(k=st.integers(min_value=0, max_value=N_SNAPSHOTS - 1))
def test_snapshot_equals_a_build_cut_at_its_date(pit, k):
    d = pit["dates"][k]
    cut, trunc = cut_builds(pit, d)
    diffs = compare_at(d, pit["full"], cut, trunc, pit["demand"])
    bad = {name: (diff.total, diff.examples) for name, diff in diffs.items() if diff.total}
    assert not bad, f"as of {d}: {bad}"
    # Not vacuous: every comparison saw rows, and the straddling customer is in the snapshot.
    assert all(diff.n_cells > 0 for diff in diffs.values()), {n: x.n_cells for n, x in diffs.items()}
    straddler = cut["fct_orders"].loc[cut["fct_orders"]["order_id"].str.startswith("X"), "order_id"]
    assert f"X{k:03d}0" in set(straddler) and f"X{k:03d}1" not in set(straddler)


def test_a_guest_order_counts_before_its_id_comes_back(pit):
    """The guests' straddles bite: a build over every date counts each guest order of a
    snapshot date (an export cut there holds no later row of its id), its lines stay
    valid, and the id's later customer row is a conflict, its later guest version not
    counted."""
    got = query(pit["db"], "select order_id, customer_id is null as guest, dq_rule, is_guest_order"
                           " from base_shop__orders where order_id like 'G%' order by order_id, ordered_at")
    assert len(got) == 4 * len(pit["dates"])
    firsts, lasts = got.iloc[0::2], got.iloc[1::2]
    assert firsts["is_guest_order"].all() and (firsts["dq_rule"] == "customer_id_null").all()
    assert not lasts["is_guest_order"].any()
    later = dict(zip(lasts["order_id"].str[-1], lasts["dq_rule"], strict=False))
    assert later == {"0": "order_id_conflict", "1": "customer_id_null"}
    lines = query(pit["db"], "select dq_rule from base_shop__order_items where order_id like 'G%'")
    assert len(lines) == 2 * len(pit["dates"]) and lines["dq_rule"].isna().all()


def test_the_straddles_are_seen_and_would_leak_by_session_start(pit):
    """The generated case bites: without the rule, snapshot D would count events after D."""
    # a date before the all-data build's own as_of_date (there, its sessions are cut too),
    # already cut by the property test if there is one (builds are slow)
    d = next((x for x in pit["cuts"] if x != pit["dates"][0]), pit["dates"][1])
    k = pit["dates"].index(d)
    cut, _ = cut_builds(pit, d)
    full_sessions = query(pit["db"], "select session_id, n_events, n_product_views from fct_sessions")
    cut_db = pit["cuts"][d][2]
    cut_sessions = query(cut_db, "select session_id, n_events, n_product_views from fct_sessions")
    both = full_sessions.merge(cut_sessions, on="session_id", suffixes=("_all", "_cut"))
    crossing = both.loc[both["n_events_all"] > both["n_events_cut"]]
    # the exported straddling session (5 of its 8 events after midnight) and the derived one (1 of 3)
    assert f"x{k}" in set(crossing["session_id"])
    assert crossing.set_index("session_id").loc[f"x{k}", "n_events_cut"] == 3
    assert (crossing["session_id"].str.startswith("derived:")).sum() >= 1
    # Features picked by session start with whole sessions (the old rule) differ from the cut build.
    from shoplens.point_in_time import diff_cells, propensity_frame

    whole = pit["full"]["sessions"]
    leaky = propensity_frame(pit["full"]["fct_orders"], whole, pit["full"]["customers"], d, 12)
    fair = propensity_frame(cut["fct_orders"], cut["sessions"], cut["customers"], d, 12)
    assert diff_cells(leaky, fair, ["customer_id"], rtol=1e-6).total > 0


def test_diff_cells_counts_every_difference():
    from shoplens.point_in_time import diff_cells

    left = pd.DataFrame({"k": [1, 2, 3], "a": [1.0, np.nan, 3.0], "b": ["x", "y", None]})
    same = diff_cells(left, left.copy(), ["k"])
    assert (same.total, same.n_cells) == (0, 6)
    right = pd.DataFrame({"k": [1, 2, 4], "a": [1.0 + 1e-12, 2.0, 3.0], "b": ["x", "y", None]})
    got = diff_cells(left, right, ["k"])
    # row 2: a NaN vs 2.0 differs; row 3 only left, row 4 only right (2 cells each)
    assert (got.differing_cells, got.missing_rows, got.extra_rows, got.total) == (1, 1, 1, 5)
    with pytest.raises(ValueError, match="repeats keys"):
        diff_cells(pd.concat([left, left]), right, ["k"])


# ---------------------------------------------------------------------------
# An independent recomputation in plain pandas
# ---------------------------------------------------------------------------


def _pandas_marts(tables: dict, as_of: dt.date, dates: list[dt.date], breakpoints=(2, 3, 4, 6)) -> dict:
    """fct_orders, customer_rfm, customer_btyd_summary and customer_features from raw tables.

    Written from the documented definitions (docs/marts.md), not from the SQL.
    The raw tables must be clean (no quarantine rules are applied) but for
    guests' orders and the later versions of their ids.
    """
    orders = tables["orders"].copy()
    orders["ordered_at"] = parse_utc(orders["ordered_at"])
    # guests' orders are in no customer mart, nor a customer row of an id that was a
    # guest's order before it (a later version of that order; every first guest row of
    # an id here is a guest's order, which the SQL decides per row)
    first_guest = orders.loc[orders["customer_id"].isna()].groupby("order_id")["ordered_at"].min()
    orders = orders.loc[orders["customer_id"].notna()]
    guest_before = orders["order_id"].map(first_guest)
    orders = orders.loc[~(guest_before.notna() & (guest_before < orders["ordered_at"]))]
    orders["order_date"] = orders["ordered_at"].dt.normalize()
    end = pd.Timestamp(as_of)
    fct = orders.loc[orders["order_date"] <= end]
    buys = fct.loc[fct["status"] == "completed"]

    per = buys.groupby("customer_id").agg(last=("order_date", "max"), frequency=("order_id", "size"),
                                          monetary=("order_total", "sum"))
    per["recency_days"] = (end - per["last"]).dt.days
    n = len(per)

    def rank_score(values: pd.Series, ascending: bool) -> pd.Series:
        middle = values.rank(method="average", ascending=ascending)  # the tie group's middle position
        return (1 + np.floor(5 * (middle - 1) / n)).astype(int)

    rfm = pd.DataFrame({
        "recency_days": per["recency_days"], "frequency": per["frequency"], "monetary": per["monetary"].round(2),
        "r_score": rank_score(per["recency_days"], ascending=False),
        "f_score": 1 + sum((per["frequency"] >= b).astype(int) for b in breakpoints),
        "m_score": rank_score(per["monetary"].round(2), ascending=True),
    }).reset_index()

    days = buys.groupby(["customer_id", "order_date"], as_index=False)["order_total"].sum()
    g = days.sort_values("order_date").groupby("customer_id")
    first, last, n_days = g["order_date"].min(), g["order_date"].max(), g.size()
    repeat = days.merge(first.rename("first"), on="customer_id")
    repeat = repeat.loc[repeat["order_date"] > repeat["first"]].groupby("customer_id")["order_total"].mean()
    btyd = pd.DataFrame({
        "frequency": n_days - 1, "recency": (last - first).dt.days.astype(float),
        "T": (end - first).dt.days.astype(float), "monetary_value": repeat.reindex(first.index).fillna(0.0),
    }).reset_index()

    events = tables["events"].copy()
    events["occurred_at"] = parse_utc(events["occurred_at"].astype(str))
    events = events.sort_values(["customer_id", "occurred_at", "event_id"])
    derived = events["session_id"].isna() & events["customer_id"].notna()
    gap = events.loc[derived].groupby("customer_id")["occurred_at"].diff()
    starts = (gap.isna() | (gap > pd.Timedelta(minutes=30))).astype(int)
    number = starts.groupby(events.loc[derived, "customer_id"]).cumsum()
    events.loc[derived, "session_id"] = "derived:" + events.loc[derived, "customer_id"] + ":" + number.astype(str)
    events["day"] = events["occurred_at"].dt.normalize()
    start_of = events.groupby("session_id")["occurred_at"].min().dt.normalize()
    events["session_day"] = events["session_id"].map(start_of)

    items = tables["order_items"].merge(tables["products"][["product_id", "category"]], on="product_id")
    items = items.merge(orders[["order_id", "customer_id", "order_date", "status"]], on="order_id")
    items["amount"] = items["quantity"] * items["unit_price"] - items["discount"]
    rows = []
    for d in dates:
        cut = pd.Timestamp(d)
        b = orders.loc[(orders["order_date"] <= cut) & (orders["status"] == "completed")]
        seen = events.loc[(events["day"] <= cut) & (events["session_day"] > cut - pd.Timedelta(days=90))]
        sess = seen.groupby("session_id").agg(
            customer_id=("customer_id", "max"), session_day=("session_day", "min"),
            views=("event_type", lambda s: (s == "product_view").sum()),
            carts=("event_type", lambda s: (s == "add_to_cart").sum()),
            buys=("event_type", lambda s: (s == "purchase").sum()))
        cat = items.loc[(items["order_date"] <= cut) & (items["status"] == "completed")]
        cat = cat.groupby(["customer_id", "category"])["amount"].sum().reset_index()
        for cust, mine in b.groupby("customer_id"):
            s = sess.loc[sess["customer_id"] == cust]
            recent = s.loc[s["session_day"] > cut - pd.Timedelta(days=30)]
            carts = s.loc[s["carts"] > 0]
            c = cat.loc[cat["customer_id"] == cust].sort_values(["amount", "category"], ascending=[False, False])
            rows.append({
                "customer_id": cust, "as_of_date": d,
                "n_orders_90d": int((mine["order_date"] > cut - pd.Timedelta(days=90)).sum()),
                "revenue_365d": round(mine.loc[mine["order_date"] > cut - pd.Timedelta(days=365), "order_total"].sum(), 2),
                "n_purchases_total": len(mine),
                "days_since_last_purchase": (cut - mine["order_date"].max()).days,
                "top_category": c["category"].iloc[0] if len(c) else None,
                "n_sessions_30d": len(recent), "n_sessions_90d": len(s),
                "n_product_views_30d": int(recent["views"].sum()), "n_product_views_90d": int(s["views"].sum()),
                "n_add_to_carts_90d": int(s["carts"].sum()),
                "cart_abandonment_rate_90d": ((carts["buys"] == 0).mean() if len(carts) else np.nan),
            })
    features = pd.DataFrame(rows)
    return {"fct_orders": fct, "customer_rfm": rfm, "customer_btyd_summary": btyd, "customer_features": features}


def test_marts_recomputed_in_pandas(pit):
    ours = _pandas_marts(pit["tables"], pit["as_of"], pit["dates"])
    full = pit["full"]
    from shoplens.point_in_time import diff_cells

    built_orders = full["fct_orders"].assign(ordered_at=pd.to_datetime(full["fct_orders"]["ordered_at"]))
    assert diff_cells(ours["fct_orders"][["order_id", "ordered_at", "order_total", "status"]],
                      built_orders, ["order_id"], ["ordered_at", "order_total", "status"]).total == 0
    rfm = full["customer_rfm"].assign(monetary=full["customer_rfm"]["monetary"].astype(float))
    d = diff_cells(ours["customer_rfm"], rfm, ["customer_id"])
    assert (d.total, d.examples) == (0, []) and d.rows_left == len(rfm) > 200
    d = diff_cells(ours["customer_btyd_summary"], full["customer_btyd_summary"], ["customer_id"])
    assert (d.total, d.examples) == (0, [])
    feats = full["customer_features"].copy()
    feats["as_of_date"] = pd.to_datetime(feats["as_of_date"]).dt.date
    feats["revenue_365d"] = feats["revenue_365d"].astype(float)
    d = diff_cells(ours["customer_features"], feats, ["customer_id", "as_of_date"])
    assert (d.total, d.examples) == (0, []) and d.rows_left == len(feats)
    # the straddling sessions are in there, counted up to each date only
    assert feats["n_product_views_30d"].sum() > 0 and feats["cart_abandonment_rate_90d"].notna().sum() > 10


# ---------------------------------------------------------------------------
# RFM scores use their whole scale
# ---------------------------------------------------------------------------


def _level_shares(db) -> dict[str, list[float]]:
    out = {}
    for s in ("r", "f", "m"):
        got = query(db, f"select {s}_score as level, count(*) as n from customer_rfm group by 1")
        shares = dict(zip(got["level"], got["n"] / got["n"].sum(), strict=True))
        out[s] = [float(shares.get(level, 0.0)) for level in range(1, 6)]
    return out


def test_rfm_levels_hold_a_share_on_the_sample_and_an_orders_only_export(repo, tmp_path):
    select = ["--select", "+customer_rfm", "--resource-type", "model", "--resource-type", "seed"]
    sample = tmp_path / "sample.duckdb"
    run_dbt("build", sample, repo / "data" / "sample", {"export_date": EXPORT}, select)
    shares = _level_shares(sample)
    assert min(min(v) for v in shares.values()) >= 0.05, shares
    # every row of the segment map applies to some customer of the sample
    cells = query(sample, "select distinct r_score, f_score from customer_rfm")
    seed = pd.read_csv(repo / "seeds" / "rfm_segments.csv")
    assert len(seed.merge(cells, on=["r_score", "f_score"])) == len(seed) == 25
    assert query(sample, "select count(*) as n from customer_rfm where segment is null")["n"].iloc[0] == 0

    # CDNOW: a real shop's orders and nothing else (no lines, products, customers or events)
    raw = tmp_path / "cdnow"
    raw.mkdir()
    cdnow_raw_orders().to_csv(raw / "orders.csv", index=False)
    cdnow = tmp_path / "cdnow.duckdb"
    cdnow_vars = {"as_of_date": str(CDNOW_AS_OF), "export_date": "1998-12-31", "min_valid_date": "1990-01-01"}
    run_dbt("build", cdnow, raw, cdnow_vars, select)
    shares = _level_shares(cdnow)
    assert min(min(v) for v in shares.values()) >= 0.05, shares


def test_truncating_an_export_reads_its_stamps_and_quotes_as_staging_does(tmp_path):
    """Shopify's `Created at` (an offset after a space) and a quoted field after the sniffer's
    sample: the truncation cuts at the UTC day as staging reads it and keeps every line."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,order_total\n"
        "A,C1,2025-03-01 20:00:00 -0500,1.00\n"  # 2025-03-02 01:00 UTC: after the cut
        "B,C1,2025-03-01 18:00:00 -0500,1.00\n"  # 23:00 UTC: kept
        + "".join(f"X{i},C2,2025-02-01T10:00:00Z,1.00\n" for i in range(30_000))
        + 'Q,"C3, Jr",2025-02-01T10:00:00Z,1.00\n', encoding="utf-8")
    out = truncate_export(raw, tmp_path / "cut", "2025-03-01")
    kept = pd.read_csv(out / "orders.csv", dtype=str)
    assert "A" not in set(kept["order_id"]) and {"B", "Q"} <= set(kept["order_id"])
    assert len(kept) == 30_002 and kept.loc[kept["order_id"] == "Q", "customer_id"].item() == "C3, Jr"



def test_truncation_cuts_at_the_end_of_the_shops_day(tmp_path):
    """shop_timezone: the cut is midnight in the shop's zone, as staging dates the rows."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,order_total\n"
        "A,C1,2025-03-02T04:00:00Z,1.00\n"  # 23:00 on 1 March in New York: kept
        "B,C1,2025-03-02T05:30:00Z,1.00\n"  # 00:30 on 2 March there: cut
        "C,C1,2025-03-01 23:59:00,1.00\n"  # no offset: New York's own time, kept
        "D,C1,2025-03-02 00:00:00,1.00\n", encoding="utf-8")
    kept = pd.read_csv(truncate_export(raw, tmp_path / "ny", "2025-03-01", shop_timezone="America/New_York")
                       / "orders.csv", dtype=str)
    assert sorted(kept["order_id"]) == ["A", "C"]
    kept = pd.read_csv(truncate_export(raw, tmp_path / "utc", "2025-03-01") / "orders.csv", dtype=str)
    assert sorted(kept["order_id"]) == ["C"]
    kept = pd.read_csv(truncate_export(raw, tmp_path / "ny_utc", "2025-03-01", shop_timezone="America/New_York",
                                       naive_timestamps="utc") / "orders.csv", dtype=str)
    assert sorted(kept["order_id"]) == ["A", "C", "D"]


def test_truncation_reads_zones_with_the_macros_pattern():
    """truncate_export spells staging's shop_timestamp in Python: its zoned-text pattern is the
    macro's, character for character."""
    from pathlib import Path

    from shoplens.point_in_time import ZONED_TEXT

    macro = (Path(__file__).resolve().parents[2] / "macros" / "shop_timestamp.sql").read_text(encoding="utf-8")
    body = macro.split("{% macro shoplens_zoned_text_pattern() -%}", 1)[1].split("{%- endmacro %}", 1)[0]
    assert body.strip() == ZONED_TEXT
