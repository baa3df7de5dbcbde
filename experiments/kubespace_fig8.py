"""KubeSpace Fig. 8 on the live emulation: pod recovery time after node pressure evicts a pod, per platform.

Each trial, as the paper's: a workload pod (a web server) runs on one satellite chosen at random; at a
random moment the satellite's node comes under memory pressure (the experiment sets it in the node's
agent). Then, the Kubernetes way, over the emulated links: the agent reports the MemoryPressure condition
(the plane taints the node ``node.kubernetes.io/memory-pressure:NoSchedule``) and evicts the pod (killed,
reported ``Failed``/``Evicted``); the pod's owner, a ReplicaSet-like controller beside the plane (a watch
from the plane's ground station; our control plane has no ReplicaSets), creates a replacement on the plane
that reported the eviction; that plane's scheduler binds it to one of the three satellites nearest the
evicted one that are Bound to it (required node affinity, the paper's "neighbouring satellite"); that
satellite's agent sees it through its pod watch, starts it and reports it Running and Ready. The recovery
time runs from the trigger to the plane's watch event of the replacement Running and Ready.

Emulated time runs meanwhile (handovers happen in the multi-plane platforms), and the trigger falls at a
random moment, so with the leave/rejoin baselines some trials overlap a handover (the paper's larger
spread for them).

    sudo python experiments/kubespace_fig8.py [--quick] [--platforms kubespace,single-plane,...]
        [--agents N] [--trials N] [--speed X] [--seed S] [--runtime docker|process]

Writes results/kubespace/fig8.csv (every trial), fig8_summary.json and fig8.png (mean and standard
deviation per platform, as the paper's Fig. 8). ``--quick``: the small Walker shell, 3 trials per platform.
"""
from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from kubespace_common import (PLATFORMS, PlaneWatches, Stopwatch, live_options, live_parser, live_scenario,
                              matplotlib_agg, measure_all, platform_run, print_results, save_figure, write_csv,
                              write_summary)
from kubespace_handover_cost import RUNTIMES, WEB_IMAGE, WEB_PORT, WWW
from kubespace_handover_timeline import Admin
from leonet.controlplane.binding import managed_here
from leonet.kubespace.runtime.service import KubeSpaceRuntime
from leonet.waiting import poll

PAPER_REDUCTION_VS_SINGLE = 0.12   # KubeSpace's mean recovery time, -12 % vs Krios (no absolute values)
NEIGHBOURS = 3
TRIAL_TIMEOUT_S = 60.0

QUICK, FULL = "kubespace,single-plane", "kubespace,single-plane,leave-rejoin,rejoin"   #: default platforms


def workload(name: str, node_affinity: List[str], runtime: str) -> dict:
    """The workload pod on one of ``node_affinity``: the static web server of Figs. 3(b) and 9(d), a
    ``leonet-web`` container (docker runtime) or busybox httpd serving the same folder (process runtime)."""
    expr = [{"key": "kubernetes.io/hostname", "operator": "In", "values": node_affinity}]
    c: Dict[str, Any] = {"name": "web", "image": WEB_IMAGE}
    if runtime == "process":
        c["command"] = ["busybox", "httpd", "-f", "-p", str(WEB_PORT), "-h", str(WWW)]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "fig8"}},
            "spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": expr}]}}}, "containers": [c]}}


def ready(pod: dict) -> bool:
    st = pod.get("status", {})
    return st.get("phase") == "Running" and any(c.get("type") == "Ready" and c.get("status") == "True"
                                                for c in st.get("conditions", []) or [])


class Owner:
    """The workload's controller (a ReplicaSet's part): when its pod is evicted on a plane, it creates the
    replacement there at once; it records when each pod was first seen Running and Ready, per plane."""

    def __init__(self, admin: Admin):
        self.admin = admin
        self.ready_at: Dict[str, tuple] = {}      # pod name -> (plane, node, monotonic)
        self.evicted_at: Dict[str, tuple] = {}    # pod name -> (plane, monotonic)
        self.replacement: Dict[str, dict] = {}    # evicted pod name -> the replacement to create
        self.errors: List[str] = []

    def on_event(self, gs: str, etype: str, pod: dict, t: float) -> None:
        name = pod["metadata"]["name"]
        if etype == "DELETED":
            return
        if ready(pod) and name not in self.ready_at:
            self.ready_at[name] = (gs, pod["spec"].get("nodeName"), t)
        failed = pod.get("status", {}).get("phase") == "Failed"
        if failed and name in self.replacement and name not in self.evicted_at:
            self.evicted_at[name] = (gs, t)
            body = self.replacement[name]
            asyncio.get_running_loop().create_task(self._create(gs, body))

    async def _create(self, gs: str, body: dict) -> None:
        try:
            await self.admin.conns[gs].create("v1", "pods", body, "default")
        except Exception as e:   # recorded: the trial then times out
            self.errors.append(f"{gs}: {e}")


