"""KubeSpace Table I: daily control-node handovers with two control nodes on the
equator (0 and 180 deg longitude), for Starlink, Kuiper and OneWeb, and what they cost
with a leave/rejoin platform.

The paper's "traditional multi control node architecture" binds each satellite to
the nearest control node, so the headline count is nearest-only (threshold 1) on
the straight-line distance; we also count with path delay over ISLs and with
CNAA's threshold.

The cost columns are measured on the live emulation (``--live``, root): for each
constellation, its whole emulated network with the two equator planes, agents with a
web pod on the satellites whose nearest plane changes first, ``platform:
leave-rejoin`` and CNAA (threshold 1) handing them over at their real times and
geometry; each handover's duration, node invisibility and pod unavailability are
measured by the same probes as every platform (``kubespace_handover_cost.py``). The
day's totals are the measured per-handover means times the day's handover count
(invisibility and unavailability in hours). Without ``--live`` the script uses the
costs an earlier live run wrote (``table1_costs.csv`` in the output folder), or
prints "pending".

    python experiments/kubespace_table1.py [--quick]
    sudo python experiments/kubespace_table1.py --live [--measure N] [--runtime docker|process]
"""
from __future__ import annotations

import copy
import csv
import os
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import yaml

from kubespace_common import (CONSTELLATIONS, DAY_S, Stopwatch, matplotlib_agg, parser, path_tensor,
                              print_table, save_figure, selected, write_csv)
from leonet.kubespace import DEFAULT_THRESHOLD, ControlNode, assign, cnaa
from leonet.orbits import build_constellation, load_constellation, parse_scenario
from leonet.orbits.scenario import scenario_path

PAPER = {  # total handovers/day, s per handover, node invisibility h, pod unavailability h
    "starlink": (44287, 8.35, 84.99, 156.00),
    "kuiper": (35782, 8.35, 68.67, 126.04),
    "oneweb": (15966, 8.36, 30.68, 56.29),
}
NODES = [ControlNode("eq0", 0.0, 0.0), ControlNode("eq180", 0.0, 180.0)]


def equator_raw(name: str) -> Dict[str, Any]:
    """The constellation's scenario (raw) with the two equator nodes as its only ground stations."""
    path = scenario_path(CONSTELLATIONS[name][0])
    raw = copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8")))
    raw["name"] = f"{raw['name']}-equator"
    raw["ground_stations"] = [{"name": n.name, "lat_deg": n.lat_deg, "lon_deg": n.lon_deg} for n in NODES]
    raw.pop("kubespace", None)
    return raw


def equator_constellation(name: str):
    """The constellation's scenario with the two equator nodes as its only ground stations."""
    return build_constellation(parse_scenario(equator_raw(name), source=scenario_path(CONSTELLATIONS[name][0])))


COSTS_CSV = "table1_costs.csv"
#: the live measurement: emulated seconds before the first measured handover (agents register, pods
#: start, all on a held clock first), and the span of predicted handovers measured
SETTLE_S, SPAN_S = 20.0, 90.0


def first_movers(name: str, count: int) -> List[str]:
    """The ``count`` satellites whose nearest equator node changes first after ``SETTLE_S``."""
    c = load_constellation(CONSTELLATIONS[name][0])
    res = cnaa(c.satrecs, c.start, NODES, window_s=3600.0, threshold=1.0)
    first = []
    for i in range(c.num_satellites):
        ev = [e for e in res.events(i) if e[0] >= SETTLE_S]
        if ev:
            first.append((ev[0][0], c.satellites[i].name))
    first.sort()
    return [sat for at, sat in first[:count] if at <= SETTLE_S + SPAN_S] or [sat for _, sat in first[:1]]


