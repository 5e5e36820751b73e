"""bench/simulate_schedule.py replays a build with dbt's rule: first ready, first run."""

from __future__ import annotations

import sys

import networkx as nx
import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

from simulate_schedule import depth_scores, reordered, replay, rewire_tests, short_name  # noqa: E402


def test_a_node_ready_earlier_runs_first_whatever_its_name_or_depth():
    # roots a (8 s), b (4 s), d (16 s), f (8 s); a -> c (4 s), b -> e (16 s); two threads.
    # e is ready at 4 s, c at 8 s: dbt's pool runs e first although c sorts before it
    # (a queue ordered by score, then name, would run c at 16 s and end at 36 s).
    graph = nx.DiGraph([("a", "c"), ("b", "e")])
    graph.add_nodes_from(["d", "f"])
    seconds = {"a": 8, "b": 4, "c": 4, "d": 16, "e": 16, "f": 8}
    end, spans = replay(graph, seconds, threads=2)
    assert spans == {"a": (0, 8), "b": (0, 4), "d": (4, 20), "f": (8, 16), "e": (16, 32), "c": (20, 24)}
    assert end == 32
    assert depth_scores(graph) == {"a": 0, "b": 0, "d": 0, "f": 0, "c": 1, "e": 1}


def test_an_order_only_edge_and_more_threads_change_the_replay():
    graph = nx.DiGraph([("a", "b")])
    graph.add_node("c")
    seconds = {"a": 1, "b": 1, "c": 5}
    assert replay(graph, seconds, threads=2)[0] == 5
    end, spans = replay(reordered(graph, extra_edges=[("b", "c")]), seconds, threads=2)
    assert end == 7 and spans["c"] == (2, 7)
    assert replay(graph, seconds, threads=1)[0] == 7
    # taking an order away takes the test edges dbt build drew because of it with it: the
    # parent's own test and a test on the grandparent (both were upstream of b only through a)
    built = nx.DiGraph([("model.p.g", "model.p.a"), ("model.p.a", "model.p.b"), ("model.p.a", "test.p.t"),
                        ("test.p.t", "model.p.b"), ("model.p.g", "test.p.tg"), ("test.p.tg", "model.p.a"),
                        ("test.p.tg", "model.p.b")])
    times = {"model.p.g": 1, "model.p.a": 3, "model.p.b": 1, "test.p.t": 1, "test.p.tg": 1}
    assert replay(built, times, threads=2)[1]["model.p.b"] == (6, 7)
    assert replay(reordered(built, removed_edges=[("model.p.a", "model.p.b")]), times, threads=2)[1]["model.p.b"] == (0, 1)
    # and adding it back draws them again
    cut = built.copy()
    cut.remove_edges_from([("model.p.a", "model.p.b"), ("test.p.t", "model.p.b"), ("test.p.tg", "model.p.b")])
    assert replay(reordered(cut, extra_edges=[("model.p.a", "model.p.b")]), times, threads=2)[1]["model.p.b"] == (6, 7)
    with pytest.raises(ValueError, match="does not wait for"):
        reordered(cut, removed_edges=[("model.p.a", "model.p.b")])
    with pytest.raises(ValueError, match="no node model.p.x"):
        reordered(cut, extra_edges=[("model.p.x", "model.p.b")])


def test_rewiring_every_node_gives_back_the_test_edges_of_a_build():
    built = nx.DiGraph([("model.p.g", "model.p.a"), ("model.p.a", "model.p.b"), ("model.p.g", "test.p.tg"),
                        ("model.p.a", "test.p.ta"), ("model.p.b", "test.p.tb"), ("model.p.a", "test.p.rel"),
                        ("model.p.b", "test.p.rel"), ("test.p.tg", "model.p.a"), ("test.p.tg", "model.p.b"),
                        ("test.p.ta", "model.p.b"), ("model.p.b", "exposure.p.e")])
    again = nx.DiGraph([(a, b) for a, b in built.edges if not (a.startswith("test.") and b.startswith("model."))])
    rewire_tests(again, list(again.nodes))
    assert set(again.edges) == set(built.edges)


def test_short_names_match_the_build_record():
    assert short_name("model.shoplens.fct_sessions") == "fct_sessions"
    assert short_name("test.shoplens.unique_fct_sessions_session_id.cb0d4599f3") == \
        "unique_fct_sessions_session_id.cb0d4599f3"
    assert short_name("unit_test.shoplens.int_session_days.session_days_split_a_session_at_midnight") == \
        "int_session_days.session_days_split_a_session_at_midnight"
