"""Krios Fig. 2 and the 1.03-vs-475 claim (trace-driven): availability (direct
access) of an application over 100 minutes when it is pre-deployed on 5/10/20/30 %
of shell 1 ("naive LEO compute"), against Krios' handovers with their time-average
instance count; and the fewest uniformly spread replicas that give 100 %.

Availability is counted per second: is some instance on a satellite in the zone's
projected region. The paper's user is a single stationary point (we use San
Francisco, r = 0); the scenario's zones are reported too. Naive replicas are spread
evenly over the shell's plane-and-slot order ("uniform") or drawn at random (mean of
20 draws). Krios: proactive handovers, t_i = 5 s, lead 5 s (Eq. 1 with the paper's
numbers), first instance placed at the window's start.

    python experiments/krios_fig2.py [--quick]
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from krios_common import (PAPER_SHELL, PAPER_WINDOW_S, Stopwatch, matplotlib_agg, parser, print_table,
                          save_figure, setting, start_offsets, write_csv)
from leonet.krios.replication import (availability, min_uniform_replicas, uniform_availability_curve, random_selection,
                                      uniform_selection)
from leonet.krios.timeline import plan
from leonet.krios.zones import Zone

FRACTIONS = (0.05, 0.10, 0.20, 0.30)
PAPER = {"naive_for_100_percent": 475, "krios_instances": 1.03, "krios_availability": 1.0}
DRAWS = 20


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    watch = Stopwatch()
    c, cfg, manager = setting(args.scenario)
    n = c.num_satellites
    zones = [Zone("sf-point", 37.7749, -122.4194, 0.0, 25.0, None)]
    if not args.quick:
        zones += list(cfg.zones.values())
    starts = start_offsets(args.quick)
    grid_rows, summary = [], []
    counts = np.arange(1, n + 1, 1 if not args.quick else 8)
    curves = {}
    jobs = [(z, s) for z in zones for s in starts]
    for zone, start in tqdm(jobs, desc="zones x windows", unit="window"):
        offsets = start + np.arange(0.0, PAPER_WINDOW_S, 1.0)
        member = manager.membership(zone, offsets)
        rng = np.random.default_rng(0)
        for f in FRACTIONS:
            k = int(round(f * n))
            rand = [availability(member, random_selection(n, k, rng)) for _ in range(DRAWS)]
            grid_rows.append({"zone": zone.name, "window_start_s": start, "deployment": f"naive {f:.0%}",
                              "instances": float(k), "availability_uniform": availability(member, uniform_selection(n, k)),
                              "availability_random_mean": float(np.mean(rand)),
                              "availability_random_min": float(np.min(rand))})
        p = plan(manager, zone, start, PAPER_WINDOW_S, "krios", "proactive", lead_s=5.0, init_s=5.0)
        av = p.availability(manager)
        grid_rows.append({"zone": zone.name, "window_start_s": start, "deployment": "krios",
                          "instances": p.mean_instances(), "availability_uniform": av,
                          "availability_random_mean": av, "availability_random_min": av})
        need = min_uniform_replicas(member)
        curves[(zone.name, start)] = uniform_availability_curve(member, counts)
        summary.append({"zone": zone.name, "window_start_s": start, "naive_min_uniform_for_100": need,
                        "naive_fraction": need / n, "paper_naive": PAPER["naive_for_100_percent"],
                        "krios_mean_instances": p.mean_instances(), "paper_krios_instances": PAPER["krios_instances"],
                        "krios_availability": av, "handovers": len(p.intervals_s()) + 1,
                        "ratio_naive_over_krios": need / p.mean_instances(), "paper_ratio": 475 / 1.03})

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "fig2.csv", grid_rows, list(grid_rows[0]))
    write_csv(args.out / "fig2_summary.csv", summary, list(summary[0]))
    print(f"\nFig. 2: availability over 100 min (shell 1, {n} satellites; paper: {PAPER_SHELL}) in {watch():.0f} s")
    print_table(grid_rows, ["zone", "window_start_s", "deployment", "instances", "availability_uniform",
                            "availability_random_mean", "availability_random_min"], "{:.4f}")
    print("\nThe claim: naive replicas needed for 100 % vs Krios' time-average instances")
    print_table(summary, ["zone", "window_start_s", "naive_min_uniform_for_100", "paper_naive",
                          "krios_mean_instances", "paper_krios_instances", "krios_availability",
                          "ratio_naive_over_krios", "paper_ratio"], "{:.3f}")

    curve_rows = []
    for zone in zones:
        full = np.all([curves[(zone.name, s)] >= 1.0 for s in starts], axis=0)
        every = int(counts[np.argmax(full)]) if full.any() else -1
        print(f"{zone.name}: fewest uniform replicas with 100 % in every window: {every} "
              f"({every / n:.1%} of the shell; paper: 475 = 30 %)")
        for k, *vals in zip(counts, *[curves[(zone.name, s)] for s in starts]):
            curve_rows.append({"zone": zone.name, "replicas": int(k), "availability_min": float(min(vals)),
                               "availability_mean": float(np.mean(vals))})
    write_csv(args.out / "fig2_curve.csv", curve_rows, list(curve_rows[0]))

    plt = matplotlib_agg()
    names = [z.name for z in zones]
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 7.2), squeeze=False)
    labels = [f"naive {f:.0%}" for f in FRACTIONS] + ["krios"]
    for ax, zname in zip(axes[0], names):
        rows = [r for r in grid_rows if r["zone"] == zname]
        vals = [100 * np.mean([r["availability_uniform"] for r in rows if r["deployment"] == d]) for d in labels]
        inst = [np.mean([r["instances"] for r in rows if r["deployment"] == d]) for d in labels]
        bars = ax.bar(range(len(labels)), vals, color=["#bbb"] * len(FRACTIONS) + ["#1f77b4"])
        for b, i in zip(bars, inst):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 1, f"{i:.0f}" if i > 2 else f"{i:.2f}",
                    ha="center", fontsize=8)
        ax.set_xticks(range(len(labels)), [lb.replace("naive ", "") for lb in labels], fontsize=8)
        ax.set_ylim(0, 110)
        ax.set_ylabel("availability (% of 100 min)")
        ax.set_title(f"{zname} (label: instances)", fontsize=9)
    for ax, zname in zip(axes[1], names):
        rows = [r for r in curve_rows if r["zone"] == zname]
        ax.plot([r["replicas"] for r in rows], [100 * r["availability_min"] for r in rows], lw=0.8,
                label="uniform spread, worst window")
        ax.axvline(475, color="r", ls="--", lw=0.8, label="paper: 475")
        ax.set_xlabel("replicas on shell 1")
        ax.set_ylabel("availability (%)")
        ax.legend(fontsize=7)
    fig.suptitle("Krios Fig. 2: naive replication on x % of shell 1 vs Krios")
    save_figure(fig, args.out / "fig2.png", args.out / "fig2.csv", args.out / "fig2_summary.csv",
                args.out / "fig2_curve.csv")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
