"""KubeSpace's seamless handover on the live emulation (§IV-A, Figs. 5-6; the zero-invisibility claim of
§V): Starlink shell 1, the 10 control planes CNPA chooses among the 316 candidate sites, an agent, a
KubeSpace daemon and a web pod on every satellite, CNAA-driven handovers for 15 emulated minutes.

Measures the number of handovers, their duration (request created to Released committed on the source),
node invisibility (an invisibility probe samples every plane every 100 ms), pod restarts (every pod's
process before and after), HTTP failures (GET every 100 ms of the pods of the satellites predicted to
hand over first, from a ground station), and the emulation's tick lag; draws the 17-step timeline of one
real handover (the one of median duration) and the distribution of durations.

    sudo python experiments/kubespace_handover_timeline.py [--quick] [--duration S] [--speed X]
        [--agents N] [--planes A,B,...] [--max-wall S]

``--quick``: a small Walker shell (8 x 10 at 1,200 km), three planes CNPA chooses among six stations,
two emulated minutes at 4x speed (about a minute of wall time).
"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import yaml

from common import run_main
from kubespace_common import (DAY_S, Stopwatch, load, matplotlib_agg, parser, path_tensor, print_table,
                              require_root, save_figure, write_csv)
from leonet.controlplane.cluster import ControlPlaneCluster
from leonet.kubespace import cnpa
from leonet.kubespace.runtime.probes import HttpProbe, InvisibilityProbe, ProbeProcess, plane_endpoints
from leonet.kubespace.runtime.resources import STEPS
from leonet.kubespace.runtime.service import KubeSpaceRuntime
from leonet.orbits.scenario import scenario_path

HTTP_PORT = 8080
PAPER = {"invisibility_s": 0.0, "pod_downtime_s": 0.0,
         "note": "handover latency -84 % / -79 % vs Karmada / Multi-KubeEdge (measured by the baselines issue)"}


def full_scenario(args, planes: List[Any]) -> Dict[str, Any]:
    raw = yaml.safe_load(scenario_path("kubespace-starlink").read_text(encoding="utf-8"))
    return {
        "name": "kubespace-handover-shell1", "start": raw["start"], "defaults": raw["defaults"],
        "shells": raw["shells"], "topology": raw["topology"],
        "ground_stations": [{"name": g.name, "lat_deg": float(g.lat_deg), "lon_deg": float(g.lon_deg),
                             "alt_m": float(g.alt_m)} for g in planes],
        "emulation": {"backend": "nfqueue"},
        "containers": {"info_api": False},
        "controlplane": {"agents": {"satellites": args.agents}},
        "kubespace": {"assignment": raw["kubespace"]["assignment"],
                      "runtime": {"enabled": True, "planes": [g.name for g in planes]}},
    }


def quick_scenario(args) -> Dict[str, Any]:
    stations = [("Berlin", 52.52, 13.405), ("Madrid", 40.42, -3.70), ("Rome", 41.90, 12.50),
                ("Cairo", 30.04, 31.24), ("Lagos", 6.52, 3.38), ("Moscow", 55.76, 37.62)]
    return {
        "name": "kubespace-handover-quick", "start": "2026-01-31T12:00:00Z",
        "defaults": {"min_elevation_deg": 10},
        "shells": [{"name": "t", "walker": "delta", "planes": 8, "sats_per_plane": 10, "altitude_km": 1200,
                    "inclination_deg": 53}],
        "ground_stations": [{"name": n, "lat_deg": la, "lon_deg": lo} for n, la, lo in stations],
        "topology": {"gsl": {"policy": "nearest"}},
        "emulation": {"backend": "nfqueue"},
        "containers": {"info_api": False},
        "controlplane": {"agents": {"satellites": "all"}},
        "kubespace": {"placement": {"k": 3, "clusters": 4, "period_s": 3600, "snapshot_interval_s": 60},
                      "assignment": {"window_s": 3600, "threshold": 0.9},
                      "runtime": {"enabled": True, "planes": "cnpa"}},
    }


def cnpa_planes(args, k: int) -> List[Any]:
    """Algorithm 1 over the paper's 316 candidates for a day (the path tensor Fig. 10 and 11 cache)."""
    c = load("starlink")
    offsets = np.arange(0.0, DAY_S + 1, 60.0)
    tensor = path_tensor(c, "kubespace-starlink", offsets, args.cache or args.out / "cache", workers=args.workers)
    placement = cnpa(np.ascontiguousarray(tensor[:-1]), k, clusters=20, seed=0)
    print(f"CNPA (K={k}, C=20, seed 0) chose: {', '.join(c.ground_stations[i].name for i in placement.selection)}"
          f"; worst one-way delay {placement.score:.2f} ms", flush=True)
    return [c.ground_stations[i] for i in placement.selection]


