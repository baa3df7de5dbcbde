"""Building scenarios in tests without files."""
from typing import Any, Dict, List, Optional

from leonet.orbits import build_constellation, parse_scenario

START = "2026-01-31T12:00:00Z"


def walker(planes: int, sats: int, altitude_km: float = 550.0, inclination_deg: float = 53.0,
           kind: str = "delta", **extra: Any) -> Dict[str, Any]:
    return dict(name="s", walker=kind, planes=planes, sats_per_plane=sats,
                altitude_km=altitude_km, inclination_deg=inclination_deg, **extra)


def scenario(shells: List[Dict[str, Any]], ground_stations: Optional[list] = None, **top: Any):
    raw = dict(name="test", start=START, shells=shells, ground_stations=ground_stations or [])
    raw.update(top)
    return parse_scenario(raw)


def constellation(*shells: Dict[str, Any], ground_stations: Optional[list] = None):
    named = [dict(s, name=f"shell{i}") for i, s in enumerate(shells)]
    return build_constellation(scenario(named, ground_stations))
