"""Krios Fig. 11: time between handovers for Krios' scoring vs the closest and random
node policies (paper: Krios 1.5x closest and 2x random; random has the largest
variance; closest uses a satellite for about half of its access time; "a handover
every 3 minutes").

Trace-driven: one app in the San Francisco zone (100 km, 25 deg), proactive handovers
(lead 5 s, t_i 5 s), over a day of shell 1 (2 h with --quick); random is averaged
over several seeds. ``longest`` (the exact remaining access time, an oracle) shows
how close the v . (c - p) heuristic comes to the best possible choice.

    python experiments/krios_fig11.py [--quick]
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from krios_common import (DAY_S, Stopwatch, handover_stats, matplotlib_agg, parser, print_table, save_figure,
                          setting, write_csv)

POLICIES = ("krios", "closest", "random", "longest")
PAPER_RATIO = {"closest": 1.5, "random": 2.0}
RANDOM_SEEDS = 5


def used_fraction(manager, zone, plan) -> np.ndarray:
    """Per replaced instance: time used / the satellite's whole stay in the region."""
    out = []
    for inst in plan.instances:
        if inst.created_s <= plan.start_s or inst.deleted_s >= plan.end_s:
            continue
        entered = manager.entered_at(zone, inst.satellite, inst.created_s)
        out.append((inst.deleted_s - inst.created_s) / max(inst.exit_s - entered, 1e-9))
    return np.array(out)


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    watch = Stopwatch()
    _, cfg, manager = setting(args.scenario)
    zone = cfg.zones["sf"]
    span = 2 * 3600.0 if args.quick else DAY_S
    rows, boxes = [], {}
    for policy in tqdm(POLICIES, desc="policies", unit="policy"):
        seeds = range(RANDOM_SEEDS if policy == "random" and not args.quick else 1)
        stats = [handover_stats(manager, zone, policy, span, seed=s) for s in seeds]
        iv = np.concatenate([s["_intervals"] for s in stats])
        boxes[policy] = iv
        frac = used_fraction(manager, zone, stats[0]["_plan"])
        row = {k: v for k, v in stats[0].items() if not k.startswith("_")}
        row.update(mean_s=float(iv.mean()), median_s=float(np.median(iv)), std_s=float(iv.std()),
                   cv=float(iv.std() / iv.mean()), seeds=len(stats),
                   used_fraction_of_access=float(np.median(frac)) if len(frac) else float("nan"))
        rows.append(row)
    krios = next(r for r in rows if r["policy"] == "krios")
    for r in rows:
        r["krios_over_policy"] = krios["mean_s"] / r["mean_s"]
        r["paper_ratio"] = PAPER_RATIO.get(r["policy"])
    args.out.mkdir(parents=True, exist_ok=True)
    columns = ["policy", "seeds", "handovers", "per_day", "mean_s", "median_s", "std_s", "cv", "krios_over_policy",
               "paper_ratio", "used_fraction_of_access", "availability", "mean_instances"]
    write_csv(args.out / "fig11.csv", rows, columns)
    print(f"\nFig. 11: scoring policies, SF 100 km, 25 deg ({watch():.0f} s, {span / 3600:g} h)")
    print_table(rows, columns, "{:.2f}")
    print(f"\nKrios: a handover every {krios['mean_s'] / 60:.1f} min on average (paper: about 3 min)")

    plt = matplotlib_agg()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    ax.bar(range(len(rows)), [r["mean_s"] for r in rows], yerr=[r["std_s"] for r in rows], capsize=4,
           color=["#1f77b4", "#ff7f0e", "#2ca02c", "#999"])
    ax.set_xticks(range(len(rows)), [r["policy"] for r in rows])
    ax.set_ylabel("mean time between handovers (s), ± std")
    for k, r in enumerate(rows):
        if r["paper_ratio"]:
            ax.text(k, r["mean_s"] / 2, f"Krios {r['krios_over_policy']:.2f}x\n(paper {r['paper_ratio']:g}x)",
                    ha="center", fontsize=8, color="w")
    bx.boxplot([boxes[p] for p in POLICIES], showfliers=False)
    bx.set_xticks(np.arange(1, len(POLICIES) + 1), POLICIES)
    bx.set_ylabel("time between handovers (s)")
    fig.suptitle("Krios Fig. 11: SF zone, 100 km, 25°")
    save_figure(fig, args.out / "fig11.png", args.out / "fig11.csv")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
