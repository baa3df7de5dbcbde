"""KubeSpace Fig. 7 on the live emulation: node status-report latency per satellite, per platform.

A satellite's agent posts its node status (a PATCH of the Node's status subresource, from the
satellite's namespace over the emulated links); the latency is from the moment the agent sends it to
the moment the plane that owns the node emits the watch event for it, observed by a watch from that
plane's own ground station (the plane's controllers see it at the same instant). Posts are triggered
for every agent in turn, round-robin in random order, by ``--reporters`` threads while emulated time
runs, so they fall at arbitrary moments, handovers included. A post that fails (a baseline whose node
is between planes) is retried every 0.2 s until one succeeds; its latency counts from the first try,
as a status update that has to wait for the handover to finish.

Platforms (``--platforms``): ``kubespace`` (the runtime, 10 CNPA planes), ``single-plane`` (one plane at
the equatorial city minimising the worst satellite delay, Fig. 10's single: city-Guayaquil; every
satellite reports to it across the constellation), and, with the runtime's baseline modes,
``leave-rejoin`` (Karmada-like) and ``rejoin`` (Multi-KubeEdge-like).

    sudo python experiments/kubespace_fig7.py [--quick] [--platforms kubespace,single-plane]
        [--agents N] [--duration S] [--speed X] [--reporters N] [--max-wall S]

Writes results/kubespace/fig7_posts.csv (every post), fig7.csv (per satellite and platform),
fig7_summary.json and fig7.png (CDF over satellites of the per-satellite mean, as the paper's Fig. 7).
``--quick``: the small Walker shell (80 satellites), KubeSpace and the single plane, 40 emulated s each at 4x.
"""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from common import cdf
from kubespace_common import (PLATFORMS, PlaneWatches, Stopwatch, Stretch, live_options, live_parser, live_scenario,
                              matplotlib_agg, measure_all, platform_run, print_results, save_figure, write_csv,
                              write_summary)
from kubespace_handover_timeline import Admin, follow
from leonet.kubespace.runtime.service import KubeSpaceRuntime

#: the paper's Fig. 7 (Starlink): mean over satellites of the per-satellite mean, KubeSpace and Krios;
#: for the two multi-cluster platforms only KubeSpace's reduction of the worst per-satellite mean
PAPER_MEAN_MS = {"kubespace": 240.0, "single-plane": 591.0}
PAPER_WORST_REDUCTION = {"leave-rejoin": 0.41, "rejoin": 0.34}
RETRY_S = 0.2
GIVE_UP_S = 120.0

QUICK, FULL = "kubespace,single-plane", "kubespace,single-plane,leave-rejoin,rejoin"   #: default platforms


