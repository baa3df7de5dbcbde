"""Propagation benchmark: vectorised SGP4 (sgp4 array API + TEME->ECEF), and cubic
Hermite interpolation between SGP4 knots, against a per-satellite, per-time loop over
``Satrec.sgp4`` (the baseline), in the same process.

Cases: Starlink shell 1 (1,584) and the real 9,489-TLE set, over one day at 60 s and
over one hour at 1 s. The loop baseline is timed on a subset of satellites and scaled
linearly (it is linear in satellites x times), which the output states.

    python benchmarks/bench_propagation.py [--baseline-sats 300]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from leonet.orbits import load_constellation  # noqa: E402
from leonet.orbits.propagation import Propagator  # noqa: E402
from leonet.orbits.scenario import DATA_DIR  # noqa: E402
from leonet.orbits.timeutil import jd_array  # noqa: E402
from leonet.orbits.tle import read_tle_file  # noqa: E402


def vectorised(prop: Propagator, offsets: np.ndarray, chunk: int) -> float:
    t0 = time.perf_counter()
    n = 0
    for _, pos in prop.ecef_chunks(offsets, chunk):
        n += pos.shape[1]
    assert n == len(offsets)
    return time.perf_counter() - t0


def interpolated(prop: Propagator, offsets: np.ndarray, chunk: int, knot_step_s: float) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(offsets), chunk):
        prop.ecef_interpolated(offsets[i:i + chunk], knot_step_s)
    return time.perf_counter() - t0


def interpolation_error_km(prop: Propagator, offsets: np.ndarray, knot_step_s: float) -> float:
    """Largest distance between interpolated and direct SGP4 positions, on a sample."""
    sample = offsets[:: max(1, len(offsets) // 200)]
    sats = Propagator(prop.satrecs[::10], prop.start)
    diff = sats.ecef_interpolated(sample, knot_step_s) - sats.ecef(sample)
    return float(np.nanmax(np.linalg.norm(diff, axis=-1)))


def loop_baseline(prop: Propagator, offsets: np.ndarray, sats: int) -> float:
    jd, fr = jd_array(prop.start, offsets)
    subset = prop.satrecs[:sats]
    t0 = time.perf_counter()
    for s in subset:
        for j, f in zip(jd, fr):
            s.sgp4(j, f)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline-sats", type=int, default=300, help="satellites timed in the loop baseline")
    args = ap.parse_args()
    shell1 = load_constellation("starlink-shell1")
    real = [r.satrec() for r in read_tle_file(DATA_DIR / "starlink-2026-01-31.tle")]
    props = {"starlink shell 1 (1,584)": Propagator(shell1.satrecs, shell1.start),
             "real Starlink TLEs (9,489)": Propagator(real, shell1.start)}
    spans = {"1 day @ 60 s (1,440 times)": np.arange(0, 86400, 60.0),
             "1 hour @ 1 s (3,600 times)": np.arange(0, 3600, 1.0)}
    print(f"machine: {describe()}")
    knots = {"1 day @ 60 s (1,440 times)": 120.0, "1 hour @ 1 s (3,600 times)": 60.0}
    print(f"{'case':<27} {'span':<27} {'loop s':>7} {'vector s':>9} {'x':>5} "
          f"{'interp s':>9} {'x':>5} {'knots':>6} {'max err m':>9}")
    for pname, prop in props.items():
        for sname, offsets in spans.items():
            # chunk so that one chunk holds ~3M positions (bounded memory for 9,489 sats)
            chunk = max(1, 3_000_000 // len(prop))
            k = min(args.baseline_sats, len(prop))
            loop = loop_baseline(prop, offsets, k) * len(prop) / k
            vec = vectorised(prop, offsets, chunk)
            h = knots[sname]
            itp = interpolated(prop, offsets, chunk, h)
            err_m = 1000 * interpolation_error_km(prop, offsets, h)
            print(f"{pname:<27} {sname:<27} {loop:>7.1f} {vec:>9.2f} {loop / vec:>5.1f} "
                  f"{itp:>9.2f} {loop / itp:>5.1f} {h:>5.0f}s {err_m:>9.2f}")
    print(f"(loop baseline timed on {args.baseline_sats} satellites and scaled linearly; "
          "the vectorised time includes TEME->ECEF, the loop's does not)")


if __name__ == "__main__":
    main()