def web_pod(node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"web-{node}", "namespace": "default"},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                     "containers": [{"name": "web", "image": "process",
                                     "command": ["busybox", "httpd", "-f", "-p", str(HTTP_PORT), "-h", "/etc"]}]}}


class Admin:
    """Admin connections to every plane from its station, on a loop thread."""

    def __init__(self, cluster: ControlPlaneCluster):
        import asyncio
        self.cluster = cluster
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.conns = {g: cluster.connection(g) for g in cluster.planes}

    def call(self, gs: str, method: str, *a, timeout: float = 120, **kw):
        import asyncio
        return asyncio.run_coroutine_threadsafe(getattr(self.conns[gs], method)(*a, **kw), self.loop).result(timeout)

    def pods(self) -> Dict[str, dict]:
        """Every pod, from the plane its node is Bound on (else from the first plane listing it); each
        copy is annotated with ``_planes``, every plane that lists the pod."""
        from leonet.controlplane.binding import BOUND, binding_state
        out: Dict[str, dict] = {}
        for gs in self.cluster.planes:
            bound = {n["metadata"]["name"] for n in self.call(gs, "list", "v1", "nodes")["items"]
                     if binding_state(n) == BOUND}
            for p in self.call(gs, "list", "v1", "pods")["items"]:
                name = p["metadata"]["name"]
                planes = out[name]["_planes"] if name in out else []
                if name not in out or p.get("spec", {}).get("nodeName") in bound:
                    out[name] = p
                planes.append(gs)
                out[name]["_planes"] = planes
        return out

    def close(self) -> None:
        import asyncio
        for c in self.conns.values():
            asyncio.run_coroutine_threadsafe(c.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def create_pods(admin: Admin, cluster: ControlPlaneCluster, timeout: float) -> Dict[str, dict]:
    assignment = cluster.current_assignment()
    for sat, node in cluster.node_names.items():
        admin.call(assignment[sat], "create", "v1", "pods", web_pod(node), "default")
    deadline = time.monotonic() + timeout
    while True:
        pods = admin.pods()
        running = {n: p for n, p in pods.items() if p.get("status", {}).get("phase") == "Running"
                   and p["status"].get("containerStatuses")}
        if len(running) == len(cluster.node_names) or time.monotonic() > deadline:
            return running
        time.sleep(1.0)


def follow(controller: Any, ticker: threading.Thread, offset0: float, duration: float,
           max_wall: Optional[float], sample: Optional[Callable[[], None]] = None,
           sample_every_s: float = 10.0) -> bool:
    """Show the measured stretch's progress in emulated seconds until the ticker ends; stop it after
    ``max_wall`` wall seconds; call ``sample`` every ``sample_every_s`` wall seconds. True when it ran
    the whole ``duration``."""
    from tqdm import tqdm
    t0 = next_sample = time.monotonic()
    with tqdm(total=int(duration), desc="emulated s", unit="s", file=sys.stderr) as bar:
        while ticker.is_alive():
            ticker.join(1.0)
            if sample is not None and time.monotonic() >= next_sample:
                next_sample += sample_every_s
                sample()
            bar.n = int(controller.current_offset_s - offset0)
            bar.set_postfix(lag_s=f"{(controller.stats.lag_ms or [0.0])[-1] / 1e3:.1f}", refresh=False)
            bar.refresh()
            if max_wall is not None and time.monotonic() - t0 > max_wall and ticker.is_alive():
                controller.stop()
                ticker.join()
    return controller.current_offset_s - offset0 >= duration - 1e-6


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, help="emulated seconds of handovers (default 900; quick 120)")
    p.add_argument("--speed", type=float, help="emulated seconds per wall second (default 1; quick 4)")
    p.add_argument("--agents", default="all", help="satellites with an agent and a daemon (default all)")
    p.add_argument("--http", type=int, default=5, help="satellites whose pod the HTTP probe GETs (default 5)")
    p.add_argument("--probe-mode", choices=("list", "watch"), help="invisibility probe (default watch; quick list)")
    p.add_argument("--cache", type=Path, help="path-tensor cache (default: OUT/cache, shared with Fig. 10 and 11)")
    p.add_argument("--max-wall", type=float, help="stop the measured stretch after this many wall seconds even "
                                                  "if the emulation fell behind (the summary says how far it got)")
    p.add_argument("--planes", help="comma-separated control-plane stations of kubespace-starlink instead of "
                                    "running CNPA (e.g. what an earlier run printed)")
    args = p.parse_args()
    require_root()
    quick = args.quick
    duration = args.duration or (120.0 if quick else 900.0)
    speed = args.speed or (4.0 if quick else 1.0)
    mode = args.probe_mode or ("list" if quick else "watch")
    args.agents = args.agents if args.agents == "all" else int(args.agents)
    watch = Stopwatch()
    if quick:
        raw = quick_scenario(args)
    elif args.planes:
        c = load("starlink")
        raw = full_scenario(args, [c.ground_station(n.strip()) for n in args.planes.split(",")])
    else:
        raw = full_scenario(args, cnpa_planes(args, 10))
    from leonet import LeoNet
    from leonet.emulation import runstate
    args.out.mkdir(parents=True, exist_ok=True)
    res: Dict[str, Any] = {"quick": quick, "duration_s": duration, "speed": speed, "probe_mode": mode}
    while runstate.active_run() is not None:
        time.sleep(2)
    # manual clock: nothing ticks while the agents register and the pods start; the measured
    # stretch below then ticks in real time (at --speed) on its own thread
    with LeoNet(raw, clock="manual", speed=speed) as net:
        run = net.run
        cluster = net.cluster
        ks = KubeSpaceRuntime.of(run)
        res["planes"] = list(cluster.planes)
        res["agents"] = len(cluster.node_names)
        res["bring_up_s"] = round(watch(), 1)
        print(f"up in {res['bring_up_s']} s: {res['agents']} agents, planes {', '.join(cluster.planes)}",
              flush=True)
        res["register_s"] = cluster.wait_registered(1800)["seconds"]
        ks.wait_ready(600)
        admin = Admin(cluster)
        t0 = time.monotonic()
        before = create_pods(admin, cluster, 600)
        res["pods_started"] = len(before)
        res["pods_start_s"] = round(time.monotonic() - t0, 1)
        print(f"registered in {res['register_s']} s; {len(before)} pods running in {res['pods_start_s']} s",
              flush=True)
        # HTTP probe: the satellites predicted to hand over first
        status = ks.status()
        soon = sorted((v["next"]["offset_s"], n) for n, v in status.items() if v["next"])
        by_node = {n: s for s, n in cluster.node_names.items()}
        targets = {by_node[n]: f"http://{run.node(by_node[n]).address}:{HTTP_PORT}/os-release"
                   for _, n in soon[:args.http] if f"web-{n}" in before}
        probe_from = next(iter(cluster.planes))
        # the probes run in child processes: their requests must not take the run's interpreter
        http = ProbeProcess(HttpProbe, netns=run.node(probe_from).netns, targets=targets, interval=0.1,
                            timeout=3.0).start()
        vis = ProbeProcess(InvisibilityProbe, planes=plane_endpoints(cluster.planes),
                           nodes=list(cluster.node_names.values()), interval=0.1, mode=mode).start()
        ticker = threading.Thread(target=run.controller.run, args=(duration,), daemon=True)
        s0 = run.controller.stats.summary()["ticks"]
        offset0 = run.controller.current_offset_s
        ticker.start()
        progress: List[dict] = []

        def sample() -> None:
            """Counters of the agents and daemons over time (a stall or an error burst shows when)."""
            try:
                a, d = cluster.stats(), ks.stats()
            except Exception as e:   # a stalled agents process: that is what the row records
                progress.append({"wall_s": round(watch(), 1), "error": repr(e)})
                return
            lag = run.controller.stats.lag_ms
            progress.append({"wall_s": round(watch(), 1), "offset_s": run.controller.current_offset_s - offset0,
                             "lag_ms": lag[-1] if lag else None, "agent_errors": a.get("errors"),
                             "lease_renewals": a.get("lease_renewals"), "status_posts": a.get("status_posts"),
                             "started": d.get("started"), "finished": d.get("finished"),
                             "failed": d.get("failed"), "busy": d.get("busy"), "cpu_s": d.get("cpu_s")})

        res["stopped_early"] = not follow(run.controller, ticker, offset0, duration, args.max_wall, sample)
        write_csv(args.out / "handover_progress.csv", progress,
                  ["wall_s", "offset_s", "lag_ms", "agent_errors", "lease_renewals", "status_posts", "started",
                   "finished", "failed", "busy", "cpu_s", "error"])
        res["emulated_s"] = run.controller.current_offset_s - offset0
        time.sleep(3.0 / speed + 2.0)   # let handovers started at the end finish
        visibility = vis.stop()
        web = http.stop()
        after = admin.pods()
        records = ks.handover_log(limit=0)
        st = run.controller.stats
        n0 = int(s0)
        lag = np.array(st.lag_ms[n0:] or [0.0])
        apply = np.array(st.apply_ms[n0:] or [0.0])
        res["ticks"] = {"count": len(st.lag_ms) - n0, "lag_ms_p50": float(np.percentile(lag, 50)),
                        "lag_ms_p99": float(np.percentile(lag, 99)), "lag_ms_max": float(lag.max()),
                        "apply_ms_p50": float(np.percentile(apply, 50)),
                        "apply_ms_p99": float(np.percentile(apply, 99))}
        res["agents_stats"] = cluster.stats()
        res["daemons"] = ks.stats()
        admin.close()
        keep_logs(args.out / "logs", cluster.state_dir, ks.state_dir)
    changed = changed_pods(before, after)
    restarts = len(changed)
    finished = [r for r in records if r["outcome"] == "Finished"]
    failed = [r for r in records if r["outcome"] != "Finished"]
    durations = np.array([r["duration_s"] for r in finished if r["duration_s"] is not None]) * 1e3
    pct = (lambda q: float(np.percentile(durations, q)) if len(durations) else None)
    res.update({"handovers": len(finished), "handovers_failed": len(failed),
                "failure_reasons": sorted({r["failure_reason"] for r in failed}),
                "duration_ms_p50": pct(50), "duration_ms_p95": pct(95), "duration_ms_p99": pct(99),
                "duration_ms_max": float(durations.max()) if len(durations) else None,
                "invisibility_total_s": visibility["invisible_total_s"], "invisibility_samples": visibility["samples"],
                "invisible_nodes": sorted(visibility["invisible_s"]), "pod_restarts": restarts,
                "pods_changed": changed,
                "pods_on_several_planes": sum(len(q.get("_planes", [])) > 1 for q in after.values()),
                "invisibility_gaps": visibility["gaps"],
                "plane_down_samples": visibility["plane_down_samples"], "http_sent": web["sent"], "http_failures": web["failures"],
                "http_targets": len(targets), "probe_planes": visibility["planes"], "wall_s": round(watch(), 1)})
    (args.out / "handover_summary.json").write_text(json.dumps(res, indent=1, default=str))
    write_csv(args.out / "handover_runs.csv",
              [{"request": r["request"], "node": r["node"], "source": r["source"], "target": r["target"],
                "outcome": r["outcome"], "failure_reason": r["failure_reason"], "message": r.get("message"),
                "duration_ms":
                    None if r["duration_s"] is None else r["duration_s"] * 1e3,
                "start_time": r["steps"][0]["time"] if r["steps"] else None} for r in records],
              ["request", "node", "source", "target", "outcome", "failure_reason", "message", "duration_ms",
               "start_time"])
    rows = [{"quantity": "handovers finished / failed", "ours": f"{len(finished)} / {len(failed)}", "paper": ""},
            {"quantity": "duration p50 / p95 / p99 (ms)",
             "ours": " / ".join("-" if v is None else f"{v:.0f}" for v in (pct(50), pct(95), pct(99))),
             "paper": PAPER["note"]},
            {"quantity": "node invisibility (s, all satellites)", "ours": f"{visibility['invisible_total_s']:g}",
             "paper": "0"},
            {"quantity": "pod restarts", "ours": str(restarts), "paper": "0"},
            {"quantity": f"HTTP GETs failed (every 100 ms, {len(targets)} pods)",
             "ours": f"{web['failures']} of {web['sent']}", "paper": "0 (no downtime)"},
            {"quantity": "tick lag p99 (ms)", "ours": f"{res['ticks']['lag_ms_p99']:.0f}", "paper": ""}]
    print(f"\nKubeSpace handover on the live emulation: {res['agents']} satellites, {len(res['planes'])} planes, "
          f"{res['emulated_s']:g} emulated s at {speed:g}x"
          + (f" (stopped after --max-wall {args.max_wall:g} s of {duration:g})" if res["stopped_early"] else ""))
    print_table(rows, ["quantity", "ours", "paper"])
    plot(args.out, finished, durations)
    return 0


