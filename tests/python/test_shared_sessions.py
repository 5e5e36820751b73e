"""Exported session ids that several customers use (GA4's ga_session_id is unique only per user).

A tiny export is built in-process up to fct_sessions (tests/python/raw_layer.py):
each customer's events under a shared id must be a session of their own, no session
may hold two customers, and the build must say how many ids and customers it split.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from raw_layer import RawLayer, shared_raw_layer

pytestmark = pytest.mark.slow

SELECT = ["+fct_sessions", "int_shared_session_ids"]
VARS = {"export_date": "2025-12-31", "as_of_date": "2025-03-31"}
# (event_id, occurred_at, customer_id, session_id); every event a page_view.
EVENTS = [
    # S1: C1 on 1 March (an anonymous event before the login), C2 weeks later
    ("e01", "2025-03-01T09:58:00Z", "", "S1"),
    ("e02", "2025-03-01T10:00:00Z", "C1", "S1"),
    ("e03", "2025-03-01T10:05:00Z", "C1", "S1"),
    ("e04", "2025-03-20T18:00:00Z", "C2", "S1"),
    ("e05", "2025-03-20T18:03:00Z", "", "S1"),
    ("e06", "2025-03-20T18:04:00Z", "C2", "S1"),
    # S2: one customer, with an anonymous event: unchanged
    ("e07", "2025-03-02T12:00:00Z", "", "S2"),
    ("e08", "2025-03-02T12:01:00Z", "C3", "S2"),
    # S3: three customers, C4 first
    ("e09", "2025-03-05T08:00:00Z", "C4", "S3"),
    ("e10", "2025-03-06T08:00:00Z", "C3", "S3"),
    ("e11", "2025-03-07T08:00:00Z", "C1", "S3"),
    # no session id: the 30-minute rule
    ("e12", "2025-03-08T08:00:00Z", "C2", ""),
    ("e13", "2025-03-08T08:20:00Z", "C2", ""),
]


@pytest.fixture(scope="module")
def raw_layer() -> RawLayer:
    return shared_raw_layer()


def _export(folder: Path, events: list[tuple[str, str, str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text("customer_id\nC1\nC2\nC3\nC4\n")
    (folder / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,order_total,status\nO1,C1,2025-03-01T11:00:00Z,10.00,completed\n")
    (folder / "events.csv").write_text("event_id,occurred_at,event_type,customer_id,session_id\n" + "".join(
        f"{eid},{at},page_view,{cust},{sid}\n" for eid, at, cust, sid in events))
    return folder


def _sessions(outcome) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in outcome.query(
        "select session_id, customer_id, n_events, cast(started_at as date), cast(ended_at as date) "
        "from fct_sessions")}


def test_a_session_id_of_several_customers_is_one_session_per_customer(raw_layer, tmp_path):
    out = raw_layer.run(_export(tmp_path / "raw", EVENTS), tmp_path / "w", VARS, command="build", select=SELECT)
    assert out.success, out.text
    sessions = _sessions(out)
    d = "2025-03-{:02d}".format
    assert {k: (v[0], v[1]) for k, v in sessions.items()} == {
        "S1": ("C1", 3), "S1:C2": ("C2", 2), "S1:": (None, 1),
        "S2": ("C3", 2),
        "S3": ("C4", 1), "S3:C3": ("C3", 1), "S3:C1": ("C1", 1),
        "derived:C2:1": ("C2", 2),
    }
    assert [str(x) for x in sessions["S1"][2:]] == [d(1), d(1)]  # no longer 1 to 20 March
    per_customer = dict(out.query(
        "select customer_id, count(*) from fct_sessions where customer_id is not null group by 1"))
    assert per_customer == {"C1": 2, "C2": 2, "C3": 2, "C4": 1}
    assert out.query("select session_id from int_session_days group by session_id "
                     "having count(distinct customer_id) > 1") == []
    warning = [m for m in out.messages if "session ids of the events export" in m]
    assert len(warning) == 1
    assert ("2 session ids of the events export are each used by more than one customer "
            "(4 customers in all; e.g. 'S3', by 3)") in warning[0]


def test_unique_session_ids_are_kept_and_nothing_warns(raw_layer, tmp_path):
    unique = [e for e in EVENTS if e[3] not in ("S1", "S3")]
    out = raw_layer.run(_export(tmp_path / "raw", unique), tmp_path / "w", VARS, command="build", select=SELECT)
    assert out.success, out.text
    assert set(_sessions(out)) == {"S2", "derived:C2:1"}
    assert out.query("select count(*) from int_shared_session_ids") == [(0,)]
    assert not [m for m in out.messages if "session ids of the events export" in m]


def test_split_sessions_as_of_a_date_equal_a_build_of_the_export_cut_there(raw_layer, tmp_path):
    """As of 10 March, C2 has not used S1 yet: the full build and a build of the export cut at
    the end of 10 March give the same sessions, ids included (the first customer keeps the id)."""
    as_of = {**VARS, "as_of_date": "2025-03-10"}
    full = raw_layer.run(_export(tmp_path / "raw", EVENTS), tmp_path / "w", as_of, command="build", select=SELECT)
    cut_events = [e for e in EVENTS if e[1] < "2025-03-11"]
    cut = raw_layer.run(_export(tmp_path / "cut", cut_events), tmp_path / "c", as_of, command="build", select=SELECT)
    assert full.success, full.text
    assert cut.success, cut.text
    assert _sessions(full) == _sessions(cut)
    assert _sessions(full)["S1"][:2] == ("C1", 3)
