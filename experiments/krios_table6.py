"""Krios Table 6 on the live emulation: control-plane bytes between the control
station and the satellites for creating and for deleting 10, 50 and 100 pods (the
network cost of a handover's two halves; paper: ~200 B each, ~400 B per handover and
pod).

The embedded control plane runs in the control station's namespace; each satellite's
agent keeps its HTTPS connections to it over the emulated links. Bytes are the TCP
payload (TLS records) counted by the kernel on the plane's side of those connections
(``ss -ti``: bytes_acked + bytes_received), for the N satellites that receive a pod,
minus what the same connections carry in an idle window of the same length (leases
and status, renewed slowly here so the idle traffic is small). Pods are bound to
their nodes directly, like a handover's successor once scheduled. To tell where the
bytes go, the experiment also watches its pods and counts the watch events (and
their JSON size) of each creation and deletion: each of them also reaches the pod's
agent, which watches its node's pods.

    sudo flock /tmp/leonet-live.lock python experiments/krios_table6.py [--quick]
"""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from typing import Dict, List

import numpy as np
import yaml
from tqdm import tqdm

from krios_common import Stopwatch, matplotlib_agg, parser, print_table, save_figure, write_csv
from krios_live import SHELL1, SMALL_SHELL, Live, require_root, write_scenario

COUNTS = (10, 50, 100)
PAPER = {10: (2.3, 2.36), 50: (8.57, 10.0), 100: (21.0, 19.0)}   # KB (units not printed in the paper)
_BYTES = re.compile(r"bytes_(acked|received):(\d+)")


def plane_bytes(netns: str, port: int = 6443) -> Dict[str, int]:
    """Bytes so far per peer address on the plane's established connections."""
    out = subprocess.run(["ip", "netns", "exec", netns, "ss", "-tinH", "state", "established",
                          f"( sport = :{port} )"], capture_output=True, text=True, timeout=30).stdout
    totals: Dict[str, int] = {}
    peer = None
    for line in out.splitlines():
        if not line.startswith(("\t", " ")):
            parts = line.split()
            peer = parts[-1].rsplit(":", 1)[0] if parts else None
        elif peer:
            totals[peer] = totals.get(peer, 0) + sum(int(v) for _, v in _BYTES.findall(line))
    return totals


def delta(before: Dict[str, int], after: Dict[str, int], peers: List[str]) -> int:
    return sum(after.get(p, 0) - before.get(p, 0) for p in peers)


def pod(name: str, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"table6": "1"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": "krios-app", "command": ["sleep", "3600"]}]}}


async def wait_all(conn, predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        items = (await conn.list("v1", "pods", "default", labelSelector="table6"))["items"]
        if predicate(items):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("timed out")


def ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])


async def tally_events(conn, tally: Dict[str, int]) -> None:
    """Count the experiment's pods' watch events and their JSON bytes into ``tally``."""
    rv = (await conn.list("v1", "pods", "default", labelSelector="table6"))["metadata"]["resourceVersion"]
    while True:
        async for typ, obj in conn.watch("v1", "pods", "default", resource_version=rv, timeout_seconds=300,
                                         labelSelector="table6"):
            rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
            if typ != "BOOKMARK":
                tally["events"] += 1
                tally["bytes"] += len(json.dumps({"type": typ, "object": obj}, separators=(",", ":")))