def nearest_bound(admin: Admin, run: Any, victim_sat: str, by_node: Dict[str, str]) -> Dict[str, List[str]]:
    """Per plane, the ``NEIGHBOURS`` nodes Bound there that are nearest (path delay) to the victim."""
    snap = run.network.snapshot
    delay = snap.routes([victim_sat]).delay_ms[0]          # one shortest-path tree from the victim
    out = {}
    for gs in admin.conns:
        nodes = [n["metadata"]["name"] for n in admin.call(gs, "list", "v1", "nodes")["items"] if managed_here(n)]
        dist = []
        for n in nodes:
            sat = by_node.get(n)
            if sat is None or sat == victim_sat:
                continue
            d = float(delay[snap.node_index(sat)])
            if np.isfinite(d):
                dist.append((d, n))
        out[gs] = [n for _, n in sorted(dist)[:NEIGHBOURS]]
    return out


def delete_pods(admin: Admin, names: List[str]) -> None:
    for gs in admin.conns:
        for name in names:
            try:
                admin.call(gs, "delete", "v1", "pods", name, "default", {"gracePeriodSeconds": 0})
            except Exception:   # not on this plane
                pass


def measure(platform: str, args) -> Dict[str, Any]:
    from tqdm import tqdm
    raw = live_scenario(platform, args.quick, args.agents, args.planes, pod_runtime=args.runtime)
    watch = Stopwatch()
    rng = random.Random(args.seed)
    trials: List[Dict[str, Any]] = []
    with platform_run(platform, raw, args.speed) as (net, info):
        run, cluster = net.run, net.cluster
        admin = Admin(cluster)
        owner = Owner(admin)
        watches = PlaneWatches(admin, "v1", "pods", owner.on_event, namespace="default")
        watches.wait_started()
        by_node = {n: s for s, n in cluster.node_names.items()}
        ticker = threading.Thread(target=run.controller.run, args=(1e9,), daemon=True)   # stopped below
        offset0 = run.controller.current_offset_s
        ticker.start()
        for i in tqdm(range(args.trials), desc=f"{platform} trials", file=sys.stderr):
            victim = rng.choice(sorted(cluster.node_names))
            node = cluster.node_names[victim]
            name, repl = f"work-{i}", f"work-{i}-r"
            plane = cluster.current_assignment()[victim]
            row: Dict[str, Any] = {"platform": platform, "trial": i, "victim": victim}
            try:
                admin.call(plane, "create", "v1", "pods", workload(name, [node], args.runtime), "default")
            except Exception as e:
                row["error"] = f"create: {e}"
                trials.append(row)
                continue
            if not poll(lambda: name in owner.ready_at, TRIAL_TIMEOUT_S):
                row["error"] = "the workload did not start"
                trials.append(row)
                delete_pods(admin, [name])
                continue
            near = nearest_bound(admin, run, victim, by_node)
            owner.replacement[name] = workload(repl, sorted({n for ns in near.values() for n in ns}),
                                              args.runtime)
            time.sleep(rng.uniform(0.0, args.jitter))           # a random moment
            r = cluster.set_pressure(victim, {"MemoryPressure": True})
            row.update(plane=r["plane"], offset_s=round(run.controller.current_offset_s - offset0, 1),
                       evicted_by_agent=r["evicted"])
            got = poll(lambda: owner.ready_at.get(repl), TRIAL_TIMEOUT_S)
            if got:
                gs, new_node, t = got
                ev = owner.evicted_at.get(name)
                row.update(recovery_ms=(t - r["sent"]) * 1e3, replacement_plane=gs, replacement_node=new_node,
                           eviction_seen_ms=(ev[1] - r["sent"]) * 1e3 if ev else None,
                           victim_to_plane_ms=_delay(run, victim, gs),
                           replacement_to_plane_ms=_delay(run, by_node.get(new_node), gs),
                           neighbour_ms=_delay(run, victim, by_node.get(new_node)))
            else:
                row["error"] = "no replacement Running within %g s%s" % (
                    TRIAL_TIMEOUT_S, f" ({owner.errors[-1]})" if owner.errors else "")
            trials.append(row)
            cluster.set_pressure(victim, None)
            delete_pods(admin, [name, repl])
        run.controller.stop()
        ticker.join(30)
        info["emulated_s"] = round(run.controller.current_offset_s - offset0, 1)
        watches.stop()
        info["handovers"] = sum(r["outcome"] == "Finished" for r in KubeSpaceRuntime.of(run).handover_log(limit=0))
        admin.close()
    info["trials"] = trials
    info["wall_s"] = round(watch(), 1)
    return info


