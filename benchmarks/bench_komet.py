"""Benchmark of Komet's trace-driven scheduling simulation: trace steps per second for
the paper's CDN setting (50 clients, Starlink shell 1, many-to-many), and a real day.

* the simulator over a one-hour CDN trace (cached), per strategy, best of --repeat:
  steps per second and the time a day (86,400 steps) takes at that rate;
* with --day, a real day's trace streamed in chunks (it is 27 GB as float32, too big
  to hold) while many-to-many at 10 % runs over it: the time inside the simulator,
  and the time spent computing the trace, measured separately.

    python benchmarks/bench_komet.py [--quick] [--day] [--repeat 3]

Prints a Markdown table for docs/benchmarks.md. Timings are wall-clock on a shared
machine: other work on the same cores makes them noisy (load average printed).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402
from leonet.komet import Simulator, build_trace, iter_trace, make_strategy, simulate  # noqa: E402
from leonet.komet.config import komet_config, resolve_clients  # noqa: E402
from leonet.orbits import load_constellation  # noqa: E402
from leonet.topology import TopologyEngine  # noqa: E402

DAY_STEPS = 86400
RUNS = [("many-to-many 10%", "many-to-many", 0.10, {}), ("many-to-many 25%", "many-to-many", 0.25, {}),
        ("many-to-many 1 ms (1,000 us)", "many-to-many", "1000us", {}),
        ("many-to-many 10%, ties to current", "many-to-many", 0.10, {"tie_break": "current"}),
        ("MinMax per client", "minmax-many", None, {}), ("many-to-one 10% (rms)", "many-to-one", 0.10, {}),
        ("MinMax (one satellite)", "minmax", None, {})]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a 5-minute trace, one repeat, no day")
    p.add_argument("--day", action="store_true", help="also stream and simulate a real day (long)")
    p.add_argument("--repeat", type=int, default=3, help="repeats per strategy (best is reported)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "komet")
    args = p.parse_args()
    repeat = 1 if args.quick else args.repeat

    c = load_constellation("komet-cdn")
    cfg = komet_config(c.scenario)
    clients = resolve_clients(c.scenario, cfg.clients)
    engine = TopologyEngine(c)
    start = cfg.trace.start_offset_s
    duration = 300.0 if args.quick else 3600.0
    print(f"machine: {describe()}; load average {os.getloadavg()[0]:.1f} at start", flush=True)
    t0 = time.perf_counter()
    trace = build_trace(engine, clients, start, duration, cache_dir=args.out / "cache", workers=2,
                        progress=True, keep_true=False)
    print(f"trace: {len(trace)} steps x {trace.num_clients} clients x {trace.num_satellites} satellites "
          f"({time.perf_counter() - t0:.1f} s to build or load)", flush=True)

    rows = []
    for label, name, thr, kw in RUNS:
        best = None
        for _ in range(repeat):
            res = simulate(make_strategy(name, thr, **kw), trace)
            if best is None or res.wall_s < best.wall_s:
                best = res
        rate = best.steps / best.wall_s
        rows.append((label, rate, 1e6 / rate, 1e6 * best.decision_s / best.steps, 1e6 * best.cpu_s / best.steps,
                     DAY_STEPS / rate, best.summary()["mean_replicas"]))
        print(f"  {label}: {rate:,.0f} steps/s", flush=True)

    print(f"\n{len(clients)} clients, {trace.num_satellites} satellites, {len(trace)}-step trace "
          f"(best of {repeat}); load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| strategy | steps/s | us/step | of which in the strategy | CPU us/step | a day (86,400 steps) "
          "| mean replicas |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, rate, us, strat_us, cpu_us, day_s, replicas in rows:
        print(f"| {label} | {rate:,.0f} | {us:.0f} | {strat_us:.0f} | {cpu_us:.0f} | {day_s:.1f} s | {replicas:.2f} |")

    if args.day and not args.quick:
        print("\nstreaming a real day (workers 2: trace chunks computed ahead while simulating)", flush=True)
        sim = Simulator(make_strategy("many-to-many", 0.10), tuple(clients), c.num_satellites, 1.0)
        t0 = time.perf_counter()
        for chunk in iter_trace(engine, clients, start, float(DAY_STEPS), workers=2, chunk_steps=300):
            sim.feed(chunk)
            done = chunk.first_index + len(chunk)
            if done % 7200 == 0:
                print(f"  {done:,} steps, {time.perf_counter() - t0:.0f} s", flush=True)
        wall = time.perf_counter() - t0
        res = sim.result()
        print("\n| real day, many-to-many 10% | steps | simulator (wall) | simulator (CPU) "
              "| trace (computing, waiting) | total |")
        print("|---|---:|---:|---:|---:|---:|")
        print(f"| 50 clients, streamed | {res.steps:,} | {res.wall_s:.1f} s ({res.steps / res.wall_s:,.0f} steps/s) "
              f"| {res.cpu_s:.1f} s | {wall - res.wall_s:.0f} s | {wall:.0f} s |")
        s = res.summary()
        print(f"day: mean replicas {s['mean_replicas']:.2f} (max {s['max_replicas']}), mean RTT {s['mean_rtt_ms']:.2f} ms, "
              f"replicas started {s['replicas_started']}; load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