def measure_live(name: str, count: int, runtime: str) -> List[Dict[str, Any]]:
    """Leave/rejoin handovers of ``count`` satellites on the live emulation of ``name`` (see the module
    docstring); one row per handover."""
    import threading
    from kubespace_handover_cost import Admin, Probes, cost_of, start_web
    from kubespace_handover_timeline import follow
    from leonet import LeoNet
    from leonet.emulation import runstate
    from leonet.kubespace.runtime.service import KubeSpaceRuntime
    sats = first_movers(name, count)
    raw = equator_raw(name)
    raw["containers"] = {"info_api": False}
    raw["controlplane"] = {"agents": {"satellites": sats, "pod_runtime": runtime}}
    raw["kubespace"] = {"assignment": {"threshold": 1.0, "window_s": 3600, "metric": "straight"},
                        "runtime": {"enabled": True, "platform": "leave-rejoin", "planes": [n.name for n in NODES]}}
    while runstate.active_run() is not None:
        time.sleep(2)
    watch = Stopwatch()
    with LeoNet(raw, clock="manual") as net:
        run, cluster = net.run, net.cluster
        ks = KubeSpaceRuntime.of(run)
        cluster.wait_registered(600)
        ks.wait_ready(600)
        admin = Admin(cluster)
        start_web(admin, cluster, sats, runtime)
        predicted = sorted(e["offset_s"] for s in sats for e in ks.schedule(s)["events"][:1])
        duration = (max(predicted) if predicted else SETTLE_S + SPAN_S) + 30.0
        print(f"{name}: up in {watch():.0f} s; {len(sats)} satellites, first handovers predicted at "
              f"{', '.join(f'{p:.0f}' for p in predicted)} s; running {duration:.0f} emulated s", flush=True)
        probes = Probes(cluster, run, sats, http_from=NODES[0].name)
        ticker = threading.Thread(target=run.controller.run, args=(duration,), daemon=True)
        offset0 = run.controller.current_offset_s
        ticker.start()
        try:
            follow(run.controller, ticker, offset0, duration, None)
            time.sleep(15.0)   # handovers started at the end finish; pods come back
        finally:
            vis, web = probes.stop()
            admin.close()
        records = ks.handover_log(limit=0)
        lag = run.controller.stats.summary()
    by_node = {cluster.node_names[s]: s for s in sats}
    rows = []
    for rec in records:
        sat = by_node[rec["node"]]
        later = [r["steps"][0]["wall"] for r in records if r["node"] == rec["node"]
                 and r["steps"] and r["steps"][0]["wall"] > rec["steps"][0]["wall"]]
        cost = cost_of(rec, sat, rec["node"], vis, web, probes, restarted=12 in {s["step"] for s in rec["steps"]},
                       until_wall=min(later) if later else None)
        rows.append({"constellation": name, **cost.row(), "tick_lag_ms_p99": lag.get("lag_ms_p99")})
    return rows


