"""Krios Table 1: radius of a zone vs radius of its space projected region (km), at
550 km and a 25 deg minimum elevation, as the arc on the shell.

Three columns of ours beside the paper's:

* ``closed_form``: App. A with the paper's constants (R = 6378.135 km, h = 550 km);
* ``exact_shell1``: what the exact membership test (worst-case elevation over the
  zone, WGS84, SGP4 positions) admits on the emulated shell 1 over San Francisco:
  the largest arc distance of a member from the zone centre, on the
  satellite's own shell radius, over a day of 30 s snapshots;
* ``max_dwell_s``: the longest stay in the region on shell 1 over that day, beside the
  closed form's 2 phi at the orbital rate (the paper's "4.5 minutes" at r = 0).

    python experiments/krios_table1.py [--quick]
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from krios_common import (DAY_S, Stopwatch, matplotlib_agg, parser, print_table, save_figure, setting,
                          write_csv)
from leonet.krios.geometry import max_dwell_s, region_radius_km
from leonet.krios.zones import Zone

PAPER = {0: 1022, 25: 995, 50: 968, 75: 940, 100: 913, 125: 886}
SF = (37.7749, -122.4194)


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    watch = Stopwatch()
    c, _, manager = setting(args.scenario)
    span = 3 * 3600.0 if args.quick else DAY_S
    offsets = np.arange(0.0, span, 30.0)
    rows = []
    for r, paper in tqdm(PAPER.items(), desc="zone radii", unit="zone"):
        zone = Zone(f"sf-{r}", SF[0], SF[1], float(r), 25.0, None)
        member = manager.membership(zone, offsets)                       # (N, T)
        arcs = []
        center = zone.center_ecef_km / np.linalg.norm(zone.center_ecef_km)
        for k0 in range(0, len(offsets), 240):
            part = offsets[k0:k0 + 240]
            pos = c.propagator.ecef_interpolated(part)                    # (N, t, 3)
            m = member[:, k0:k0 + len(part)]
            p = pos[m]
            radius = np.linalg.norm(p, axis=1)
            arcs.append(radius * np.arccos(np.clip(p @ center / radius, -1, 1)))
        arcs = np.concatenate(arcs) if arcs else np.zeros(0)
        dwell = longest_stay(manager, zone, offsets, member)
        rows.append({"zone_radius_km": r, "paper_km": paper, "closed_form_km": region_radius_km(r),
                     "closed_minus_paper_km": region_radius_km(r) - paper,
                     "exact_shell1_km": float(arcs.max()) if len(arcs) else float("nan"),
                     "closed_form_max_dwell_s": max_dwell_s(r), "shell1_max_dwell_s": dwell})
    args.out.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    write_csv(args.out / "table1.csv", rows, columns)
    print(f"\nTable 1: projected-region radius (arc on the shell), 550 km, 25 deg ({watch():.0f} s)")
    print_table(rows, columns, "{:.1f}")
    worst = max(abs(r["closed_minus_paper_km"]) for r in rows)
    print(f"\nclosed form vs paper: largest difference {worst:.2f} km (target: within 1 km)")

    plt = matplotlib_agg()
    fig, ax = plt.subplots(figsize=(6, 4))
    x = [r["zone_radius_km"] for r in rows]
    ax.plot(x, [r["paper_km"] for r in rows], "o", label="paper (Table 1)", ms=8, mfc="none")
    ax.plot(x, [r["closed_form_km"] for r in rows], "x-", label="ours, closed form")
    ax.plot(x, [r["exact_shell1_km"] for r in rows], "s--", label="ours, exact test on shell 1 (largest member)")
    ax.set_xlabel("zone radius (km)")
    ax.set_ylabel("projected-region radius on the shell (km)")
    ax.set_title("Krios Table 1")
    ax.legend()
    save_figure(fig, args.out / "table1.png", args.out / "table1.csv")
    return 0 if worst <= 1.0 else 1


def longest_stay(manager, zone, offsets, member) -> float:
    """The longest stay (s) in the region, refined to the exact entry and exit of the
    satellite whose grid run is longest."""
    step = offsets[1] - offsets[0]
    best, best_sat, best_k = 0, None, 0
    for row, col in enumerate(member):
        if not col.any():
            continue
        padded = np.concatenate(([False], col, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        runs = edges[1::2] - edges[0::2]
        k = int(np.argmax(runs))
        if runs[k] > best:
            best, best_sat, best_k = runs[k], int(manager.ids[row]), edges[0::2][k]
    if best_sat is None:
        return 0.0
    t = float(offsets[best_k])
    return manager.exit_time(zone, best_sat, t) - manager.entered_at(zone, best_sat, t) if best else best * step


if __name__ == "__main__":
    from common import run_main
    run_main(main)
