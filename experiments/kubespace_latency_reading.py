"""Is the KubeSpace paper's "communication latency" one-way or round trip?

Fig. 10's text gives, for Starlink: CNPA max 60.05 ms and average 32.05 ms, 22 % below
random and 50 % below a single node near the equator. This script prints two pieces of
evidence (docs/results/kubespace.md discusses them):

1. A physical floor for the single node: a satellite near the antipode of an equatorial
   station is always in orbit, and any ISL route to it runs along the shell for at
   least (180 deg - the GSL's reach) of arc.
2. Hop counts of the least-delay paths for placements from Fig. 10, and the per-hop
   overhead that would turn our one-way propagation delay into the paper's numbers.

    python experiments/kubespace_latency_reading.py [--quick]
"""
from __future__ import annotations

import csv
import math

import numpy as np

from kubespace_common import load, parser
from leonet.orbits.constants import EARTH_MEAN_RADIUS_KM, SPEED_OF_LIGHT_KM_S
from leonet.topology import TopologyEngine

PAPER = {"cnpa_max": 60.05, "cnpa_mean": 32.05, "random_max": 60.05 / 0.78, "single_max": 60.05 / 0.5}


def depth(pred: np.ndarray, source: int) -> np.ndarray:
    """Hops from ``source`` to every node along a predecessor tree (-1: unreachable)."""
    d = np.full(len(pred), -1)
    d[source] = 0
    for _ in range(len(pred)):
        todo = (d < 0) & (pred >= 0)
        ready = todo & (d[np.maximum(pred, 0)] >= 0)
        if not ready.any():
            break
        d[ready] = d[pred[ready]] + 1
    return d


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    c = load("starlink")
    alt = c.shells[0].altitude_km
    r = EARTH_MEAN_RADIUS_KM + alt
    elev = math.radians(c.scenario.defaults["min_elevation_deg"])
    reach = math.acos(EARTH_MEAN_RADIUS_KM / r * math.cos(elev)) - elev       # Earth-central angle of a GSL
    floor_km = (math.pi - reach) * r + alt
    print(f"single equatorial node: GSL reach {math.degrees(reach):.1f} deg; a path to the antipodal "
          f"satellite is >= {floor_km:.0f} km = {floor_km / SPEED_OF_LIGHT_KM_S * 1e3:.1f} ms one way "
          f"(>= {2 * floor_km / SPEED_OF_LIGHT_KM_S * 1e3:.1f} ms round trip); the paper's single node, "
          f"derived from '50 % below', is {PAPER['single_max']:.1f} ms")

    with open(args.out / "fig10.csv", newline="", encoding="utf-8") as fh:
        fig10 = {(r["constellation"], r["method"]): r for r in csv.DictReader(fh)}
    placements = {m: fig10[("starlink", m)]["stations"].split() for m in ("cnpa", "single", "exhaustive")}
    engine = TopologyEngine(c)
    offsets = np.arange(0.0, 86400.0, 3600.0 * (6 if args.quick else 1))
    n = c.num_satellites
    for method, names in placements.items():
        sources = [engine.nodes.index(s) for s in names]
        worst = (-1.0, 0)
        delays, hops = [], []
        for snap in engine.snapshots(offsets):
            routes = snap.routes(sources)
            d = routes.delay_ms[:, :n]
            h = np.stack([depth(routes.predecessor[i], s)[:n] for i, s in enumerate(sources)])
            best = d.argmin(axis=0)
            dd, hh = d[best, np.arange(n)], h[best, np.arange(n)]
            delays.append(dd)
            hops.append(hh)
            if dd.max() > worst[0]:
                worst = (float(dd.max()), int(hh[dd.argmax()]))
        delays, hops = np.concatenate(delays), np.concatenate(hops)
        print(f"{method:<11} ({' '.join(names)}): mean {delays.mean():.2f} ms over {hops.mean():.1f} hops; "
              f"worst {worst[0]:.2f} ms over {worst[1]} hops")
        paper_max = {"cnpa": PAPER["cnpa_max"], "single": PAPER["single_max"]}.get(method)
        if paper_max:
            print(f"    per-hop overhead to reach the paper's max {paper_max:.2f} ms one way: "
                  f"{(paper_max - worst[0]) / worst[1]:.2f} ms/hop; as round trip it would need "
                  f"{(paper_max / 2 - worst[0]) / worst[1]:+.2f} ms/hop")
        if method == "cnpa":
            print(f"    per-hop overhead to reach the paper's mean {PAPER['cnpa_mean']:.2f} ms one way: "
                  f"{(PAPER['cnpa_mean'] - delays.mean()) / hops.mean():.2f} ms/hop; as round trip "
                  f"{(PAPER['cnpa_mean'] / 2 - delays.mean()) / hops.mean():+.2f} ms/hop")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
