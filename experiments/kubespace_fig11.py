"""KubeSpace Fig. 11: control-node assignment with K = 2..20 CNPA-placed control
nodes. CNAA (threshold delta) vs nearest-only: handover frequency against average
latency, deciding on the straight-line distance (the paper) or on path delay.

Latency is the one-way path delay from each satellite to the node it is assigned
to, averaged over satellites and the 60 s sample times of the day.

    python experiments/kubespace_fig11.py [--quick] [--threshold 0.9]
"""
from __future__ import annotations

import numpy as np

from kubespace_common import (CONSTELLATIONS, DAY_S, Stopwatch, load, matplotlib_agg, parser, path_tensor,
                              print_table, save_figure, selected, write_csv)
from kubespace_fig10 import snapshot_offsets
from leonet.kubespace import DEFAULT_THRESHOLD, assign, cnpa, select_representatives
from leonet.kubespace.assignment import straight_line_samples
from leonet.kubespace.metrics import MS_PER_KM

PAPER = {"handover_reduction_pct": 19.0, "latency_increase_ms": 2.0}   # Starlink
SWEEP = (0.95, 0.9, 0.85, 0.8, 0.7, 0.6)                            # extra thresholds, Starlink


def mean_latency(assigned: np.ndarray, values: np.ndarray) -> float:
    """Mean of values[n, assigned[n, t], t] over satellites n and times t (finite only)."""
    v = np.take_along_axis(values, assigned[:, None, :], axis=1)[:, 0, :]
    return float(v[np.isfinite(v)].mean())


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="CNAA's delta")
    args = p.parse_args()
    quick = args.quick
    ks = [2, 3] if quick else list(range(2, 21))
    clusters = 4 if quick else 20
    rows = []
    for name in selected(args):
        c = load(name)
        offsets = snapshot_offsets(quick)
        window = offsets[-1]
        tensor = np.asarray(path_tensor(c, CONSTELLATIONS[name][0], offsets, args.out / "cache",
                                        workers=args.workers, desc=f"paths {name}"))
        day = tensor[:-1]
        reps = select_representatives(day, clusters, seed=0)
        N = c.num_satellites
        thresholds = [1.0, args.threshold]
        if name == "starlink" and not quick:
            thresholds += [t for t in SWEEP if t != args.threshold]
        print(f"{name}: {N} satellites, K = {ks[0]}..{ks[-1]}, thresholds {thresholds}", flush=True)
        for k in ks:
            w = Stopwatch()
            sel = cnpa(day, k, clusters, seed=0, representatives=reps).selection
            path = np.transpose(tensor[:, sel, :], (2, 1, 0))                        # (N, K, S) ms
            straight = straight_line_samples(c.propagator, c.ground_station_ecef[sel], offsets) * MS_PER_KM
            for metric, samples, interp, thr in (("straight", straight, "cubic", thresholds),
                                                 ("path", path, "linear", thresholds[:2])):
                for res in assign(samples, 60.0, 1.0, thr, interp):
                    assigned = res.assigned_at(offsets)
                    rows.append({"constellation": name, "k": k, "decide_on": metric,
                                 "method": "nearest" if res.threshold == 1.0 else "cnaa",
                                 "threshold": res.threshold,
                                 "handovers_per_sat_day": res.total / N * DAY_S / window,
                                 "mean_path_ms": mean_latency(assigned, path),
                                 "mean_straight_ms": mean_latency(assigned, straight)})
            print(f"  K={k:2d} {w():6.1f} s", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    columns = ["constellation", "k", "decide_on", "method", "threshold", "handovers_per_sat_day",
               "mean_path_ms", "mean_straight_ms"]
    write_csv(args.out / "fig11.csv", rows, columns)

    # CNAA at the chosen threshold against nearest-only, per K and on average over K.
    summary = []
    for name in sorted({r["constellation"] for r in rows}, key=list(CONSTELLATIONS).index):
        for metric in ("straight", "path"):
            per_k = []
            for k in ks:
                base = next(r for r in rows if (r["constellation"], r["k"], r["decide_on"], r["threshold"])
                            == (name, k, metric, 1.0))
                ours = next(r for r in rows if (r["constellation"], r["k"], r["decide_on"], r["threshold"])
                            == (name, k, metric, args.threshold))
                per_k.append((1 - ours["handovers_per_sat_day"] / base["handovers_per_sat_day"],
                              ours["mean_path_ms"] - base["mean_path_ms"], base, ours))
                summary.append({"constellation": name, "decide_on": metric, "k": k,
                                "nearest_ho": base["handovers_per_sat_day"], "cnaa_ho": ours["handovers_per_sat_day"],
                                "ho_reduction_pct": 100 * per_k[-1][0],
                                "nearest_ms": base["mean_path_ms"], "cnaa_ms": ours["mean_path_ms"],
                                "latency_increase_ms": per_k[-1][1]})
            red = np.mean([x[0] for x in per_k]) * 100
            inc = np.mean([x[1] for x in per_k])
            summary.append({"constellation": name, "decide_on": metric, "k": "mean",
                            "ho_reduction_pct": red, "latency_increase_ms": inc,
                            "paper_reduction_pct": PAPER["handover_reduction_pct"] if name == "starlink" else None,
                            "paper_increase_ms": PAPER["latency_increase_ms"] if name == "starlink" else None})
    write_csv(args.out / "fig11_summary.csv", summary,
              ["constellation", "decide_on", "k", "nearest_ho", "cnaa_ho", "ho_reduction_pct", "nearest_ms",
               "cnaa_ms", "latency_increase_ms", "paper_reduction_pct", "paper_increase_ms"])
    print(f"\nFig. 11: CNAA (delta = {args.threshold:g}) vs nearest-only; handovers per satellite per day, "
          "mean one-way path latency to the assigned node (ms)")
    print_table(summary, ["constellation", "decide_on", "k", "nearest_ho", "cnaa_ho", "ho_reduction_pct",
                          "nearest_ms", "cnaa_ms", "latency_increase_ms", "paper_reduction_pct",
                          "paper_increase_ms"])

    plt = matplotlib_agg()
    names = sorted({r["constellation"] for r in rows}, key=list(CONSTELLATIONS).index)
    fig, axes = plt.subplots(len(names), 3, figsize=(14, 3.6 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        ax_lat, ax_ho, ax_trade = axes[i]
        for metric, style in (("straight", "-"), ("path", "--")):
            for method, thr, color in (("nearest", 1.0, "tab:gray"), ("cnaa", args.threshold, "tab:blue")):
                sel = [r for r in rows if r["constellation"] == name and r["decide_on"] == metric
                       and r["threshold"] == thr]
                label = f"{method} ({metric})"
                ax_lat.plot([r["k"] for r in sel], [r["mean_path_ms"] for r in sel], style, color=color, label=label)
                ax_ho.plot([r["k"] for r in sel], [r["handovers_per_sat_day"] for r in sel], style, color=color,
                           label=label)
        for thr in sorted({r["threshold"] for r in rows if r["constellation"] == name}, reverse=True):
            sel = [r for r in rows if r["constellation"] == name and r["decide_on"] == "straight"
                   and r["threshold"] == thr]
            ax_trade.plot([r["mean_path_ms"] for r in sel], [r["handovers_per_sat_day"] for r in sel], "o-",
                          markersize=3, label="nearest" if thr == 1.0 else f"δ={thr:g}")
        ax_lat.set(xlabel="control nodes K", ylabel="mean one-way latency (ms)", title=f"{name}: latency")
        ax_ho.set(xlabel="control nodes K", ylabel="handovers / satellite / day", title=f"{name}: handovers")
        ax_trade.set(xlabel="mean one-way latency (ms)", ylabel="handovers / satellite / day",
                     title=f"{name}: trade-off (straight line, K = {ks[0]}..{ks[-1]})")
        for ax in (ax_lat, ax_ho, ax_trade):
            ax.legend(fontsize=7)
    save_figure(fig, args.out / "fig11.png", args.out / "fig11.csv", args.out / "fig11_summary.csv", dpi=110)
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
