"""Real-time run: a whole constellation at 1 s ticks, tick apply times and lag.

    sudo python benchmarks/bench_realtime.py [--scenario starlink-shell1] [--minutes 10]
        [--backend nfqueue]

Reports compute (waiting for the lookahead), apply and lag percentiles per minute,
so a growing lag shows; the target is apply p99 < 200 ms and no growing lag.
"""
from __future__ import annotations

import argparse
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
    args = ap.parse_args()
    run = prepare_run(args.scenario, backend=args.backend)
    print(f"machine: {describe()}")
    with run:
        t0 = time.perf_counter()
        run.start()
        print(f"{args.scenario}: {len(run.network.nodes)} nodes up in {time.perf_counter() - t0:.1f} s "
              f"({run.shaper.name} backend)")
        c = run.controller
        reports = []
        c.hooks.tick.append(lambda info: reports.append(info.report))
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
        print("where a tick's apply goes (ms p50 / p99) and what it changes (mean per tick):")
        for phase in ("diff", "links_added", "delays", "routes", "links_removed"):
            v = np.array([r.phase_ms.get(phase, 0.0) for r in reports])
            print(f"  {phase:>14}: {np.percentile(v, 50):7.1f} / {np.percentile(v, 99):7.1f}")
        for what in ("links_added", "links_removed", "delays_updated", "routes_changed"):
            print(f"  {what:>14}: {np.mean([getattr(r, what) for r in reports]):9.1f}")


if __name__ == "__main__":
    main()
