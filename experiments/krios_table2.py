"""Krios Table 2's shape on the live emulation: p95/p99 of the worst-case client
latency for the Great Smoky Mountains trail-map server (50 km zone) and the oil-rig
heartbeat aggregators (two 5 km zones 135 km apart), deployed four ways:

* **GS edge**: the app on a ground station near the zone (bent pipe: client ->
  satellite -> station and back; 0 satellite instances);
* **Kubernetes**: one instance on a satellite the stock scheduler picks (location
  unaware), no handovers;
* **naive**: an instance on 30 % of shell 1 (475 satellites, spread evenly); the
  zone's clients reach one that is in the region (the experiment moves the zone's
  name to such an instance every half second, as an anycast would). Only the naive
  instances that pass over a zone during the window run (the others could not serve
  it); the instance count reported is the design's 475;
* **Krios**: the scheduler and proactive handovers, with the aggregator's state
  handed over through its Krios volume (§5.3); the heartbeats lost in handovers are
  counted.

The paper's map is ~100 MB; ours is ``--map-bytes`` (default 1 MB) so that a request
a second stays within what one machine can forward (the ratio between deployments,
not the absolute time, is the comparable figure).

    sudo flock /tmp/leonet-live.lock python experiments/krios_table2.py [--quick] [--minutes 20]
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np

from krios_common import Stopwatch, matplotlib_agg, parser, print_table, save_figure, write_csv
from krios_live import (APPS, SHELL1, SMALL_SHELL, Live, agent_satellites, annotate_paths, heartbeat_pod,
                        instance_nodes, read_requests, require_root, static_pod, worst_case_per_second, write_scenario,
                        zone_stations)
from leonet.krios.manager import ZoneManager
from leonet.krios.replication import uniform_selection
from leonet.krios.zones import Zone
from leonet.orbits import build_constellation, load_scenario
from leonet.topology import TopologyEngine

ZONES = {"smokies": Zone("smokies", 35.6118, -83.4895, 50.0, 25.0),
         "rig-a": Zone("rig-a", 28.17, -89.22, 5.0, 25.0),
         "rig-b": Zone("rig-b", 28.17, -90.596, 5.0, 25.0)}
#: ground stations hosting the GS-edge baseline, about 200 km from the zones
EDGES = [{"name": "EdgeSmokies", "lat_deg": 33.749, "lon_deg": -84.388},      # Atlanta
         {"name": "EdgeGulf", "lat_deg": 29.951, "lon_deg": -90.072}]         # New Orleans
EDGE_OF = {"smokies": "EdgeSmokies", "rig-a": "EdgeGulf", "rig-b": "EdgeGulf"}
PORTS = {"smokies": 8100, "rig-a": 8200, "rig-b": 8300}
DEPLOYMENTS = ("gs", "k8s", "naive", "krios")
PAPER = {  # (p95, p99) ms; instances per app
    ("smokies", "gs"): (1600, 1928), ("smokies", "k8s"): (13780, 18746), ("smokies", "naive"): (1144, 1164),
    ("smokies", "krios"): (1144, 1164), ("rig", "gs"): (37.8, 37.6), ("rig", "k8s"): (667, 667.2),
    ("rig", "naive"): (19.2, 19.5), ("rig", "krios"): (19.2, 19.3)}
PAPER_INSTANCES = {"gs": None, "k8s": 1, "naive": 475, "krios": 1.03}


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, help="emulated minutes (default 20; --quick: 3)")
    p.add_argument("--map-bytes", type=int, default=1_000_000, help="size of the trail map (default 1 MB)")
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--speed", type=float, default=1.0)
    args = p.parse_args()
    require_root()
    watch = Stopwatch()
    duration = (args.minutes or (3.0 if args.quick else 20.0)) * 60.0
    shell = SMALL_SHELL if args.quick else SHELL1
    stations = zone_stations("Smokies", ZONES["smokies"], 2 if args.quick else 4) + \
        zone_stations("RigA", ZONES["rig-a"], 0) + zone_stations("RigB", ZONES["rig-b"], 0) + EDGES
    clients = {"smokies": [s["name"] for s in stations if s["name"].startswith("Smokies")],
               "rig-a": ["RigA"], "rig-b": ["RigB"]}
    zones_raw = {k: {"lat_deg": z.lat_deg, "lon_deg": z.lon_deg, "radius_km": z.radius_km} for k, z in ZONES.items()}
    folder = args.out / "table2-run"
    c = build_constellation(load_scenario(str(write_scenario(folder, "krios-table2", shell, stations, zones_raw, []))))
    manager = ZoneManager(c)
    naive_set = set(uniform_selection(c.num_satellites, int(round(0.3 * c.num_satellites))).tolist())
    passing = {k: {p.satellite for p in manager.passes(z, args.start, duration + 120)} for k, z in ZONES.items()}
    naive = {k: sorted(passing[k] & naive_set) for k in ZONES}
    agents = agent_satellites(c, ZONES.values(), args.start, duration, extra=10 if args.quick else 60)
    scenario = write_scenario(folder, "krios-table2", shell, stations, zones_raw, agents)
    print(f"Table 2: {c.num_satellites} satellites, {len(agents)} agents, naive instances running "
          f"{ {k: len(v) for k, v in naive.items()} } of {len(naive_set)}, {duration / 60:g} emulated minutes", flush=True)

    edge_procs = []
    with Live(scenario, args.start, folder, speed=args.speed) as live:
        print(f"  bring-up {live.timings['bring_up_s']:.0f} s, registration {live.timings['registration_s']:.0f} s",
              flush=True)
        pods = []
        for k in ZONES:
            make = (lambda name, port, **kw: static_pod(name, port, k, size=args.map_bytes, **kw)) if k == "smokies" \
                else (lambda name, port, **kw: heartbeat_pod(name, port, k, **kw))
            live.create(make(f"{k}-k8s", PORTS[k] + 1, scheduler="default-scheduler", handover="none"))
            live.create(make(f"{k}-krios", PORTS[k] + 3))
            pods += [f"{k}-k8s", f"{k}-krios"]
            for sat in naive[k]:
                name = f"{k}-naive-{c.satellites[sat].name}"
                live.create(make(name, PORTS[k] + 2, scheduler="default-scheduler", handover="none",
                                 node=c.satellites[sat].name))
                pods.append(name)
            edge = live.run.node(EDGE_OF[k])
            cmd = [sys.executable, str(APPS / ("static_server.py" if k == "smokies" else "heartbeat.py")),
                   "--port", str(PORTS[k])]
            if k == "smokies":
                cmd += ["--size", str(args.map_bytes)]
            edge_procs.append(subprocess.Popen(["ip", "netns", "exec", edge.netns, *cmd], stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL, env={"POD_NAME": f"{k}-gs", "PATH": "/usr/bin:/bin",
                                                                               "KRIOS_STATE_DIR": str(folder / f"{k}-gs")}))
        live.wait_ready(pods, timeout=600)
        records = live.run.extensions.model.records
        ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in live.pods()}
        for k in ZONES:   # the GS edge's and the naive deployment's names
            records.set(f"{k}-gs.default.krios", [live.run.node(EDGE_OF[k]).address], 1)
        stop = threading.Event()

        def anycast() -> None:
            """Point each zone's naive name at a naive instance in its region (longest remaining stay)."""
            while not stop.is_set():
                now = live.offset_now()
                for k, z in ZONES.items():
                    # in the region (if any) and staying longest; else the nearest to it
                    best = max(naive[k], key=lambda s: (manager.margin(z, s, now)[0] >= 0,
                                                        manager.margin(z, s, now + 20.0)[0]), default=None)
                    if best is not None:
                        records.set(f"{k}-naive.default.krios", [ips[f"{k}-naive-{c.satellites[best].name}"]], 1)
                stop.wait(0.5)
        threading.Thread(target=anycast, daemon=True).start()
        first = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in live.pods()}
        logs = []
        for k in ZONES:
            targets = [f"{d}=http://{k}-{d}.default.krios.leonet:{PORTS[k] + i}/" for i, d in enumerate(DEPLOYMENTS)]
            logs += live.start_clients(clients[k], targets, interval=1.0, tag=f"-{k}",
                                       heartbeat=None if k == "smokies" else k)
        time.sleep(2.0)
        t0 = live.run_for(duration)
        live.stop_clients()
        stop.set()
        handovers = live.krios.handovers()
        held = {}
        for k in ("rig-a", "rig-b"):    # what the final Krios instance of each rig holds
            final = [p for p in live.pods() if p["metadata"]["labels"].get("krios.leonet.io/app") == f"{k}-krios"
                     and not p["metadata"].get("deletionTimestamp")]
            held[k] = _held(live, final[-1]["status"]["podIP"], PORTS[k] + 3, f"{k}-RigA" if k == "rig-a" else
                            f"{k}-RigB") if final else None
    for proc in edge_procs:
        proc.terminate()
        proc.wait(10)

    rows_all = read_requests(logs)
    nodes = instance_nodes(handovers, first)
    nodes.update({f"{k}-gs": EDGE_OF[k] for k in ZONES})
    annotate_paths(rows_all, TopologyEngine(c), nodes)
    out_rows = []
    for k in ZONES:
        kind = "smokies" if k == "smokies" else "rig"
        for d in DEPLOYMENTS:
            mine = [r for r in rows_all if r["target"] == d and r["client"] in clients[k]]
            per = worst_case_per_second(mine, d)
            secs = [s for s in per if t0 <= s < t0 + duration]
            worst = np.array([per[s]["worst_ms"] for s in secs if per[s]["failed"] == 0])
            net_per: dict = {}
            for r in mine:
                if r.get("net_ms") is not None and t0 <= r["t_offset"] < t0 + duration:
                    sec = int(np.floor(r["t_offset"]))
                    net_per[sec] = max(net_per.get(sec, 0.0), r["net_ms"])
            net = np.array(list(net_per.values()))
            timing = _split_timings([r for r in mine if r["ok"] and r.get("t_offset") is not None
                                     and t0 <= r["t_offset"] < t0 + duration])
            hs = [h for h in handovers if h["app"] == f"{k}-{d}" and h["outcome"] == "done"]
            overlap = sum(h["wall"]["deleted"] - h["wall"]["created"] for h in hs)
            instances = {"gs": 0, "k8s": 1, "naive": 475,
                         "krios": 1 + overlap / (duration / args.speed)}[d]
            p95, p99 = (float(np.percentile(worst, q)) if len(worst) else None for q in (95, 99))
            paper = PAPER[(kind, d)]
            out_rows.append({"zone": k, "deployment": d, "p95_ms": p95, "p99_ms": p99,
                             "net_p95_ms": float(np.percentile(net, 95)) if len(net) else None,
                             "net_p99_ms": float(np.percentile(net, 99)) if len(net) else None,
                             "paper_p95_ms": paper[0],
                             "paper_p99_ms": paper[1], "failed": int(sum(per[s]["failed"] for s in secs)),
                             "seconds": len(secs), "instances": instances, "paper_instances": PAPER_INSTANCES[d],
                             "handovers": len(hs), **timing})
        krios = next(r for r in out_rows if r["zone"] == k and r["deployment"] == "krios")
        for r in out_rows:
            if r["zone"] == k and r["p99_ms"] and krios["p99_ms"]:
                r["p99_vs_krios"] = r["p99_ms"] / krios["p99_ms"]
            if r["zone"] == k and r["net_p99_ms"] and krios["net_p99_ms"]:
                r["net_p99_vs_krios"] = r["net_p99_ms"] / krios["net_p99_ms"]
            paper_k = PAPER[(kind, "krios")][1]
            if r["zone"] == k:
                r["paper_p99_vs_krios"] = PAPER[(kind, r["deployment"])][1] / paper_k
    lost = {}
    for k in ("rig-a", "rig-b"):
        acked = {r["seq"] for r in rows_all if r["target"] == "krios" and r["client"] in clients[k] and r["ok"]}
        lost[k] = None if held.get(k) is None else len(acked - set(held[k]))
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "table2.csv", out_rows, list(out_rows[0]))
    print(f"\nTable 2 shape: worst-case latency p95/p99 (ms), {duration / 60:g} emulated minutes ({watch():.0f} s wall)")
    print_table(out_rows, ["zone", "deployment", "p95_ms", "paper_p95_ms", "p99_ms", "paper_p99_ms", "p99_vs_krios",
                           "paper_p99_vs_krios", "failed", "instances", "paper_instances", "handovers"], "{:.2f}")
    print("\nthe network's share (two round trips of each request's path, no processing):")
    print_table(out_rows, ["zone", "deployment", "net_p95_ms", "net_p99_ms", "net_p99_vs_krios", "paper_p99_vs_krios"],
                "{:.2f}")
    print("\nwhere a request's time goes (all successful requests): until the response's headers (connect + "
          "request + the server's turn) and reading the body (the document's transfer):")
    print_table(out_rows, ["zone", "deployment", "ttfb_p50_ms", "ttfb_p99_ms", "body_p50_ms", "body_p99_ms",
                           "body_mbit_s_p50"], "{:.2f}")
    print(f"heartbeats acknowledged by Krios instances but missing from the final instance's volume: {lost}")

    plt = matplotlib_agg()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, k in zip(axes, ZONES):
        rows = [r for r in out_rows if r["zone"] == k]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r["p95_ms"] or 0 for r in rows], 0.4, label="p95")
        ax.bar(x + 0.2, [r["p99_ms"] or 0 for r in rows], 0.4, label="p99")
        ax.set_xticks(x, [r["deployment"] for r in rows])
        ax.set_yscale("log")
        ax.set_title(k)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("worst-case latency (ms)")
    fig.suptitle("Krios Table 2 on the live emulation")
    save_figure(fig, args.out / "table2.png", args.out / "table2.csv")
    return 0


