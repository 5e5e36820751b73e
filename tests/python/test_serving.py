"""The serving path end to end: `make build` publishes serving.duckdb; BI readers, the
dashboard (Streamlit AppTest), SQLAlchemy and the semantic layer (mf query) read it.

Two real builds: an orders-only shop (the first publication) and a full shop
built while a BI connection holds the first publication open.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from serving_helpers import REPO, checked_build, make_build, make_shop, sha256

from shoplens.serving import scan_for_leaks
from shoplens.serving.reader import open_serving

pytestmark = pytest.mark.slow

MARTS = {
    "as_of", "customer_btyd_summary", "customer_features", "customer_rfm", "demand_daily", "dim_customers",
    "fct_guest_orders", "calendar_events",
    "dim_products", "fct_order_items", "fct_orders", "fct_sessions", "holdout_demand_daily", "holdout_orders",
    "monthly_sales", "holdout_order_items", "product_affinity",
}
PREDICTIONS = {"ml_model_evaluation", "pred_customer_ltv", "pred_demand_forecast", "pred_purchase_propensity",
               "pred_product_recommendations", "customer_profiles", "profile_summary",
               "clv_period_transactions", "clv_calibration_holdout", "clv_probability_alive_matrix",
               "clv_cumulative_purchases", "ml_feature_importance"}
READER_SQL = """select (select count(*) from marts.fct_orders), (select count(*) from marts.fct_sessions),
                       (select any_value(publication_id) from _publication)"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    _, orders_vars = make_shop(root / "raw_orders", seed=21, orders_only=True)
    _, full_vars = make_shop(root / "raw_full", seed=22, guest_share=0.05)
    work = root / "bi"
    work.mkdir()
    checked_build(work, orders_vars)
    serving = work / "serving.duckdb"
    orders_only = root / "orders_only_serving.duckdb"
    shutil.copyfile(serving, orders_only)
    # A BI connection holds the published file open through the whole next build.
    reader = duckdb.connect(str(serving), read_only=True)
    before = reader.execute(READER_SQL).fetchone()
    proc = make_build(work, full_vars)
    during = reader.execute(READER_SQL).fetchone()
    # A new connection (another process, as a BI tool is) while the old one is still open.
    fresh = subprocess.run(
        [sys.executable, "-c", f"import duckdb, json; c = duckdb.connect({str(serving)!r}, read_only=True); "
         f"print(json.dumps(c.execute('''{READER_SQL}''').fetchone()))"],
        capture_output=True, text=True, check=True,
    )
    reader.close()
    good_target = root / "target_ok"
    shutil.copytree(work / "target", good_target, ignore=shutil.ignore_patterns("compiled", "run"))
    return {
        "root": root, "work": work, "serving": serving, "warehouse": work / "warehouse.duckdb",
        "orders_only": orders_only, "vars": full_vars, "orders_vars": orders_vars, "build": proc,
        "before": before, "during": during, "fresh": tuple(json.loads(fresh.stdout)), "target": good_target,
    }