def keep_logs(dest: Path, *dirs: Path) -> None:
    """Copy the run's logs (agents and daemons, each plane's, the handover log) before the run's state
    directories are removed with it."""
    import shutil
    for d in dirs:
        for f in Path(d).rglob("*"):
            if f.is_file() and (f.suffix in (".log", ".jsonl") or f.name.endswith(".log.1")):
                target = dest / Path(d).name / f.relative_to(d)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)


def changed_pods(before: Dict[str, dict], after: Dict[str, dict]) -> Dict[str, str]:
    """Pods that did not survive the run untouched, each with why: missing from every plane at the end,
    another process (containerID) or a restart count above zero."""
    changed: Dict[str, str] = {}
    for name, p in before.items():
        q = after.get(name)
        if q is None:
            changed[name] = "missing"
            continue
        cs0 = p["status"]["containerStatuses"][0]
        cs1 = (q.get("status", {}).get("containerStatuses") or [{}])[0]
        if cs1.get("containerID") != cs0.get("containerID"):
            changed[name] = f"containerID {cs0.get('containerID')} -> {cs1.get('containerID')}"
        elif cs1.get("restartCount", 0) != 0:
            changed[name] = f"restartCount {cs1.get('restartCount')}"
        else:
            continue
        changed[name] += f" (listed by {', '.join(q.get('_planes', []))})"
    return changed


