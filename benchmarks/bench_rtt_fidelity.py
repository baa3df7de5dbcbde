"""End-to-end delay fidelity: measured RTT minus the engine's expected RTT over
multi-hop ground-station paths, across GSL handovers, in a live emulation.

    sudo python benchmarks/bench_rtt_fidelity.py [--scenario demo] [--seconds 120]
        [--interval 0.1] [--backend auto] [--anchoring on|off|both]

Targets (issue 4): |error| <= 1 ms for 99% of pings with nfqueue, <= 0.2 ms with netem.
Celestial's quick start: 95% within 4 ms.
"""
from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from leonet.demo import PAIRS  # noqa: E402
from leonet.launch import prepare_run  # noqa: E402
from leonet.emulation.validation import RttProbe, summarise, write_csv  # noqa: E402


def report(samples, pairs) -> None:
    s = summarise(samples)
    print(f"  {int(s['samples'])} pings, {int(s['counted'])} counted, {int(s['lost'])} lost, "
          f"{sum(x.straddles for x in samples)} straddling a route change (left out)")
    for a, b in pairs:
        errs = np.array([x.error_ms for x in samples if (x.source, x.target) == (a, b)
                         and x.error_ms is not None and not x.straddles])
        if len(errs):
            print(f"    {a}-{b}: median {np.median(errs):+.3f} ms, |err| p99 {np.percentile(np.abs(errs), 99):.3f} ms")
    if "abs_error_p99_ms" in s:
        print(f"  all: median {s['error_p50_ms']:+.3f} ms, |error| p95 {s['abs_error_p95_ms']:.3f}, "
              f"p99 {s['abs_error_p99_ms']:.3f}, max {s['abs_error_max_ms']:.3f} ms; "
              f"{100 * s['within_1ms']:.1f}% within 1 ms, {100 * s['within_4ms']:.1f}% within 4 ms "
              f"(Celestial: 95% within 4 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="demo")
    ap.add_argument("--seconds", type=float, default=120.0, help="per mode")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--anchoring", choices=("on", "off", "both"), default="both",
                    help="nfqueue only: anchor packets along their path; 'both' runs the "
                         "hop-by-hop baseline after it in the same run")
    ap.add_argument("--csv", default="results/bench/rtt_fidelity.csv")
    args = ap.parse_args()
    run = prepare_run(args.scenario, backend=args.backend)
    print(f"machine: {describe()}")
    results = []
    with run:
        run.start()
        backend = run.shaper.name
        modes = {"on": [True], "off": [False], "both": [True, False]}[args.anchoring]
        if backend != "nfqueue":
            modes = [None]
        ticker = threading.Thread(target=run.controller.run, args=(len(modes) * (args.seconds + 5) + 2,),
                                  daemon=True)
        ticker.start()
        for mode in modes:
            if mode is not None:
                run.shaper.set_anchoring(mode)
            probe = RttProbe(run, PAIRS, args.seconds, interval_s=args.interval)
            probe.start()
            results.append((mode, probe.wait()))
        run.controller.stop()
        ticker.join()
        handovers = len(run.controller.handovers)
    print(f"{args.scenario}, {backend} backend, {len(modes)} x {args.seconds:.0f} s, {handovers} GSL handovers")
    for mode, samples in results:
        label = {None: backend, True: "anchoring on (default)", False: "anchoring off (hop by hop, baseline)"}[mode]
        print(label)
        report(samples, PAIRS)
    write_csv(results[0][1], Path(args.csv))


if __name__ == "__main__":
    main()