async def all_of(coros) -> list:
    """Await every coroutine concurrently (in the loop :meth:`Live.call` runs them in)."""
    return await asyncio.gather(*coros)


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    require_root()
    watch = Stopwatch()
    counts = (5, 10) if args.quick else COUNTS
    shell = SMALL_SHELL if args.quick else SHELL1
    folder = args.out / "table6-run"
    scenario = write_scenario(folder, "krios-table6", shell, [], {}, max(counts) + 10)
    raw = yaml.safe_load(scenario.read_text())
    raw["controlplane"]["agents"].update(lease_duration_seconds=600, renew_interval=120, status_update_frequency=120)
    scenario.write_text(yaml.safe_dump(raw, sort_keys=False))
    rows = []
    with Live(scenario, 0.0, folder) as live:
        ns = live.run.node("Control").netns
        nodes = sorted(live.cluster.assignment)
        addr = {s: live.run.node(s).address for s in nodes}
        kube = {s: live.cluster.node_names[s] for s in nodes}
        tally = {"events": 0, "bytes": 0}
        watcher = asyncio.run_coroutine_threadsafe(tally_events(live.conn, tally), live.loop)
        time.sleep(5.0)
        for rep in tqdm(range(args.repeats), desc="repeats"):
            for n in counts:
                chosen = nodes[:n]
                peers = [addr[s] for s in chosen]
                b0, e0 = plane_bytes(ns), dict(tally)
                t0 = time.monotonic()
                live.call(all_of(live.conn.create("v1", "pods", pod(f"p{rep}-{n}-{k}", kube[s]), "default")
                                 for k, s in enumerate(chosen)))
                live.call(wait_all(live.conn, lambda items: len(items) == n and all(ready(x) for x in items)))
                time.sleep(2.0)
                b1, t1, e1 = plane_bytes(ns), time.monotonic(), dict(tally)
                live.call(all_of(live.conn.delete("v1", "pods", f"p{rep}-{n}-{k}", "default", {"gracePeriodSeconds": 0})
                                 for k in range(n)))
                live.call(wait_all(live.conn, lambda items: not items))
                time.sleep(2.0)
                b2, t2, e2 = plane_bytes(ns), time.monotonic(), dict(tally)
                time.sleep(max(t1 - t0, t2 - t1))      # an idle window as long as the longer of the two
                b3, t3 = plane_bytes(ns), time.monotonic()
                idle_rate = delta(b2, b3, peers) / (t3 - t2)
                create = delta(b0, b1, peers) - idle_rate * (t1 - t0)
                remove = delta(b1, b2, peers) - idle_rate * (t2 - t1)
                rows.append({"pods": n, "repeat": rep, "creation_kb": create / 1000, "deletion_kb": remove / 1000,
                             "creation_b_per_pod": create / n, "deletion_b_per_pod": remove / n,
                             "idle_b_per_s": idle_rate,
                             "creation_events_per_pod": (e1["events"] - e0["events"]) / n,
                             "creation_event_b_per_pod": (e1["bytes"] - e0["bytes"]) / n,
                             "deletion_events_per_pod": (e2["events"] - e1["events"]) / n,
                             "deletion_event_b_per_pod": (e2["bytes"] - e1["bytes"]) / n,
                             "paper_creation_kb": PAPER.get(n, (None,))[0],
                             "paper_deletion_kb": PAPER.get(n, (None, None))[1]})
        watcher.cancel()
    summary = []
    for n in counts:
        mine = [r for r in rows if r["pods"] == n]
        summary.append({"pods": n, **{k: float(np.median([r[k] for r in mine])) for k in
                                      ("creation_kb", "deletion_kb", "creation_b_per_pod", "deletion_b_per_pod",
                                       "idle_b_per_s", "creation_events_per_pod", "creation_event_b_per_pod",
                                       "deletion_events_per_pod", "deletion_event_b_per_pod")},
                        "paper_creation_kb": PAPER.get(n, (None,))[0], "paper_deletion_kb": PAPER.get(n, (None, None))[1],
                        "per_handover_b": float(np.median([r["creation_b_per_pod"] + r["deletion_b_per_pod"]
                                                           for r in mine])),
                        "paper_per_handover_b": 400})
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "table6.csv", rows, list(rows[0]))
    write_csv(args.out / "table6_summary.csv", summary, list(summary[0]))
    print(f"\nTable 6: control bytes between the control station and satellites (median of {args.repeats}; "
          f"{watch():.0f} s)")
    print_table(summary, list(summary[0]), "{:.2f}")

    plt = matplotlib_agg()
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(counts))
    ax.bar(x - 0.3, [s["creation_kb"] for s in summary], 0.2, label="creation (ours)")
    ax.bar(x - 0.1, [s["deletion_kb"] for s in summary], 0.2, label="deletion (ours)")
    ax.bar(x + 0.1, [s["paper_creation_kb"] or 0 for s in summary], 0.2, label="creation (paper)")
    ax.bar(x + 0.3, [s["paper_deletion_kb"] or 0 for s in summary], 0.2, label="deletion (paper)")
    ax.set_xticks(x, [str(n) for n in counts])
    ax.set_xlabel("pods")
    ax.set_ylabel("control bytes (kB)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title("Krios Table 6")
    save_figure(fig, args.out / "table6.png", args.out / "table6.csv", args.out / "table6_summary.csv")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
