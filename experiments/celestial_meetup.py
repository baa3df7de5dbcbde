"""Celestial section 4 (Figs. 4-8): a video conference between Accra, Abuja and Yaounde
over Starlink phase I, its bridge on the best satellite in the bounding box (chosen by
a tracker every 5 s) or in the Johannesburg cloud, on the live emulation.

Every packet is timestamped by its sender and by the receiving kernel on the host's one
clock (the paper's shared PTP clock); the bridge stamps its own receive and send times.
Prints our figures beside the paper's and writes CSVs and figures under
results/celestial/. Scaling to a 2-core machine: see docs/results/celestial.md.

    sudo .venv/bin/python experiments/celestial_meetup.py            # 4 runs, about 30 min
    sudo .venv/bin/python experiments/celestial_meetup.py --quick    # shell 1, 16 s per deployment
"""
from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from experiments.celestial_common import (ResourceSampler, app, find_pids, finish_figure,  # noqa: E402
                                          matplotlib_agg, parser,
                                          preset_raw, print_table, start_host, start_in_node, stop_all,
                                          with_children, write_csv)
from experiments.common import cdf  # noqa: E402

CLIENTS = ("Accra", "Abuja", "Yaounde")
CLOUD = "Johannesburg"
#: the paper's figures (section 4.2)
PAPER = {"satellite_bound_ms": 16.0, "cloud_bound_ms": 46.0, "share_below_bound": 0.80, "caption_bound_ms": 15.0,
         "processing_median_ms": 1.37, "processing_sd_ms": 3.86, "shells_selected": "shells 1 and 2 only"}
PAIRS = (("Accra", "Abuja"), ("Accra", "Yaounde"), ("Abuja", "Yaounde"))


def scenario(args) -> dict:
    raw = preset_raw("celestial-meetup")
    raw.pop("containers", None)
    if args.quick:
        raw["shells"] = raw["shells"][:1]
        raw["name"] = "celestial-meetup-quick"
    raw["emulation"] = {"nodes": "namespace", "step_s": args.step, "backend": args.backend,
                        "forwarding": args.forwarding}
    if args.forwarding == "hop-by-hop":   # routes towards the stations and the box's satellites
        raw["emulation"].update(routes="bounding-box", routes_horizon_s=args.duration + 30)
    return raw


def box_satellites(engine, duration: float, step: float) -> List[int]:
    """The satellites inside the bounding box at some tick of the run (bridge hosts)."""
    return [int(i) for i in np.flatnonzero(engine.ever_active(np.arange(0.0, duration + 30 + 1e-9, step)))]


def run_once(deployment: str, run_index: int, duration: float, args, raw_dir: Path) -> dict:
    from tqdm import tqdm
    from leonet import LeoNet
    work = raw_dir / f"{deployment}-{run_index}"
    work.mkdir(parents=True, exist_ok=True)
    ticks: List[Tuple[int, float]] = []
    net = LeoNet(scenario(args), progress=True)
    t_up = time.monotonic()
    with net:
        run = net.run
        sats = box_satellites(run.engine, duration, args.step)
        print(f"  up in {time.monotonic() - t_up:.0f} s ({len(net.satellites)} satellites, {len(sats)} of them in "
              f"the box within {duration + 30:.0f} s; {args.forwarding} forwarding)", file=sys.stderr)
        ticks.append((time.time_ns(), net.offset_s))
        net.on_tick(lambda info: ticks.append((time.time_ns(), info.offset_s)))
        addresses = {c: net.address(c) for c in CLIENTS}
        clients_arg = ",".join(addresses.values())
        procs = []
        if deployment == "satellite":
            nodes = ",".join(f"{run.network.nodes[i].host}={i}" for i in sats)
            procs.append(start_host(app("meetup", "bridge.py") + ["--clients", clients_arg, "--nodes", nodes],
                                    work / "bridges.log"))
            procs.append(start_in_node(net, CLOUD, app("meetup", "tracker.py") + [
                "--clients", ",".join(f"{c}={a}" for c, a in addresses.items()), "--interval", "5",
                "--out", str(work / "decisions.csv")], work / "tracker.log"))
            fixed: List[str] = []
        else:
            jburg = run.network.node(CLOUD).index
            procs.append(start_in_node(net, CLOUD, app("meetup", "bridge.py") + [
                "--clients", clients_arg, "--nodes", f"{run.network.node(CLOUD).host}={jburg}"],
                work / "bridges.log"))
            fixed = ["--bridge", net.address(CLOUD)]
        for i, c in enumerate(CLIENTS):
            procs.append(start_in_node(net, c, app("meetup", "client.py") + [
                "--id", str(i), "--rate-kbps", str(args.rate_kbps), "--packet", str(args.packet),
                "--out", str(work / f"client-{c}.csv")] + fixed, work / f"client-{c}.log"))
        daemon = find_pids("leonet.emulation.shaping")
        apps = with_children([q.pid for q in procs])
        sampler = ResourceSampler({
            "emulation": lambda: [q for q in with_children([os.getpid()]) if q not in apps and q not in daemon],
            "delay_daemon": lambda: daemon,
            "apps": lambda: apps}).start()
        step = net.controller.step_s
        for _ in tqdm(range(int(round(duration / step))), desc=f"{deployment} run {run_index}", unit="tick",
                      leave=False):
            net.advance(step)
        stop_all(procs)
        resources = sampler.stop()
        status = net.status()
    return {"work": work, "ticks": np.array(ticks), "resources": resources, "status": status,
            "names": list(run.engine.nodes.names), "engine": run.engine}


