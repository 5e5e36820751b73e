"""Who is a customer on as_of_date, and valid exports the marts' tests must accept.

Found by probes of real shops' shapes (an events-only clickstream export turned
into orders): the build went red on valid data. Each case builds only the models
it needs, with their data tests (tests/python/raw_layer.py).
"""

from __future__ import annotations

import pytest
from raw_layer import shared_raw_layer
from raw_layer import write_files as _write

pytestmark = pytest.mark.slow

EXPORT = {"export_date": "2025-12-31"}


@pytest.fixture(scope="module")
def raw_layer():
    return shared_raw_layer()


def test_a_repeat_buyer_whose_repeat_days_were_free_passes_the_summary_tests(raw_layer, tmp_path):
    """A free item (an order of 0.00) on a second day: frequency 1, monetary value 0. The
    summary's test required monetary_value = 0 exactly when frequency = 0, so valid data
    failed the build and skipped every CLV model after it."""
    orders = "order_id,customer_id,ordered_at,order_total\n" + "".join(
        f"O{i},C{i},2025-03-0{1 + i % 5}T10:00:00Z,{10 + i}.00\n" for i in range(8))
    orders += "F1,C1,2025-03-20T10:00:00Z,0.00\nP1,C2,2025-03-21T10:00:00Z,15.00\n"
    raw = _write(tmp_path / "raw", {"orders.csv": orders})
    out = raw_layer.run(raw, tmp_path / "w", {**EXPORT, "as_of_date": "2025-03-31"}, command="build",
                        select=["+customer_btyd_summary"])
    assert out.success, out.text
    assert out.query("select customer_id, frequency, monetary_value from customer_btyd_summary"
                     " where frequency > 0 order by 1") == [("C1", 1, 0.0), ("C2", 1, 15.0)]


def test_a_visitor_who_becomes_a_customer_after_as_of_is_anonymous_up_to_it(raw_layer, tmp_path):
    """No customers file: a visitor's id is known from an order after as_of_date. Their
    earlier sessions named a customer dim_customers does not hold (two relationships tests
    failed), and whether a March session was a customer's depended on an April order.
    A customers-file row signed up after as_of_date is not known on it either."""
    orders = ("order_id,customer_id,ordered_at,order_total\n"
              "O1,C1,2025-03-02T10:00:00Z,10.00\nO2,C2,2025-03-03T10:00:00Z,12.00\n"
              "O3,C9,2025-04-10T10:00:00Z,30.00\n")
    events = ("event_id,occurred_at,event_type,customer_id,session_id,product_id\n"
              "E1,2025-03-02T09:50:00Z,product_view,C1,S1,P1\n"
              "E2,2025-03-10T09:00:00Z,product_view,C9,S9,P1\n"
              "E3,2025-03-10T09:05:00Z,add_to_cart,C9,S9,P1\n"
              "E4,2025-04-10T09:55:00Z,product_view,C9,S10,P1\n")
    raw = _write(tmp_path / "raw", {"orders.csv": orders, "events.csv": events})
    vars_ = {**EXPORT, "as_of_date": "2025-03-31"}
    select = ["+fct_sessions", "+customer_product_browsing", "+dim_customers"]
    out = raw_layer.run(raw, tmp_path / "w", vars_, command="build", select=select)
    assert out.success, out.text
    assert out.query("select session_id, customer_id, n_add_to_carts from fct_sessions order by 1") == [
        ("S1", "C1", 0), ("S9", None, 1)]  # S10 is after as_of_date
    assert out.query("select customer_id, product_id from customer_product_browsing") == [("C1", "P1")]
    assert out.query("select customer_id from dim_customers order by 1") == [("C1",), ("C2",)]
    # the same visitor, known on as_of_date from the customers file: their session is theirs
    customers = "customer_id,signed_up_at\nC9,2025-03-01T00:00:00Z\nC7,2025-04-02T00:00:00Z\nC8,\n"
    raw2 = _write(tmp_path / "raw2", {"orders.csv": orders, "events.csv": events, "customers.csv": customers})
    out = raw_layer.run(raw2, tmp_path / "w2", vars_, command="build", select=select)
    assert out.success, out.text
    assert out.query("select session_id, customer_id from fct_sessions order by 1") == [("S1", "C1"), ("S9", "C9")]
    # C7 signed up after as_of_date; C8 has no date (kept: nothing says when)
    assert out.query("select customer_id from dim_customers order by 1") == [("C1",), ("C2",), ("C8",), ("C9",)]


