"""LEO zones: where on the ground an application must stay directly reachable.

A zone is a circle (centre and ground radius, the paper's two pod labels
``leozone: "<lat>_<lon>"`` and ``radius: "<km>"``) or a polygon of (lat, lon)
vertices (Appendix B). Its *space projected region* is the set of satellite
positions seen from every point of the zone at or above ``min_elevation_deg``
(see :mod:`.geometry`). Every constructor validates and raises
:class:`~leonet.errors.ConfigError` naming the field, the value and the fix.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError
from ..orbits.frames import geodetic_to_ecef
from ..schema import check_keys, check_number
from .geometry import (DEFAULT_MIN_ELEVATION_DEG, MAX_ZONE_RADIUS_KM, PAPER_ALTITUDE_KM,
                       PAPER_EARTH_RADIUS_KM, CircleEdge, coverage_half_angle_rad,
                       great_circle_km, sin_elevation, surface_up)

#: the paper's pod labels (§5, Fig. 5)
LABEL_ZONE = "leozone"
LABEL_RADIUS = "radius"
#: the paper's default radius when the ``radius`` label is absent (repository)
DEFAULT_RADIUS_KM = 100.0
#: slack of :meth:`Zone.near`'s cone: the geodetic up vector tilts the elevation by <= 0.2 deg
NEAR_SLACK_RAD = math.radians(1.0)

LatLon = Tuple[float, float]


@dataclass(frozen=True)
class Zone:
    """A validated LEO zone. ``polygon`` is None for a circle."""

    name: str
    lat_deg: float
    lon_deg: float
    radius_km: float = DEFAULT_RADIUS_KM
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG
    polygon: Optional[Tuple[LatLon, ...]] = None

    @property
    def kind(self) -> str:
        return "circle" if self.polygon is None else "polygon"

    @functools.cached_property
    def center_ecef_km(self) -> np.ndarray:
        """The centre on the WGS84 ellipsoid (ECEF km; computed once, read-only)."""
        center = geodetic_to_ecef(self.lat_deg, self.lon_deg, 0.0)
        center.setflags(write=False)
        return center

    @functools.cached_property
    def _edge(self) -> CircleEdge:
        return CircleEdge(self.lat_deg, self.lon_deg, self.radius_km)

    @functools.cached_property
    def _vertices(self) -> Tuple[np.ndarray, np.ndarray]:
        verts = _vertex_ecef(self.polygon)                          # (K, 3)
        return verts, surface_up(verts)

    @property
    def extent_km(self) -> float:
        """Ground radius of the smallest circle about the centre holding the zone
        (the radius for circles, the farthest vertex for polygons)."""
        return self.radius_km

    def region_half_angle_rad(self, altitude_km: float = PAPER_ALTITUDE_KM,
                              earth_radius_km: float = PAPER_EARTH_RADIUS_KM) -> float:
        """phi of App. A; for a polygon the cap about its centre that is surely inside
        the region (the region itself is the intersection of the vertices' caps)."""
        return coverage_half_angle_rad(altitude_km, self.min_elevation_deg, earth_radius_km) \
            - self.extent_km / earth_radius_km

    def region_radius_km(self, altitude_km: float = PAPER_ALTITUDE_KM,
                         earth_radius_km: float = PAPER_EARTH_RADIUS_KM) -> float:
        """The region's radius as an arc on the shell (Table 1's quantity)."""
        return (earth_radius_km + altitude_km) * self.region_half_angle_rad(altitude_km, earth_radius_km)

    def min_elevation_over_zone_deg(self, sat_km: np.ndarray) -> np.ndarray:
        """The lowest elevation (deg) at which each satellite (..., 3 ECEF km) is seen
        from any point of the zone. NaN positions give NaN."""
        sat = np.asarray(sat_km, dtype=float)
        if self.polygon is None:
            ground = self._edge.points(sat)
            s = sin_elevation(ground, surface_up(ground), sat)
        else:
            verts, ups = self._vertices
            s = sin_elevation(verts, ups, sat[..., None, :]).min(axis=-1)
        return np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))

    def margin_deg(self, sat_km: np.ndarray) -> np.ndarray:
        """Lowest elevation over the zone minus the minimum elevation: >= 0 in the region."""
        return self.min_elevation_over_zone_deg(sat_km) - self.min_elevation_deg

    def contains(self, sat_km: np.ndarray) -> np.ndarray:
        m = self.margin_deg(sat_km)
        return np.nan_to_num(m, nan=-1.0) >= 0.0

    def near(self, sat_km: np.ndarray) -> np.ndarray:
        """A cheap superset of :meth:`contains` (a cone about the centre): a satellite at
        distance r from the Earth's centre sees a ground point at distance rho at the
        minimum elevation e or higher only within the central angle
        ``acos(rho cos(e) / r) - e``; a region member sees the centre (a polygon: a
        vertex, at most ``extent_km`` from it), and :data:`NEAR_SLACK_RAD` covers the
        geodetic up vector. Lets a caller test only a shell's few nearby satellites."""
        sat = np.asarray(sat_km, dtype=float)
        center = self.center_ecef_km
        rho = float(np.linalg.norm(center))
        r = np.linalg.norm(sat, axis=-1)
        eps = math.radians(self.min_elevation_deg)
        with np.errstate(invalid="ignore", divide="ignore"):
            reach = np.arccos(np.clip(rho * math.cos(eps) / r, -1.0, 1.0)) - eps + NEAR_SLACK_RAD
            if self.polygon is not None:
                reach = reach + self.extent_km / rho
            cos_angle = (sat @ center) / (r * rho)
            return cos_angle >= np.cos(np.minimum(reach, math.pi))

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "lat_deg": self.lat_deg, "lon_deg": self.lon_deg,
             "radius_km": self.radius_km, "min_elevation_deg": self.min_elevation_deg}
        if self.polygon is not None:
            d["polygon"] = [list(v) for v in self.polygon]
        return d


