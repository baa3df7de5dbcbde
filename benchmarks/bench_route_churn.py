"""Route churn per tick with and without route hysteresis and next-hop objects (pure
computation, no root).

    python benchmarks/bench_route_churn.py [--scenario starlink-shell1] [--ticks 120]
        [--epsilons 0,0.01,0.05,0.1,0.5] [--routes all|ground-stations] [--groups none,slot:3]
        [--start-s 0]

For consecutive 1 s ticks, the next-hop table a run would install (every node towards
every destination) is computed fresh (epsilon 0: the baseline, what a run installed
before hysteresis) and with ``stable_next_hops`` at each epsilon; the benchmark counts the
entries that change from one tick to the next (each is one kernel route replaced),
checks that every installed walk is loop-free and within epsilon of the least delay,
and times the stabilisation itself. For each table it also plans the kernel operations with
next-hop objects (``emulation.route_nexthops: objects``, leonet/emulation/nexthops.py):
objects re-pointed or created plus routes put or deleted, against one route operation per
changed entry inline (the baseline), and times the planning (it runs in a tick's apply).
``--groups``: the route groupings to compare at each epsilon (``emulation.route_groups``,
leonet/topology/groups.py; ``slot:N`` groups a ground station's routes by the destination's
position in its orbit, N slots per group): each gets its own hysteresis and objects.
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
from leonet.topology.groups import route_groups  # noqa: E402
from leonet.topology.stable import stable_next_hops  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="starlink-shell1")
    ap.add_argument("--ticks", type=int, default=120)
    ap.add_argument("--start-s", type=float, default=0.0, help="first tick, seconds after the scenario's start")
    ap.add_argument("--epsilons", default="0,0.01,0.05,0.1,0.5")
    ap.add_argument("--routes", choices=("all", "ground-stations"), default="all")
    ap.add_argument("--verify-every", type=int, default=20, help="walk every table each N ticks")
    ap.add_argument("--window", type=int, default=0, help="also print the means per window of this many ticks")
    ap.add_argument("--groups", default="none", help="route groupings to compare: none, slot:N (comma-separated)")
    args = ap.parse_args()
    epsilons = [float(e) for e in args.epsilons.split(",")]
    groupings = args.groups.split(",")
    engine = TopologyEngine(load_constellation(args.scenario))
    V = engine.nodes.num_nodes if hasattr(engine.nodes, "num_nodes") else len(engine.nodes.names)
    dest = np.arange(V) if args.routes == "all" else np.arange(engine.nodes.num_satellites, V)
    print(f"machine: {describe()}")
    print(f"{args.scenario}: {V} nodes, {len(dest)} destinations, {args.ticks} ticks of 1 s from +{args.start_s:g} s")
    groups = {g: _groups(engine, dest, g) for g in groupings}
    configs = [(e, g) for g in groupings for e in epsilons if e > 0 or g == groupings[0]]
    previous = {c: None for c in configs}
    changes = {c: [] for c in configs}
    seconds = {c: [] for c in configs}
    worst = {c: 0.0 for c in configs}
    slots = {c: NexthopSlots(len(dest), V, groups=groups[c[1]]) for c in configs}
    ops = {c: [] for c in configs}
    route_ops = {c: [] for c in configs}
    plan_s = {c: [] for c in configs}
    t_routes = []
    for t in range(args.ticks + 1):
        snap = engine.snapshot(args.start_s + t)
        t0 = time.perf_counter()
        routes = snap.routes(dest)
        t_routes.append(time.perf_counter() - t0)
        for c in configs:
            e, g = c
            t0 = time.perf_counter()
            hops = stable_next_hops(previous[c], routes, snap.links, V, e, groups=groups[g])
            seconds[c].append(time.perf_counter() - t0)
            installed = previous[c] if previous[c] is not None else np.full_like(hops, -1)
            t0 = time.perf_counter()
            plan = slots[c].plan(installed, hops)
            if previous[c] is not None:
                plan_s[c].append(time.perf_counter() - t0)
                changes[c].append(int(np.count_nonzero(hops != previous[c])))
                ops[c].append(plan.operations)
                route_ops[c].append(plan.route_operations)
            if t % args.verify_every == 0:
                assert np.array_equal(slots[c].effective(), hops), f"{c}: objects do not forward as the table"
                w = walk(hops, dest, snap)
                reach = np.isfinite(routes.delay_ms)
                arrived = w.end == dest[:, None]
                assert arrived[reach].all(), f"{c}: a walk did not arrive (loop or hole) at tick {t}"
                excess = (w.delay_ms - np.where(reach, routes.delay_ms, 0.0))[reach]
                worst[c] = max(worst[c], float(excess.max()))
                assert worst[c] <= e + 1e-9, f"{c}: a walk {worst[c]} ms longer than the least delay"
            previous[c] = hops
        print(f"\rtick {t}/{args.ticks}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    first = configs[0]
    base = np.mean(changes[first]) if first[0] == 0 else None
    print(f"shortest paths per tick: {np.median(t_routes) * 1e3:.0f} ms median")
    print("inline next hops: one kernel route operation per changed entry (the baseline)")
    print(f"{'groups':>8} {'epsilon ms':>10} {'changes/tick mean':>18} {'p99':>7} {'cut':>6} {'worst excess ms':>16} "
          f"{'stabilise ms p50/p99':>21}")
    for c in configs:
        e, g = c
        x = np.array(changes[c])
        s = np.array(seconds[c][1:]) * 1e3
        cut = f"{base / max(x.mean(), 1e-9):.1f}x" if base is not None else "-"
        print(f"{g:>8} {e:>10g} {x.mean():>18.0f} {np.percentile(x, 99):>7.0f} {cut:>6} {worst[c]:>16.4f} "
              f"{np.percentile(s, 50):>10.1f} / {np.percentile(s, 99):>6.1f}")
    print("next-hop objects: kernel operations per tick (objects written + routes put or deleted)")
    print(f"{'groups':>8} {'epsilon ms':>10} {'ops/tick mean':>14} {'p99':>7} {'of which routes':>16} "
          f"{'cut vs baseline':>16} {'plan ms p50/p99':>16} {'objects':>8}")
    for c in configs:
        e, g = c
        o, r = np.array(ops[c]), np.array(route_ops[c])
        p = np.array(plan_s[c]) * 1e3
        cut = f"{base / max(o.mean(), 1e-9):.1f}x" if base is not None else "-"
        print(f"{g:>8} {e:>10g} {o.mean():>14.0f} {np.percentile(o, 99):>7.0f} {r.mean():>16.0f} {cut:>16} "
              f"{np.percentile(p, 50):>7.1f} / {np.percentile(p, 99):>6.1f} {int((slots[c].size > 0).sum()):>8}")

    if args.window > 0:
        print(f"kernel operations per tick (changes per tick inline), mean per window of {args.window} ticks")
        starts = range(0, args.ticks, args.window)
        print(f"{'groups':>8} {'epsilon ms':>10} " + " ".join(f"{f'{a + 1}-{min(a + args.window, args.ticks)}':>13}"
                                                          for a in starts))
        for c in configs:
            cells = [f"{np.mean(ops[c][a:a + args.window]):>5.0f} ({np.mean(changes[c][a:a + args.window]):>5.0f})"
                     for a in starts]
            print(f"{c[1]:>8} {c[0]:>10g} " + " ".join(f"{x:>13}" for x in cells))


def _groups(engine: TopologyEngine, dest: np.ndarray, spec: str):
    by, _, span = spec.partition(":")
    return route_groups(engine.constellation, dest, by, int(span or 3))

if __name__ == "__main__":
    main()