def measure(platform: str, args) -> Dict[str, Any]:
    """One live run of ``platform``: every post with its latency, and the run's facts."""
    raw = live_scenario(platform, args.quick, args.agents, args.planes)
    watch = Stopwatch()
    seen: Dict[tuple, float] = {}

    def on_event(gs: str, etype: str, obj: dict, t: float) -> None:
        if etype in ("ADDED", "MODIFIED"):
            seen.setdefault((gs, obj["metadata"]["name"], obj["metadata"].get("resourceVersion")), t)

    with platform_run(platform, raw, args.speed) as (net, info):
        run, cluster = net.run, net.cluster
        admin = Admin(cluster)
        watches = PlaneWatches(admin, "v1", "nodes", on_event)
        watches.wait_started()
        posts: List[Dict[str, Any]] = []
        stop = threading.Event()
        sats = list(cluster.node_names)
        trees: Dict[str, Any] = {}   # the snapshot they belong to, and plane -> one-way delay to every node
        trees_lock = threading.Lock()

        def expected_ms(sat: str, plane: str) -> float:
            """The engine's one-way path delay between the satellite and the plane's station now."""
            snap = run.network.snapshot
            with trees_lock:
                if trees.get("") is not snap:
                    trees.clear()
                    trees[""] = snap
                if plane not in trees:
                    trees[plane] = snap.routes([plane]).delay_ms[0]
                d = float(trees[plane][snap.node_index(sat)])
            return d if np.isfinite(d) else float("nan")

        def reporter(i: int) -> None:
            rng = random.Random(i)
            mine = sats[i::args.reporters]
            while not stop.is_set():
                rng.shuffle(mine)
                for sat in mine:
                    if stop.is_set():
                        return
                    first, tries, r = time.monotonic(), 0, None
                    while r is None and time.monotonic() - first < GIVE_UP_S:
                        tries += 1
                        try:
                            r = cluster.post_status(sat)
                        except RuntimeError:
                            time.sleep(RETRY_S)
                    row = {"satellite": sat, "node": cluster.node_names[sat], "tries": tries,
                           "offset_s": round(run.controller.current_offset_s, 1), "first_sent": first}
                    if r is not None:
                        row.update(plane=r["plane"], sent=r["sent"] if tries == 1 else first, done=r["done"],
                                   rv=r["resourceVersion"], expected_ms=expected_ms(sat, r["plane"]))
                    posts.append(row)

        # Warm-up, not measured: one post per agent. Right after registering, an agent's pod watch holds the
        # keep-alive connection its requests used, so its next request opens a new TCP+TLS connection (two
        # extra round trips) until its first lease renewal (up to 10 s later) has made one; a kubelet
        # multiplexes everything over one HTTP/2 connection and never pays that for a status report.
        warm = [threading.Thread(target=lambda part: [cluster.post_status(s) for s in part], args=(sats[i::8],),
                                 daemon=True) for i in range(8)]
        for t in warm:
            t.start()
        for t in warm:
            t.join(300)
        threads = [threading.Thread(target=reporter, args=(i,), daemon=True) for i in range(args.reporters)]
        ticker = threading.Thread(target=run.controller.run, args=(args.duration,), daemon=True)
        offset0 = run.controller.current_offset_s
        ticker.start()
        for t in threads:
            t.start()
        info["stopped_early"] = not follow(run.controller, ticker, offset0, args.duration, args.max_wall)
        info["emulated_s"] = round(run.controller.current_offset_s - offset0, 1)
        stop.set()
        for t in threads:
            t.join(GIVE_UP_S + 10)
        time.sleep(2.0)   # events of the last posts
        watches.stop()
        info["handovers"] = sum(r["outcome"] == "Finished" for r in KubeSpaceRuntime.of(run).handover_log(limit=0))
        admin.close()
    for row in posts:
        t = seen.get((row.get("plane"), row["node"], row.get("rv")))
        row["latency_ms"] = (t - row["sent"]) * 1e3 if t is not None and "sent" in row else None
        row["patch_rtt_ms"] = (row["done"] - row["sent"]) * 1e3 if "done" in row else None
        row.pop("first_sent", None)
    info["posts"] = posts
    info["wall_s"] = round(watch(), 1)
    return info


