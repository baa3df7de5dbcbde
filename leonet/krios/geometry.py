"""Geometry of LEO zones: the space projected region (Krios, Appendix A) and the
worst-case elevation of a satellite over a zone.

Two views of the same region:

* **Closed form** (the paper's, for sizes and Table 1): a satellite at altitude ``h``
  sees a ground point above the minimum elevation ``eps`` while the central angle
  between them is at most ``theta0 = pi/2 - eps - asin(R cos(eps) / (R + h))``.
  A circular zone of ground radius ``r`` is seen entirely while the central angle
  between the satellite and the zone centre is at most ``phi = theta0 - r / R``; the
  region's size is the arc ``(R + h) * phi`` on the shell. With ``R = 6378.135 km``
  (WGS-72), ``h = 550 km``, ``eps = 25 deg`` this reproduces Table 1 exactly.
* **Exact** (for membership and exit times): the lowest elevation at which the
  satellite is seen from any point of the zone, computed as the topology engine
  computes a ground-satellite link's elevation (WGS84 ground point, geodetic up
  vector, the satellite's actual SGP4 position). A satellite is in the region iff
  that elevation is at least ``eps``. For a circle the lowest elevation is at the
  zone's edge point farthest from the satellite's sub-point; for a polygon at one
  of its vertices (the visibility cap is convex, so a polygon whose vertices are in
  it lies in it). Membership is thus what a ground station at the worst point of
  the zone would see, with the satellite's real altitude rather than a fixed one.
"""
from __future__ import annotations

import math

import numpy as np

from ..orbits.constants import WGS84_A_KM, WGS84_B_KM
from ..orbits.frames import geodetic_to_ecef

#: Earth radius that reproduces Table 1 (WGS-72 equatorial radius, SGP4's constant set)
PAPER_EARTH_RADIUS_KM = 6378.135
#: the shell altitude of the paper's geometry (Starlink shell 1)
PAPER_ALTITUDE_KM = 550.0
#: Krios' default minimum elevation
DEFAULT_MIN_ELEVATION_DEG = 25.0
#: Krios restricts zones to this radius (§5.1)
MAX_ZONE_RADIUS_KM = 100.0


def coverage_half_angle_rad(altitude_km: float, min_elevation_deg: float,
                            earth_radius_km: float = PAPER_EARTH_RADIUS_KM) -> float:
    """theta0: the largest central angle between a ground point and a satellite at
    ``altitude_km`` that the point still sees at ``min_elevation_deg`` (App. A, steps 1-3)."""
    eps = math.radians(min_elevation_deg)
    return math.pi / 2 - eps - math.asin(earth_radius_km * math.cos(eps) / (earth_radius_km + altitude_km))


def region_half_angle_rad(zone_radius_km: float, altitude_km: float = PAPER_ALTITUDE_KM,
                          min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
                          earth_radius_km: float = PAPER_EARTH_RADIUS_KM) -> float:
    """phi = theta0 - r / R: the projected region's half-angle around the zone centre
    (negative when no satellite at that altitude sees the whole zone)."""
    return coverage_half_angle_rad(altitude_km, min_elevation_deg, earth_radius_km) - zone_radius_km / earth_radius_km


def region_radius_km(zone_radius_km: float, altitude_km: float = PAPER_ALTITUDE_KM,
                     min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
                     earth_radius_km: float = PAPER_EARTH_RADIUS_KM) -> float:
    """The projected region's radius as an arc on the shell, ``(R + h) * phi`` (Table 1)."""
    phi = region_half_angle_rad(zone_radius_km, altitude_km, min_elevation_deg, earth_radius_km)
    return (earth_radius_km + altitude_km) * phi


def orbital_period_s(altitude_km: float, earth_radius_km: float = PAPER_EARTH_RADIUS_KM) -> float:
    """Period of a circular orbit (two-body, WGS-72 mu)."""
    from ..orbits.constants import MU_EARTH_KM3_S2
    a = earth_radius_km + altitude_km
    return 2 * math.pi * math.sqrt(a ** 3 / MU_EARTH_KM3_S2)


def max_dwell_s(zone_radius_km: float, altitude_km: float = PAPER_ALTITUDE_KM,
                min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
                earth_radius_km: float = PAPER_EARTH_RADIUS_KM) -> float:
    """The longest a satellite stays in the region: a pass through its centre,
    ``2 phi`` at the orbital rate, ignoring the Earth's rotation (the paper's 4.5 min)."""
    phi = region_half_angle_rad(zone_radius_km, altitude_km, min_elevation_deg, earth_radius_km)
    return max(phi, 0.0) * orbital_period_s(altitude_km, earth_radius_km) / math.pi


