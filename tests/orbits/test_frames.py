"""Geometry with hand-computable answers, and frame round trips."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leonet.orbits.constants import WGS84_A_KM, WGS84_B_KM
from leonet.orbits.frames import (ecef_to_geodetic, ecef_to_teme, geodetic_to_ecef, gmst_rad,
                                  look_angles, teme_to_ecef)


@pytest.mark.parametrize("lat,lon", [(0, 0), (52.52, 13.405), (-33.9, 151.2), (89.9, -120), (-75, 179.9)])
def test_satellite_at_zenith_has_elevation_90_and_range_equal_to_altitude(lat, lon):
    station = geodetic_to_ecef(lat, lon, 0.0)
    sat = geodetic_to_ecef(lat, lon, 550.0)
    elev, _, rng = look_angles(station[None], [lat], [lon], sat[None])
    assert elev[0, 0] == pytest.approx(90.0, abs=1e-6)
    assert rng[0, 0] == pytest.approx(550.0, abs=1e-9)


def test_azimuth_and_elevation_of_a_point_due_east_on_the_horizon_plane():
    station = geodetic_to_ecef(0.0, 0.0, 0.0)  # (a, 0, 0); east is +y, up is +x
    target = station + np.array([0.0, 100.0, 0.0])
    elev, azim, rng = look_angles(station[None], [0.0], [0.0], target[None])
    assert elev[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert azim[0, 0] == pytest.approx(90.0, abs=1e-9)
    assert rng[0, 0] == pytest.approx(100.0)


def test_geodetic_reference_points():
    assert np.allclose(geodetic_to_ecef(0, 0, 0), [WGS84_A_KM, 0, 0])
    assert np.allclose(geodetic_to_ecef(90, 0, 0), [0, 0, WGS84_B_KM], atol=1e-9)
    assert np.allclose(geodetic_to_ecef(0, 90, 10), [0, WGS84_A_KM + 10, 0], atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-90, 90), lon=st.floats(-179.999, 179.999), alt=st.floats(-0.4, 40000))
def test_geodetic_ecef_round_trip(lat, lon, alt):
    lat2, lon2, alt2 = ecef_to_geodetic(geodetic_to_ecef(lat, lon, alt))
    assert lat2 == pytest.approx(lat, abs=1e-8)
    assert alt2 == pytest.approx(alt, abs=1e-6)
    if abs(lat) < 89.9999:
        assert (lon2 - lon + 180) % 360 - 180 == pytest.approx(0, abs=1e-8)


def test_teme_ecef_round_trip_and_rotation_preserves_norm():
    rng = np.random.default_rng(1)
    r = rng.normal(size=(5, 7, 3)) * 7000
    jd = np.full(7, 2461071.5)
    fr = np.linspace(0, 0.9, 7)
    ecef = teme_to_ecef(r, jd, fr)
    assert np.allclose(np.linalg.norm(ecef, axis=-1), np.linalg.norm(r, axis=-1))
    assert np.allclose(ecef_to_teme(ecef, jd, fr), r)


def test_gmst_matches_reference_value():
    # Vallado, Example 3-5: 1992-08-20 12:14 UT1 -> GMST 152.578787886 deg.
    jd = 2448854.5
    fr = (12 * 3600 + 14 * 60) / 86400.0
    assert np.degrees(gmst_rad(jd, fr)) == pytest.approx(152.578787886, abs=1e-6)


def test_earth_rotates_once_per_sidereal_day():
    jd = 2461071.5
    a = gmst_rad(jd, 0.0)
    b = gmst_rad(jd, 86164.0905 / 86400.0)
    assert (b - a + np.pi) % (2 * np.pi) - np.pi == pytest.approx(0.0, abs=1e-6)
