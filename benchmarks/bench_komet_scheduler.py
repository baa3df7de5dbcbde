"""Benchmark of Komet's live ground scheduler: the time of one decision (predict the
client-satellite distances at now + lead from the topology engine, step the strategy)
against the 20 s migration lead time it must stay well below.

* cache: one-to-one 10 %, Redmond, one plane of 22 satellites (`komet-live-cache`),
  the 900 steps of the Fig. 7 window;
* IoT: many-to-one 10 %, the 30 buoys over 1,584 satellites (`komet-iot`), --steps.

    python benchmarks/bench_komet_scheduler.py [--steps 120]

Prints a Markdown table. Wall-clock on a shared machine: noisy (load average printed).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402
from leonet.komet import make_strategy  # noqa: E402
from leonet.komet.config import komet_config, resolve_clients  # noqa: E402
from leonet.komet.scheduler import GroundScheduler  # noqa: E402
from leonet.orbits import load_constellation  # noqa: E402
from leonet.topology import TopologyEngine  # noqa: E402

LEAD_MS = 20_000.0


def decisions_ms(preset: str, strategy: str, start_s: float, steps: int) -> np.ndarray:
    c = load_constellation(preset)
    clients = resolve_clients(c.scenario, komet_config(c.scenario).clients)
    sched = GroundScheduler(TopologyEngine(c), None, make_strategy(strategy, 0.1), clients, lambda: start_s)
    for i in range(steps):
        sched.decide(start_s + 20.0 + i)
    return np.array(sched.decision_s) * 1000.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=120, help="IoT decisions (the cache runs its 900)")
    args = p.parse_args()
    print(describe(), f"load average {os.getloadavg()[0]:.2f}\n")
    rows = [("cache: one-to-one 10 %, 1 client, 22 satellites", decisions_ms("komet-live-cache", "one-to-one",
                                                                               40500, 900)),
            ("IoT: many-to-one 10 %, 30 clients, 1,584 satellites", decisions_ms("komet-iot", "many-to-one",
                                                                                  12200, args.steps))]
    print("| scheduler | decisions | median ms | p99 ms | max ms | max / lead time |")
    print("|---|---|---|---|---|---|")
    for name, d in rows:
        print(f"| {name} | {len(d)} | {np.median(d):.2f} | {np.percentile(d, 99):.2f} | {d.max():.2f} | "
              f"{d.max() / LEAD_MS:.1e} |")


if __name__ == "__main__":
    main()
