"""Shared pieces of the Krios tests: a small Walker shell at 550 km built from a
scenario mapping (pure: no root)."""
from __future__ import annotations

import copy

from leonet.orbits import build_constellation, parse_scenario

SMALL = {
    "name": "krios-small",
    "start": "2026-01-31T00:00:00Z",
    "defaults": {"min_elevation_deg": 25},
    "shells": [{"name": "s", "walker": "delta", "planes": 24, "sats_per_plane": 20, "altitude_km": 550,
                "inclination_deg": 53}],
    "ground_stations": [{"name": "SF", "lat_deg": 37.7749, "lon_deg": -122.4194}],
}


def small_constellation(ground_stations=None, extra=None):
    raw = copy.deepcopy(SMALL)
    if ground_stations is not None:
        raw["ground_stations"] = ground_stations
    raw.update(extra or {})
    return build_constellation(parse_scenario(raw))