def _vertex_ecef(polygon: Sequence[LatLon]) -> np.ndarray:
    return np.array([geodetic_to_ecef(lat, lon, 0.0) for lat, lon in polygon])


# ---------------------------------------------------------------------------- validation

def _as_number(where: str, value: Any, example: str) -> float:
    """A finite number; numeric strings (label values) are accepted."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(where, value, "must be a number", f"write e.g. {example}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(where, value, "must be a number", f"write e.g. {example}")
    return float(value)


def _number(where: str, value: Any, lo: float, hi: float, example: str) -> float:
    number = _as_number(where, value, example) if isinstance(value, str) else value   # label values are text
    return check_number(where, number, lo, hi, fix=f"write e.g. {example}")


def check_latitude(where: str, value: Any) -> float:
    return _number(where, value, -90.0, 90.0, "37.7749")


def check_longitude(where: str, value: Any) -> float:
    return _number(where, value, -180.0, 180.0, "-122.4194")


def check_min_elevation(where: str, value: Any) -> float:
    v = _number(where, value, 0.0, 89.0, "25")
    return v


def check_radius(where: str, value: Any, max_radius_km: float = MAX_ZONE_RADIUS_KM) -> float:
    v = _as_number(where, value, "100")
    if v < 0:
        raise ConfigError(where, value, "a zone's radius cannot be negative", "write a radius in km, e.g. 100")
    if v > max_radius_km:
        raise ConfigError(where, value, f"Krios limits zones to a {max_radius_km:g} km radius (§5.1: larger zones "
                          "shrink the projected region and shorten every satellite's dwell)",
                          f"use at most {max_radius_km:g} km, split the area into several zones, or raise "
                          "krios.max_zone_radius_km")
    return v


def _segments_cross(p1, p2, q1, q2) -> bool:
    """Proper or touching intersection of segments p1p2 and q1q2 in the plane."""
    def orient(a, b, c):
        v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return 0 if abs(v) < 1e-12 else (1 if v > 0 else -1)

    def on(a, b, c):
        return min(a[0], b[0]) - 1e-12 <= c[0] <= max(a[0], b[0]) + 1e-12 and \
            min(a[1], b[1]) - 1e-12 <= c[1] <= max(a[1], b[1]) + 1e-12
    o1, o2, o3, o4 = orient(p1, p2, q1), orient(p1, p2, q2), orient(q1, q2, p1), orient(q1, q2, p2)
    if o1 != o2 and o3 != o4:
        return True
    return (o1 == 0 and on(p1, p2, q1)) or (o2 == 0 and on(p1, p2, q2)) or \
        (o3 == 0 and on(q1, q2, p1)) or (o4 == 0 and on(q1, q2, p2))


def _centroid(vertices: Sequence[LatLon]) -> LatLon:
    v = _vertex_ecef(vertices)
    m = v.mean(axis=0)
    lat = math.degrees(math.atan2(m[2], math.hypot(m[0], m[1])))
    lon = math.degrees(math.atan2(m[1], m[0]))
    return lat, lon


def check_polygon(where: str, value: Any, max_radius_km: float = MAX_ZONE_RADIUS_KM) -> Tuple[Tuple[LatLon, ...], LatLon, float]:
    """Vertices as [[lat, lon], ...]: at least 3, distinct, a simple (not self-crossing)
    ring. Returns (vertices, centroid, farthest-vertex distance in km)."""
    if not isinstance(value, (list, tuple)) or len(value) < 3:
        raise ConfigError(where, value, "a polygon needs at least 3 vertices",
                          "write [[lat, lon], [lat, lon], [lat, lon], ...]")
    verts = []
    for i, v in enumerate(value):
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise ConfigError(f"{where}[{i}]", v, "a vertex is [lat, lon]", "write e.g. [29.1, -89.5]")
        verts.append((check_latitude(f"{where}[{i}][0]", v[0]), check_longitude(f"{where}[{i}][1]", v[1])))
    if verts[0] == verts[-1]:
        verts = verts[:-1]  # an explicitly closed ring
    if len(verts) < 3 or len(set(verts)) != len(verts):
        raise ConfigError(where, value, "vertices must be at least 3 distinct points", "remove repeated vertices")
    clat, clon = _centroid(verts)
    # Local equirectangular plane about the centroid (km), longitudes unwrapped across +-180.
    k = math.cos(math.radians(clat))
    xy = [(((lon - clon + 540.0) % 360.0 - 180.0) * k * 111.195, (lat - clat) * 111.195) for lat, lon in verts]
    n = len(xy)
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbouring edges share a vertex
            if _segments_cross(xy[i], xy[(i + 1) % n], xy[j], xy[(j + 1) % n]):
                raise ConfigError(where, value, f"the polygon crosses itself (edge {i}-{(i + 1) % n} meets edge "
                                  f"{j}-{(j + 1) % n})", "list the vertices in order around the boundary")
    area2 = sum(xy[i][0] * xy[(i + 1) % n][1] - xy[(i + 1) % n][0] * xy[i][1] for i in range(n))
    if abs(area2) < 1e-6:
        raise ConfigError(where, value, "the polygon has no area (its vertices are collinear)",
                          "give vertices that enclose an area")
    extent = max(great_circle_km(clat, clon, lat, lon) for lat, lon in verts)
    if extent > max_radius_km:
        raise ConfigError(where, value, f"a vertex lies {extent:.0f} km from the polygon's centre; Krios limits "
                          f"zones to {max_radius_km:g} km", "use a smaller polygon, or raise krios.max_zone_radius_km")
    return tuple(verts), (clat, clon), extent


_ZONE_KEYS = ("lat_deg", "lon_deg", "radius_km", "min_elevation_deg", "polygon")


def zone_from_mapping(name: str, raw: Any, where: str, default_min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
                      max_radius_km: float = MAX_ZONE_RADIUS_KM) -> Zone:
    """A zone from a scenario mapping: ``{lat_deg, lon_deg, radius_km}`` (circle) or
    ``{polygon: [[lat, lon], ...]}``, each with an optional ``min_elevation_deg``."""
    if not isinstance(raw, Mapping):
        raise ConfigError(where, raw, "a zone is a mapping", "write {lat_deg: 37.77, lon_deg: -122.42, radius_km: 100}")
    check_keys(where, raw, _ZONE_KEYS)
    elev = check_min_elevation(f"{where}.min_elevation_deg", raw.get("min_elevation_deg", default_min_elevation_deg))
    if "polygon" in raw:
        extra = [k for k in ("lat_deg", "lon_deg", "radius_km") if k in raw]
        if extra:
            raise ConfigError(f"{where}.{extra[0]}", raw[extra[0]], "a polygon zone has no centre or radius",
                              "give either polygon or lat_deg/lon_deg/radius_km")
        verts, (clat, clon), extent = check_polygon(f"{where}.polygon", raw["polygon"], max_radius_km)
        zone = Zone(name, clat, clon, extent, elev, verts)
    else:
        for key in ("lat_deg", "lon_deg"):
            if key not in raw:
                raise ConfigError(f"{where}.{key}", None, "missing", "a circular zone needs lat_deg, lon_deg "
                                  "(and radius_km, default 100)")
        zone = Zone(name, check_latitude(f"{where}.lat_deg", raw["lat_deg"]),
                    check_longitude(f"{where}.lon_deg", raw["lon_deg"]),
                    check_radius(f"{where}.radius_km", raw.get("radius_km", DEFAULT_RADIUS_KM), max_radius_km),
                    elev)
    if zone.region_half_angle_rad() <= 0:
        raise ConfigError(where, raw, "no satellite of the shell sees the whole zone above the minimum elevation",
                          "lower min_elevation_deg or make the zone smaller")
    return zone


def zone_from_labels(labels: Mapping[str, str], name: str = "", where: str = "metadata.labels",
                     min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
                     max_radius_km: float = MAX_ZONE_RADIUS_KM) -> Optional[Zone]:
    """The zone of the paper's labels (``leozone: "<lat>_<lon>"``, ``radius: "<km>"``,
    default 100 km), or None without a ``leozone`` label."""
    raw = labels.get(LABEL_ZONE)
    if raw is None:
        return None
    parts = str(raw).split("_")
    if len(parts) != 2:
        raise ConfigError(f"{where}.{LABEL_ZONE}", raw, "must be '<lat>_<lon>' in decimal degrees",
                          "write e.g. leozone: '37.7749_-122.4194'")
    lat = check_latitude(f"{where}.{LABEL_ZONE} (latitude)", parts[0])
    lon = check_longitude(f"{where}.{LABEL_ZONE} (longitude)", parts[1])
    radius = check_radius(f"{where}.{LABEL_RADIUS}", labels.get(LABEL_RADIUS, DEFAULT_RADIUS_KM), max_radius_km)
    return Zone(name or f"{lat:g}_{lon:g}_{radius:g}km", lat, lon, radius, min_elevation_deg)
