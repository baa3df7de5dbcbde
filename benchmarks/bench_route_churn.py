"""Route churn per tick with and without route hysteresis and next-hop objects (pure
computation, no root).

    python benchmarks/bench_route_churn.py [--scenario starlink-shell1] [--ticks 120]
        [--epsilons 0,0.01,0.05,0.1,0.5] [--routes all|ground-stations]

For consecutive 1 s ticks, the next-hop table a run would install (every node towards
every destination) is computed fresh (epsilon 0: the baseline, what a run installed
before hysteresis) and with ``stable_next_hops`` at each epsilon; the benchmark counts the
entries that change from one tick to the next (each is one kernel route replaced),
checks that every installed walk is loop-free and within epsilon of the least delay,
and times the stabilisation itself. For each table it also plans the kernel operations with
next-hop objects (``emulation.route_nexthops: objects``, leonet/emulation/nexthops.py):
objects re-pointed or created plus routes put or deleted, against one route operation per
changed entry inline (the baseline), and times the planning (it runs in a tick's apply).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from leonet.emulation.nexthops import NexthopSlots  # noqa: E402
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
    slots = {e: NexthopSlots(len(dest), V) for e in epsilons}
    ops = {e: [] for e in epsilons}
    route_ops = {e: [] for e in epsilons}
    plan_s = {e: [] for e in epsilons}
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
            installed = previous[e] if previous[e] is not None else np.full_like(hops, -1)
            t0 = time.perf_counter()
            plan = slots[e].plan(installed, hops)
            if previous[e] is not None:
                plan_s[e].append(time.perf_counter() - t0)
                changes[e].append(int(np.count_nonzero(hops != previous[e])))
                ops[e].append(plan.operations)
                route_ops[e].append(plan.route_operations)
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
    print("inline next hops: one kernel route operation per changed entry (the baseline)")
    print(f"{'epsilon ms':>10} {'changes/tick mean':>18} {'p99':>7} {'cut':>6} {'worst excess ms':>16} "
          f"{'stabilise ms p50/p99':>21}")
    for e in epsilons:
        c = np.array(changes[e])
        s = np.array(seconds[e][1:]) * 1e3
        cut = f"{base / max(c.mean(), 1e-9):.1f}x" if base is not None else "-"
        print(f"{e:>10g} {c.mean():>18.0f} {np.percentile(c, 99):>7.0f} {cut:>6} {worst[e]:>16.4f} "
              f"{np.percentile(s, 50):>10.1f} / {np.percentile(s, 99):>6.1f}")
    print("next-hop objects: kernel operations per tick (objects written + routes put or deleted)")
    print(f"{'epsilon ms':>10} {'ops/tick mean':>14} {'p99':>7} {'of which routes':>16} {'cut vs baseline':>16} "
          f"{'plan ms p50/p99':>16}")
    for e in epsilons:
        o, r = np.array(ops[e]), np.array(route_ops[e])
        p = np.array(plan_s[e]) * 1e3
        cut = f"{base / max(o.mean(), 1e-9):.1f}x" if base is not None else "-"
        print(f"{e:>10g} {o.mean():>14.0f} {np.percentile(o, 99):>7.0f} {r.mean():>16.0f} {cut:>16} "
              f"{np.percentile(p, 50):>7.1f} / {np.percentile(p, 99):>6.1f}")


if __name__ == "__main__":
    main()
