"""Per-pair (Celestial's model) vs hop-by-hop forwarding on Starlink shell 1: expected vs
measured RTT (RttProbe, the same harness for both) and the per-tick cost of keeping the
kernel equal to the engine, one mode after the other in the same process.

    sudo python benchmarks/bench_forwarding.py [--seconds 120] [--interval 0.1] [--backend auto]

The scenario is the demo's (shell 1, four stations on two continents) with a bounding box
over Europe and the North Atlantic: per-pair forwarding links the satellites inside it
and the stations; hop-by-hop forwarding runs the whole shell with all-pairs routes.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import describe  # noqa: E402

from leonet.emulation.validation import RttProbe, summarise  # noqa: E402
from leonet.launch import prepare_run  # noqa: E402
from leonet.orbits import Scenario  # noqa: E402

PAIRS = (("Berlin", "Madrid"), ("Berlin", "New-York"), ("Madrid", "New-York"))
BOX = {"lat_min_deg": 25, "lat_max_deg": 65, "lon_min_deg": -80, "lon_max_deg": 30}


def scenario(forwarding: str) -> Scenario:
    import yaml
    from leonet.orbits.scenario import scenario_path
    raw = yaml.safe_load(scenario_path("demo").read_text())
    raw["name"] = f"demo-{forwarding}"
    raw["ground_stations"] = [g for g in raw["ground_stations"] if g["name"] != "Sao-Paulo"]
    raw.setdefault("topology", {})["bounding_box"] = BOX
    raw["emulation"] = {"forwarding": forwarding}
    return Scenario.from_dict(raw)


def measure(forwarding: str, seconds: float, interval: float, backend: str) -> dict:
    run = prepare_run(scenario(forwarding), backend=backend)
    t0 = time.monotonic()
    with run:
        run.start()
        bringup = time.monotonic() - t0
        net = run.network
        links = len(net.links)
        routes = int((net.next_hop >= 0).sum())
        reports = []
        run.controller.hooks.tick.append(lambda info: reports.append(info))
        ticker = threading.Thread(target=run.controller.run, args=(seconds + 5,), daemon=True)
        ticker.start()
        probe = RttProbe(run, PAIRS, seconds, interval_s=interval)
        probe.start()
        samples = probe.wait()
        run.controller.stop()
        ticker.join()
        stats = run.controller.stats.summary()
        backend_name = run.shaper.name
        participants = int(np.sum(net.snapshot.active)) + len(run.constellation.ground_stations)
    s = summarise(samples)
    errs = np.array([x.error_ms for x in samples if x.error_ms is not None and not x.straddles])
    return {
        "forwarding": forwarding, "backend": backend_name, "bringup_s": round(bringup, 1),
        "nodes_taking_part": participants if forwarding == "per-pair" else len(run.engine.nodes),
        "links_installed": links, "routes_installed": routes,
        "ticks": int(stats["ticks"]), "apply_ms_p50": stats["apply_ms_p50"], "apply_ms_p99": stats["apply_ms_p99"],
        "apply_ms_max": stats["apply_ms_max"],
        "links_changed_per_tick": float(np.mean([r.report.links_added + r.report.links_removed for r in reports]))
        if reports else 0.0,
        "delays_updated_per_tick": float(np.mean([r.report.delays_updated for r in reports])) if reports else 0.0,
        "routes_changed_per_tick": float(np.mean([r.report.routes_changed for r in reports])) if reports else 0.0,
        "pings": int(s["samples"]), "lost": int(s["lost"]),
        "error_p25_ms": float(np.percentile(errs, 25)) if len(errs) else None,
        "error_p50_ms": float(np.median(errs)) if len(errs) else None,
        "abs_error_p95_ms": s.get("abs_error_p95_ms"), "abs_error_p99_ms": s.get("abs_error_p99_ms"),
        "within_1ms": s.get("within_1ms"), "within_4ms": s.get("within_4ms"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="probing time per mode")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--out", default="results/bench/forwarding.json")
    args = ap.parse_args()
    print(f"machine: {describe()}")
    rows = [measure(mode, args.seconds, args.interval, args.backend) for mode in ("per-pair", "hop-by-hop")]
    keys = list(rows[0])
    width = max(len(k) for k in keys)
    print(f"{'':{width}}  " + "  ".join(f"{r['forwarding']:>12}" for r in rows))
    for k in keys[1:]:
        cells = [r[k] for r in rows]
        print(f"{k:{width}}  " + "  ".join(f"{c:>12.3f}" if isinstance(c, float) else f"{str(c):>12}" for c in cells))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
