"""A day of topology at 1 s steps (86,400 steps) for Starlink shell 1 and 10 ground
stations, on both cores: per-step diffs (links, delays over 0.5 ms, next hops toward
every station), handovers and the nearest control station of every satellite.

Also times, in the same process, a serial run on a sample and a straightforward
networkx implementation of one step, and extrapolates both to the day.

    python benchmarks/bench_topology_day.py [--hours 24] [--workers 2]

With ``--hours H < 24`` the day figure is extrapolated linearly from H hours (the work
per step does not depend on the time of day).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from leonet.orbits import build_constellation, parse_scenario  # noqa: E402
from leonet.topology import TopologyEngine, timeline  # noqa: E402

from bench_topology_step import networkx_step  # noqa: E402

try:
    from machine import describe  # noqa: E402
except ImportError:  # pragma: no cover
    def describe() -> str:
        return f"{os.cpu_count()} cores"

DAY_S = 86400


def shell1_with_10_stations() -> TopologyEngine:
    raw = {"name": "shell1-10gs", "start": "2026-01-31T00:00:00Z",
           "defaults": {"min_elevation_deg": 25},
           "shells": [{"name": "shell1", "walker": "delta", "planes": 72, "sats_per_plane": 22,
                       "altitude_km": 550, "inclination_deg": 53, "phasing": 1}],
           "ground_stations": [{"csv": "builtin:starlink_gateways.csv",
                                "names": ["Madrid", "Usingen", "Gravelines", "Goonhilly", "Kenansville_FL",
                                          "Awarua", "Punta_Arenas", "Broken_Hill_NSW", "Talca", "La_Baie_QC"]}]}
    return TopologyEngine(build_constellation(parse_scenario(raw)))


def run(engine: TopologyEngine, seconds: float, workers: int, control, knot_step_s=None) -> dict:
    counts = dict(steps=0, added=0, removed=0, delay=0, next_hops=0, handovers=0, control=0)
    cpu0 = os.times()
    t0 = time.perf_counter()
    for d in timeline(engine, 0.0, seconds - 1.0, 1.0, control=control, workers=workers,
                      knot_step_s=knot_step_s):
        counts["steps"] += 1
        counts["added"] += len(d.added)
        counts["removed"] += len(d.removed)
        counts["delay"] += len(d.delay_changed)
        counts["next_hops"] += len(d.next_hops)
        counts["handovers"] += len(d.handovers)
        counts["control"] += len(d.control_by_delay)
    counts["wall_s"] = time.perf_counter() - t0
    cpu1 = os.times()
    # CPU time says what the code costs when other work shares the cores.
    counts["parent_cpu_s"] = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    counts["worker_cpu_s"] = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system
                                                                         - cpu0.children_system)
    return counts


def cpu_note(r: dict) -> str:
    steps = r["steps"]
    return (f"CPU per step: {r['parent_cpu_s'] / steps * 1e3:.2f} ms in this process, "
            f"{r['worker_cpu_s'] / steps * 1e3:.2f} ms in workers")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="span to run at 1 s steps (default 24)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--serial-sample", type=int, default=600, help="steps for the serial sample")
    parser.add_argument("--baseline-steps", type=int, default=20, help="steps for the networkx sample")
    parser.add_argument("--knot-step", type=float, default=None,
                        help="interpolate positions between SGP4 states this many seconds apart "
                             "(default: exact SGP4 at every step)")
    args = parser.parse_args()
    engine = shell1_with_10_stations()
    c = engine.constellation
    control = ["Madrid", "Kenansville_FL", "Broken_Hill_NSW"]
    print(f"machine: {describe()}")
    print(f"scenario: {c.num_satellites} satellites, {len(c.ground_stations)} stations; "
          f"next hops toward all {len(c.ground_stations)} stations, control stations {control}, "
          f"delay threshold {engine.config.delay_threshold_ms} ms; positions: "
          + ("exact SGP4 every step" if args.knot_step is None else f"Hermite between {args.knot_step:g} s knots"))

    names = [g.name for g in c.ground_stations]
    base = []
    for k in range(args.baseline_steps):
        timing, _ = networkx_step(c, 37.0 * k, names, 25.0)
        base.append(timing["total"] / 1e3)
    nx_step = statistics.mean(base)
    print(f"networkx, one step (graph + Dijkstra from {len(names)} stations, no diffs): "
          f"{nx_step * 1e3:.1f} ms -> a day on 1 core: {nx_step * DAY_S / 60:.0f} min "
          f"(ideal 2 cores: {nx_step * DAY_S / 120:.0f} min)", flush=True)

    serial = run(engine, args.serial_sample, 1, control, args.knot_step)
    per_step = serial["wall_s"] / serial["steps"]
    print(f"leonet, serial sample of {serial['steps']} steps: {per_step * 1e3:.2f} ms/step -> "
          f"a day on 1 core: {per_step * DAY_S / 60:.1f} min ({cpu_note(serial)})", flush=True)

    seconds = args.hours * 3600.0
    full = run(engine, seconds, args.workers, control, args.knot_step)
    day_min = full["wall_s"] / full["steps"] * DAY_S / 60
    label = "measured" if args.hours >= 24 else f"extrapolated from {args.hours:g} h"
    print(f"leonet, {full['steps']} steps ({args.hours:g} h) on {args.workers} workers: {full['wall_s']:.1f} s "
          f"({full['wall_s'] / full['steps'] * 1e3:.2f} ms/step) -> a day: {day_min:.1f} min ({label}; "
          f"{cpu_note(full)}; load average now {os.getloadavg()[0]:.1f})")
    print(f"events: {full['added']} links added, {full['removed']} removed, {full['delay']} delay "
          f"announcements, {full['next_hops']} next-hop changes, {full['handovers']} handovers, "
          f"{full['control']} control re-assignments")
    return 0


if __name__ == "__main__":
    sys.exit(main())