def test_rfm_breakpoints_that_put_most_customers_in_one_f_score_warn_with_percentiles(raw_layer, tmp_path):
    """A grocery panel: 120 households buying 10 to 129 times. The default breakpoints
    [2, 3, 4, 6] give all of them f_score 5 (a warning naming the percentiles to use);
    breakpoints from those percentiles do not warn, nor does a shop of one-time buyers."""
    import datetime as dt

    day0 = dt.date(2024, 1, 1)

    def orders(counts: dict[str, int]) -> str:
        return "order_id,customer_id,ordered_at,order_total\n" + "".join(
            f"{c}_{k},{c},{day0 + dt.timedelta(days=k * 2)}T10:00:00Z,20.00\n"
            for c, n in counts.items() for k in range(n))

    test = "rfm_frequency_breakpoints_separate_the_customers"
    grocery = {f"H{i}": 10 + i for i in range(120)}
    once = {f"C{i}": 1 for i in range(150)}
    seen = {}
    for name, counts, extra in (("grocery", grocery, {}), ("once", once, {}),
                                ("fitted", grocery, {"rfm_frequency_breakpoints": [34, 58, 82, 106]})):
        out = raw_layer.run(_write(tmp_path / name, {"orders.csv": orders(counts)}), tmp_path / f"w_{name}",
                            {**EXPORT, **extra}, command="build", select=["+customer_rfm", test],
                            unit_tests=False)
        assert out.success, out.text  # a warning, never an error
        seen[name] = out.warned(test, 1)
        if name == "grocery":
            # f_score 5 for all 120; the 20th..80th percentiles of 10..129 purchases
            assert out.query(raw_layer.singular_sql(test)) == [(5, 120, 120, 1.0, 33, 57, 81, 105)]
    assert seen == {"grocery": True, "once": False, "fitted": False}


def test_the_unit_tests_pass_under_a_users_vars(raw_layer, tmp_path):
    """dbt build runs the unit tests with the user's vars: README tells a grocery panel to set
    rfm_frequency_breakpoints, and the unit test of the default breakpoints then failed, which
    skipped customer_rfm and its 25 tests (a dunnhumby-shaped build went red). Every unit test
    pins the vars it assumes; here a user's vars of every kind the tested models read."""
    orders = "order_id,customer_id,ordered_at,order_total,status\n" + "".join(
        f"O{i},C{i % 5},2025-03-{1 + i % 27:02d}T10:00:00Z,{10 + i}.00,delivered\n" for i in range(30))
    events = "event_id,occurred_at,event_type,customer_id,session_id,product_id\n" + "".join(
        f"E{i},2025-03-{1 + i % 27:02d}T09:{i % 50:02d}:00Z,view,C{i % 5},,P{i % 3}\n" for i in range(40))
    raw = _write(tmp_path / "raw", {"orders.csv": orders, "events.csv": events})
    users = {**EXPORT, "rfm_frequency_breakpoints": [3, 5, 8, 13], "session_timeout_minutes": 45,
             "order_status_map": {"delivered": "completed"}, "event_type_map": {"view": "product_view"},
             "max_order_total": 5000, "min_valid_date": "2024-06-01", "default_currency": "USD",
             "btyd_time_unit": "weeks", "feature_snapshots": 3, "feature_snapshot_step_days": 7}
    models = ["customer_rfm", "int_events_sessionized", "int_shared_session_ids", "int_session_days",
              "fct_sessions", "customer_btyd_summary", "customer_features", "customer_product_browsing"]
    out = raw_layer.run(raw, tmp_path / "w", users, command="build", select=[f"+{m}" for m in models])
    assert out.success, out.text
    assert out.query("select count(*) from customer_rfm") == [(5,)]
