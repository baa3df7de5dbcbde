"""KubeSpace Table I: daily control-node handovers with two control nodes on the
equator (0 and 180 deg longitude), for Starlink, Kuiper and OneWeb.

The paper's "traditional multi control node architecture" binds each satellite to
the nearest control node, so the headline count is nearest-only (threshold 1) on
the straight-line distance; we also count with path delay over ISLs and with
CNAA's threshold. The per-handover cost columns need the emulation (a later
issue) and are printed as "pending".

    python experiments/kubespace_table1.py [--quick]
"""
from __future__ import annotations

import copy

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


def equator_constellation(name: str):
    """The constellation's scenario with the two equator nodes as its only ground stations."""
    path = scenario_path(CONSTELLATIONS[name][0])
    raw = copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8")))
    raw["name"] = f"{raw['name']}-equator"
    raw["ground_stations"] = [{"name": n.name, "lat_deg": n.lat_deg, "lon_deg": n.lon_deg} for n in NODES]
    raw.pop("kubespace", None)
    return build_constellation(parse_scenario(raw, source=path))


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
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
                rows.append({"constellation": name, "satellites": n, "metric": metric, "threshold": thr,
                             "handovers_per_day": round(total), "per_satellite": total / n,
                             "paper_handovers": paper[0], "paper_per_satellite": paper[0] / CONSTELLATIONS[name][1],
                             "ours_vs_paper": total / paper[0],
                             "duration_s": "pending", "paper_duration_s": paper[1],
                             "invisibility_h": "pending", "paper_invisibility_h": paper[2],
                             "pod_unavailability_h": "pending", "paper_pod_unavailability_h": paper[3]})
                if metric == "straight" and thr == 1.0:
                    per_sat[name] = res.per_satellite() * scale
        print(f"  done in {watch():.1f} s", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    write_csv(args.out / "table1.csv", rows, columns)
    print("\nTable I: daily control-node handovers, two control nodes at (0, 0) and (0, 180)")
    print_table(rows, ["constellation", "metric", "threshold", "handovers_per_day", "paper_handovers",
                       "ours_vs_paper", "per_satellite", "paper_per_satellite"])
    print("\nPer-handover cost (needs the emulation of a later issue):")
    print_table([r for r in rows if r["metric"] == "straight" and r["threshold"] == 1.0],
                ["constellation", "duration_s", "paper_duration_s", "invisibility_h", "paper_invisibility_h",
                 "pod_unavailability_h", "paper_pod_unavailability_h"])

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
    raise SystemExit(main())