def plot(out: Path, finished: List[dict], durations: np.ndarray) -> None:
    plt = matplotlib_agg()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    rows = []
    if finished:
        rec = sorted(finished, key=lambda r: r["duration_s"] or 0)[len(finished) // 2]
        t0 = rec["steps"][0]["wall"]
        colors = {"daemon": "tab:blue", "agent": "tab:green", "source": "tab:orange", "target": "tab:red"}
        for s in rec["steps"]:
            x = (s["wall"] - t0) * 1e3
            ax.barh(s["step"], x, left=0, color=colors[s["actor"]], alpha=0.25)
            ax.plot([x], [s["step"]], "o", color=colors[s["actor"]])
            rows.append({"request": rec["request"], "step": s["step"], "actor": s["actor"], "name": s["name"],
                         "ms_after_step_1": x, "wall_time": s["wall_time"], "emulated_time": s["time"]})
        ax.set_yticks([s.number for s in STEPS], [f"{s.number}. {s.short}" for s in STEPS], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms after the request was sent (wall clock)")
        ax.set_title(f"17 steps of one handover ({rec['node']}: {rec['source']} -> {rec['target']}, median "
                     f"{(rec['duration_s'] or 0) * 1e3:.0f} ms)", fontsize=9)
        for actor, c in colors.items():
            ax.plot([], [], "o", color=c, label=actor)
        ax.legend(fontsize=7, loc="upper right")
    if len(durations):
        xs = np.sort(durations)
        bx.plot(xs, np.arange(1, len(xs) + 1) / len(xs))
        bx.set_xlabel("handover duration (ms): request to Released")
        bx.set_ylabel("CDF")
        bx.set_title(f"{len(xs)} handovers")
    write_csv(out / "handover_timeline.csv", rows,
              ["request", "step", "actor", "name", "ms_after_step_1", "wall_time", "emulated_time"])
    save_figure(fig, out / "handover_timeline.png", out / "handover_summary.json", out / "handover_runs.csv",
                out / "handover_timeline.csv")


if __name__ == "__main__":
    run_main(main)
