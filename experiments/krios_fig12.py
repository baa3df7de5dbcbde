"""Krios Fig. 12: time between handovers for zones of radius 0, 25, 50, 75 and 100 km
(paper: it decreases monotonically with the radius; Smokies at 50 km: a median of
about 200 s, about 432 handovers a day).

Trace-driven: Krios scoring, 25 deg, proactive handovers (lead 5 s, t_i 5 s) over a
day of shell 1 (2 h with --quick), for San Francisco and the Great Smoky Mountains.

    python experiments/krios_fig12.py [--quick]
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from krios_common import (DAY_S, Stopwatch, handover_stats, matplotlib_agg, parser, print_table, save_figure,
                          setting, write_csv)
from leonet.krios.zones import Zone

RADII = (0, 25, 50, 75, 100)
PAPER_SMOKIES = {"median_s": 200.0, "per_day": 432.0}


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    watch = Stopwatch()
    _, cfg, manager = setting(args.scenario)
    span = 2 * 3600.0 if args.quick else DAY_S
    places = ["sf"] if args.quick else ["sf", "smokies"]
    rows, boxes = [], {}
    for place in places:
        centre = cfg.zones[place]
        for r in tqdm(RADII, desc=place, unit="radius"):
            zone = Zone(f"{place}-{r}km", centre.lat_deg, centre.lon_deg, float(r), centre.min_elevation_deg)
            st = handover_stats(manager, zone, "krios", span)
            boxes[(place, r)] = st.pop("_intervals")
            st.pop("_plan")
            st["place"] = place
            if place == "smokies" and r == 50:
                st["paper_median_s"], st["paper_per_day"] = PAPER_SMOKIES["median_s"], PAPER_SMOKIES["per_day"]
            rows.append(st)
    monotone = {}
    for place in places:
        med = [r["median_s"] for r in rows if r["place"] == place]
        mean = [r["mean_s"] for r in rows if r["place"] == place]
        monotone[place] = bool(np.all(np.diff(mean) < 0))
        print(f"{place}: mean time between handovers decreases monotonically with radius: {monotone[place]} "
              f"(means {', '.join(f'{m:.0f}' for m in mean)} s; medians {', '.join(f'{m:.0f}' for m in med)} s)")
    args.out.mkdir(parents=True, exist_ok=True)
    columns = ["place", "radius_km", "handovers", "per_day", "paper_per_day", "median_s", "paper_median_s", "mean_s",
               "p25_s", "p75_s", "std_s", "availability", "mean_instances"]
    write_csv(args.out / "fig12.csv", rows, columns)
    print(f"\nFig. 12: time between handovers vs zone radius, 25 deg ({watch():.0f} s, {span / 3600:g} h)")
    print_table(rows, columns, "{:.2f}")

    plt = matplotlib_agg()
    fig, axes = plt.subplots(1, len(places), figsize=(4.8 * len(places), 4), squeeze=False, sharey=True)
    for ax, place in zip(axes[0], places):
        ax.boxplot([boxes[(place, r)] for r in RADII], showfliers=False)
        ax.plot(np.arange(1, len(RADII) + 1), [r["mean_s"] for r in rows if r["place"] == place], "o-",
                label="mean")
        if place == "smokies":
            ax.plot([RADII.index(50) + 1], [PAPER_SMOKIES["median_s"]], "k*", ms=10, label="paper: ~200 s median")
        ax.set_xticks(np.arange(1, len(RADII) + 1), [str(r) for r in RADII])
        ax.set_xlabel("zone radius (km)")
        ax.set_title(place)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("time between handovers (s)")
    fig.suptitle("Krios Fig. 12")
    save_figure(fig, args.out / "fig12.png", args.out / "fig12.csv")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
