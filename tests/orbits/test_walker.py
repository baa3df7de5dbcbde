"""Walker shells: period, plane and slot spacing, phasing, the star seam, altitudes."""
import math

import numpy as np
import pytest

from leonet.orbits import load_constellation
from leonet.orbits.constants import EARTH_MEAN_RADIUS_KM, MU_EARTH_KM3_S2
from leonet.orbits.frames import ecef_to_geodetic
from leonet.orbits.grouping import orbital_state
from leonet.orbits.tle import format_tle, parse_tle_text

from .helpers import START, constellation, walker
from leonet.orbits.timeutil import parse_utc


def test_circular_orbit_period_matches_two_body_formula():
    c = constellation(walker(1, 1, altitude_km=550, inclination_deg=53))
    expected = 2 * math.pi * math.sqrt((EARTH_MEAN_RADIUS_KM + 550) ** 3 / MU_EARTH_KM3_S2)
    assert expected == pytest.approx(95.50 * 60, abs=1)  # a = 6921 km: 95.5 minutes
    # Mean motion in the exported TLE (rev/day) is the two-body one.
    line2 = format_tle("x", c.satrecs[0]).splitlines()[2]
    assert 86400.0 / float(line2[52:63]) == pytest.approx(expected, rel=2e-4)
    # The satellite sweeps 360 deg of argument of latitude in about one period.
    r, v, err = c.propagator.teme(np.arange(0, 120.0, 1.0))
    h = np.cross(r[0, 0], v[0, 0])
    h /= np.linalg.norm(h)
    angles = np.unwrap([math.atan2(np.dot(np.cross(r[0, 0], x), h), np.dot(r[0, 0], x)) for x in r[0]])
    rate = np.polyfit(np.arange(0, 120.0), angles, 1)[0]
    assert 2 * math.pi / rate == pytest.approx(expected, rel=3e-3)  # J2 changes it by < 0.3%


@pytest.mark.parametrize("inclination", [0.0, 53.0, 86.4, 97.6])
@pytest.mark.parametrize("altitude", [550.0, 1200.0])
def test_orbit_averaged_altitude_is_the_nominal_one(inclination, altitude):
    c = constellation(walker(1, 1, altitude_km=altitude, inclination_deg=inclination))
    r, _, _ = c.propagator.teme(np.linspace(0, 3 * 6000, 900))
    assert np.linalg.norm(r, axis=-1).mean() - EARTH_MEAN_RADIUS_KM == pytest.approx(altitude, abs=0.5)


@pytest.mark.parametrize("kind,arc", [("delta", 360.0), ("star", 180.0)])
def test_raan_and_in_plane_spacing_and_phasing(kind, arc):
    planes, per_plane, phasing = 6, 11, 2
    c = constellation(walker(planes, per_plane, 780, 86.4, kind=kind, phasing=phasing))
    st = orbital_state(c.satrecs, parse_utc(START))
    raan = st["raan_deg"].reshape(planes, per_plane)
    u = st["arg_latitude_deg"].reshape(planes, per_plane)
    # planes are arc/P apart; osculating RAAN differs from the mean by < 0.1 deg
    step = np.diff(np.unwrap(np.radians(raan[:, 0])))
    assert np.degrees(step) == pytest.approx(np.full(planes - 1, arc / planes), abs=0.1)
    # slots are 360/S apart within a plane
    du = np.degrees(np.diff(np.unwrap(np.radians(u), axis=1), axis=1))
    assert du == pytest.approx(np.full_like(du, 360.0 / per_plane), abs=0.1)
    # adjacent planes are phased by F * 360 / T
    dphase = (u[1, 0] - u[0, 0]) % 360
    assert dphase == pytest.approx(phasing * 360.0 / (planes * per_plane), abs=0.1)


def test_star_shell_has_a_seam_and_delta_wraps():
    star = load_constellation("oneweb")
    assert star.shells[0].wraps is False and star.shells[0].kind == "walker-star"
    st = orbital_state(star.satrecs, star.start)
    first = st["raan_deg"][0]
    last = st["raan_deg"][star.shells[0].first + 11 * 53]
    # Walker star: planes span 180 deg, so first and last planes are 180 - 180/P apart
    # and the ascending halves of those two planes move in opposite directions at the seam.
    assert (last - first) % 360 == pytest.approx(180 - 180 / 12, abs=0.1)
    assert load_constellation("starlink-shell1").shells[0].wraps is True


def test_starlink_shell1_altitudes_within_15_km_of_550():
    c = load_constellation("starlink-shell1")
    assert c.num_satellites == 1584
    _, _, alt = ecef_to_geodetic(c.positions_at("2026-01-31T12:00:00Z"))
    assert np.all(np.abs(alt - 550) <= 15)


def test_exported_tles_reproduce_the_positions():
    c = constellation(walker(3, 4, 550, 53))
    text = "\n".join(format_tle(s.name, r) for s, r in zip(c.satellites, c.satrecs))
    records = parse_tle_text(text)
    assert [r.name for r in records] == [s.name for s in c.satellites]
    from leonet.orbits.propagation import Propagator
    again = Propagator([r.satrec() for r in records], c.start).ecef([0, 3600])
    # TLE text keeps 8 decimals of mean motion and 4 of angles: metres of difference
    assert np.abs(again - c.positions_ecef([0, 3600])).max() < 0.1


def test_satellite_names_encode_shell_plane_slot():
    c = constellation(walker(2, 3), walker(1, 2, 1100, 70))
    assert [s.name for s in c.satellites] == [
        "s0p0n0", "s0p0n1", "s0p0n2", "s0p1n0", "s0p1n1", "s0p1n2", "s1p0n0", "s1p0n1"]
    from leonet.orbits import parse_satellite_name
    assert parse_satellite_name("s1p0n1") == (1, 0, 1)


def test_hermite_interpolation_stays_within_its_error_bound():
    c = constellation(walker(3, 4, 550, 53), walker(2, 2, 1200, 87.9, kind="star"))
    offsets = np.random.default_rng(5).uniform(0, 7200, 300)
    direct = c.propagator.ecef(offsets)
    for knot, bound_km in ((60.0, 0.002), (120.0, 0.02)):
        err = np.linalg.norm(c.propagator.ecef_interpolated(offsets, knot) - direct, axis=-1)
        assert err.max() < bound_km
    # exact at the knots
    knots = np.arange(0, 600, 60.0)
    assert np.abs(c.propagator.ecef_interpolated(knots, 60.0) - c.propagator.ecef(knots)).max() < 1e-9
