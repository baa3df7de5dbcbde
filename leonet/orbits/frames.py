"""Reference frames: TEME -> ITRS/ECEF, WGS84 geodetic, and topocentric look angles.

Accepted frame error (documented in docs/orbits.md):

* TEME -> ITRS uses the IAU-82 GMST rotation about the z axis (Vallado's ``teme2ecef``).
* Polar motion (< 0.5 arcsec, i.e. < 15 m on the ground, < 17 m at LEO) is ignored.
* UT1 - UTC is taken as 0 unless given; |UT1 - UTC| < 0.9 s, which moves a LEO
  satellite in ECEF by at most ~0.45 km (Earth rotation at 7,000 km radius).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .constants import WGS84_A_KM, WGS84_B_KM, WGS84_E2


def gmst_rad(jd_ut1: np.ndarray, fr: np.ndarray = 0.0) -> np.ndarray:
    """Greenwich mean sidereal time (IAU-82) in radians for UT1 Julian dates."""
    t_ut1 = ((np.asarray(jd_ut1) - 2451545.0) + np.asarray(fr)) / 36525.0
    seconds = (-6.2e-6 * t_ut1 ** 3 + 0.093104 * t_ut1 ** 2
               + (876600.0 * 3600 + 8640184.812866) * t_ut1 + 67310.54841)
    return np.mod(np.deg2rad(seconds / 240.0), 2.0 * np.pi)


def teme_to_ecef(r_teme_km: np.ndarray, jd: np.ndarray, fr: np.ndarray,
                 dut1_s: float = 0.0) -> np.ndarray:
    """Rotate TEME positions into ITRS/ECEF.

    ``r_teme_km`` has shape (..., T, 3) where T matches ``jd``/``fr`` (shape (T,)).
    """
    theta = gmst_rad(jd, np.asarray(fr) + dut1_s / 86400.0)
    c, s = np.cos(theta), np.sin(theta)
    x, y, z = r_teme_km[..., 0], r_teme_km[..., 1], r_teme_km[..., 2]
    return np.stack((c * x + s * y, -s * x + c * y, z), axis=-1)


def ecef_to_teme(r_ecef_km: np.ndarray, jd: np.ndarray, fr: np.ndarray,
                 dut1_s: float = 0.0) -> np.ndarray:
    """Inverse of :func:`teme_to_ecef`."""
    theta = gmst_rad(jd, np.asarray(fr) + dut1_s / 86400.0)
    c, s = np.cos(theta), np.sin(theta)
    x, y, z = r_ecef_km[..., 0], r_ecef_km[..., 1], r_ecef_km[..., 2]
    return np.stack((c * x - s * y, s * x + c * y, z), axis=-1)


def geodetic_to_ecef(lat_deg, lon_deg, alt_km) -> np.ndarray:
    """WGS84 geodetic coordinates to ECEF (km). Broadcasts; returns shape (..., 3)."""
    lat = np.deg2rad(np.asarray(lat_deg, dtype=float))
    lon = np.deg2rad(np.asarray(lon_deg, dtype=float))
    alt = np.asarray(alt_km, dtype=float)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    x = (n + alt) * np.cos(lat) * np.cos(lon)
    y = (n + alt) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + alt) * np.sin(lat)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(r_ecef_km: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF (km) to WGS84 (lat_deg, lon_deg, alt_km), vectorised.

    Bowring's method with three refinements: better than 1 mm for LEO altitudes.
    """
    r = np.asarray(r_ecef_km, dtype=float)
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    ep2 = (WGS84_A_KM ** 2 - WGS84_B_KM ** 2) / WGS84_B_KM ** 2
    beta = np.arctan2(z * WGS84_A_KM, p * WGS84_B_KM)
    lat = np.arctan2(z + ep2 * WGS84_B_KM * np.sin(beta) ** 3,
                     p - WGS84_E2 * WGS84_A_KM * np.cos(beta) ** 3)
    for _ in range(3):
        beta = np.arctan2(WGS84_B_KM * np.sin(lat), WGS84_A_KM * np.cos(lat))
        lat = np.arctan2(z + ep2 * WGS84_B_KM * np.sin(beta) ** 3,
                         p - WGS84_E2 * WGS84_A_KM * np.cos(beta) ** 3)
    sin_lat = np.sin(lat)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sin_lat ** 2)
    # Height: stable form valid at all latitudes, poles included.
    alt = p * np.cos(lat) + z * sin_lat - WGS84_A_KM ** 2 / n
    return np.rad2deg(lat), np.rad2deg(lon), alt


def enu_matrix(lat_deg, lon_deg) -> np.ndarray:
    """Rotation matrices ECEF -> local East/North/Up, shape (..., 3, 3)."""
    lat = np.deg2rad(np.asarray(lat_deg, dtype=float))
    lon = np.deg2rad(np.asarray(lon_deg, dtype=float))
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl)
    east = np.stack((-so, co, zero), axis=-1)
    north = np.stack((-sl * co, -sl * so, cl), axis=-1)
    up = np.stack((cl * co, cl * so, sl), axis=-1)
    return np.stack((east, north, up), axis=-2)


def look_angles(station_ecef_km: np.ndarray, station_lat_deg, station_lon_deg,
                target_ecef_km: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elevation (deg), azimuth (deg, from north through east) and range (km).

    ``station_*`` have shape (G, ...) and targets (N, 3); results have shape (G, N).
    """
    stations = np.atleast_2d(station_ecef_km)
    rot = enu_matrix(np.atleast_1d(station_lat_deg), np.atleast_1d(station_lon_deg))  # (G,3,3)
    diff = np.asarray(target_ecef_km)[None, :, :] - stations[:, None, :]            # (G,N,3)
    enu = np.einsum("gij,gnj->gni", rot, diff)
    rng = np.linalg.norm(enu, axis=-1)
    elev = np.rad2deg(np.arcsin(np.clip(enu[..., 2] / np.maximum(rng, 1e-12), -1.0, 1.0)))
    azim = np.mod(np.rad2deg(np.arctan2(enu[..., 0], enu[..., 1])), 360.0)
    return elev, azim, rng
