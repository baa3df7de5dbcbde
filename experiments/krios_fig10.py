"""Krios Fig. 10: time between Krios' handovers as the minimum elevation angle rises,
against Starlink's periodic 15 s handovers (paper: median 94 s at 45 deg, "6x").

Trace-driven: one app in the San Francisco zone, Krios scoring, proactive handovers
(lead 5 s, t_i 5 s) over a day of shell 1 (2 h with --quick). The paper does not say
which zone radius Fig. 10 uses; its §7.2 microbenchmarks use SF with 100 km, so that
is the headline, with 0 and 50 km beside it.

    python experiments/krios_fig10.py [--quick]
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from krios_common import (DAY_S, STARLINK_PERIODIC_S, Stopwatch, handover_stats, matplotlib_agg, parser,
                          print_table, save_figure, setting, write_csv)
from leonet.krios.zones import Zone

ELEVATIONS = (25, 30, 35, 40, 45, 50)
RADII = (100, 50, 0)
PAPER_MEDIAN_45_S = 94.0


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    watch = Stopwatch()
    _, cfg, manager = setting(args.scenario)
    sf = cfg.zones["sf"]
    span = 2 * 3600.0 if args.quick else DAY_S
    radii = RADII[:1] if args.quick else RADII
    elevations = (25, 45) if args.quick else ELEVATIONS
    rows, boxes = [], {}
    for r in radii:
        for e in tqdm(elevations, desc=f"r={r} km", unit="angle"):
            zone = Zone(f"sf-{r}km", sf.lat_deg, sf.lon_deg, float(r), float(e))
            st = handover_stats(manager, zone, "krios", span)
            boxes[(r, e)] = st.pop("_intervals")
            st.pop("_plan")
            st["vs_starlink_15s"] = st["median_s"] / STARLINK_PERIODIC_S
            st["paper_median_s"] = PAPER_MEDIAN_45_S if e == 45 else None
            rows.append(st)
    args.out.mkdir(parents=True, exist_ok=True)
    columns = ["zone", "radius_km", "min_elevation_deg", "handovers", "per_day", "median_s", "paper_median_s",
               "mean_s", "p25_s", "p75_s", "min_s", "vs_starlink_15s", "availability", "mean_instances"]
    write_csv(args.out / "fig10.csv", rows, columns)
    print(f"\nFig. 10: time between handovers vs minimum elevation, SF zone, Krios scoring ({watch():.0f} s, "
          f"{span / 3600:g} h)")
    print_table(rows, columns, "{:.2f}")
    head = next((r for r in rows if r["radius_km"] == 100 and r["min_elevation_deg"] == 45), None)
    if head:
        print(f"\nat 45 deg, 100 km: median {head['median_s']:.1f} s (paper: 94 s), "
              f"{head['vs_starlink_15s']:.1f}x Starlink's 15 s (paper: 6x)")

    plt = matplotlib_agg()
    fig, axes = plt.subplots(1, len(radii), figsize=(4.5 * len(radii), 4), squeeze=False, sharey=True)
    for ax, r in zip(axes[0], radii):
        data = [boxes[(r, e)] for e in elevations]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(np.arange(1, len(elevations) + 1), [str(e) for e in elevations])
        ax.axhline(STARLINK_PERIODIC_S, color="r", ls="--", lw=1, label="Starlink periodic (15 s)")
        if 45 in elevations:
            ax.plot([elevations.index(45) + 1], [PAPER_MEDIAN_45_S], "k*", ms=10, label="paper: 94 s at 45°")
        ax.set_xlabel("minimum elevation (deg)")
        ax.set_title(f"SF zone, r = {r} km")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("time between handovers (s)")
    fig.suptitle("Krios Fig. 10")
    save_figure(fig, args.out / "fig10.png", args.out / "fig10.csv")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