def load_packets(work: Path) -> np.ndarray:
    """Every packet the clients received, as a structured array."""
    parts = [np.loadtxt(work / f"client-{c}.csv", delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
             for c in CLIENTS if (work / f"client-{c}.csv").exists()]
    a = np.concatenate([p for p in parts if p.size] or [np.zeros((0, 8), np.int64)])
    dtype = [("src", np.int64), ("dst", np.int64), ("seq", np.int64), ("send_ns", np.int64), ("rx_ns", np.int64),
             ("bridge", np.int64), ("b_rx", np.int64), ("b_tx", np.int64)]
    out = np.empty(len(a), dtype=dtype)
    for k, (name, _) in enumerate(dtype):
        out[name] = a[:, k]
    return out


def expected(result: dict, packets: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(emulated offset at send, expected one-way delay src -> bridge -> dst in ms) per packet,
    from the engine's snapshot of the tick in force when the packet was sent."""
    engine, ticks = result["engine"], result["ticks"]
    names = result["names"]
    client_nodes = [names.index(c) for c in CLIENTS]
    k = np.clip(np.searchsorted(ticks[:, 0], packets["send_ns"], side="right") - 1, 0, len(ticks) - 1)
    offsets = ticks[k, 1]
    out = np.full(len(packets), np.nan)
    for off in np.unique(offsets):
        d = engine.snapshot(float(off)).routes(client_nodes).delay_ms       # (3, V)
        m = offsets == off
        p = packets[m]
        out[m] = d[p["src"], p["bridge"]] + d[p["dst"], p["bridge"]]
    return offsets, out


def analyse(deployment: str, run_index: int, result: dict, rows: List[dict], per_second: List[dict]) -> Dict:
    packets = load_packets(result["work"])
    if not len(packets):
        raise SystemExit(f"{deployment} run {run_index}: no packet arrived; see {result['work']}/*.log")
    offsets, exp = expected(result, packets)
    lat = (packets["rx_ns"] - packets["send_ns"]) / 1e6
    proc = (packets["b_tx"] - packets["b_rx"]) / 1e6
    t0 = packets["send_ns"].min()
    out = {"packets": packets, "latency": lat, "expected": exp, "processing": proc, "offsets": offsets}
    for a, b in PAIRS:
        for s, d in ((a, b), (b, a)):
            m = (packets["src"] == CLIENTS.index(s)) & (packets["dst"] == CLIENTS.index(d))
            if not m.any():
                continue
            bound = PAPER["satellite_bound_ms"] if deployment == "satellite" else PAPER["cloud_bound_ms"]
            rows.append({"deployment": deployment, "run": run_index, "src": s, "dst": d, "packets": int(m.sum()),
                         "p50_ms": float(np.median(lat[m])), "p80_ms": float(np.percentile(lat[m], 80)),
                         "p95_ms": float(np.percentile(lat[m], 95)), "expected_p50_ms": float(np.nanmedian(exp[m])),
                         "residual_p50_ms": float(np.nanmedian(lat[m] - exp[m])),
                         "share_below_bound": float(np.mean(lat[m] <= bound)), "bound_ms": bound,
                         "bridge_processing_p50_ms": float(np.median(proc[m]))})
            sec = ((packets["send_ns"][m] - t0) // 1_000_000_000).astype(int)
            for t in np.unique(sec):
                w = sec == t
                per_second.append({"deployment": deployment, "run": run_index, "src": s, "dst": d, "t_s": int(t),
                                   "measured_median_ms": float(np.median(lat[m][w])),
                                   "expected_median_ms": float(np.nanmedian(exp[m][w]))})
    return out


def shells_selected(work: Path, names: List[str]) -> Dict[str, float]:
    path = work / "decisions.csv"
    if not path.exists():
        return {}
    with open(path) as fh:
        shells = [int(r["shell"]) for r in csv.DictReader(fh) if r["shell"] not in ("", "None")]
    if not shells:
        return {}
    values, counts = np.unique(shells, return_counts=True)
    return {f"shell{v + 1}": float(c / len(shells)) for v, c in zip(values, counts)}


def figures(out: Path, results: Dict[Tuple[str, int], dict], resources: List[dict]) -> None:
    plt = matplotlib_agg()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    for ax, (a, b) in zip(axes, PAIRS):
        for (dep, run), r in sorted(results.items()):
            if run != 1:
                continue
            p = r["packets"]
            m = ((p["src"] == CLIENTS.index(a)) & (p["dst"] == CLIENTS.index(b))) | (
                (p["src"] == CLIENTS.index(b)) & (p["dst"] == CLIENTS.index(a)))
            x, y = cdf(r["latency"][m])
            ax.plot(x, y, label=f"{dep} (ours)", color="tab:blue" if dep == "satellite" else "tab:orange")
        for bound in (16, 46):
            ax.axvline(bound, color="grey", ls="--", lw=0.8)
            ax.text(bound + 0.5, 0.05, f"{bound} ms", fontsize=7, color="grey")
        ax.axhline(0.8, color="grey", ls=":", lw=0.8)
        ax.set_title(f"({'abc'[PAIRS.index((a, b))]}) {a} - {b}")
        ax.set_xlim(0, 70)
        ax.set_xlabel("end-to-end latency via the bridge (ms)")
    axes[0].set_ylabel("cumulative share")
    axes[0].legend(fontsize=8, loc="center right")
    fig.suptitle("Celestial Fig. 4 on leonet: client-to-client latency, satellite vs cloud bridge")
    finish_figure(plt, fig, out / "meetup_fig4_cdf.png", dpi=120)

    for name, (src, dst), title in (("fig5_accuracy", ("Abuja", "Accra"), "Fig. 5: Abuja -> Accra via the cloud"),
                                    ("fig6_reproducibility", ("Yaounde", "Abuja"),
                                     "Fig. 6: Yaounde -> Abuja via the cloud, runs")):
        fig, ax = plt.subplots(figsize=(9, 3.8))
        for (dep, run), r in sorted(results.items()):
            if dep != "cloud" or (name == "fig5_accuracy" and run != 1):
                continue
            p = r["packets"]
            m = (p["src"] == CLIENTS.index(src)) & (p["dst"] == CLIENTS.index(dst))
            t = (p["send_ns"][m] - p["send_ns"].min()) / 1e9
            sec = t.astype(int)
            secs = np.unique(sec)
            med = np.array([np.median(r["latency"][m][sec == s]) for s in secs])
            ax.plot(secs, med, lw=1, label="measured" if name == "fig5_accuracy" else f"run {run}")
            if name == "fig5_accuracy":
                e = np.array([np.nanmedian(r["expected"][m][sec == s]) for s in secs])
                proc = float(np.median(r["processing"][m]))
                ax.plot(secs, e + proc, lw=1, label=f"expected (engine + our {proc:.2f} ms bridge processing)")
        ax.set_xlabel("t (s)")
        ax.set_ylabel("latency, 1 s median (ms)")
        ax.set_title(f"Celestial {title} (leonet)")
        ax.legend(fontsize=8)
        finish_figure(plt, fig, out / f"meetup_{name}.png", dpi=120)

    if resources:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 3.8))
        for group, color in (("emulation", "tab:blue"), ("delay_daemon", "tab:red"), ("apps", "tab:green")):
            rows = [r for r in resources if r["run"] == resources[0]["run"] and r["deployment"] == resources[0]["deployment"]]
            t = [r["t_s"] for r in rows]
            a1.plot(t, [r[f"{group}_cpu_percent"] for r in rows], color=color, lw=1, label=group)
            a2.plot(t, [r[f"{group}_rss_mb"] for r in rows], color=color, lw=1, label=group)
        a1.set_ylabel("CPU (% of one core)")
        a2.set_ylabel("resident memory (MB)")
        for a in (a1, a2):
            a.set_xlabel("t (s)")
            a.legend(fontsize=8)
        fig.suptitle(f"Celestial Figs. 7-8 on leonet: CPU and memory ({resources[0]['deployment']} run)")
        finish_figure(plt, fig, out / "meetup_fig7_8_resources.png", dpi=120)


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, help="seconds per run (default 600, quick 16)")
    p.add_argument("--repeat", type=int, default=3, help="cloud runs for Fig. 6 (default 3; quick 1)")
    p.add_argument("--repeat-duration", type=float, default=180.0, help="seconds of the extra cloud runs")
    p.add_argument("--rate-kbps", type=float, help="video bit rate per client (paper 2,600; quick 300)")
    p.add_argument("--packet", type=int, default=1400, help="UDP payload bytes")
    p.add_argument("--step", type=float, default=2.0, help="update interval (paper: 2 s)")
    p.add_argument("--forwarding", choices=("hop-by-hop", "per-pair"), default="hop-by-hop",
                   help="per-pair: Celestial's own network model (docs/forwarding.md)")
    args = p.parse_args()
    args.duration = args.duration or (16.0 if args.quick else 600.0)
    args.rate_kbps = args.rate_kbps or (300.0 if args.quick else 2600.0)
    repeat = 1 if args.quick else max(1, args.repeat)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    raw_dir = out / "meetup_raw"
    plan = [("satellite", 1, args.duration), ("cloud", 1, args.duration)] + \
        [("cloud", k, args.repeat_duration) for k in range(2, repeat + 1)]
    rows: List[dict] = []
    per_second: List[dict] = []
    results: Dict[Tuple[str, int], dict] = {}
    resources: List[dict] = []
    selection: Dict[str, float] = {}
    for dep, k, duration in plan:
        print(f"celestial meetup: {dep} bridge, run {k}, {duration:.0f} s", file=sys.stderr)
        r = run_once(dep, k, duration, args, raw_dir)
        results[(dep, k)] = analyse(dep, k, r, rows, per_second)
        resources += [dict(x, deployment=dep, run=k) for x in r["resources"]]
        if dep == "satellite":
            selection = shells_selected(r["work"], r["names"])
        results[(dep, k)]["apply_ms_p50"] = r["status"]["stats"]["apply_ms_p50"]
    cols = ["deployment", "run", "src", "dst", "packets", "p50_ms", "p80_ms", "p95_ms", "expected_p50_ms",
            "residual_p50_ms", "share_below_bound", "bound_ms", "bridge_processing_p50_ms"]
    write_csv(out / "meetup_latency.csv", rows, cols)
    write_csv(out / "meetup_per_second.csv", per_second,
              ["deployment", "run", "src", "dst", "t_s", "measured_median_ms", "expected_median_ms"])
    if resources:
        write_csv(out / "meetup_resources.csv", resources, ["deployment", "run"] + [c for c in resources[0]
                                                                                    if c not in ("deployment", "run")])
    figures(out, results, resources)
    print("\nCelestial Fig. 4 (paper: >= 80 % of the time below 16 ms via a satellite bridge, below 46 ms via "
          "the cloud; caption: up to 15 ms for 80 %)")
    print_table([r for r in rows if r["run"] == 1], ["deployment", "src", "dst", "packets", "p50_ms", "p80_ms",
                                                     "expected_p50_ms", "residual_p50_ms", "share_below_bound"])
    for dep in ("satellite", "cloud"):
        mine = [r for r in rows if r["deployment"] == dep and r["run"] == 1]
        if mine:
            share = np.mean([r["share_below_bound"] for r in mine])
            print(f"  {dep}: {100 * share:.0f} % of packets below {mine[0]['bound_ms']:.0f} ms (paper: >= 80 %); "
                  f"p80 over pairs {max(r['p80_ms'] for r in mine):.1f} ms at most")
    proc = np.concatenate([r["processing"] for r in results.values()])
    resid = np.concatenate([r["latency"] - r["expected"] for r in results.values()])
    print(f"bridge processing: median {np.median(proc):.3f} ms, sd {np.std(proc):.3f} ms; measured - engine "
          f"expected: median {np.nanmedian(resid):.3f} ms, sd {np.nanstd(resid):.3f} ms (paper: clients + bridge "
          f"processing {PAPER['processing_median_ms']} ms median, {PAPER['processing_sd_ms']} ms sd)")
    print(f"shells of the chosen satellites: {selection or 'no decision logged'} (paper: {PAPER['shells_selected']})")
    if ("cloud", 2) in results:
        curves = []
        for k in range(1, repeat + 1):
            ps = [r for r in per_second if r["deployment"] == "cloud" and r["run"] == k and r["src"] == "Yaounde"
                  and r["dst"] == "Abuja" and r["t_s"] < args.repeat_duration]
            curves.append({r["t_s"]: r["measured_median_ms"] for r in ps})
        common = sorted(set.intersection(*(set(c) for c in curves)))
        spread = [max(c[t] for c in curves) - min(c[t] for c in curves) for t in common]
        print(f"Fig. 6 reproducibility (Yaounde -> Abuja via the cloud, {repeat} runs): per-second medians differ by "
              f"{np.median(spread):.2f} ms median, {np.percentile(spread, 95):.2f} ms p95 across runs")
    if resources:
        first = [r for r in resources if r["run"] == 1 and r["deployment"] == "satellite"] or resources
        for g in ("emulation", "delay_daemon", "apps"):
            print(f"resources ({first[0]['deployment']} run): {g} CPU mean {np.mean([r[g + '_cpu_percent'] for r in first]):.1f} % "
                  f"of a core, RSS max {max(r[g + '_rss_mb'] for r in first):.0f} MB")
    print(f"files: {out}/meetup_*.csv, meetup_*.png")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
