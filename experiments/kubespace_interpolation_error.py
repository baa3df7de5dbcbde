"""CNAA's interpolation error against direct SGP4 propagation, and its effect on the
handover decisions.

For a sample of satellites of each constellation and five control nodes, the
satellite-to-node distance interpolated from 60 s samples (cubic spline, and linear
for comparison) is compared with the distance from SGP4 at every second of a 12 h
window; then the handover events decided on the interpolated curves are compared
with the events decided on the exact per-second distances.

    python experiments/kubespace_interpolation_error.py [--quick]
"""
from __future__ import annotations

import numpy as np

from kubespace_common import load, parser, print_table, selected, write_csv
from leonet.kubespace import ControlNode, assign
from leonet.kubespace.assignment import straight_line_samples
from leonet.kubespace.interpolation import interpolate
from leonet.orbits.propagation import Propagator

NODES = [ControlNode("eq0", 0, 0), ControlNode("eq180", 0, 180), ControlNode("lima", -12.05, -77.04),
         ControlNode("nairobi", -1.29, 36.82), ControlNode("singapore", 1.35, 103.82)]


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    window = 3600.0 if args.quick else 12 * 3600.0
    every = 64 if args.quick else 8
    nodes = np.array([n.ecef_km for n in NODES])
    rows = []
    for name in selected(args):
        c = load(name)
        prop = Propagator(c.satrecs[::every], c.start)
        coarse = np.arange(0.0, window + 1, 60.0)
        fine = np.arange(0.0, window + 1, 1.0)
        exact = straight_line_samples(prop, nodes, fine).astype(float)             # (n, K, S) km
        samples = straight_line_samples(prop, nodes, coarse).astype(float)
        truth = {thr: res for thr, res in zip((1.0, 0.9), assign(exact, 1.0, 1.0, [1.0, 0.9], "linear"))}
        for method in ("cubic", "linear"):
            err = np.abs(interpolate(samples, 60.0, method)(fine) - exact)
            for thr, res in zip((1.0, 0.9), assign(samples, 60.0, 1.0, [1.0, 0.9], method)):
                ref = truth[thr]
                a = set(zip(ref.satellite.tolist(), ref.target.tolist(), ref.offset_s.tolist()))
                b = set(zip(res.satellite.tolist(), res.target.tolist(), res.offset_s.tolist()))
                shift = []
                for s, g, t in b - a:   # same satellite and target, nearby time
                    near = [abs(t - t2) for s2, g2, t2 in a - b if s2 == s and g2 == g and abs(t - t2) < 120]
                    if near:
                        shift.append(min(near))
                rows.append({"constellation": name, "satellites": len(prop), "interpolation": method,
                             "threshold": thr, "max_err_km": float(err.max()),
                             "p99_err_km": float(np.percentile(err, 99)), "mean_err_m": float(err.mean() * 1e3),
                             "events_exact": ref.total, "events_interpolated": res.total,
                             "same_events": len(a & b), "shifted": len(shift),
                             "max_shift_s": float(max(shift)) if shift else 0.0,
                             "missing_or_extra": len(a ^ b) - 2 * len(shift)})
        print(f"{name}: done", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    write_csv(args.out / "interpolation_error.csv", rows, columns)
    print(f"\nInterpolation of 60 s distance samples vs SGP4 every second, {window / 3600:g} h, 5 nodes; "
          "events decided on interpolated vs exact distances")
    print_table(rows, columns)
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
