"""The control-plane scale run over the emulated network (needs root).

    sudo .venv/bin/python benchmarks/bench_controlplane_emulated.py                    # 1,584 agents, 10 planes
    sudo .venv/bin/python benchmarks/bench_controlplane_emulated.py --agents 200 --stations 3 --seconds 30

Starlink shell 1 (72 x 22 at 550 km, 53 deg) plus ground stations spread over the world, brought up as
a live emulation with the ``nfqueue`` delay backend; one control plane per ground station (a process
inside its namespace), one agent per satellite in one agents process, Kubernetes' default intervals.
Every API message crosses the emulated links. The controller ticks in real time (1 s steps) during
the steady state, so GSLs hand over and routes change under the agents' connections.

Records bring-up time, registration time, Ready nodes, agent errors, RSS and CPU of every process, and
tick timings; writes ``results/bench_controlplane_emulated.json`` and prints the figures as Markdown.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leonet.controlplane.agent_host import rss_mb  # noqa: E402
from leonet.controlplane.cluster import ControlPlaneCluster  # noqa: E402
from leonet.emulation import runstate  # noqa: E402
from leonet.emulation.run import EmulationRun  # noqa: E402
from leonet.launch import prepare_run  # noqa: E402

#: ground stations spread over the shell's latitudes (|lat| < 53 deg + the footprint)
STATIONS = [
    ("Berlin", 52.52, 13.405), ("Madrid", 40.42, -3.70), ("New-York", 40.71, -74.01),
    ("Sao-Paulo", -23.55, -46.64), ("Tokyo", 35.68, 139.69), ("Sydney", -33.87, 151.21),
    ("Johannesburg", -26.20, 28.05), ("Mumbai", 19.08, 72.88), ("Singapore", 1.35, 103.82),
    ("Los-Angeles", 34.05, -118.24), ("Lagos", 6.52, 3.38), ("Lima", -12.05, -77.04),
]


def scenario(n_stations: int, agents: Any, backend: str) -> Dict[str, Any]:
    return {
        "name": "controlplane-scale",
        "start": "2026-01-31T12:00:00Z",
        "defaults": {"min_elevation_deg": 25, "isl_bandwidth_mbps": 1000, "gsl_bandwidth_mbps": 1000},
        "shells": [{"name": "shell1", "walker": "delta", "planes": 72, "sats_per_plane": 22,
                    "altitude_km": 550, "inclination_deg": 53}],
        "ground_stations": [{"name": n, "lat_deg": lat, "lon_deg": lon} for n, lat, lon in STATIONS[:n_stations]],
        "topology": {"gsl": {"policy": "nearest"}},
        "emulation": {"backend": backend},
        "containers": {"info_api": False},
        "controlplane": {"ground_stations": "all", "agents": {"satellites": agents}},
    }


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ready_per_plane(cluster: ControlPlaneCluster) -> Dict[str, Dict[str, int]]:
    async def count() -> Dict[str, Dict[str, int]]:
        out = {}
        for gs in cluster.planes:
            conn = cluster.connection(gs)
            try:
                nodes = (await conn.list("v1", "nodes"))["items"]
            finally:
                await conn.close()
            ready = sum(1 for n in nodes for c in n["status"].get("conditions", [])
                        if c["type"] == "Ready" and c["status"] == "True")
            out[gs] = {"nodes": len(nodes), "ready": ready}
        return out
    return asyncio.run(count())


def processes(run: EmulationRun, cluster: ControlPlaneCluster) -> Dict[str, List[int]]:
    procs = {"run": [os.getpid()], "planes": [p.pid for p in cluster.planes.values() if p.pid]}
    if cluster.agents is not None and cluster.agents.pid != os.getpid():
        procs["agents"] = [cluster.agents.pid]
    daemon = getattr(run.shaper, "daemon_pid", None)
    if daemon:
        procs["delay daemon"] = [daemon]
    return procs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", default="all", help="satellites with an agent: all or a count (spread evenly)")
    p.add_argument("--stations", type=int, default=10, help=f"ground stations with a control plane (<= {len(STATIONS)})")
    p.add_argument("--seconds", type=float, default=60, help="steady state after registration (wall seconds)")
    p.add_argument("--backend", default="nfqueue", choices=("nfqueue", "netem", "none"))
    p.add_argument("--no-tick", action="store_true", help="freeze the topology during the steady state")
    p.add_argument("--out", type=Path, default=Path("results/bench_controlplane_emulated.json"))
    a = p.parse_args()
    agents = "all" if a.agents == "all" else int(a.agents)
    res: Dict[str, Any] = {"backend": a.backend, "stations": a.stations}
    with tempfile.TemporaryDirectory(prefix="leonet-bench-cp-") as tmp:
        path = Path(tmp) / "scale.yaml"
        path.write_text(yaml.safe_dump(scenario(a.stations, agents, a.backend)))
        while runstate.active_run() is not None:   # shared machines: wait for other runs
            time.sleep(2)
        run = prepare_run(str(path))
        cluster = ControlPlaneCluster.of(run)
        with run:
            t0 = time.monotonic()
            run.start()
            res["bring_up_s"] = round(time.monotonic() - t0, 1)
            res["controlplane_start"] = dict(cluster.timings)
            res["agents"] = len(cluster.assignment)
            per_plane: Dict[str, int] = {}
            for gs in cluster.assignment.values():
                per_plane[gs] = per_plane.get(gs, 0) + 1
            res["agents_per_plane"] = per_plane
            print(f"up in {res['bring_up_s']} s; {res['agents']} agents registering", file=sys.stderr)
            reg = cluster.wait_registered(1800)
            res["register_s"] = reg["seconds"]
            res["rss_after_registration_mb"] = {k: round(sum(rss_mb(x) for x in v), 1)
                                                for k, v in processes(run, cluster).items()}
            print(f"registered in {reg['seconds']} s; steady state for {a.seconds} s", file=sys.stderr)
            procs = processes(run, cluster)
            cpu0 = {k: sum(cpu_s(x) for x in v) for k, v in procs.items()}
            s0 = cluster.stats()
            ticker = None
            if not a.no_tick:
                ticker = threading.Thread(target=run.controller.run, args=(a.seconds,), daemon=True)
                ticker.start()
                ticker.join()
            else:
                time.sleep(a.seconds)
            s1 = cluster.stats()
            cpu1 = {k: sum(cpu_s(x) for x in v) for k, v in procs.items()}
            res["steady_s"] = a.seconds
            res["ready"] = ready_per_plane(cluster)
            res["nodes_ready"] = sum(v["ready"] for v in res["ready"].values())
            res["agent_errors_steady"] = s1["errors"] - s0["errors"]
            res["agent_errors_total"] = s1["errors"]
            res["lease_renewals_steady"] = s1["lease_renewals"] - s0["lease_renewals"]
            res["rss_mb"] = {k: round(sum(rss_mb(x) for x in v), 1) for k, v in procs.items()}
            res["rss_planes_max_mb"] = round(max(rss_mb(x) for x in procs["planes"]), 1)
            res["total_rss_mb"] = round(sum(res["rss_mb"].values()), 1)
            res["controlplane_rss_mb"] = round(sum(v for k, v in res["rss_mb"].items() if k in ("planes", "agents")), 1)
            res["cpu_share_steady"] = {k: round((cpu1[k] - cpu0[k]) / a.seconds, 2) for k in procs}
            if not a.no_tick:
                st = run.controller.stats.summary()
                res["ticks"] = {"count": int(st["ticks"]), "apply_ms_p50": round(st["apply_ms_p50"], 1),
                                "apply_ms_p99": round(st["apply_ms_p99"], 1), "lag_ms_p99": round(st["lag_ms_p99"], 1),
                                "gsl_handovers": len(run.controller.handovers)}
            t1 = time.monotonic()
        res["teardown_s"] = round(time.monotonic() - t1, 1)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    print(f"\n| figure | value |\n|---|---|\n"
          f"| bring-up (namespaces, links, routes, shaping, planes, agents handed over) | {res['bring_up_s']} s |\n"
          f"| control planes started | {res['controlplane_start'].get('planes_s')} s |\n"
          f"| registration of all {res['agents']} nodes over the emulated links | {res['register_s']} s |\n"
          f"| nodes Ready at the end | {res['nodes_ready']} / {res['agents']} |\n"
          f"| agent errors in the steady state / lease renewals | {res['agent_errors_steady']} / "
          f"{res['lease_renewals_steady']} |\n"
          f"| RSS: agents / planes (max one) / run / delay daemon | {res['rss_mb'].get('agents')} / "
          f"{res['rss_mb']['planes']} ({res['rss_planes_max_mb']}) / {res['rss_mb']['run']} / "
          f"{res['rss_mb'].get('delay daemon')} MB |\n"
          f"| CPU share in the steady state (cores) | {res['cpu_share_steady']} |\n"
          f"| ticks | {res.get('ticks')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
