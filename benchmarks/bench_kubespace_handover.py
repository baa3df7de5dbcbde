"""KubeSpace handover runtime: handovers per second one control plane processes, and the satellite
daemon's CPU and memory per satellite (no root needed: everything on loopback, so the figures are the
software's cost without any emulated delay).

    .venv/bin/python benchmarks/bench_kubespace_handover.py                      # both parts
    .venv/bin/python benchmarks/bench_kubespace_handover.py throughput --burst 200
    .venv/bin/python benchmarks/bench_kubespace_handover.py daemons --agents 1584 --planes 10 --seconds 60

**throughput**: two control planes (processes, with the KubeSpace plug-in), ``--burst`` agents (one
process) registered on the first, each running a pod; all their daemons start a handover to the second
plane at once, then all come back. Reports handovers per second (the burst over the time from the first
request to the last Released) and the source plane's CPU per handover. Baseline in the same run: the
same agents moved by the control plane's plain hot swap (``swap_connection``: register on the new plane,
switch, delete on the old; no request, no transfer, no binding states, pods not moved).

**daemons**: ``--agents`` agents on ``--planes`` planes in one agents process (Starlink shell 1's TLEs
and ``--planes`` of KubeSpace's CNPA stations); RSS and CPU of that process without daemons (the
baseline), then with a daemon per agent (schedules computed with CNAA over 12 h, the emulated clock
advancing in real time so that predicted handovers happen) over ``--seconds``.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leonet.controlplane.agent_host import rss_mb  # noqa: E402
from leonet.controlplane.agents_process import AgentsProcess  # noqa: E402
from leonet.controlplane.pki import ClusterCA, cert_pem, key_pem, write_private  # noqa: E402
from leonet.controlplane.server import ControlPlaneProcess  # noqa: E402
from leonet.kubespace.runtime.clock import ClockWriter  # noqa: E402
from leonet.orbits import load_constellation  # noqa: E402
from leonet.orbits.tle import format_tle  # noqa: E402

#: ten control-plane sites (CNPA's choice for shell 1, K = 10, seed 0; see docs/results/kubespace.md)
SITES = [("Cali", 3.44, -76.52), ("Surabaya", -7.25, 112.75), ("Wagin", -33.31, 117.34),
         ("Molokai", 21.13, -157.02), ("Clevedon", -36.99, 175.05), ("Tel-Aviv", 32.08, 34.78),
         ("Punta-Arenas", -53.16, -70.91), ("St-John", 47.56, -52.71), ("Haerbin", 45.80, 126.53),
         ("Durban", -29.86, 31.03)]


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Planes:
    """Control-plane processes on loopback with the KubeSpace plug-in, sharing one CA."""

    def __init__(self, tmp: Path, names: List[str]):
        self.tmp = tmp
        self.ca = ClusterCA.create()
        self.clock = ClockWriter(tmp / "clock.json", load_constellation("kubespace-starlink").start, 1.0, 1.0)
        self.clock.tick(0.0)
        self.api = {n: free_port() for n in names}
        self.sync = {n: free_port() for n in names}
        self.procs: Dict[str, ControlPlaneProcess] = {}
        for n in names:
            d = tmp / n
            d.mkdir()
            write_private(d / "ca.key", key_pem(self.ca.key))
            (d / "ca.crt").write_bytes(cert_pem(self.ca.cert))
            cfg = {"name": n, "peers": {m: f"https://127.0.0.1:{self.sync[m]}" for m in names if m != n},
                   "sync_port": self.sync[n], "clock": str(tmp / "clock.json"), "binding_timeout_s": 120}
            (d / "kubespace.json").write_text(json.dumps(cfg))
            self.procs[n] = ControlPlaneProcess(
                d, port=self.api[n], name=n, log_path=d / "log",
                extra_args=["--node-monitor-grace-period", "120", "--plugin",
                            f"leonet.kubespace.runtime.plane:plane_plugin={d / 'kubespace.json'}"]).spawn()
        for p in self.procs.values():
            p.wait_ready(60)

    def urls(self) -> Dict[str, str]:
        return {n: f"https://127.0.0.1:{p}" for n, p in self.api.items()}

    def stop(self) -> None:
        for p in self.procs.values():
            p.stop()


def start_agents(tmp: Path, planes: Planes, assignment: Dict[str, str], tles: Dict[str, List[str]],
                 pods: bool) -> AgentsProcess:
    agents = AgentsProcess(tmp / "agents.log").start()
    agents.call("init", planes=planes.urls(), ca=planes.ca.pem.decode(),
                config={"lease_duration_seconds": 40, "renew_interval": 10, "status_update_frequency": 10},
                request_timeout=10.0, register_concurrency=64)
    specs = []
    for node, plane in assignment.items():
        cert, key = planes.ca.issue_client(f"system:node:{node}", ["system:nodes"])
        specs.append({"name": node, "address": "127.0.0.1", "netns": None, "plane": plane, "cert": cert.decode(),
                      "key": key.decode()})
    agents.call("add", agents=specs)
    agents.call("wait_registered", reply_timeout=1800, timeout=1800)
    if pods:
        import asyncio
        from leonet.controlplane.agent import ApiConnection

        async def create() -> None:
            conns = {n: ApiConnection.from_kubeconfig(planes.tmp / n / "kubeconfig") for n in planes.api}
            for node, plane in assignment.items():
                await conns[plane].create("v1", "pods", {
                    "metadata": {"name": f"p-{node}", "namespace": "default"},
                    "spec": {"nodeName": node, "containers": [{"name": "m", "image": "process",
                                                               "command": ["sleep", "3600"]}]}}, "default")
            for c in conns.values():
                await c.close()
        asyncio.run(create())
    return agents


def daemon_args(planes: Planes, names: List[str], tles: Dict[str, List[str]], auto: bool,
                concurrency: int = 32) -> Dict[str, Any]:
    sites = {n: (la, lo) for n, la, lo in SITES}
    return {"planes": {n: {"lat_deg": sites[n][0], "lon_deg": sites[n][1]} for n in names},
            "satellites": {node: {"satellite": node, "tle": tle} for node, tle in tles.items()},
            "scenario_start": load_constellation("kubespace-starlink").start.isoformat(),
            "assignment": {"window_s": 43200, "sample_interval_s": 60, "decision_interval_s": 1, "threshold": 0.9,
                           "interpolation": "cubic"},
            "runtime": {"auto": auto, "max_concurrent_handovers": concurrency, "binding_timeout_s": 120},
            "clock": str(planes.tmp / "clock.json"), "log_path": str(planes.tmp / "handovers.jsonl")}


def nearest(tles: Dict[str, List[str]], names: List[str]) -> Dict[str, str]:
    from sgp4.api import Satrec
    from leonet.kubespace.assignment import ControlNode
    from leonet.kubespace.runtime.schedule import nearest_plane
    sites = {n: (la, lo) for n, la, lo in SITES}
    nodes = [ControlNode(n, *sites[n]) for n in names]
    start = load_constellation("kubespace-starlink").start
    out = {}
    for sat, (l1, l2) in tles.items():
        d = nearest_plane(Satrec.twoline2rv(l1, l2), nodes, start)
        out[sat] = min(d, key=d.get)
    return out


def satellites(n: int) -> Dict[str, List[str]]:
    c = load_constellation("kubespace-starlink")
    step = max(1, c.num_satellites // n)
    out = {}
    for i in range(0, c.num_satellites, step)[:n]:
        sat = c.satellites[i].name
        out[sat] = format_tle(sat, c.satrecs[i]).splitlines()[1:3]
    return out


def throughput(a: argparse.Namespace) -> Dict[str, Any]:
    import concurrent.futures as cf
    names = [SITES[0][0], SITES[1][0]]
    src, dst = names
    with tempfile.TemporaryDirectory(prefix="leonet-bench-ks-") as tmp:
        planes = Planes(Path(tmp), names)
        tles = satellites(a.burst)
        agents = start_agents(Path(tmp), planes, {n: src for n in tles}, tles, pods=True)
        time.sleep(3)
        agents.call("plugin", spec="leonet.kubespace.runtime.daemon_host:daemon_host",
                    args=daemon_args(planes, names, tles, auto=False, concurrency=10000))
        out: Dict[str, Any] = {"burst": a.burst}

        def burst(target: str, op: str) -> Dict[str, Any]:
            pid, tpid = planes.procs[src].pid, planes.procs[target].pid
            c0, t0, a0, d0 = cpu_s(pid), time.monotonic(), cpu_s(agents.pid), cpu_s(tpid)
            with cf.ThreadPoolExecutor(max_workers=min(a.burst, 256)) as pool:
                if op == "kubespace":
                    results = list(pool.map(lambda n: agents.call("kubespace_handover", node=n, target=target,
                                                                  reply_timeout=600), tles))
                    ok = sum(r["outcome"] == "Finished" for r in results)
                    durations = sorted(r["duration_s"] for r in results if r["duration_s"])
                else:
                    results = list(pool.map(lambda n: agents.call("swap", node=n, plane=target, reply_timeout=600),
                                            tles))
                    ok, durations = len(results), sorted(r["seconds"] for r in results)
            wall = time.monotonic() - t0
            per = lambda c: round(c / max(ok, 1) * 1e3, 2)  # noqa: E731
            return {"ok": ok, "wall_s": round(wall, 2), "per_s": round(ok / wall, 1),
                    "source_cpu_ms_per_handover": per(cpu_s(pid) - c0),
                    "target_cpu_ms_per_handover": per(cpu_s(tpid) - d0),
                    "agents_process_cpu_ms_per_handover": per(cpu_s(agents.pid) - a0),
                    "latency_ms_p50": round(durations[len(durations) // 2] * 1e3, 1) if durations else None,
                    "latency_ms_max": round(durations[-1] * 1e3, 1) if durations else None}

        out["kubespace_out"] = burst(dst, "kubespace")       # src processes the requests
        src, dst = dst, src
        out["kubespace_back"] = burst(dst, "kubespace")
        src, dst = dst, src
        out["plane_only"] = plane_only(planes, src, dst, list(tles))
        out["baseline_hot_swap_out"] = burst(dst, "swap")
        agents.close()
        planes.stop()
    return out


def plane_only(planes: Planes, src: str, dst: str, nodes: List[str]) -> Dict[str, Any]:
    """Steps 4-8 alone: requests created at once by a client, the source's HRController validates,
    transfers (to the target over the channel) and finishes them; until the last is Finished."""
    import asyncio
    from leonet.controlplane.agent import ApiConnection
    from leonet.kubespace.runtime import resources as R

    async def go() -> Dict[str, Any]:
        admin = ApiConnection.from_kubeconfig(planes.tmp / src / "kubeconfig")
        pid, tpid = planes.procs[src].pid, planes.procs[dst].pid
        c0, d0, t0 = cpu_s(pid), cpu_s(tpid), time.monotonic()
        await asyncio.gather(*(admin.create(R.API_VERSION, R.PLURAL, R.handover_request(
            f"bench-{n}", n, src, dst, "benchmark", None, None)) for n in nodes))
        while True:
            items = (await admin.list(R.API_VERSION, R.PLURAL))["items"]
            done = [h for h in items if h["metadata"]["name"].startswith("bench-") and R.phase(h) in
                    (R.FINISHED, R.FAILED)]
            if len(done) == len(nodes):
                break
            await asyncio.sleep(0.05)
        wall = time.monotonic() - t0
        finished = sum(R.phase(h) == R.FINISHED for h in done)
        await admin.close()
        return {"requests": len(nodes), "finished": finished, "wall_s": round(wall, 2),
                "per_s": round(finished / wall, 1),
                "source_cpu_ms_per_request": round((cpu_s(pid) - c0) / len(nodes) * 1e3, 2),
                "target_cpu_ms_per_request": round((cpu_s(tpid) - d0) / len(nodes) * 1e3, 2)}
    return asyncio.run(go())


def daemons(a: argparse.Namespace) -> Dict[str, Any]:
    names = [s[0] for s in SITES[:a.planes]]
    with tempfile.TemporaryDirectory(prefix="leonet-bench-ks-") as tmp:
        planes = Planes(Path(tmp), names)
        tles = satellites(a.agents)
        assign = nearest(tles, names)   # each on its nearest plane at the start, as the runtime does
        agents = start_agents(Path(tmp), planes, assign, tles, pods=False)
        pid = agents.pid
        time.sleep(5)
        out: Dict[str, Any] = {"agents": len(tles), "planes": len(names), "seconds": a.seconds}

        clock_zero = time.monotonic()

        def steady() -> Dict[str, float]:
            """The emulated clock advances in real time (from 0 when the agents registered)."""
            c0, t0 = cpu_s(pid), time.monotonic()
            while time.monotonic() < t0 + a.seconds:
                planes.clock.tick(float(int(time.monotonic() - clock_zero)))
                time.sleep(1.0)
            return {"rss_mb": round(rss_mb(pid), 1), "cpu_cores": round((cpu_s(pid) - c0) / (time.monotonic() - t0), 4)}

        out["agents_only"] = steady()
        c0, t0 = cpu_s(pid), time.monotonic()
        agents.call("plugin", spec="leonet.kubespace.runtime.daemon_host:daemon_host",
                    args=daemon_args(planes, names, tles, auto=True))
        while not agents.call("kubespace_ready"):
            time.sleep(0.2)
        out["schedules"] = {"seconds": round(time.monotonic() - t0, 2), "cpu_s": round(cpu_s(pid) - c0, 2)}
        out["with_daemons"] = steady()
        st = agents.call("kubespace_stats")
        out["handovers_during"] = {k: st[k] for k in ("started", "finished", "failed")}
        reasons: Dict[str, int] = {}
        for r in agents.call("kubespace_log", limit=0):
            if r["outcome"] != "Finished":
                reasons[r["failure_reason"]] = reasons.get(r["failure_reason"], 0) + 1
        out["handovers_during"]["failure_reasons"] = reasons
        n = len(tles)
        out["per_satellite"] = {
            "rss_kb": round((out["with_daemons"]["rss_mb"] - out["agents_only"]["rss_mb"]) * 1024 / n, 1),
            "cpu_ms_per_s": round((out["with_daemons"]["cpu_cores"] - out["agents_only"]["cpu_cores"]) * 1e3 / n, 4),
            "schedule_cpu_ms": round(out["schedules"]["cpu_s"] * 1e3 / n, 2)}
        agents.close()
        planes.stop()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", nargs="?", default="all", choices=("all", "throughput", "daemons"))
    p.add_argument("--burst", type=int, default=200, help="handovers started at once (throughput)")
    p.add_argument("--agents", type=int, default=1584, help="agents with a daemon (daemons)")
    p.add_argument("--planes", type=int, default=10, help="control planes (daemons, <= 10)")
    p.add_argument("--seconds", type=float, default=60.0, help="steady state per phase (daemons)")
    p.add_argument("--out", type=Path, default=Path("results/bench_kubespace_handover.json"))
    a = p.parse_args()
    res: Dict[str, Any] = {"nproc": os.cpu_count()}
    if a.part in ("all", "throughput"):
        res["throughput"] = throughput(a)
        print(json.dumps(res["throughput"], indent=1), flush=True)
    if a.part in ("all", "daemons"):
        res["daemons"] = daemons(a)
        print(json.dumps(res["daemons"], indent=1), flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
