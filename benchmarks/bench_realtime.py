"""Real-time run: a whole constellation at 1 s ticks, tick apply times and lag.

    sudo python benchmarks/bench_realtime.py [--scenario starlink-shell1] [--minutes 10]
        [--backend nfqueue] [--route-nexthops objects|inline] [--hysteresis-ms 0] [--check]
        [--routes all|ground-stations|bounding-box] [--route-groups none|slot] [--group-slots 3]

Reports compute (waiting for the lookahead), apply and lag percentiles per minute,
so a growing lag shows; the target is apply p99 < 200 ms and no growing lag. Also the
lookahead worker's own time per stage, the bring-up time per stage, the kernel operations
per tick (routes put or deleted plus next-hop objects written) and the memory the run
took; ``--check`` ends with the routing self-check (``leonet check``) on the last tick's
tables.
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from leonet.launch import prepare_run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="starlink-shell1")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--route-nexthops", choices=("objects", "inline"), default=None)
    ap.add_argument("--hysteresis-ms", type=float, default=None, help="emulation.route_hysteresis_ms")
    ap.add_argument("--routes", choices=("all", "ground-stations", "bounding-box"), default=None)
    ap.add_argument("--route-groups", choices=("none", "slot"), default=None, help="emulation.route_groups")
    ap.add_argument("--group-slots", type=int, default=None, help="emulation.route_group_slots")
    ap.add_argument("--forwarding-table", choices=("kernel", "ebpf"), default=None,
                    help="emulation.forwarding_table (kernel routes, or one BPF map)")
    ap.add_argument("--check", action="store_true", help="run the routing self-check at the end")
    ap.add_argument("--unfreeze", action="store_true",
                    help="baseline: let the garbage collector scan what bring-up built (a run freezes it)")
    args = ap.parse_args()
    run = prepare_run(args.scenario, backend=args.backend, route_nexthops=args.route_nexthops,
                      route_hysteresis_ms=args.hysteresis_ms, routes=args.routes, route_groups=args.route_groups,
                      route_group_slots=args.group_slots, forwarding_table=args.forwarding_table)
    print(f"machine: {describe()}")
    cfg = run.config
    print(f"route_nexthops {cfg.route_nexthops}, route_hysteresis_ms {cfg.route_hysteresis_ms}, routes {cfg.routes}, "
          f"route_groups {cfg.route_groups} ({cfg.route_group_slots} slots), forwarding_table {cfg.forwarding_table}")
    stages = {}
    last = [time.perf_counter(), None]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if last[1] is not None and last[1] != stage:
            stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
            last[0] = now
        last[1] = stage

    with run:
        mem0 = _used_mb()
        t0 = time.perf_counter()
        last[0] = t0
        run.start(progress=progress)
        up = time.perf_counter() - t0
        if last[1] is not None:
            stages[last[1]] = stages.get(last[1], 0.0) + time.perf_counter() - last[0]
        print(f"{args.scenario}: {len(run.network.nodes)} nodes up in {up:.1f} s "
              f"({run.shaper.name} backend); " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
        print(f"memory: host used +{_used_mb() - mem0:,.0f} MB after bring-up")
        if args.unfreeze:
            gc.unfreeze()
        print(f"garbage collector: {gc.get_freeze_count():,} objects frozen after bring-up")
        pauses = CollectorPauses()
        c = run.controller
        reports, worker = [], []
        c.hooks.tick.append(lambda info: (reports.append(info.report), worker.append(info.worker_ms)))
        with pauses:
            c.run(args.minutes * 60.0)
        s = c.stats
        print(f"{'minute':>6} {'apply p50':>10} {'apply p99':>10} {'compute p99':>12} {'lag p50':>8} {'lag max':>8}")
        per = int(60 / c.step_s)
        for m in range(0, len(s.apply_ms), per):
            a = np.array(s.apply_ms[m:m + per]); cm = np.array(s.compute_ms[m:m + per])
            lg = np.array(s.lag_ms[m:m + per])
            print(f"{m // per + 1:>6} {np.percentile(a, 50):>10.1f} {np.percentile(a, 99):>10.1f} "
                  f"{np.percentile(cm, 99):>12.1f} {np.percentile(lg, 50):>8.1f} {lg.max():>8.1f}")
        total = s.summary()
        print(f"all: {int(total['ticks'])} ticks, apply p50 {total['apply_ms_p50']:.1f} ms, "
              f"p99 {total['apply_ms_p99']:.1f} ms; lag p99 {total['lag_ms_p99']:.1f} ms, "
              f"max {total['lag_ms_max']:.1f} ms; {len(c.handovers)} GSL handovers")
        worst = np.argsort(np.array(s.lag_ms))[::-1][:3]
        slowest = [int(k) for k in np.argsort(np.array(s.apply_ms))[::-1][:3]]
        print("slowest applies: " + "; ".join(
            f"#{k + 1} {s.apply_ms[k]:.1f} ms (" + ", ".join(f"{p} {v:.0f}" for p, v in reports[k].phase_ms.items()
                                                             if v >= 1) + ")"
            for k in slowest if k < len(reports)))
        print("latest ticks: " + "; ".join(
            f"#{int(k) + 1} lag {s.lag_ms[k]:.1f} ms, apply {s.apply_ms[k]:.1f} ms ("
            + ", ".join(f"{p} {v:.0f}" for p, v in reports[k].phase_ms.items() if v >= 1) + ")"
            for k in worst if k < len(reports)))
        print("where a tick's apply goes (ms p50 / p99) and what it changes (mean per tick):")
        for phase in ("diff", "links_added", "delays", "routes", "links_removed"):
            v = np.array([r.phase_ms.get(phase, 0.0) for r in reports])
            print(f"  {phase:>14}: {np.percentile(v, 50):7.1f} / {np.percentile(v, 99):7.1f}")
        print("the lookahead worker's time per tick (ms p50 / p99), off the critical path:")
        for stage in ("snapshot", "routes", "changes"):
            v = np.array([w.get(stage, 0.0) for w in worker])
            print(f"  {stage:>14}: {np.percentile(v, 50):7.1f} / {np.percentile(v, 99):7.1f}")
        for what in ("links_added", "links_removed", "delays_updated", "routes_changed", "route_operations"):
            v = np.array([getattr(r, what) for r in reports])
            print(f"  {what:>16}: {v.mean():9.1f} (p99 {np.percentile(v, 99):.0f})")
        print(pauses.summary())
        print(f"memory: host used +{_used_mb() - mem0:,.0f} MB at the end")
        if args.check:
            t = time.perf_counter()
            check = run.network.self_check()
            print(f"self-check in {time.perf_counter() - t:.1f} s: {check.problems} problems")
            print(check.report())


class CollectorPauses:
    """The garbage collector's passes in this process while in the ``with`` block."""

    def __init__(self) -> None:
        self.ms = {0: [], 1: [], 2: []}
        self._t = 0.0

    def __enter__(self) -> "CollectorPauses":
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.ms[info["generation"]].append((time.perf_counter() - self._t) * 1e3)

    def summary(self) -> str:
        full = self.ms[2]
        young = self.ms[0] + self.ms[1]
        return (f"garbage collector during the ticks: {len(full)} full passes (max {max(full, default=0):.1f} ms, "
                f"total {sum(full):.0f} ms), {len(young)} young passes (max {max(young, default=0):.1f} ms)")


def _used_mb() -> float:
    """The host's used memory (MemTotal - MemAvailable), MB: other processes disturb it."""
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = float(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024.0


if __name__ == "__main__":
    main()
