"""How long `leonet check` takes to judge a shell's routing tables (no root needed).

    python benchmarks/bench_selfcheck.py [--scenario demo] [--offset 50]

The kernel tables are those the run installs (the engine's next hops at the tick, as
(destination, gateway) address arrays per node, as the numpy route dump returns them).
Timed: building the engine's least delays (all-pairs Dijkstra), the walks of every
(source, destination) pair (pointer doubling), and the whole judgement. Baseline, in the
same run: the entry-by-entry comparison `leonet check` did before (a Python loop over every
node's table against the engine's next hops), which answers a different, weaker question.
Reading the tables from the kernel is not included; see docs/benchmarks.md for a live run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leonet.emulation.addressing import node_address_int  # noqa: E402
from leonet.emulation.selfcheck import check_tables, walk  # noqa: E402
from leonet.orbits import build_constellation, load_scenario  # noqa: E402
from leonet.topology import TopologyEngine  # noqa: E402

from machine import describe  # noqa: E402


def entry_by_entry(next_hop: np.ndarray, destinations: np.ndarray, kernel: list) -> int:
    """The former check: every table entry against the engine's next hop (mismatches)."""
    base = node_address_int(0)
    mismatches = 0
    for v, table in enumerate(kernel):
        got = np.full(len(destinations), -1, dtype=np.int64)
        for i, d in enumerate(destinations):
            gw = table.get(base + int(d))
            if gw is not None:
                got[i] = gw - base
        mismatches += int(np.count_nonzero(got != next_hop[:, v]))
    return mismatches


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="demo")
    p.add_argument("--offset", type=float, default=50.0)
    args = p.parse_args()
    print(describe())
    engine = TopologyEngine(build_constellation(load_scenario(args.scenario)))
    snap = engine.snapshot(args.offset)
    V = len(engine.nodes)
    dests = np.arange(V)
    t0 = time.perf_counter()
    routes = snap.routes(dests)
    t_routes = time.perf_counter() - t0
    hops = routes.next_hop_to_source
    base = node_address_int(0)
    tables = []
    for v in range(V):
        has = hops[:, v] >= 0
        tables.append(((base + dests[has]).astype(np.uint32), (base + hops[has, v]).astype(np.uint32)))
    t0 = time.perf_counter()
    walks = walk(hops, dests, snap)
    t_walk = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = check_tables(engine.nodes.names, dests, tables, [snap], 0.05, "bench")
    t_check = time.perf_counter() - t0
    kernel = [dict(zip((d.tolist()), g.tolist())) for d, g in tables]
    t0 = time.perf_counter()
    entry_by_entry(hops, dests, kernel)
    t_old = time.perf_counter() - t0
    print(f"| {args.scenario} | {V:,} nodes | {result.entries:,} routes | {result.pairs:,} pairs | "
          f"all-pairs least delays {t_routes:.2f} s | walks {t_walk:.2f} s (longest {int(walks.hops.max())} hops) | "
          f"whole judgement {t_check:.2f} s | former entry-by-entry comparison {t_old:.2f} s |")
    assert result.problems == 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
