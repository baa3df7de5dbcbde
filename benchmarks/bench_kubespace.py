"""Benchmark of KubeSpace placement and assignment on Starlink shell 1 with the
paper's 316 candidate sites:

* path-delay snapshots (the topology layer's Dijkstra from 316 stations), per snapshot;
* CNPA for K = 5, C = 20 over a day of 1,440 snapshots (target: < 60 s);
* the exhaustive optimum (pruned exact search) for K = 1.., until it stops being feasible;
* brute-force enumeration, estimated from the time of one evaluation;
* CNAA for the whole constellation over a day (2 and 20 control nodes).

    python benchmarks/bench_kubespace.py [--quick] [--exhaustive-limit 600]

Prints a Markdown table for docs/benchmarks.md. Timings are wall-clock on a shared
machine: other work on the same cores makes them noisy.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
sys.path.insert(0, str(ROOT))

from kubespace_common import CONSTELLATIONS, path_tensor  # noqa: E402
from leonet.kubespace import (SearchLimit, cnaa, cnpa, evaluate, greedy_k_center, optimal_placement,  # noqa: E402
                              ControlNode)
from leonet.kubespace.metrics import path_delay  # noqa: E402
from leonet.orbits import load_constellation  # noqa: E402


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn, repeat: int = 1):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 h of snapshots instead of a day")
    p.add_argument("--exhaustive-limit", type=float, default=600.0, help="seconds per exhaustive run")
    p.add_argument("--max-k", type=int, default=8, help="largest K tried exhaustively")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "kubespace")
    args = p.parse_args()

    scenario = CONSTELLATIONS["starlink"][0]
    c = load_constellation(scenario)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    rows = []

    _, t = timed(lambda: path_delay(c, np.arange(0, 20 * 60.0, 60.0)))
    rows.append(("path snapshots, 316 sources x 1,584 satellites", "per snapshot", t[0] / 20))

    offsets = np.arange(0.0, (7200.0 if args.quick else 86400.0) + 1, 60.0)
    tensor = path_tensor(c, scenario, offsets, args.out / "cache", workers=2)
    day = np.ascontiguousarray(tensor[:-1])
    T = day.shape[0]

    placements, t = timed(lambda: cnpa(day, 5, 20, seed=0), repeat=3)
    pl = placements
    rows.append((f"CNPA K=5, C=20, {T} snapshots, 316 candidates", "median of 3", statistics.median(t)))
    for part, secs in pl.timings_s.items():
        rows.append((f"  of which {part}", "last run", secs))

    _, t = timed(lambda: evaluate(day, pl.selection), repeat=5)
    one_eval = min(t)
    for k in range(1, args.max_k + 1):
        combos = math.comb(day.shape[1], k)
        rows.append((f"brute force K={k}: {combos:.3g} subsets x {one_eval * 1e3:.0f} ms", "estimate",
                     combos * one_eval))
    for k in range(1, args.max_k + 1):
        start = cnpa(day, k, 20, seed=0).selection if k > 1 else greedy_k_center(day, 1)
        t0 = time.perf_counter()
        try:
            exact = optimal_placement(day, k, start, tolerance=1e-3, time_limit_s=args.exhaustive_limit,
                                      node_limit=10 ** 12)
            rows.append((f"exhaustive (pruned) K={k}: optimum {exact.score:.2f} ms, {exact.rounds} rounds, "
                         f"{exact.nodes} nodes", "one run", time.perf_counter() - t0))
        except SearchLimit as exc:
            rows.append((f"exhaustive (pruned) K={k}: not finished ({exc})", f"limit {args.exhaustive_limit:g} s",
                         time.perf_counter() - t0))
            break

    for nodes in (2, 20):
        sel = pl.selection if nodes <= 5 else cnpa(day, nodes, 20, seed=0).selection
        cn = [ControlNode.of(c.ground_stations[i]) for i in sel[:nodes]] if nodes != 2 else \
            [ControlNode("eq0", 0, 0), ControlNode("eq180", 0, 180)]
        _, t = timed(lambda: cnaa(c.satrecs, c.start, cn, window_s=86400.0, threshold=[1.0, 0.9]))
        rows.append((f"CNAA 1,584 satellites x 1 day, {nodes} nodes, 2 thresholds", "one run", t[0]))

    width = max(len(r[0]) for r in rows)
    print()
    print(f"| case{' ' * (width - 4)} | how | seconds |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, how, secs in rows:
        shown = f"{secs:.3g}" if secs < 1e5 else f"{secs:.2e} ({secs / 3.15e7:.2g} years)"
        print(f"| {name.ljust(width)} | {how} | {shown} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