def per_satellite(posts: List[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    by: Dict[str, List[float]] = {}
    exp: Dict[str, List[float]] = {}
    for p in posts:
        if p["latency_ms"] is not None:
            by.setdefault(p["satellite"], []).append(p["latency_ms"])
            exp.setdefault(p["satellite"], []).append(p.get("expected_ms", float("nan")))
    return {s: {"mean_ms": float(np.mean(v)), "max_ms": float(np.max(v)), "samples": len(v),
                "expected_one_way_ms": float(np.nanmean(exp[s])) if np.isfinite(exp[s]).any() else float("nan")}
            for s, v in by.items()}


def main() -> int:
    p = live_parser(__doc__, FULL, QUICK, stretch=Stretch("of reports", "stretch", 90, 40, 120, 30))
    p.add_argument("--reporters", type=int, default=2, help="threads triggering posts (default 2)")
    args = p.parse_args()
    platforms = live_options(args)
    watch = Stopwatch()
    runs, failed = measure_all(platforms, args)
    rows, sat_rows, summary = [], [], {}
    for platform, info in runs.items():
        sats = per_satellite(info["posts"])
        means = np.array([v["mean_ms"] for v in sats.values()]) if sats else np.array([np.nan])
        done = [p for p in info["posts"] if p["latency_ms"] is not None]
        summary[platform] = {k: v for k, v in info.items() if k != "posts"}
        summary[platform].update({
            "satellites": len(sats), "posts": len(info["posts"]), "posts_measured": len(done),
            "posts_retried": sum(p["tries"] > 1 for p in info["posts"]),
            "mean_ms": float(np.mean(means)), "p50_ms": float(np.median(means)),
            "p95_ms": float(np.percentile(means, 95)), "worst_sat_mean_ms": float(np.max(means)),
            "expected_one_way_mean_ms": float(np.nanmean([v["expected_one_way_ms"] for v in sats.values()]))
            if sats else None})
        for s, v in sorted(sats.items()):
            sat_rows.append({"platform": platform, "satellite": s, **v})
        for p_ in info["posts"]:
            p_["platform"] = platform
    ks = summary.get("kubespace", {})
    for platform, s in summary.items():
        ours_cmp, paper_cmp = "", ""
        if platform == "single-plane" and ks:
            ours_cmp = f"KubeSpace {100 * (ks['mean_ms'] / s['mean_ms'] - 1):+.0f} % (mean)"
            paper_cmp = "KubeSpace -59 % (mean)"
        elif platform in PAPER_WORST_REDUCTION and ks:
            ours_cmp = f"KubeSpace {100 * (ks['worst_sat_mean_ms'] / s['worst_sat_mean_ms'] - 1):+.0f} % (worst sat.)"
            paper_cmp = f"KubeSpace -{100 * PAPER_WORST_REDUCTION[platform]:.0f} % (worst sat.)"
        rows.append({"platform": PLATFORMS[platform][0], "paper's": PLATFORMS[platform][1],
                     "sats": s["satellites"], "posts": f"{s['posts_measured']}/{s['posts']}",
                     "mean ms": s["mean_ms"], "p50": s["p50_ms"], "p95": s["p95_ms"],
                     "worst sat": s["worst_sat_mean_ms"], "one-way path": s["expected_one_way_mean_ms"],
                     "paper mean": PAPER_MEAN_MS.get(platform, ""), "ours vs": ours_cmp, "paper vs": paper_cmp})
    write_csv(args.out / "fig7.csv", sat_rows, ["platform", "satellite", "mean_ms", "max_ms", "samples",
                                               "expected_one_way_ms"])
    write_csv(args.out / "fig7_posts.csv", [p_ for info in runs.values() for p_ in info["posts"]],
              ["platform", "satellite", "node", "plane", "offset_s", "tries", "latency_ms", "patch_rtt_ms",
               "expected_ms", "rv"])
    write_summary(args.out / "fig7_summary.json", args, {"duration_s": args.duration, "speed": args.speed},
                  summary, failed, watch)
    print_results("Fig. 7: node status-report latency (agent's post -> the owning plane's watch event), "
                  "per-satellite means", rows,
                  ["platform", "paper's", "sats", "posts", "mean ms", "p50", "p95", "worst sat", "one-way path",
                   "paper mean", "ours vs", "paper vs"], failed)
    plot(args.out, sat_rows, summary)
    return 1 if failed else 0


def plot(out: Path, sat_rows: List[dict], summary: Dict[str, Any]) -> None:
    plt = matplotlib_agg()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for platform in summary:
        xs, ys = cdf([r["mean_ms"] for r in sat_rows if r["platform"] == platform])
        if len(xs):
            ax.plot(xs, ys, label=f"{PLATFORMS[platform][0]} (mean {np.mean(xs):.0f} ms)")
    ax.set_xlabel("per-satellite mean status-report latency (ms)")
    ax.set_ylabel("CDF over satellites")
    ax.set_title("Fig. 7: node status report, post to the owning plane's watch event", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, out / "fig7.png", out / "fig7.csv", out / "fig7_posts.csv", out / "fig7_summary.json")


if __name__ == "__main__":
    from common import run_main
    run_main(main)
