"""Recovering shells, planes and slots from TLE sets."""
import numpy as np
import pytest

from leonet.orbits import load_constellation
from leonet.orbits.grouping import GroupingOptions, group_tles
from leonet.orbits.tle import format_tle, parse_tle_text
from leonet.orbits.timeutil import parse_utc

from .helpers import START, constellation, walker


@pytest.mark.parametrize("kind,planes,sats,inc", [("delta", 24, 22, 53.0), ("star", 6, 11, 86.4),
                                                  ("delta", 12, 20, 97.6)])
def test_walker_shell_round_trips_through_tle_grouping(kind, planes, sats, inc):
    """Export a Walker shell as TLEs, shuffle them, and recover plane and slot of each."""
    c = constellation(walker(planes, sats, 550, inc, kind=kind))
    text = "\n".join(format_tle(s.name, r) for s, r in zip(c.satellites, c.satrecs))
    records = parse_tle_text(text)
    order = np.random.default_rng(3).permutation(len(records))
    shuffled = [records[i] for i in order]
    g = group_tles([r.satrec() for r in shuffled], parse_utc(START), GroupingOptions(min_shell_size=10))
    assert len(g.shells) == 1 and not g.excluded
    shell = g.shells[0]
    assert len(shell.planes) == planes
    assert shell.wraps == (kind == "delta")
    # Same plane membership and same cyclic slot order as the generator's names.
    for plane in shell.planes:
        names = [shuffled[i].name for i in plane]
        plane_ids = {n.split("p")[1].split("n")[0] for n in names}
        assert len(plane_ids) == 1
        slots = [int(n.split("n")[1]) for n in names]
        k = slots.index(0)
        assert slots[k:] + slots[:k] == list(range(sats))
    # Adjacent recovered planes are adjacent generated planes.
    ids = [int(shuffled[p[0]].name.split("p")[1].split("n")[0]) for p in shell.planes]
    steps = {(b - a) % planes for a, b in zip(ids, ids[1:])}
    assert steps == {1} or steps == {planes - 1}


def test_real_starlink_set_groups_into_shells_and_reports_exclusions():
    c = load_constellation("starlink-tle")
    assert c.num_satellites + len(c.excluded) == 9489
    assert set(c.excluded.values()) <= {
        "decayed (SGP4 cannot propagate it)", "below 250 km (re-entering)",
        "not part of any shell (in transit or an outlier)", "eccentricity above 0.01"}
    # The 53.2 deg / ~550 km shell (shell 1 today) has 72 planes, as designed.
    big = [s for s in c.shells if abs(s.inclination_deg - 53.2) < 0.1 and abs(s.altitude_km - 547) < 10]
    assert len(big) == 1 and big[0].planes == 72 and big[0].wraps
    # Every shell is tight in inclination and altitude.
    from leonet.orbits.grouping import orbital_state
    st = orbital_state(c.satrecs, c.start)
    for s in c.shells:
        idx = slice(s.first, s.first + s.size)
        assert np.ptp(st["inclination_deg"][idx]) <= 0.2 + 1e-9
        assert np.ptp(st["altitude_km"][idx]) <= 10 + 1e-9
