"""KubeSpace Fig. 9(a-d) on the live emulation: the cost of control-plane handovers per satellite, for
KubeSpace and the two multi-cluster baselines (leave/rejoin, Karmada-like; rejoin without eviction,
Multi-KubeEdge-like).

Each platform runs the same emulation (Starlink shell 1, the 10 CNPA planes, ``--agents`` satellites with
an agent, the platform's daemon and a web pod each) for a sampled window of ``--duration`` emulated
seconds in which the daemons hand over at their CNAA-predicted times. Measured per handover:

* (a) handover latency: the platform's handover record, request to done (KubeSpace: steps 1-16);
* (c) node invisibility: an invisibility probe asks every plane for its nodes every 100 ms (a node no plane
  lists Bound or Releasing is invisible); the window's invisible seconds over all nodes / handovers;
* (d) pod downtime: an HTTP probe GETs the web pods of the ``--http`` satellites predicted to hand over
  first every 100 ms from a ground station; failed GETs x 100 ms / those satellites' handovers; pod
  restarts from every pod's containerID and restartCount before and after.

Scaled to a day: CNAA (the runtime's own parameters) over 24 h from the scenario's start gives every
agent satellite's handovers per day; (b) cumulative handover latency = that count x the platform's mean
measured latency, (c) and (d) likewise with the mean invisibility and downtime per handover. The window
samples handovers (a few minutes of the day); the day's counts are exact for the orbit.

    sudo python experiments/kubespace_fig9.py [--quick] [--platforms kubespace,leave-rejoin,rejoin]
        [--agents N] [--duration S] [--speed X] [--http N] [--max-wall S]

Writes results/kubespace/fig9_handovers.csv (every handover), fig9.csv (per satellite and platform, per
day), fig9_summary.json and fig9.png (four panels: CDF of single handover latency, and CDFs over
satellites of the daily cumulative latency, invisibility and downtime). ``--quick``: the small Walker
shell, 120 emulated s at 4x.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from common import cdf
from kubespace_common import (DAY_S, PLATFORMS, Stopwatch, Stretch, live_options, live_parser, live_scenario,
                              matplotlib_agg, measure_all, platform_run, print_results, save_figure, write_csv,
                              write_summary)
from kubespace_handover_timeline import HTTP_PORT, Admin, create_pods, follow
from leonet.kubespace import ControlNode, cnaa
from leonet.kubespace.runtime.probes import HttpProbe, InvisibilityProbe, ProbeProcess, plane_endpoints
from leonet.kubespace.runtime.service import KubeSpaceRuntime

MULTI_PLANE = ("kubespace", "leave-rejoin", "rejoin")
#: the paper's Fig. 9 per satellite per day (s); handover latency only as KubeSpace's reduction
PAPER_INVISIBLE_S = {"kubespace": 0.0, "leave-rejoin": 543.0, "rejoin": 502.0}
PAPER_DOWNTIME_S = {"kubespace": 0.0, "leave-rejoin": 1076.0, "rejoin": 512.0}
PAPER_LATENCY_REDUCTION = {"leave-rejoin": 0.84, "rejoin": 0.79}

QUICK, FULL = "kubespace", "kubespace,leave-rejoin,rejoin"   #: default platforms


def day_counts(run: Any, ks: KubeSpaceRuntime, satellites: List[str]) -> Dict[str, int]:
    """Handovers per satellite over 24 h from the scenario's start: CNAA with the runtime's parameters
    (straight-line distance, as the daemons decide)."""
    c = run.constellation
    planes = [ControlNode.of(c.ground_station(g)) for g in ks.cluster.config.ground_stations]
    a = ks.config.assignment
    interpolation = getattr(ks, "interpolation", None) or "cubic"
    result = cnaa([c.satrecs[c.satellite(s).index] for s in satellites], c.start, planes, window_s=DAY_S,
                  sample_s=a.sample_interval_s, decision_s=a.decision_interval_s, threshold=a.threshold,
                  interpolation=interpolation)
    return dict(zip(satellites, result.per_satellite().tolist()))


def measure(platform: str, args) -> Dict[str, Any]:
    raw = live_scenario(platform, args.quick, args.agents, args.planes)
    watch = Stopwatch()
    with platform_run(platform, raw, args.speed) as (net, info):
        run, cluster = net.run, net.cluster
        ks = KubeSpaceRuntime.of(run)
        admin = Admin(cluster)
        before = create_pods(admin, cluster, 600)
        info["pods_started"] = len(before)
        print(f"[{platform}] {len(before)} pods Running", flush=True)
        by_node = {n: s for s, n in cluster.node_names.items()}
        soon = sorted((v["next"]["offset_s"], n) for n, v in ks.status().items() if v.get("next"))
        targets = {by_node[n]: f"http://{run.node(by_node[n]).address}:{HTTP_PORT}/os-release"
                   for _, n in soon[:args.http] if f"web-{n}" in before}
        http = ProbeProcess(HttpProbe, netns=run.node(next(iter(cluster.planes))).netns, targets=targets,
                            interval=0.1, timeout=3.0).start()
        vis = ProbeProcess(InvisibilityProbe, planes=plane_endpoints(cluster.planes),
                           nodes=list(cluster.node_names.values()), interval=0.1,
                           mode="list" if args.quick else "watch").start()
        ticker = threading.Thread(target=run.controller.run, args=(args.duration,), daemon=True)
        offset0 = run.controller.current_offset_s
        ticker.start()
        info["stopped_early"] = not follow(run.controller, ticker, offset0, args.duration, args.max_wall)
        info["emulated_s"] = round(run.controller.current_offset_s - offset0, 1)
        time.sleep(3.0 / args.speed + 2.0)   # handovers started at the end
        visibility, web = vis.stop(), http.stop()
        after = admin.pods()
        records = ks.handover_log(limit=0)
        admin.close()
        counts = day_counts(run, ks, list(cluster.node_names))
    restarts = 0
    for name, p in before.items():
        q = after.get(name)
        cs0 = p["status"]["containerStatuses"][0]
        cs1 = ((q or {}).get("status", {}).get("containerStatuses") or [{}])[0]
        restarts += q is None or cs1.get("containerID") != cs0.get("containerID") or cs1.get("restartCount", 0) != 0
    info.update(records=records, day_counts=counts, invisible_s=visibility["invisible_s"],
                invisible_total_s=visibility["invisible_total_s"], probe_samples=visibility["samples"],
                http_targets=sorted(targets), http_nodes=sorted(cluster.node_names[t] for t in targets),
                http_sent=web["sent"], http_failures=web["failures"],
                http_interval_s=web["interval_s"], http_per_target={s: len(t["failures"]) for s, t in
                                                                    web["targets"].items()},
                pod_restarts=int(restarts), wall_s=round(watch(), 1))
    return info


def costs(info: Dict[str, Any]) -> Dict[str, Any]:
    """Per-handover costs measured in the window."""
    finished = [r for r in info["records"] if r["outcome"] == "Finished" and r.get("duration_s") is not None]
    n = len(finished)
    durations = np.array([r["duration_s"] for r in finished])
    http_handovers = sum(1 for r in finished if r.get("node") in set(info["http_nodes"]))
    downtime_s = sum(info["http_per_target"].values()) * info["http_interval_s"]
    return {"handovers": n, "failed": len(info["records"]) - n,
            "latency_mean_s": float(durations.mean()) if n else None,
            "latency_p50_s": float(np.median(durations)) if n else None,
            "latency_p95_s": float(np.percentile(durations, 95)) if n else None,
            "invisible_per_handover_s": info["invisible_total_s"] / n if n else None,
            "http_handovers": http_handovers,
            "downtime_per_handover_s": downtime_s / http_handovers if http_handovers else None,
            "downtime_window_s": downtime_s}


def main() -> int:
    p = live_parser(__doc__, FULL, QUICK, MULTI_PLANE,
                    agents="satellites with an agent, a daemon and a pod, spread evenly",
                    stretch=Stretch("sampled", "window", 90, 120, 150, 60))
    p.add_argument("--http", type=int, help="satellites whose pod the HTTP probe GETs (default 20; quick 5)")
    args = p.parse_args()
    platforms = live_options(args)
    args.http = args.http or (5 if args.quick else 20)
    watch = Stopwatch()
    runs, failed = measure_all(platforms, args)
    summary, sat_rows, ho_rows = {}, [], []
    for platform, info in runs.items():
        c = costs(info)
        counts = info["day_counts"]
        per_day = {s: {"handovers_per_day": k,
                       "latency_s_per_day": k * (c["latency_mean_s"] or 0.0),
                       "invisible_s_per_day": k * (c["invisible_per_handover_s"] or 0.0),
                       "downtime_s_per_day": k * (c["downtime_per_handover_s"] or 0.0)} for s, k in counts.items()}
        for s, v in sorted(per_day.items()):
            sat_rows.append({"platform": platform, "satellite": s, **v})
        for r in info["records"]:
            ho_rows.append({"platform": platform, "node": r.get("node"), "source": r.get("source"),
                            "target": r.get("target"), "outcome": r.get("outcome"),
                            "duration_s": r.get("duration_s"), "failure_reason": r.get("failure_reason")})
        mean = (lambda key: float(np.mean([v[key] for v in per_day.values()])) if per_day else None)
        summary[platform] = {**{k: v for k, v in info.items() if k not in ("records", "day_counts", "invisible_s")},
                             **c, "handovers_per_sat_day": mean("handovers_per_day"),
                             "latency_s_per_sat_day": mean("latency_s_per_day"),
                             "invisible_s_per_sat_day": mean("invisible_s_per_day"),
                             "downtime_s_per_sat_day": mean("downtime_s_per_day")}
    ks = summary.get("kubespace", {})
    rows = []
    for platform, s in summary.items():
        vs = ""
        if platform != "kubespace" and ks.get("latency_mean_s") and s.get("latency_mean_s"):
            vs = f"{100 * (ks['latency_mean_s'] / s['latency_mean_s'] - 1):+.0f} %"
        fmt = (lambda v, f="{:.2f}": "-" if v is None else f.format(v))
        rows.append({"platform": PLATFORMS[platform][0], "paper's": PLATFORMS[platform][1],
                     "handovers": f"{s['handovers']} (+{s['failed']} failed)",
                     "(a) latency s mean/p95": f"{fmt(s['latency_mean_s'])} / {fmt(s['latency_p95_s'])}",
                     "KubeSpace vs": vs, "paper vs": f"-{100 * PAPER_LATENCY_REDUCTION[platform]:.0f} %"
                     if platform in PAPER_LATENCY_REDUCTION else "",
                     "per sat/day": fmt(s["handovers_per_sat_day"], "{:.1f}"),
                     "(b) latency s/day": fmt(s["latency_s_per_sat_day"], "{:.0f}"),
                     "(c) invisible s/day": fmt(s["invisible_s_per_sat_day"], "{:.0f}"),
                     "paper (c)": PAPER_INVISIBLE_S[platform],
                     "(d) downtime s/day": fmt(s["downtime_s_per_sat_day"], "{:.0f}"),
                     "paper (d)": PAPER_DOWNTIME_S[platform], "pod restarts": s["pod_restarts"]})
    write_csv(args.out / "fig9.csv", sat_rows, ["platform", "satellite", "handovers_per_day", "latency_s_per_day",
                                               "invisible_s_per_day", "downtime_s_per_day"])
    write_csv(args.out / "fig9_handovers.csv", ho_rows, ["platform", "node", "source", "target", "outcome",
                                                          "duration_s", "failure_reason"])
    write_summary(args.out / "fig9_summary.json", args, {"duration_s": args.duration, "speed": args.speed},
                  summary, failed, watch)
    print_results("Fig. 9: handover costs, measured per handover in the window, scaled to a day by CNAA's counts",
                  rows, list(rows[0]) if rows else [], failed)
    plot(args.out, runs, sat_rows)
    return 1 if failed else 0


def plot(out: Path, runs: Dict[str, Dict[str, Any]], sat_rows: List[dict]) -> None:
    plt = matplotlib_agg()
    fig, axes = plt.subplots(1, 4, figsize=(17, 4))
    for platform, info in runs.items():
        label = PLATFORMS[platform][0]
        d, ys = cdf([r["duration_s"] for r in info["records"] if r["outcome"] == "Finished"
                     and r.get("duration_s") is not None])
        if len(d):
            axes[0].plot(d, ys, label=label)
        for ax, key in zip(axes[1:], ("latency_s_per_day", "invisible_s_per_day", "downtime_s_per_day")):
            xs, ys = cdf([r[key] for r in sat_rows if r["platform"] == platform])
            if len(xs):
                ax.plot(xs, ys, label=label)
    for ax, title in zip(axes, ("(a) single handover latency (s)", "(b) cumulative handover latency (s/day)",
                                "(c) node invisibility (s/day)", "(d) pod downtime (s/day)")):
        ax.set_xlabel(title, fontsize=8)
        ax.set_ylabel("CDF")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Fig. 9: handover overhead per satellite (window measured, scaled to 24 h by CNAA counts)",
                 fontsize=9)
    save_figure(fig, out / "fig9.png", out / "fig9.csv", out / "fig9_handovers.csv", out / "fig9_summary.json")


if __name__ == "__main__":
    from common import run_main
    run_main(main)