def test_build_succeeds_while_a_reader_holds_the_serving_database(built):
    proc = built["build"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "published" in proc.stdout
    # The reader's snapshot did not move: same counts, same publication.
    assert built["during"] == built["before"]
    assert built["before"][1] == 0  # orders only: no sessions
    # A new connection sees the new publication (the full shop has sessions).
    assert built["fresh"][2] != built["before"][2]
    assert built["fresh"][1] > 0 and built["fresh"][0] != built["before"][0]


def test_failed_build_publishes_nothing(built, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_text("order_id,customer_id,ordered_at\nO1,C1,2025-01-01T00:00:00Z\n")
    before = sha256(built["serving"])
    proc = make_build(built["work"], {**built["vars"], "raw_data_dir": str(raw)})
    assert proc.returncode != 0
    assert sha256(built["serving"]) == before
    assert "nothing published" in proc.stderr and "(unchanged)" in proc.stderr
    # Publishing by hand after the failed build is refused too.
    direct = subprocess.run(
        [sys.executable, "-m", "shoplens.serving", "publish", "--warehouse", str(built["warehouse"]),
         "--target-path", str(built["work"] / "target")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert direct.returncode == 1 and "nothing published" in direct.stderr
    assert sha256(built["serving"]) == before


def test_failed_check_leaves_the_old_file_and_names_the_leak(built, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built["warehouse"], warehouse)
    serving = tmp_path / "serving.duckdb"
    shutil.copyfile(built["serving"], serving)
    before = sha256(serving)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update dim_customers set country = 'jane.doe@example.com' where customer_id = (select min(customer_id) from dim_customers)")
        con.execute("update fct_orders set currency = '/home/build/export/orders.csv' where order_id = (select min(order_id) from fct_orders)")
        con.execute("update fct_orders set customer_id = 'Jane.Doe@example.com' where order_id = (select max(order_id) from fct_orders)")
    proc = subprocess.run(
        [sys.executable, "-m", "shoplens.serving", "publish", "--warehouse", str(warehouse), "--serving", str(serving),
         "--target-path", str(built["target"])],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert "marts.dim_customers.country: 1 e-mail-like value(s)" in proc.stderr
    assert "marts.fct_orders.currency: 1 file-path-like value(s)" in proc.stderr
    # an e-mail as a customer id is named with what to export instead
    assert "marts.fct_orders.customer_id: 1 e-mail-like value(s)" in proc.stderr
    assert "The customer ids are e-mail addresses: build again with the var hash_customer_ids: true" in proc.stderr
    assert sha256(serving) == before
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []


def test_serving_holds_only_bi_tables_with_the_warehouse_rows(built):
    con = open_serving(built["serving"])
    tables = con.execute(
        "select table_schema, table_name, table_type from information_schema.tables where table_catalog = 'serving'"
    ).fetchall()
    assert {t[2] for t in tables} == {"BASE TABLE"}
    names = {(s, t) for s, t, _ in tables}
    expected = {("marts", m) for m in MARTS} | {("predictions", p) for p in PREDICTIONS}
    expected |= {("quality", "rejected_rows"), ("main", "_publication")}
    assert expected <= names
    # Anything else is a model that asks to be served (meta serve, e.g. a later prediction table) or the
    # optional model status; never an internal layer or the raw audit.
    manifest = json.loads((built["target"] / "manifest.json").read_text())
    served = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"
              and n["config"].get("meta", {}).get("serve")}
    for schema, table in names - expected:
        assert table in served or (schema, table) == ("quality", "model_status"), (schema, table)
    assert not [t for _, t in names if t.startswith(("base_", "stg_", "int_", "raw")) or t == "audit_rejected_rows"]
    con.execute(f"attach '{built['warehouse']}' as wh (read_only)")
    pub = con.execute("select schema_name, table_name, source_model, row_count from _publication").fetchall()
    assert {(s, t) for s, t, _, _ in pub} == names - {("main", "_publication")}
    for schema, table, source, rows in pub:
        served = con.execute(f"select count(*) from serving.{schema}.{table}").fetchone()[0]
        warehouse = con.execute(f"select count(*) from wh.main.{source}").fetchone()[0]
        assert served == warehouse == rows, (schema, table)
    summary = con.execute("select sum(n_rows) from serving.quality.rejected_rows").fetchone()[0] or 0
    assert summary == con.execute("select count(*) from wh.main.audit_rejected_rows").fetchone()[0]
    assert not con.execute(
        "select count(*) from duckdb_columns() where database_name = 'serving' and column_name = 'raw_values'"
    ).fetchone()[0]


def test_publication_and_comments_come_from_the_dbt_run(built):
    run = json.loads((built["target"] / "run_results.json").read_text())
    manifest = json.loads((built["target"] / "manifest.json").read_text())
    rfm = next(n for n in manifest["nodes"].values() if n["name"] == "customer_rfm")
    con = open_serving(built["serving"])
    pub = con.execute(
        "select distinct dbt_invocation_id, as_of_date::varchar, project_version from _publication"
    ).fetchall()
    assert pub == [(run["metadata"]["invocation_id"], built["vars"]["as_of_date"], "0.1.0")]
    table_comment = con.execute(
        "select comment from duckdb_tables() where schema_name = 'marts' and table_name = 'customer_rfm'"
    ).fetchone()[0]
    assert table_comment == rfm["description"].strip()
    cols = dict(con.execute(
        "select column_name, comment from duckdb_columns() where schema_name = 'marts' and table_name = 'customer_rfm'"
    ).fetchall())
    assert cols["r_score"] == rfm["columns"]["r_score"]["description"].strip()
    assert all(cols.values())


def test_scan_finds_no_email_or_path_and_catches_planted_ones(built):
    for path in (built["serving"], built["orders_only"]):
        assert scan_for_leaks(open_serving(path)) == []
    # The scanner itself: planted values are found.
    con = duckdb.connect()
    con.execute("create table t (a varchar, b varchar)")
    con.execute("insert into t values ('x', 'C:\\Users\\me\\f.csv'), ('someone@shop.co.uk', 'ok/fine'), ('y', 'file:/a')")
    con.execute("comment on column t.a is 'read from /srv/data/raw'")
    found = scan_for_leaks(con)
    assert found == ["main.t.a: 1 e-mail-like value(s)", "main.t.b: 2 file-path-like value(s)", "main.t.a: file-path-like text in its comment"]


def test_sqlalchemy_reads_every_table_read_only(built):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine(f"duckdb:///{built['serving']}", connect_args={"read_only": True})
    with engine.connect() as conn:
        pub = pd.read_sql("select schema_name, table_name, row_count from _publication", conn)
        assert len(pub) >= len(MARTS) + len(PREDICTIONS) + 1
        inspector = sqlalchemy.inspect(conn)
        assert set(inspector.get_table_names(schema="marts")) == MARTS
        for row in pub.itertuples():
            frame = pd.read_sql(f'select * from "{row.schema_name}"."{row.table_name}"', conn)
            assert len(frame) == row.row_count, row.table_name
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
            conn.execute(sqlalchemy.text("create table marts.x (a int)"))
    engine.dispose()


# --- the dashboard (Streamlit AppTest) ----------------------------------------------------

def _app(path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SHOPLENS_SERVING_PATH", str(path))
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _goto(at, page):
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return {m.label: m.value for m in at.metric}


def _sql(path, sql):
    con = open_serving(path)
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


def _propensity_lift(path):
    """Top-decile observed purchase rate over the overall rate, in the holdout window."""
    return _sql(path, """
        with s as (select * from predictions.pred_purchase_propensity
                   where as_of_date = (select as_of_date from marts.as_of)),
        y as (select s.customer_id, s.decile,
                     exists (select 1 from marts.holdout_orders h where h.customer_id = s.customer_id and h.is_purchase
                             and h.order_date > s.as_of_date and h.order_date <= s.as_of_date + s.window_days)::int as bought
              from s)
        select avg(bought) filter (where decile = 1) / avg(bought) from y""")[0]


@pytest.mark.parametrize("which", ["serving", "orders_only"])
def test_dashboard_figures_equal_sql(built, monkeypatch, which):
    path = built[which]
    at = _app(path, monkeypatch)
    shown = _goto(at, "segments")
    n, segs, revenue = _sql(path, "select count(*), count(distinct segment), sum(monetary) from marts.customer_rfm")
    assert shown["Customers with a purchase"] == f"{n:,}" and shown["Segments"] == str(segs)
    assert shown["Revenue of these customers"] == f"{float(revenue):,.2f}"

    shown = _goto(at, "ltv")
    n, total, mean = _sql(path, "select count(*), sum(clv), avg(clv) from predictions.pred_customer_ltv")
    assert shown["Customers scored"] == f"{n:,}" and shown["Total CLV (12 months)"] == f"{total:,.2f}"
    assert shown["Mean CLV"] == f"{mean:,.2f}"
    top = at.dataframe[0].value
    best = _sql(path, "select customer_id, round(clv, 2) from predictions.pred_customer_ltv order by clv desc, customer_id limit 1")
    assert (top["customer_id"].iloc[0], top["clv"].iloc[0]) == best and len(top) == min(20, n)

    shown = _goto(at, "propensity")
    n, expected = _sql(path, """select count(*), sum(purchase_probability) from predictions.pred_purchase_propensity
                                where as_of_date = (select as_of_date from marts.as_of)""")
    assert shown["Customers scored"] == f"{n:,}" and shown["Expected buyers in 30 days"] == f"{expected:,.1f}"
    assert shown["Top-decile lift"] == f"{_propensity_lift(path):.2f}"

    shown = _goto(at, "forecasts")
    measures = _sql(path, "select list(distinct measure) from predictions.pred_demand_forecast where series_level = 'total'")[0]
    if not measures:
        assert "forecasts need order lines" in at.info[0].value
    else:
        # The page opens on the shop total, in units when forecast (orders-only shops: revenue).
        measure = "units" if "units" in measures else min(measures)
        assert which == "orders_only" or measure == "units"
        total, method, days = _sql(path, f"""select sum(point_forecast), any_value(method), count(*)
            from predictions.pred_demand_forecast where series_level = 'total' and measure = '{measure}'""")
        assert shown[f"Forecast {measure}, next {days} days"] == f"{total:,.1f}" and shown["Method"] == method

    _goto(at, "evaluation")
    tasks = _sql(path, "select list(distinct task order by task) from predictions.ml_model_evaluation where slice = 'all'")[0]
    assert [h.value for h in at.subheader if h.value in tasks] == tasks
    for task, frame in zip(tasks, at.dataframe, strict=False):
        models = _sql(path, f"select list(distinct model_name order by model_name) from predictions.ml_model_evaluation where slice = 'all' and task = '{task}'")[0]
        assert sorted(set(frame.value["model_name"])) == models

    shown = _goto(at, "quality")
    rejected = _sql(path, "select coalesce(sum(n_rows), 0) from quality.rejected_rows")[0]
    assert shown["Rejected raw rows"] == f"{rejected:,}"

    shown = _goto(at, "sales")
    months, revenue, new = _sql(path, """select count(distinct date_trunc('month', order_date)),
        sum(order_total) filter (where is_purchase), count(*) filter (where customer_purchase_number = 1)
        from marts.fct_orders where is_purchase""")
    guests = _sql(path, "select count(*), coalesce(sum(order_total), 0) from marts.fct_guest_orders where is_purchase")
    assert (guests[0] > 0) == (which == "serving")  # the full shop (served last) has guests' orders
    if guests[0]:
        assert any("guest orders" in c.value for c in at.caption)
    assert shown["Months"] == str(months)
    assert shown["Revenue, all months"] == f"{float(revenue + guests[1]):,.2f}"  # the shop's, guests' included
    assert shown["New customers, all months"] == f"{new:,}"
    table = at.dataframe[0].value
    assert table["n_guest_orders"].sum() == guests[0] and table["guest_revenue"].sum() == pytest.approx(float(guests[1]))


def _rows(path, sql):
    con = open_serving(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _frame(at, column):
    """The page's first dataframe with ``column``."""
    return next(f.value for f in at.dataframe if column in f.value.columns)


@pytest.mark.parametrize("which", ["serving", "orders_only"])
def test_recommendation_and_profile_pages_equal_sql(built, monkeypatch, which):
    path = built[which]
    at = _app(path, monkeypatch)
    shown = _goto(at, "recommendations")
    n, share, length, methods = _sql(path, """
        with c as (select customer_id, count(*) as k, bool_or(is_fallback) as fb
                   from predictions.pred_product_recommendations group by customer_id)
        select count(*), avg(fb::int), max(k),
               (select list(distinct served_model order by served_model) from predictions.pred_product_recommendations)
        from c""")
    if n == 0:
        assert which == "orders_only" and "recommendations need order lines" in at.info[0].value
    else:
        assert shown["Customers with a list"] == f"{n:,}" and shown["On the popularity fallback"] == f"{share:.1%}"
        assert shown["Products per list"] == str(length)
        assert sorted(shown["Served method"].split(" + ")) == methods
        top = _frame(at, "customers_at_rank_1")
        best = _sql(path, """select product_id, count(*) from predictions.pred_product_recommendations
                             group by product_id order by count(*) desc, product_id limit 1""")
        assert (top["product_id"].iloc[0], top["customers"].iloc[0]) == best
        # The picker opens on an ALS customer when ALS is served; pick the last choice and compare its list.
        picker = at.selectbox(key="rec_customer")
        first_fallback = _sql(path, f"""select bool_or(is_fallback) from predictions.pred_product_recommendations
                                        where customer_id = '{picker.value}'""")[0]
        assert first_fallback == (methods == ["popularity"])
        customer = picker.options[-1]
        picker.set_value(customer).run()
        got = _frame(at, "is_previously_bought")
        want = _rows(path, f"""select recommendation_rank, product_id, round(score, 4), is_fallback,
                is_previously_bought from predictions.pred_product_recommendations
                where customer_id = '{customer}' order by recommendation_rank""")
        assert [tuple(r) for r in got[["rank", "product_id", "score", "is_fallback", "is_previously_bought"]]
                .itertuples(index=False)] == want
        pair = _sql(path, """select product_id, count(*), arg_min(related_product_id, related_rank)
                             from marts.product_affinity
                             group by product_id order by max(n_customers_product) desc, product_id limit 1""")
        if pair is None:
            assert "product_affinity is empty" in at.info[-1].value
        else:
            assert at.selectbox(key="affinity_product").value == pair[0]
            also = _frame(at, "related_product_id")
            assert len(also) == pair[1] and also["related_product_id"].iloc[0] == pair[2]

    shown = _goto(at, "profiles")
    k, customers, revenue, largest = _sql(path, """select count(*), sum(n_customers), sum(revenue),
        arg_max(profile_name, n_customers * 1e6 - profile_id) from predictions.profile_summary""")
    if k == 0:
        assert which == "orders_only" and "profiles need order lines" in at.info[0].value
    else:
        assert shown["Profiles"] == str(k) and shown["Customers profiled"] == f"{customers:,}"
        assert shown["Revenue of these customers"] == f"{float(revenue):,.2f}"
        frame = _frame(at, "top_traits")
        assert len(frame) == k and frame["profile_name"].iloc[0] == largest
        assert frame["revenue_share"].sum() == pytest.approx(1.0, abs=1e-3)


def test_dashboard_picks_up_a_new_publication_without_restart(built, monkeypatch, tmp_path):
    live = tmp_path / "serving.duckdb"
    shutil.copyfile(built["orders_only"], live)
    at = _app(live, monkeypatch)
    old = {m.label: m.value for m in at.metric}["Customers with a purchase"]
    staged = tmp_path / ".new.duckdb"
    shutil.copyfile(built["serving"], staged)
    staged.replace(live)  # what publish does
    at.run()
    new = {m.label: m.value for m in at.metric}["Customers with a purchase"]
    assert new == f"{_sql(live, 'select count(*) from marts.customer_rfm')[0]:,}" and new != old


# --- the semantic layer (MetricFlow) --------------------------------------------------------

def test_mf_query_equals_sql_on_the_marts(built, tmp_path):
    project = tmp_path / "mf"
    (project / "target").mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, project / name)
    shutil.copy(built["target"] / "semantic_manifest.json", project / "target")
    out = tmp_path / "mf.csv"
    metrics = ("revenue,orders,purchasing_customers,average_order_value,repeat_purchase_rate,predicted_clv_12m,"
               "expected_purchases_30d,forecast_units,new_customers")
    env = {**__import__("os").environ, "DUCKDB_PATH": str(built["warehouse"]), "DBT_PROFILES_DIR": str(project)}
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "mf"), "query", "--metrics", metrics, "--group-by", "metric_time__year", "--csv", str(out)],
        cwd=project, env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    mf = pd.read_csv(out)
    mf["year"] = pd.to_datetime(mf["metric_time__year"]).dt.year
    mf = mf.set_index("year")
    con = open_serving(built["serving"])
    sales = con.execute("""
        select year(order_date) as year, sum(order_total) filter (where is_purchase)::double as revenue,
               count(*) filter (where is_purchase) as orders,
               count(distinct customer_id) filter (where is_purchase) as purchasing_customers,
               count(distinct customer_id) filter (where customer_purchase_number > 1) as repeaters,
               count(*) filter (where customer_purchase_number = 1) as new_customers
        from marts.fct_orders group by 1""").df().set_index("year")
    for year, row in sales.iterrows():
        assert mf.loc[year, "revenue"] == pytest.approx(row["revenue"], rel=1e-9)
        assert mf.loc[year, "orders"] == row["orders"]
        assert mf.loc[year, "purchasing_customers"] == row["purchasing_customers"]
        assert mf.loc[year, "average_order_value"] == pytest.approx(row["revenue"] / row["orders"], rel=1e-9)
        assert mf.loc[year, "repeat_purchase_rate"] == pytest.approx(row["repeaters"] / row["purchasing_customers"], rel=1e-9)
        assert mf.loc[year, "new_customers"] == row["new_customers"]  # the worked example's metric (docs/analysts.md)
    year, clv, e30 = con.execute("""select year(as_of_date), sum(clv), sum(expected_purchases_30d)
                                    from predictions.pred_customer_ltv group by 1""").fetchone()
    assert mf.loc[year, "predicted_clv_12m"] == pytest.approx(clv, rel=1e-9)
    assert mf.loc[year, "expected_purchases_30d"] == pytest.approx(e30, rel=1e-9)
    units = con.execute("""select year(forecast_date), sum(point_forecast) from predictions.pred_demand_forecast
                           where measure = 'units' and series_level = 'total' group by 1""").fetchall()
    assert units
    for year, total in units:
        assert mf.loc[year, "forecast_units"] == pytest.approx(total, rel=1e-9)


def test_serving_exposure_lists_every_served_model(built):
    manifest = json.loads((built["target"] / "manifest.json").read_text())
    served = {n["unique_id"] for n in manifest["nodes"].values() if n["resource_type"] == "model"
              and n["config"].get("meta", {}).get("serve")}
    exposure = manifest["exposures"]["exposure.shoplens.serving_database"]
    assert set(exposure["depends_on"]["nodes"]) == served
    pub = open_serving(built["serving"]).execute("select list(source_model order by source_model) from _publication").fetchone()[0]
    assert sorted(u.split(".")[-1] for u in served) == pub


def test_model_status_is_served_when_the_warehouse_has_it(built, tmp_path, monkeypatch):
    """Issue 19's ml_model_status (and any other unlisted table, e.g. a build log) must not break a publish."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built["warehouse"], warehouse)
    with duckdb.connect(str(warehouse)) as con:
        # The build may already have it (issue 19): replace it with known rows.
        con.execute("""create or replace table ml_model_status as select * from (values
            ('clv', 'ok', 'bgnbd', '', 700::bigint, date '2025-04-24'),
            ('propensity', 'degraded', 'bgnbd', 'too few buyers for the GRU', 700::bigint, date '2025-04-24'))
            as t(model_step, status, served_model, reason, rows_written, as_of_date)""")
        con.execute("create table if not exists build_log as select 'started' as event, now() as logged_at")
    serving = tmp_path / "serving.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "shoplens.serving", "publish", "--warehouse", str(warehouse), "--serving", str(serving),
         "--target-path", str(built["target"])],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    con = open_serving(serving)
    assert con.execute("select count(*), count(*) filter (where status = 'degraded') from quality.model_status").fetchone() == (2, 1)
    assert con.execute("select row_count from _publication where table_name = 'model_status'").fetchone() == (2,)
    assert not con.execute("select count(*) from duckdb_tables() where table_name = 'build_log'").fetchone()[0]
    at = _app(serving, monkeypatch)
    _goto(at, "quality")
    assert "Model status" in [h.value for h in at.subheader]
    shown = at.dataframe[-1].value
    assert sorted(shown["status"]) == ["degraded", "ok"]


def test_dashboard_without_a_serving_database_says_how_to_get_one(tmp_path, monkeypatch):
    at = _app(tmp_path / "missing.duckdb", monkeypatch)
    assert [e.value for e in at.error] == [f"No serving database at {tmp_path / 'missing.duckdb'}: run `make build` (dbt build, then publish)."]
