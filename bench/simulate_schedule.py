"""Replay a measured `dbt build` with dbt's scheduling rule, to ask what another order or thread count would do.

Usage: python bench/simulate_schedule.py BUILD.json GRAPH.gpickle [--threads 2 3]
                                         [--after CHILD=PARENT ...]

``BUILD.json`` is a record of ``bench/bench_build.py`` (each node's wall
seconds in that build); ``GRAPH.gpickle`` is that build's
``target/graph.gpickle`` (models, tests and their edges, as dbt linked them).

dbt-core 1.11 hands a node to its thread pool as soon as its parents and
their tests are done, and the pool runs what it is handed first come, first
served: the graph depth dbt scores nodes by only orders the nodes that
become ready at the same moment. The replay follows that rule with each
node's measured wall time, so it keeps the contention of the measured
build: it answers "does the order matter?", not "how fast would three
threads be" (a third thread changes every node's time).

``--after CHILD=PARENT`` adds an order-only edge (a bare ``dbt.ref`` in
CHILD) and ``--without CHILD=PARENT`` takes one away (to replay a build
without an order-only ref it had), one replay per option and one as built. Prints the replayed end and
when ``ml_purchase_propensity`` ran, per thread count. First come, first
served makes the order hang on small differences in timing (two nodes
finishing a second apart swap the next two): ``--draws N`` replays each
option N more times with every node's time scaled by a seeded random factor
in ``1 +- --noise`` (default 0.1, the run-to-run spread of one node here),
and prints the mean, the 10th and the 90th percentile of those ends. By
hand; writes no record.
"""

from __future__ import annotations

import argparse
import heapq
import json
import pickle
from collections.abc import Iterable

import networkx as nx
import numpy as np

#: what dbt build queues (a model's unit tests run on its thread just before it: their time is the model's)
RUN_KINDS = ("model", "test", "seed", "snapshot", "saved_query", "exposure")


def short_name(unique_id: str) -> str:
    """The node's name as bench_build.py records it (tests keep their hash suffix, unit tests
    their model's name)."""
    parts = unique_id.split(".")
    if parts[0] in ("test", "unit_test"):
        return ".".join(parts[2:])
    return parts[-1]


def depth_scores(graph: nx.DiGraph) -> dict[str, int]:
    """dbt's node scores: the topological generation within each connected component."""
    scores: dict[str, int] = {}
    for component in nx.connected_components(graph.to_undirected(as_view=True)):
        for level, group in enumerate(nx.topological_generations(graph.subgraph(component))):
            for node in group:
                scores[node] = level
    return scores


def is_test(node: str) -> bool:
    return node.startswith("test.")


def rewire_tests(graph: nx.DiGraph, nodes: Iterable[str]) -> None:
    """Redo, in place, the edges dbt build draws from data tests into ``nodes``.

    dbt-core 1.11 (``add_test_edges``) runs a test before a node when every
    node the test reads is upstream of that node; after an edge between
    models is added or taken away, the tests upstream of the nodes below it
    change with it. Redone for every node of a dbt build's graph, this gives
    back that graph's own test edges (runs 55 and 56).
    """
    models = graph.subgraph([n for n in graph.nodes if not is_test(n)])
    tests = [(t, set(graph.predecessors(t))) for t in graph.nodes if is_test(t)]
    for node in nodes:
        if node.split(".")[0] not in ("model", "seed", "snapshot"):  # dbt draws none into the others
            continue
        upstream = nx.ancestors(models, node)
        graph.remove_edges_from([(t, node) for t in list(graph.predecessors(node)) if is_test(t)])
        graph.add_edges_from([(t, node) for t, reads in tests if reads and reads <= upstream])


def reordered(graph: nx.DiGraph, extra_edges: Iterable[tuple[str, str]] = (),
              removed_edges: Iterable[tuple[str, str]] = ()) -> nx.DiGraph:
    """A copy of ``graph`` with the (parent, child) edges between models ``extra_edges`` added
    and ``removed_edges`` taken away, and the test edges dbt build would then draw
    (:func:`rewire_tests`). ValueError names an unknown node or an edge that is not there."""
    graph = graph.copy()
    extra_edges, removed_edges = list(extra_edges), list(removed_edges)
    for parent, child in extra_edges + removed_edges:
        if parent not in graph or child not in graph:
            raise ValueError(f"no node {parent if parent not in graph else child} in the graph")
    for parent, child in removed_edges:
        if not graph.has_edge(parent, child):
            raise ValueError(f"{child} does not wait for {parent} in this build: nothing to take away")
    graph.add_edges_from(extra_edges)
    graph.remove_edges_from(removed_edges)
    if extra_edges or removed_edges:
        below = set().union(*({child, *nx.descendants(graph, child)} for _, child in extra_edges + removed_edges))
        rewire_tests(graph, below)
    return graph


