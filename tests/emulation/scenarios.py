"""Small scenarios for emulation tests, written to a temporary folder."""
from pathlib import Path

import yaml

TINY = {
    "name": "tiny",
    "start": "2026-01-31T12:00:00Z",
    "defaults": {"min_elevation_deg": 10, "gsl_bandwidth_mbps": 100, "isl_bandwidth_mbps": 100},
    "shells": [{"name": "t", "walker": "delta", "planes": 8, "sats_per_plane": 10,
                "altitude_km": 1200, "inclination_deg": 53}],
    "ground_stations": [{"name": "Berlin", "lat_deg": 52.52, "lon_deg": 13.405},
                        {"name": "Madrid", "lat_deg": 40.42, "lon_deg": -3.70}],
    "topology": {"gsl": {"policy": "nearest"}},
}


def write(tmp_path: Path, raw: dict = TINY, name: str = "tiny.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return str(path)
