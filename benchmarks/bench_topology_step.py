"""One topology step: positions, ISLs, GSLs and shortest paths from every ground station
to every node, for Starlink shell 1 with 116 gateways and 200 cities (316 stations).

Runs leonet.topology and a straightforward networkx implementation of the same step in
the same process, checks that they agree, and prints median times per step.

Then consecutive 1 s steps (as a run's lookahead computes them): the paths from all 316
stations by scipy's Dijkstra plus pointer-jumping first hops (the code before, the named
baseline), by the compiled Dijkstra on 1 and on every core, and by repairing the previous
step's trees on 1 and on every core; each is checked against scipy's delays. With
``--phase1-steps N``, the same for the lookahead of ``starlink-phase1`` (4,525 nodes,
paths from every node, as ``emulation.routes: all`` needs).

    python benchmarks/bench_topology_step.py [--steps 20] [--baseline-steps 3]
        [--consecutive 30] [--phase1-steps 0]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from leonet.orbits import load_constellation  # noqa: E402
from leonet.orbits.constants import SPEED_OF_LIGHT_KM_S  # noqa: E402
from leonet.orbits.frames import look_angles  # noqa: E402
from leonet.topology import TopologyEngine  # noqa: E402
from leonet.topology.dijkstra import cores, dijkstra  # noqa: E402
from leonet.topology.routing import _split_graph, first_hops  # noqa: E402
from leonet.topology.isl import EARTH_RADIUS_FOR_LOS_KM  # noqa: E402

try:
    from machine import describe  # noqa: E402
except ImportError:  # pragma: no cover
    def describe() -> str:
        return f"{os.cpu_count()} cores"


def leonet_step(engine: TopologyEngine, offset_s: float, sources: np.ndarray):
    """Returns (timings in ms, delay matrix)."""
    t0 = time.perf_counter()
    pos = engine.constellation.positions_at(offset_s)
    t1 = time.perf_counter()
    snap = engine.snapshot_from_positions(offset_s, pos)
    t2 = time.perf_counter()
    routes = snap.routes(sources)
    t3 = time.perf_counter()
    _ = routes.next_hop_to_source  # free: the predecessor matrix
    first = routes.first_hop_from_source
    t4 = time.perf_counter()
    assert first.shape == routes.delay_ms.shape
    return {"positions": (t1 - t0) * 1e3, "links": (t2 - t1) * 1e3, "dijkstra": (t3 - t2) * 1e3,
            "first_hops": (t4 - t3) * 1e3, "total": (t4 - t0) * 1e3}, routes.delay_ms


def networkx_step(c, offset_s: float, gs_names, min_elev_deg: float):
    """The same step written plainly: per-pair loops and networkx Dijkstra. Ground
    stations are split into a source and a sink node so that they do not relay."""
    t0 = time.perf_counter()
    pos = c.positions_at(offset_s)
    g = nx.DiGraph()
    ms_per_km = 1000.0 / SPEED_OF_LIGHT_KM_S
    index = {s.name: s.index for s in c.satellites}
    for s in c.satellites:
        for q, m in ((s.plane, (s.slot + 1) % 22), ((s.plane + 1) % 72, s.slot)):
            other = index[f"s0p{q}n{m}"]
            a, b = pos[s.index], pos[other]
            d = b - a
            t = min(1.0, max(0.0, -float(np.dot(a, d)) / float(np.dot(d, d))))
            if np.linalg.norm(a + t * d) - EARTH_RADIUS_FOR_LOS_KM < 80.0:
                continue
            w = float(np.linalg.norm(d)) * ms_per_km
            g.add_edge(s.index, other, weight=w)
            g.add_edge(other, s.index, weight=w)
    gss = [c.ground_station(n) for n in gs_names]
    for gs in c.ground_stations:
        elev, _, rng = look_angles(np.array([gs.ecef_km]), [gs.lat_deg], [gs.lon_deg], pos)
        for k in np.flatnonzero(elev[0] >= min_elev_deg):
            w = float(rng[0, k]) * ms_per_km
            g.add_edge(("src", gs.name), int(k), weight=w)
            g.add_edge(int(k), ("dst", gs.name), weight=w)
    t1 = time.perf_counter()
    n = c.num_satellites
    dist = np.full((len(gss), n + len(c.ground_stations)), np.inf)
    for i, gs in enumerate(gss):
        dist[i, n + gs.index] = 0.0
        if ("src", gs.name) not in g:
            continue
        lengths = nx.single_source_dijkstra_path_length(g, ("src", gs.name))
        for node, d in lengths.items():
            if isinstance(node, tuple):
                dist[i, n + c.ground_station(node[1]).index] = d
            else:
                dist[i, node] = d
        dist[i, n + gs.index] = 0.0  # not the round trip to its own sink
    t2 = time.perf_counter()
    return {"graph": (t1 - t0) * 1e3, "dijkstra": (t2 - t1) * 1e3, "total": (t2 - t0) * 1e3}, dist


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def run_case(c, engine, num_sources: int, steps: int, baseline_steps: int, rng) -> dict:
    n = c.num_satellites
    sources = n + np.arange(num_sources)
    names = [g.name for g in c.ground_stations[:num_sources]]
    offsets = rng.uniform(0, 86400, steps)
    ours = []
    for off in offsets:
        timing, _ = leonet_step(engine, float(off), sources)
        ours.append(timing)
    theirs = []
    max_err = 0.0
    for off in offsets[:baseline_steps]:
        timing, ref = networkx_step(c, float(off), names, c.scenario.defaults["min_elevation_deg"])
        theirs.append(timing)
        _, got = leonet_step(engine, float(off), sources)
        both = np.isfinite(ref) & np.isfinite(got)
        assert np.array_equal(np.isfinite(ref), np.isfinite(got)), "reachability differs"
        max_err = max(max_err, float(np.max(np.abs(ref[both] - got[both]), initial=0.0)))
    return {"sources": num_sources, "ours": ours, "theirs": theirs, "max_err_ms": max_err}


def scipy_paths(graph, sources):
    """The step's paths as leonet computed them before: scipy's Dijkstra, then first hops."""
    from scipy.sparse.csgraph import dijkstra as scipy_dijkstra
    dist, pred = scipy_dijkstra(graph, directed=True, indices=sources, return_predecessors=True)
    pred = np.where(pred < 0, -1, pred).astype(np.int32)
    return dist, pred, first_hops(pred, sources)


def consecutive(engine: TopologyEngine, sources: np.ndarray, steps: int, label: str) -> None:
    """Per-step times (ms, median / p99) of positions + links + paths + first hops over
    consecutive 1 s steps, for each way of computing the paths."""
    V, n = len(engine.nodes), engine.nodes.num_satellites
    start = np.where(sources >= n, sources - n + V, sources)   # a station's paths start at its source half
    ways = {
        "scipy + first hops (before, baseline)": lambda g, prev: scipy_paths(g, start),
        "compiled, 1 thread": lambda g, prev: dijkstra(g, start, threads=1, aliases=sources),
        f"compiled, {cores()} threads": lambda g, prev: dijkstra(g, start, aliases=sources),
        "repair last step's trees, 1 thread": lambda g, prev: dijkstra(g, start, threads=1, previous=prev,
                                                                       aliases=sources),
        f"repair last step's trees, {cores()} threads": lambda g, prev: dijkstra(g, start, previous=prev,
                                                                                 aliases=sources),
    }
    times = {k: [] for k in ways}
    paths_ms = {k: [] for k in ways}
    previous = {k: None for k in ways}
    base = 1000.0
    for t in range(steps + 1):
        for name, way in ways.items():
            t0 = time.perf_counter()
            pos = engine.constellation.positions_at(base + t)
            snap = engine.snapshot_from_positions(base + t, pos)
            g = _split_graph(snap.links, V, n)
            t1 = time.perf_counter()
            dist, pred, _ = way(g, previous[name])
            t2 = time.perf_counter()
            if name.startswith("scipy"):
                reference = dist
            else:
                fin = np.isfinite(reference)
                assert np.array_equal(fin, np.isfinite(dist)) and np.allclose(dist[fin], reference[fin], atol=1e-9)
            previous[name] = pred
            if t:  # the first step warms up (and has no previous trees)
                times[name].append((t2 - t0) * 1e3)
                paths_ms[name].append((t2 - t1) * 1e3)
        print(f"\r{label}: step {t}/{steps}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"{label}: {len(sources)} sources, {V} nodes, {steps} consecutive 1 s steps")
    print("| paths computed by | paths ms p50 / p99 | whole step ms p50 / p99 |")
    print("|---|---|---|")
    for name in ways:
        p, w = np.array(paths_ms[name]), np.array(times[name])
        print(f"| {name} | {np.percentile(p, 50):.1f} / {np.percentile(p, 99):.1f} "
              f"| **{np.percentile(w, 50):.1f}** / {np.percentile(w, 99):.1f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="leonet steps per case (median)")
    parser.add_argument("--baseline-steps", type=int, default=3, help="networkx steps per case (median)")
    parser.add_argument("--consecutive", type=int, default=30, help="consecutive 1 s steps (0: skip)")
    parser.add_argument("--phase1-steps", type=int, default=0, help="consecutive steps of starlink-phase1")
    parser.add_argument("--only-consecutive", action="store_true", help="skip the networkx comparison")
    args = parser.parse_args()
    c = load_constellation("kubespace-candidates")
    engine = TopologyEngine(c)
    rng = np.random.default_rng(0)
    print(f"machine: {describe()}")
    print(f"scenario: {c.scenario.name}: {c.num_satellites} satellites, {len(c.ground_stations)} stations, "
          f"GSL policy {engine.config.gsl.policy}, min elevation {c.scenario.defaults['min_elevation_deg']} deg")
    leonet_step(engine, 0.0, c.num_satellites + np.arange(len(c.ground_stations)))  # warm-up
    if args.consecutive:
        consecutive(engine, c.num_satellites + np.arange(len(c.ground_stations)), args.consecutive,
                    "shell 1 + 316 stations")
    if args.phase1_steps:
        p1 = TopologyEngine(load_constellation("starlink-phase1"))
        consecutive(p1, np.arange(len(p1.nodes)), args.phase1_steps, "starlink-phase1, paths from every node")
    if args.only_consecutive:
        return 0
    print("| Dijkstra sources | positions | links (ISL+GSL) | Dijkstra | first hops | leonet total "
          "| networkx total | speed-up | max delay diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in (10, 100, len(c.ground_stations)):
        r = run_case(c, engine, k, args.steps, args.baseline_steps, rng)
        ours, theirs = r["ours"], r["theirs"]
        print(f"| {k} | {median(ours, 'positions'):.1f} ms | {median(ours, 'links'):.1f} ms "
              f"| {median(ours, 'dijkstra'):.1f} ms | {median(ours, 'first_hops'):.1f} ms "
              f"| **{median(ours, 'total'):.1f} ms** | {median(theirs, 'total') / 1e3:.2f} s "
              f"| {median(theirs, 'total') / median(ours, 'total'):.0f}x | {r['max_err_ms']:.1e} ms |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
