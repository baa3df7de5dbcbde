"""Our SGP4 + frames against skyfield's independent TEME -> ITRS stack, on real TLEs."""
import numpy as np
import pytest

skyfield = pytest.importorskip("skyfield.api", reason="skyfield is a test dependency (pip install -e .[test])")

from leonet.orbits.propagation import Propagator  # noqa: E402
from leonet.orbits.scenario import DATA_DIR  # noqa: E402
from leonet.orbits.timeutil import parse_utc  # noqa: E402
from leonet.orbits.tle import read_tle_file  # noqa: E402


def test_real_tle_positions_agree_with_skyfield_within_1_km():
    from skyfield.api import EarthSatellite, load
    from skyfield.framelib import itrs
    records = read_tle_file(DATA_DIR / "starlink-2026-01-31.tle")
    sats = [r.satrec() for r in records]
    start = parse_utc("2026-01-31T12:00:00Z")
    offsets = np.array([0.0, 3 * 3600.0])
    ours = Propagator(sats, start).ecef(offsets)
    ts = load.timescale(builtin=True)
    times = ts.utc(2026, 1, 31, 12, 0, offsets)
    worst = 0.0
    compared = 0
    for i, sat in enumerate(sats):
        theirs = EarthSatellite.from_satrec(sat, ts).at(times).frame_xyz(itrs).km.T
        if not np.isfinite(ours[i]).all():
            continue  # decayed objects: skyfield returns NaN too
        worst = max(worst, float(np.linalg.norm(ours[i] - theirs, axis=-1).max()))
        compared += 1
    assert compared > 9000
    assert worst < 1.0, f"max ECEF difference {worst:.3f} km"