def _split_timings(rows) -> dict:
    """Median and p99 of the time to the response's headers and of the body's read,
    and the body's median rate (Mbit/s), over successful requests."""
    ttfb = np.array([r["ttfb_ms"] for r in rows if r.get("ttfb_ms") is not None])
    body = np.array([r["total_ms"] - r["ttfb_ms"] for r in rows if r.get("ttfb_ms") is not None])
    nbytes = np.array([r["bytes"] for r in rows if r.get("ttfb_ms") is not None])
    if not len(ttfb):
        return {k: None for k in ("ttfb_p50_ms", "ttfb_p99_ms", "body_p50_ms", "body_p99_ms", "body_mbit_s_p50")}
    rate = nbytes * 8 / np.maximum(body, 1e-3) / 1000.0      # bits per ms / 1000 = Mbit/s
    return {"ttfb_p50_ms": float(np.median(ttfb)), "ttfb_p99_ms": float(np.percentile(ttfb, 99)),
            "body_p50_ms": float(np.median(body)), "body_p99_ms": float(np.percentile(body, 99)),
            "body_mbit_s_p50": float(np.median(rate))}


def _held(live, ip: str, port: int, sensor: str):
    """The heartbeat sequence numbers a rig's final instance holds for one sensor (asked from the zone)."""
    import json
    out = subprocess.run(["ip", "netns", "exec", live.run.node(sensor.split("-", 2)[-1]).netns, "curl", "-sf",
                          f"http://{ip}:{port}/hb/{sensor}"], capture_output=True, text=True, timeout=20)
    return json.loads(out.stdout) if out.returncode == 0 else None


if __name__ == "__main__":
    from common import run_main
    run_main(main)
