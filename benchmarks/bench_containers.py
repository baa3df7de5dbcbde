"""Container benchmarks: Docker-node start time, memory per node, pause/resume cost, and
what the info API adds (bring-up and request latency).

    sudo .venv/bin/python benchmarks/bench_containers.py              # 20, 60, 120 Docker nodes
    sudo .venv/bin/python benchmarks/bench_containers.py --sizes 20 --pauses 20

Each size is a full emulation run (backend none) of a Walker shell whose satellites are
all Docker nodes (holder + main container, busybox httpd), plus one run of the same
shell as bare namespaces for comparison. Memory is the drop of MemAvailable from before
bring-up to after it (so it includes dockerd/containerd bookkeeping and kernel memory),
divided by the node count. The machine is shared: timings are noisy.
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml  # noqa: E402

from leonet.containers.estimate import machine_memory_mb  # noqa: E402
from leonet.emulation import netns as nsmod  # noqa: E402
from leonet.emulation.run import EmulationRun  # noqa: E402
from leonet.launch import prepare_run  # noqa: E402
from machine import describe  # noqa: E402


def scenario(tmp: Path, planes: int, per_plane: int, docker: bool) -> str:
    raw = {"name": f"bench-{planes}x{per_plane}", "start": "2026-01-31T12:00:00Z",
           "shells": [{"name": "b", "walker": "delta", "planes": planes, "sats_per_plane": per_plane,
                       "altitude_km": 1200, "inclination_deg": 53}],
           "ground_stations": [],
           "emulation": {"nodes": "docker" if docker else "namespace", "backend": "none"},
           "containers": {"satellite": {"cpus": 0.1, "memory_mb": 32}}}
    path = tmp / f"{raw['name']}-{'docker' if docker else 'ns'}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def settle_memory() -> float:
    time.sleep(2.0)
    return machine_memory_mb()


def container_memory_mb(run_id: str) -> Dict[str, float]:
    """Memory the run's containers hold, measured directly (the machine's MemAvailable is
    too noisy when other work runs): the containers' cgroup RSS (v1 memory.stat) and
    the proportional set size (PSS) of their runtime shims."""
    import os
    from leonet.containers.docker_client import client
    ids = {c.id for c in client().containers.list(all=True, filters={"label": f"leonet.run={run_id}"})}
    rss = 0
    for cid in ids:
        try:
            for line in open(f"/sys/fs/cgroup/memory/docker/{cid}/memory.stat"):
                if line.startswith("total_rss "):
                    rss += int(line.split()[1])
        except OSError:
            pass
    pss = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
            if not cmd or not cmd[0].endswith(b"containerd-shim-runc-v2"):
                continue
            if b"-id" in cmd and cmd[cmd.index(b"-id") + 1].decode() in ids:
                for line in open(f"/proc/{entry}/smaps_rollup"):
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except (OSError, IndexError):
            pass
    return {"cgroup_rss_mb": rss / 2 ** 20, "shim_pss_mb": pss / 2 ** 20, "containers": len(ids)}


def info_latency_ms(run: EmulationRun, requests: int = 200) -> List[float]:
    """/self round trips from inside one node (a thread in its namespace)."""
    node = run.network.nodes[0]

    def ask() -> List[float]:
        out = []
        for _ in range(requests):
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection("169.254.169.254", 80, timeout=5)
            conn.request("GET", "/self")
            body = conn.getresponse().read()
            conn.close()
            out.append((time.perf_counter() - t0) * 1000)
            assert json.loads(body)["name"] == node.name
        return out
    worker = nsmod.NetnsThread()
    try:
        return worker.run(node.netns, ask)
    finally:
        worker.close()


def wait_for_idle_machine() -> None:
    """One run per machine: wait while another process's run is active (shared machines)."""
    from leonet.emulation import runstate
    from leonet.waiting import poll
    poll(lambda: runstate.active_run() is None, float("inf"), interval=2)