# ---------------------------------------------------------------------------- exact elevation

def surface_point(direction: np.ndarray) -> np.ndarray:
    """The WGS84 ellipsoid's point along geocentric ``direction`` (..., 3)."""
    d = np.asarray(direction, dtype=float)
    k = 1.0 / np.sqrt((d[..., 0] ** 2 + d[..., 1] ** 2) / WGS84_A_KM ** 2 + d[..., 2] ** 2 / WGS84_B_KM ** 2)
    return d * k[..., None]


def surface_up(points_km: np.ndarray) -> np.ndarray:
    """Geodetic up (the ellipsoid's outward normal) at surface points (..., 3)."""
    p = np.asarray(points_km, dtype=float)
    n = np.stack((p[..., 0] / WGS84_A_KM ** 2, p[..., 1] / WGS84_A_KM ** 2, p[..., 2] / WGS84_B_KM ** 2), axis=-1)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def sin_elevation(ground_km: np.ndarray, up: np.ndarray, sat_km: np.ndarray) -> np.ndarray:
    """sin(elevation) of satellites seen from ground points, as the topology engine
    computes it: (sat - ground) . up / |sat - ground|. Broadcasts over leading axes."""
    diff = np.asarray(sat_km) - np.asarray(ground_km)
    rng = np.linalg.norm(diff, axis=-1)
    return np.einsum("...i,...i->...", diff, up) / np.maximum(rng, 1e-12)


class CircleEdge:
    """The farthest-edge-point construction of a circular zone, its constants (the
    centre on the ellipsoid, its unit vector, the step's angle) computed once, so that
    repeated evaluations (a membership test, an exit search) cost only the per-satellite
    arithmetic."""

    def __init__(self, center_lat_deg: float, center_lon_deg: float, radius_km: float):
        self.center = geodetic_to_ecef(center_lat_deg, center_lon_deg, 0.0)
        self.radius_km = float(radius_km)
        self.c_hat = self.center / np.linalg.norm(self.center)
        c_hat = self.c_hat
        fallback = np.cross(c_hat, [0.0, 0.0, 1.0]) if abs(c_hat[2]) < 0.99 else np.cross(c_hat, [1.0, 0.0, 0.0])
        self.fallback = fallback / np.linalg.norm(fallback)
        alpha = self.radius_km / float(np.linalg.norm(self.center))
        self.cos_alpha, self.sin_alpha = math.cos(alpha), math.sin(alpha)

    def points(self, sat_km: np.ndarray) -> np.ndarray:
        """Per satellite (..., 3), the zone's edge point farthest from its sub-point."""
        if self.radius_km <= 0:
            return np.broadcast_to(self.center, np.shape(sat_km)).copy()
        s = np.asarray(sat_km, dtype=float)
        s_hat = s / np.linalg.norm(s, axis=-1, keepdims=True)
        toward = s_hat - (s_hat @ self.c_hat)[..., None] * self.c_hat
        norm = np.linalg.norm(toward, axis=-1, keepdims=True)
        toward = np.where(norm > 1e-12, toward / np.maximum(norm, 1e-12), self.fallback)
        return surface_point(self.cos_alpha * self.c_hat - self.sin_alpha * toward)


def farthest_edge_points(center_lat_deg: float, center_lon_deg: float, radius_km: float,
                         sat_km: np.ndarray) -> np.ndarray:
    """Per satellite (..., 3), the point of a circular zone farthest from its sub-point:
    ``radius_km`` along the surface from the centre, directly away from the satellite.

    The step is taken on the sphere through the centre (the ellipsoid's local radius),
    then put back on the ellipsoid; for zones up to a few hundred km that is metres
    from the geodesic answer. A satellite straight above the centre sees every edge
    point alike; any is returned. (:class:`CircleEdge` keeps the zone's constants for
    repeated use.)
    """
    return CircleEdge(center_lat_deg, center_lon_deg, radius_km).points(sat_km)


def destination(lat_deg: float, lon_deg: float, bearing_deg: float, distance_km: float,
                earth_radius_km: float = 6371.0088) -> tuple:
    """The point ``distance_km`` from (lat, lon) along ``bearing_deg`` (great circle)."""
    lat1, lon1, b = map(math.radians, (lat_deg, lon_deg, bearing_deg))
    d = distance_km / earth_radius_km
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(b))
    lon2 = lon1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2))
    return math.degrees(lat2), (math.degrees(lon2) + 540.0) % 360.0 - 180.0


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float, earth_radius_km: float = 6371.0088) -> float:
    """Haversine distance on a sphere of the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * earth_radius_km * math.asin(min(1.0, math.sqrt(h)))
