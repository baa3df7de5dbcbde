"""Route churn per tick with and without route hysteresis (pure computation, no root).

    python benchmarks/bench_route_churn.py [--scenario starlink-shell1] [--ticks 120]
        [--epsilons 0,0.01,0.05,0.1,0.5] [--routes all|ground-stations]

For consecutive 1 s ticks, the next-hop table a run would install (every node towards
every destination) is computed fresh (epsilon 0: the baseline, what a run installed
before hysteresis) and with ``stable_next_hops`` at each epsilon; the benchmark counts the
entries that change from one tick to the next (each is one kernel route replaced),
checks that every installed walk is loop-free and within epsilon of the least delay,
and times the stabilisation itself.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from leonet.emulation.selfcheck import walk  # noqa: E402
from leonet.orbits import load_constellation  # noqa: E402
from leonet.topology import TopologyEngine  # noqa: E402
from leonet.topology.stable import stable_next_hops  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="starlink-shell1")
    ap.add_argument("--ticks", type=int, default=120)
    ap.add_argument("--epsilons", default="0,0.01,0.05,0.1,0.5")
    ap.add_argument("--routes", choices=("all", "ground-stations"), default="all")
    ap.add_argument("--verify-every", type=int, default=20, help="walk every table each N ticks")
    args = ap.parse_args()
    epsilons = [float(e) for e in args.epsilons.split(",")]
    engine = TopologyEngine(load_constellation(args.scenario))
    V = engine.nodes.num_nodes if hasattr(engine.nodes, "num_nodes") else len(engine.nodes.names)
    dest = np.arange(V) if args.routes == "all" else np.arange(engine.nodes.num_satellites, V)
    print(f"machine: {describe()}")
    print(f"{args.scenario}: {V} nodes, {len(dest)} destinations, {args.ticks} ticks of 1 s")
    previous = {e: None for e in epsilons}
    changes = {e: [] for e in epsilons}
    seconds = {e: [] for e in epsilons}
    worst = {e: 0.0 for e in epsilons}
    t_routes = []
    for t in range(args.ticks + 1):
        snap = engine.snapshot(float(t))
        t0 = time.perf_counter()
        routes = snap.routes(dest)
        t_routes.append(time.perf_counter() - t0)
        for e in epsilons:
            t0 = time.perf_counter()
            hops = stable_next_hops(previous[e], routes, snap.links, V, e)
            seconds[e].append(time.perf_counter() - t0)
            if previous[e] is not None:
                changes[e].append(int(np.count_nonzero(hops != previous[e])))
            if t % args.verify_every == 0:
                w = walk(hops, dest, snap)
                reach = np.isfinite(routes.delay_ms)
                arrived = w.end == dest[:, None]
                assert arrived[reach].all(), f"epsilon {e}: a walk did not arrive (loop or hole) at tick {t}"
                excess = (w.delay_ms - np.where(reach, routes.delay_ms, 0.0))[reach]
                worst[e] = max(worst[e], float(excess.max()))
            previous[e] = hops
        print(f"\rtick {t}/{args.ticks}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    base = np.mean(changes[epsilons[0]]) if epsilons[0] == 0 else None
    print(f"shortest paths per tick: {np.median(t_routes) * 1e3:.0f} ms median")
    print(f"{'epsilon ms':>10} {'changes/tick mean':>18} {'p99':>7} {'cut':>6} {'worst excess ms':>16} "
          f"{'stabilise ms p50/p99':>21}")
    for e in epsilons:
        c = np.array(changes[e])
        s = np.array(seconds[e][1:]) * 1e3
        cut = f"{base / max(c.mean(), 1e-9):.1f}x" if base is not None else "-"
        print(f"{e:>10g} {c.mean():>18.0f} {np.percentile(c, 99):>7.0f} {cut:>6} {worst[e]:>16.4f} "
              f"{np.percentile(s, 50):>10.1f} / {np.percentile(s, 99):>6.1f}")


if __name__ == "__main__":
    main()