def one_run(path: str, pauses: int) -> Dict[str, float]:
    from leonet.errors import LeonetError
    while True:
        wait_for_idle_machine()
        before = settle_memory()
        run = prepare_run(path)
        t0 = time.perf_counter()
        try:
            run.start()
            break
        except LeonetError as exc:   # another session's run started meanwhile: wait for it
            run.stop()
            if "another leonet run" not in str(exc):
                raise
    total = time.perf_counter() - t0
    try:
        after = settle_memory()
        nodes = len(run.network.nodes)
        ext = run.extensions
        row: Dict[str, float] = {"nodes": nodes, "bringup_s": total, "memory_mb_per_node": (before - after) / nodes,
                                 "info_api_s": ext.timings.get("info_api_s", 0.0)}
        lat = info_latency_ms(run)
        row["info_p50_ms"] = statistics.median(lat)
        row["info_p99_ms"] = sorted(lat)[int(0.99 * len(lat)) - 1]
        if ext.docker is not None:
            mem = container_memory_mb(ext.run_id)
            row["container_mb_per_node"] = (mem["cgroup_rss_mb"] + mem["shim_pss_mb"]) / nodes
            row["shim_mb_per_container"] = mem["shim_pss_mb"] / max(1, mem["containers"])
            row["holders_s_per_node"] = ext.docker.timings["holders_s"] / nodes
            row["mains_s_per_node"] = ext.docker.timings["mains_s"] / nodes
            pause_ms, resume_ms = [], []
            for node in run.network.nodes[:pauses]:
                t = time.perf_counter()
                ext.actions.pause(node)
                pause_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                ext.actions.resume(node)
                resume_ms.append((time.perf_counter() - t) * 1000)
            row["pause_ms_p50"] = statistics.median(pause_ms)
            row["resume_ms_p50"] = statistics.median(resume_ms)
            t = time.perf_counter()      # the bounding box's way: all at once, one Docker listing
            ext.actions.pause_many(run.network.nodes)
            row["batch_pause_ms_per_node"] = (time.perf_counter() - t) * 1000 / nodes
            t = time.perf_counter()
            ext.actions.resume_many(run.network.nodes)
            row["batch_resume_ms_per_node"] = (time.perf_counter() - t) * 1000 / nodes
        t = time.perf_counter()
    finally:
        run.stop()
    row["teardown_s"] = time.perf_counter() - t
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20,60,120", help="Docker node counts (multiples of 10)")
    ap.add_argument("--pauses", type=int, default=20, help="nodes to pause and resume one by one")
    ap.add_argument("--out", default="results/bench_containers.json")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for docker in (True, False):
                row = one_run(scenario(Path(tmp), n // 10, 10, docker), args.pauses)
                row["kind"] = "docker" if docker else "namespace"
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": describe(), "rows": rows}, indent=1))
    print(f"machine: {describe()}\n")
    print("| nodes | kind | bring-up s | holder s/node | main s/node | MB/node (MemAvailable) | container MB/node (rss+shim PSS) | shim MB/container | pause ms | resume ms "
          "| batch pause/resume ms per node | info API bring-up s | /self p50 ms | p99 ms | teardown s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        def f(key: str, fmt: str = "{:.2f}") -> str:
            return fmt.format(r[key]) if key in r else "-"
        print(f"| {int(r['nodes'])} | {r['kind']} | {f('bringup_s', '{:.1f}')} | {f('holders_s_per_node')} | "
              f"{f('mains_s_per_node')} | {f('memory_mb_per_node', '{:.1f}')} | "
              f"{f('container_mb_per_node', '{:.1f}')} | {f('shim_mb_per_container', '{:.1f}')} | {f('pause_ms_p50', '{:.0f}')} | "
              f"{f('resume_ms_p50', '{:.0f}')} | {f('batch_pause_ms_per_node', '{:.0f}')} / "
              f"{f('batch_resume_ms_per_node', '{:.0f}')} | {f('info_api_s')} | {f('info_p50_ms')} | {f('info_p99_ms')} | "
              f"{f('teardown_s', '{:.1f}')} |")


if __name__ == "__main__":
    main()
