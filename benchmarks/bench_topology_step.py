"""One topology step: positions, ISLs, GSLs and shortest paths from every ground station
to every node, for Starlink shell 1 with 116 gateways and 200 cities (316 stations).

Runs leonet.topology and a straightforward networkx implementation of the same step in
the same process, checks that they agree, and prints median times per step.

    python benchmarks/bench_topology_step.py [--steps 20] [--baseline-steps 3]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="leonet steps per case (median)")
    parser.add_argument("--baseline-steps", type=int, default=3, help="networkx steps per case (median)")
    args = parser.parse_args()
    c = load_constellation("kubespace-candidates")
    engine = TopologyEngine(c)
    rng = np.random.default_rng(0)
    print(f"machine: {describe()}")
    print(f"scenario: {c.scenario.name}: {c.num_satellites} satellites, {len(c.ground_stations)} stations, "
          f"GSL policy {engine.config.gsl.policy}, min elevation {c.scenario.defaults['min_elevation_deg']} deg")
    leonet_step(engine, 0.0, c.num_satellites + np.arange(len(c.ground_stations)))  # warm-up
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