def _delay(run: Any, a: Optional[str], b: Optional[str]) -> Optional[float]:
    if not a or not b:
        return None
    p = run.network.snapshot.path(a, b)
    return float(p.delay_ms) if p.reachable else None


def main() -> int:
    p = live_parser(__doc__, FULL, QUICK)
    p.add_argument("--trials", type=int, help="pressure events per platform (default 10; quick 3)")
    p.add_argument("--jitter", type=float, default=3.0, help="random wait before each trigger, s (default 3)")
    p.add_argument("--seed", type=int, default=0, help="victims and trigger moments (default 0)")
    p.add_argument("--runtime", choices=RUNTIMES, help="pod runtime: docker (the web server as a container, the "
                                                       "paper's setting; default) or process (quick's default)")
    args = p.parse_args()
    platforms = live_options(args)
    q = args.quick
    args.runtime = args.runtime or ("process" if q else "docker")
    if args.runtime == "docker":
        from leonet.containers.images import ensure_images
        ensure_images([WEB_IMAGE])
    args.trials = args.trials or (3 if q else 10)
    if q:
        args.jitter = min(args.jitter, 1.0)
    watch = Stopwatch()
    runs, failed = measure_all(platforms, args)
    summary, rows = {}, []
    for platform, info in runs.items():
        rec = np.array([t["recovery_ms"] for t in info["trials"] if t.get("recovery_ms") is not None])
        summary[platform] = {k: v for k, v in info.items() if k != "trials"}
        summary[platform].update({
            "trials": len(info["trials"]), "recovered": int(len(rec)),
            "failed": [t.get("error") for t in info["trials"] if t.get("error")],
            "mean_ms": float(rec.mean()) if len(rec) else None, "std_ms": float(rec.std()) if len(rec) else None,
            "p50_ms": float(np.median(rec)) if len(rec) else None, "max_ms": float(rec.max()) if len(rec) else None})
    ks = summary.get("kubespace", {}).get("mean_ms")
    for platform, s in summary.items():
        vs = ""
        if platform != "kubespace" and ks and s["mean_ms"]:
            vs = f"{100 * (ks / s['mean_ms'] - 1):+.0f} %"
        rows.append({"platform": PLATFORMS[platform][0], "paper's": PLATFORMS[platform][1],
                     "recovered": f"{s['recovered']}/{s['trials']}", "mean ms": s["mean_ms"], "std": s["std_ms"],
                     "p50": s["p50_ms"], "max": s["max_ms"], "KubeSpace vs it": vs,
                     "paper": "-12 %" if platform == "single-plane" else ""})
    cols = ["platform", "trial", "victim", "plane", "offset_s", "evicted_by_agent", "eviction_seen_ms", "recovery_ms",
            "replacement_plane", "replacement_node", "victim_to_plane_ms", "replacement_to_plane_ms", "neighbour_ms",
            "error"]
    write_csv(args.out / "fig8.csv", [t for info in runs.values() for t in info["trials"]], cols)
    write_summary(args.out / "fig8_summary.json", args, {"speed": args.speed, "runtime": args.runtime}, summary,
                  failed, watch)
    print_results("Fig. 8: pod recovery time after node pressure (trigger -> replacement Running and Ready on the "
                  "plane)", rows, ["platform", "paper's", "recovered", "mean ms", "std", "p50", "max",
                                   "KubeSpace vs it", "paper"], failed)
    plot(args.out, runs)
    return 1 if failed else 0


def plot(out: Path, runs: Dict[str, Dict[str, Any]]) -> None:
    plt = matplotlib_agg()
    fig, ax = plt.subplots(figsize=(6, 4))
    names, means, stds = [], [], []
    for platform, info in runs.items():
        rec = [t["recovery_ms"] for t in info["trials"] if t.get("recovery_ms") is not None]
        names.append(PLATFORMS[platform][0])
        means.append(np.mean(rec) if rec else 0.0)
        stds.append(np.std(rec) if rec else 0.0)
        ax.plot([len(names) - 1] * len(rec), rec, ".", color="k", alpha=0.4)
    ax.bar(range(len(names)), means, yerr=stds, capsize=4, alpha=0.7)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("pod recovery time (ms)")
    ax.set_title("Fig. 8: memory pressure -> replacement Running on a neighbour", fontsize=9)
    save_figure(fig, out / "fig8.png", out / "fig8.csv", out / "fig8_summary.json")


if __name__ == "__main__":
    from common import run_main
    run_main(main)