def load_costs(path: Path) -> Dict[str, Dict[str, float]]:
    """Mean per-handover costs per constellation from a live run's CSV (finished handovers only)."""
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["outcome"] == "Finished"]
    out = {}
    for name in {r["constellation"] for r in rows}:
        mine = [r for r in rows if r["constellation"] == name]
        mean = lambda k: float(np.mean([float(r[k]) for r in mine if r[k] not in ("", "None")]))  # noqa: E731
        out[name] = {"handovers": len(mine), "duration_s": mean("duration_s"), "invisible_s": mean("invisible_s"),
                     "downtime_s": mean("downtime_s"), "restored_s": mean("restored_s")}
    return out


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--live", action="store_true", help="measure the per-handover costs on the live emulation "
                                                       "(root; several minutes per constellation)")
    p.add_argument("--measure", type=int, default=6, help="satellites measured per constellation (--live)")
    p.add_argument("--runtime", choices=("docker", "process"), default="docker",
                   help="pod runtime of the measured web pods (--live; default docker, the paper's containers)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.live:
        if os.geteuid() != 0:
            raise SystemExit("--live needs root: sudo python experiments/kubespace_table1.py --live")
        if args.runtime == "docker":
            from leonet.containers.images import ensure_images
            from kubespace_handover_cost import WEB_IMAGE
            ensure_images([WEB_IMAGE])
        live = []
        for name in selected(args):
            live += measure_live(name, args.measure, args.runtime)
        from kubespace_handover_cost import COLUMNS
        write_csv(args.out / COSTS_CSV, live, ["constellation"] + COLUMNS + ["tick_lag_ms_p99"])
    costs = load_costs(args.out / COSTS_CSV)
    window = 2 * 3600.0 if args.quick else DAY_S
    scale = DAY_S / window
    thresholds = [1.0, DEFAULT_THRESHOLD]
    rows = []
    per_sat = {}
    for name in selected(args):
        watch = Stopwatch()
        c = load_constellation(CONSTELLATIONS[name][0])
        n = c.num_satellites
        print(f"{name}: {n} satellites, window {window / 3600:g} h", flush=True)
        straight = cnaa(c.satrecs, c.start, NODES, window_s=window, threshold=thresholds)
        ceq = equator_constellation(name)
        offsets = np.arange(0.0, window + 1.0, 60.0)
        tensor = path_tensor(ceq, CONSTELLATIONS[name][0], offsets, args.out / "cache", workers=args.workers,
                             desc=f"paths {name}")
        path = assign(np.transpose(np.asarray(tensor), (2, 1, 0)), 60.0, 1.0, thresholds, "linear")
        for metric, results in (("straight", straight), ("path", path)):
            for thr, res in zip(thresholds, results):
                total = res.total * scale
                paper = PAPER[name]
                cost = costs.get(name)
                rows.append({"constellation": name, "satellites": n, "metric": metric, "threshold": thr,
                             "handovers_per_day": round(total), "per_satellite": total / n,
                             "paper_handovers": paper[0], "paper_per_satellite": paper[0] / CONSTELLATIONS[name][1],
                             "ours_vs_paper": total / paper[0],
                             "measured_handovers": cost["handovers"] if cost else 0,
                             "duration_s": cost["duration_s"] if cost else "pending", "paper_duration_s": paper[1],
                             "invisibility_h": total * cost["invisible_s"] / 3600 if cost else "pending",
                             "paper_invisibility_h": paper[2],
                             "pod_unavailability_h": total * cost["downtime_s"] / 3600 if cost else "pending",
                             "paper_pod_unavailability_h": paper[3]})
                if metric == "straight" and thr == 1.0:
                    per_sat[name] = res.per_satellite() * scale
        print(f"  done in {watch():.1f} s", flush=True)

    columns = list(rows[0])
    write_csv(args.out / "table1.csv", rows, columns)
    print("\nTable I: daily control-node handovers, two control nodes at (0, 0) and (0, 180)")
    print_table(rows, ["constellation", "metric", "threshold", "handovers_per_day", "paper_handovers",
                       "ours_vs_paper", "per_satellite", "paper_per_satellite"])
    if costs:
        measured = ", ".join(f"{k} {v['handovers']} handovers" for k, v in costs.items())
        print(f"\nLeave/rejoin cost per day (straight line, nearest): mean per handover measured on the live "
              f"emulation ({COSTS_CSV}: {measured}) x the day's handovers")
    else:
        print("\nLeave/rejoin cost per day: pending (measure it: sudo python experiments/kubespace_table1.py --live)")
    print_table([r for r in rows if r["metric"] == "straight" and r["threshold"] == 1.0],
                ["constellation", "duration_s", "paper_duration_s", "invisibility_h", "paper_invisibility_h",
                 "pod_unavailability_h", "paper_pod_unavailability_h"])
    if costs:
        print_table([{"constellation": k, **{q: v[q] for q in ("handovers", "duration_s", "invisible_s",
                                                                 "downtime_s", "restored_s")}}
                     for k, v in costs.items()],
                    ["constellation", "handovers", "duration_s", "invisible_s", "downtime_s", "restored_s"])

    plt = matplotlib_agg()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(per_sat)
    x = np.arange(len(names))
    series = [("paper", [PAPER[nm][0] for nm in names])]
    for metric in ("straight", "path"):
        for thr in thresholds:
            label = f"{metric}, " + ("nearest" if thr == 1.0 else f"δ={thr:g}")
            series.append((label, [next(r["handovers_per_day"] for r in rows if r["constellation"] == nm
                                        and r["metric"] == metric and r["threshold"] == thr) for nm in names]))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(x, names)
    ax.set_ylabel("control-node handovers per day")
    ax.set_title("Table I: two control nodes on the equator")
    ax.legend(fontsize=7)
    bx.boxplot([per_sat[nm] for nm in names])
    bx.set_xticks(np.arange(1, len(names) + 1), names)
    bx.set_ylabel("handovers per satellite per day")
    bx.set_title("per satellite (straight line, nearest)")
    save_figure(fig, args.out / "table1.png", args.out / "table1.csv")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
