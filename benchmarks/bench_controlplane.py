"""Control-plane benchmarks: API throughput/latency, watch fan-out, agent memory, and the scale run.

    python benchmarks/bench_controlplane.py all                 # everything, 1,584 agents / 10 planes
    python benchmarks/bench_controlplane.py scale --agents 200 --planes 2 --seconds 30
    python benchmarks/bench_controlplane.py api --clients 50 --seconds 10

Control planes run as subprocesses (``python -m leonet.controlplane.server``), agents in one child
process on one asyncio loop, clients in this process, so no two roles share an event loop. Results go
to ``results/bench_controlplane.json``; the figures are printed as Markdown.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leonet.controlplane.agent import AgentConfig, ApiConnection, NodeAgent  # noqa: E402
from leonet.controlplane.pki import ClusterCA  # noqa: E402
from leonet.controlplane.server import ControlPlaneProcess  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(xs: List[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_planes(n: int, root: Path) -> List[ControlPlaneProcess]:
    return [ControlPlaneProcess(root / f"gs{i}", port=0, name=f"gs{i}").start(60) for i in range(n)]


# --- API throughput / latency -----------------------------------------------------------------
async def _api(url_kc: Path, clients: int, seconds: float) -> Dict[str, float]:
    admin = ApiConnection.from_kubeconfig(url_kc)
    for i in range(clients):
        await admin.create("v1", "nodes", {"metadata": {"name": f"n{i}"}, "status": {}})
    lat: List[float] = []
    stop = time.monotonic() + seconds

    async def worker(i: int) -> None:
        conn = ApiConnection.from_kubeconfig(url_kc)
        k = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            await conn.patch("v1", "nodes", f"n{i}", {"status": {"conditions": [
                {"type": "Ready", "status": "True",  # a new time on every update, as the kubelet posts
                 "lastHeartbeatTime": f"2026-01-31T{k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d}Z"}]}},
                subresource="status")
            lat.append(time.perf_counter() - t0)
            k += 1
        await conn.close()
    t0 = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    dt = time.monotonic() - t0
    await admin.close()
    return {"clients": clients, "seconds": round(dt, 1), "requests": len(lat),
            "throughput_rps": round(len(lat) / dt, 1), "p50_ms": round(pct(lat, 50) * 1e3, 2),
            "p99_ms": round(pct(lat, 99) * 1e3, 2)}


async def _fanout(kc: Path, watchers: int, updates: int, interval: float) -> Dict[str, float]:
    admin = ApiConnection.from_kubeconfig(kc)
    await admin.create("v1", "nodes", {"metadata": {"name": "hot"}, "status": {}})
    sent: Dict[str, float] = {}
    delays: List[float] = []
    ready = 0
    received = 0

    async def watcher() -> None:
        nonlocal ready, received
        conn = ApiConnection.from_kubeconfig(kc)
        lst = await conn.list("v1", "nodes", fieldSelector="metadata.name=hot")
        rv = lst["metadata"]["resourceVersion"]
        ready += 1
        async for t, obj in conn.watch("v1", "nodes", resource_version=rv, fieldSelector="metadata.name=hot",
                                       timeout_seconds=600):
            now = time.perf_counter()
            tag = obj.get("metadata", {}).get("annotations", {}).get("seq")
            if t == "MODIFIED" and tag in sent:
                delays.append(now - sent[tag])
                received += 1
                if tag == str(updates - 1):
                    break
        await conn.close()
    tasks = [asyncio.get_running_loop().create_task(watcher()) for _ in range(watchers)]
    while ready < watchers:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    for k in range(updates):
        sent[str(k)] = time.perf_counter()
        await admin.patch("v1", "nodes", "hot", {"metadata": {"annotations": {"seq": str(k)}}})
        await asyncio.sleep(interval)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    dt = time.monotonic() - t0
    await admin.close()
    return {"watchers": watchers, "updates": updates, "events_delivered": received,
            "events_per_s": round(received / dt, 1), "p50_ms": round(pct(delays, 50) * 1e3, 2),
            "p99_ms": round(pct(delays, 99) * 1e3, 2)}


# --- agents in a child process ---------------------------------------------------------------
async def _agents_child(planes: List[str], count: int, seconds: float, default_intervals: bool) -> None:
    """Run ``count`` agents spread over the planes (data dirs); print JSON lines of progress."""
    raise_nofile()
    cfg = AgentConfig() if default_intervals else AgentConfig(renew_interval=2, status_update_frequency=2)
    cas, urls = [], []
    for d in planes:
        cas.append(ClusterCA.load_or_create(Path(d)))
        kc = json.loads(json.dumps(__import__("yaml").safe_load((Path(d) / "kubeconfig").read_text())))
        urls.append(kc["clusters"][0]["cluster"]["server"])
    agents = []
    t0 = time.monotonic()
    for i in range(count):
        j = i % len(planes)
        cert, key = cas[j].issue_client(f"system:node:sat-{i}", ["system:nodes"])
        conn = ApiConnection(urls[j], cas[j].pem, cert_pem=cert, key_pem=key)
        agents.append(await NodeAgent(f"sat-{i}", conn, config=cfg, address=f"10.{i // 250}.{i % 250}.1").start())
        if i % 50 == 49:
            await asyncio.sleep(0)   # let registrations progress while creating the rest
    await asyncio.wait_for(asyncio.gather(*(a.wait_registered(600) for a in agents)), 900)
    reg = time.monotonic() - t0
    print(json.dumps({"registered": count, "seconds": round(reg, 1), "rss_mb": rss_mb(os.getpid())}), flush=True)
    await asyncio.sleep(seconds)
    errors = sum(a.stats["errors"] for a in agents)
    renewals = sum(a.stats["lease_renewals"] for a in agents)
    print(json.dumps({"steady": True, "rss_mb": rss_mb(os.getpid()), "errors": errors, "renewals": renewals,
                      "cpu_s": round(sum(os.times()[:2]), 1)}), flush=True)
    for a in agents:
        await a.stop(stop_pods=False)


def spawn_agents(planes: List[ControlPlaneProcess], count: int, seconds: float,
                 default_intervals: bool = True) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "_agents", "--planes", ",".join(str(p.kubeconfig.parent) for p in planes),
           "--count", str(count), "--seconds", str(seconds)]
    if not default_intervals:
        cmd.append("--fast")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def read_json_line(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("agent child died")
    return json.loads(line)


def bench_memory(agents: int, procs: int, root: Path) -> Dict[str, float]:
    """RSS of ``agents`` agents in one process vs ``procs`` processes of one agent each (extrapolated)."""
    planes = start_planes(1, root / "mem")
    try:
        one = spawn_agents(planes, agents, 3, default_intervals=False)
        r = read_json_line(one)
        in_one = r["rss_mb"]
        read_json_line(one)
        one.wait()
        singles = [spawn_agents(planes, 1, 3, default_intervals=False) for _ in range(procs)]
        rss = [read_json_line(p)["rss_mb"] for p in singles]
        for p in singles:
            read_json_line(p)
            p.wait()
        per_proc = statistics.mean(rss)
        return {"agents": agents, "one_process_rss_mb": round(in_one, 1),
                "one_process_per_agent_mb": round(in_one / agents, 2),
                "separate_process_rss_mb_each": round(per_proc, 1),
                "separate_processes_extrapolated_mb": round(per_proc * agents, 1)}
    finally:
        for p in planes:
            p.stop()


def bench_scale(agents: int, n_planes: int, seconds: float, root: Path) -> Dict[str, float]:
    raise_nofile()
    planes = start_planes(n_planes, root / "scale")
    try:
        t0 = time.monotonic()
        child = spawn_agents(planes, agents, seconds)
        reg = read_json_line(child)
        steady = read_json_line(child)
        plane_rss = [rss_mb(p.pid) for p in planes]
        ready = 0
        for p in planes:
            out = subprocess.run([sys.executable, "-c", (
                "import asyncio,sys;from leonet.controlplane.agent import ApiConnection as A\n"
                "async def m():\n c=A.from_kubeconfig(sys.argv[1]);l=await c.list('v1','nodes');await c.close()\n"
                " print(sum(1 for n in l['items'] for x in n['status']['conditions'] if x['type']=='Ready' "
                "and x['status']=='True'))\nasyncio.run(m())"), str(p.kubeconfig)], capture_output=True, text=True)
            ready += int(out.stdout.strip() or 0)
        child.wait(120)
        total = steady["rss_mb"] + sum(plane_rss)
        return {"agents": agents, "planes": n_planes, "register_s": reg["seconds"],
                "steady_s": seconds, "nodes_ready": ready, "agent_errors": steady["errors"],
                "lease_renewals": steady["renewals"], "agents_process_rss_mb": round(steady["rss_mb"], 1),
                "planes_rss_mb": round(sum(plane_rss), 1), "planes_rss_mb_max": round(max(plane_rss), 1),
                "total_rss_mb": round(total, 1), "agent_process_cpu_s": steady["cpu_s"],
                "wall_s": round(time.monotonic() - t0, 1)}
    finally:
        for p in planes:
            p.stop()


def machine() -> Dict[str, str]:
    model = ""
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "kernel": platform.release()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["all", "api", "fanout", "memory", "scale", "_agents"])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--watchers", type=int, default=200)
    p.add_argument("--updates", type=int, default=200)
    p.add_argument("--agents", type=int, default=1584)
    p.add_argument("--planes", default="10", help="number of control planes (or data dirs, for _agents)")
    p.add_argument("--procs", type=int, default=10, help="memory: one-agent processes to measure")
    p.add_argument("--mem-agents", type=int, default=200)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--fast", action="store_true")
    p.add_argument("--out", type=Path, default=Path("results/bench_controlplane.json"))
    a = p.parse_args()
    if a.what == "_agents":
        asyncio.run(_agents_child(a.planes.split(","), a.count, a.seconds, not a.fast))
        return 0
    raise_nofile()
    res: Dict[str, object] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="leonet-bench-") as tmp:
        root = Path(tmp)
        if a.what in ("all", "api", "fanout"):
            planes = start_planes(1, root / "api")
            try:
                if a.what in ("all", "api"):
                    res["api_status_updates"] = asyncio.run(_api(planes[0].kubeconfig, a.clients,
                                                                 min(a.seconds, 15)))
                    res["api_plane_rss_mb"] = round(rss_mb(planes[0].pid), 1)
                if a.what in ("all", "fanout"):
                    res["watch_fanout"] = asyncio.run(_fanout(planes[0].kubeconfig, a.watchers, a.updates, 0.02))
            finally:
                for pl in planes:
                    pl.stop()
        if a.what in ("all", "memory"):
            res["memory"] = bench_memory(a.mem_agents, a.procs, root)
        if a.what in ("all", "scale"):
            res["scale"] = bench_scale(a.agents, int(a.planes), a.seconds, root)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
