"""A latitude/longitude box, possibly across the antimeridian, that selects the
"active" satellites of each step (as Celestial's bounding box does)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..schema import Fields, check_number
from ..orbits.frames import ecef_to_geodetic

_KEYS = ("lat_min_deg", "lat_max_deg", "lon_min_deg", "lon_max_deg")


def wrap_longitude_deg(lon: Any) -> np.ndarray:
    """Longitudes into [-180, 180)."""
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


@dataclass(frozen=True)
class BoundingBox:
    """Geodetic latitude range and longitude range (degrees).

    ``lon_min_deg > lon_max_deg`` means the box crosses the antimeridian: e.g.
    170 to -170 is the 20-degree band around 180.
    """

    lat_min_deg: float
    lat_max_deg: float
    lon_min_deg: float
    lon_max_deg: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.lon_min_deg > self.lon_max_deg

    def contains(self, lat_deg: Any, lon_deg: Any) -> np.ndarray:
        """Elementwise: is (lat, lon) inside the box? (edges included)."""
        lat = np.asarray(lat_deg, dtype=float)
        lon = wrap_longitude_deg(lon_deg)
        in_lat = (lat >= self.lat_min_deg) & (lat <= self.lat_max_deg)
        if self.crosses_antimeridian:
            in_lon = (lon >= self.lon_min_deg) | (lon <= self.lon_max_deg)
        else:
            in_lon = (lon >= self.lon_min_deg) & (lon <= self.lon_max_deg)
        return in_lat & in_lon

    def active(self, positions_ecef_km: np.ndarray) -> np.ndarray:
        """Boolean mask of the satellites whose sub-satellite point is inside the box
        (satellites without a position are inactive)."""
        lat, lon, _ = ecef_to_geodetic(positions_ecef_km)
        return self.contains(lat, lon) & np.isfinite(lat)

    @classmethod
    def parse(cls, raw: Any, where: str = "bounding_box") -> "BoundingBox":
        """Validate a mapping with ``lat_min_deg, lat_max_deg, lon_min_deg, lon_max_deg``."""
        f = Fields(where, raw, _KEYS, example="{lat_min_deg: 30, lat_max_deg: 60, lon_min_deg: -10, lon_max_deg: 40}")
        values = {}
        for key in _KEYS:
            lo, hi = (-90.0, 90.0) if key.startswith("lat") else (-180.0, 360.0)
            values[key] = check_number(f.at(key), f.require(key, "give all of " + ", ".join(_KEYS)), lo, hi,
                                       unit="degrees",
                                       fix="use latitudes in [-90, 90] and longitudes in [-180, 360]")
        if values["lat_min_deg"] > values["lat_max_deg"]:
            raise ConfigError(f"{where}.lat_min_deg", values["lat_min_deg"], "is above lat_max_deg",
                              "swap lat_min_deg and lat_max_deg")
        if values["lon_max_deg"] - values["lon_min_deg"] >= 360.0:
            values["lon_min_deg"], values["lon_max_deg"] = -180.0, 180.0
        else:  # min into [-180, 180), max into (-180, 180], so that 180 stays the east edge
            values["lon_min_deg"] = float(wrap_longitude_deg(values["lon_min_deg"]))
            values["lon_max_deg"] = float(180.0 - (180.0 - values["lon_max_deg"]) % 360.0)
        return cls(**values)