def replay(graph: nx.DiGraph, seconds: dict[str, float], threads: int,
           start: float = 0.0) -> tuple[float, dict]:
    """``(end, {node: (from, to)})`` of a build of ``graph`` whose nodes take ``seconds``.

    Ready nodes join a first-come, first-served queue, those ready at one
    moment in order of dbt's score (then name); ``threads`` run at once.
    """
    scores = depth_scores(graph)
    waiting = {node: graph.in_degree(node) for node in graph.nodes}
    queue = sorted((n for n, d in waiting.items() if d == 0), key=lambda n: (scores[n], n))
    running: list[tuple[float, str]] = []
    spans: dict[str, tuple[float, float]] = {}
    clock, free = start, threads
    while queue or running:
        while free and queue:
            node = queue.pop(0)
            end = clock + seconds.get(node, 0.0)
            heapq.heappush(running, (end, node))
            spans[node] = (clock, end)
            free -= 1
        clock, done = heapq.heappop(running)
        free += 1
        ready = []
        for child in graph.successors(done):
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
        queue.extend(sorted(ready, key=lambda n: (scores[n], n)))
    return clock, spans


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_json")
    ap.add_argument("graph")
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--after", action="append", default=[], metavar="CHILD=PARENT")
    ap.add_argument("--without", action="append", default=[], metavar="CHILD=PARENT")
    ap.add_argument("--draws", type=int, default=0)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    record = json.load(open(args.build_json))
    with open(args.graph, "rb") as f:
        full = pickle.load(f)
    graph = full.subgraph([n for n in full.nodes if n.split(".")[0] in RUN_KINDS]).copy()
    if not any(is_test(a) and not is_test(b) for a, b in graph.edges):
        raise SystemExit(f"{args.graph} has no edge from a test to a model: it was not written by `dbt build`"
                         " (dbt run, compile and docs write a graph without them)")
    measured = {n["node"]: float(n["wall_s"]) for n in record["nodes"]}
    seconds = {node: measured.get(short_name(node), 0.0) for node in graph.nodes}
    for node in full.nodes:
        if node.startswith("unit_test."):
            model = "model." + ".".join(node.split(".")[1:3])
            if model in seconds:
                seconds[model] += measured.get(short_name(node), 0.0)
    first = min(n["start_s"] for n in record["nodes"])
    print(f"measured: {record['build']['wall_s']} s wall")
    options = {"as built": graph}
    for option, add in [(o, True) for o in args.after] + [(o, False) for o in args.without]:
        child, parent = option.split("=")
        label = f"{child} {'after' if add else 'not after'} {parent}"
        edges = [(f"model.shoplens.{parent}", f"model.shoplens.{child}")]
        try:
            options[label] = reordered(graph, edges if add else (), () if add else edges)
        except ValueError as exc:
            raise SystemExit(f"{label}: {exc}") from None
    for label, ordered in options.items():
        for threads in args.threads:
            end, spans = replay(ordered, seconds, threads, start=first)
            prop = spans.get("model.shoplens.ml_purchase_propensity", (float("nan"),) * 2)
            line = (f"{label}, {threads} threads: ends at {end:.1f} s; ml_purchase_propensity"
                    f" {prop[0]:.1f}-{prop[1]:.1f} s")
            if args.draws:
                rng = np.random.default_rng(args.seed)  # the same draws for every option
                ends = []
                for _ in range(args.draws):
                    scaled = {n: s * rng.uniform(1 - args.noise, 1 + args.noise) for n, s in seconds.items()}
                    ends.append(replay(ordered, scaled, threads, start=first)[0])
                p10, p90 = np.percentile(ends, [10, 90])
                line += f"; {args.draws} draws: mean {np.mean(ends):.1f} s, p10 {p10:.1f}, p90 {p90:.1f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
