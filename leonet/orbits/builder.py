"""Scenarios written in Python instead of YAML.

The objects here only *describe* a scenario; :func:`build_scenario` turns them into the
same mapping a YAML file gives and validates it with the same code, so a scenario built
in Python is checked exactly like a file (same errors, same defaults)::

    from leonet import Walker, Station, build_scenario
    scenario = build_scenario(
        "two-cities", start="2026-01-31T12:00:00Z",
        shells=[Walker("shell1", planes=72, sats_per_plane=22, altitude_km=550, inclination_deg=53)],
        ground_stations=[Station("Berlin", 52.52, 13.405), Station("Madrid", 40.42, -3.70)],
        topology={"gsl": {"policy": "nearest"}},
        emulation={"backend": "nfqueue"})
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from .scenario import Scenario, parse_scenario


def _without_none(**items: Any) -> Dict[str, Any]:
    return {k: v for k, v in items.items() if v is not None}


@dataclass(frozen=True)
class Walker:
    """A Walker delta (planes over 360 degrees) or star (over 180) shell."""

    name: str
    planes: int
    sats_per_plane: int
    altitude_km: float
    inclination_deg: float
    kind: str = "delta"
    phasing: Optional[int] = None
    arc_of_ascending_nodes_deg: Optional[float] = None
    eccentricity: Optional[float] = None
    raan_offset_deg: Optional[float] = None
    arg_perigee_deg: Optional[float] = None
    #: per-node parameters for this shell's satellites (``isl_bandwidth_mbps``, ...)
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_raw(self) -> Dict[str, Any]:
        return {"name": self.name, "walker": self.kind, "planes": self.planes,
                "sats_per_plane": self.sats_per_plane, "altitude_km": self.altitude_km,
                "inclination_deg": self.inclination_deg,
                **_without_none(phasing=self.phasing, arc_of_ascending_nodes_deg=self.arc_of_ascending_nodes_deg,
                                eccentricity=self.eccentricity, raan_offset_deg=self.raan_offset_deg,
                                arg_perigee_deg=self.arg_perigee_deg),
                **dict(self.params)}


@dataclass(frozen=True)
class TleShells:
    """Real satellites from a TLE file (``builtin:FILE`` or a path), grouped into shells."""

    name: str
    tle_file: str
    inclination_range_deg: Optional[Tuple[float, float]] = None
    altitude_range_km: Optional[Tuple[float, float]] = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_raw(self) -> Dict[str, Any]:
        return {"name": self.name, "tle_file": self.tle_file,
                **_without_none(inclination_range_deg=None if self.inclination_range_deg is None
                                else list(self.inclination_range_deg),
                                altitude_range_km=None if self.altitude_range_km is None
                                else list(self.altitude_range_km)),
                **dict(self.params)}


@dataclass(frozen=True)
class Station:
    """A ground station at a geodetic position."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_raw(self) -> Dict[str, Any]:
        return {"name": self.name, "lat_deg": self.lat_deg, "lon_deg": self.lon_deg, "alt_m": self.alt_m,
                **dict(self.params)}


@dataclass(frozen=True)
class StationsCsv:
    """Ground stations from a CSV (``builtin:starlink_gateways.csv``, a path), optionally
    only ``names`` or the first ``limit`` rows, with a name ``prefix``."""

    csv: str
    names: Optional[Sequence[str]] = None
    limit: Optional[int] = None
    prefix: Optional[str] = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_raw(self) -> Dict[str, Any]:
        return {"csv": self.csv, **_without_none(names=None if self.names is None else list(self.names),
                                                 limit=self.limit, prefix=self.prefix), **dict(self.params)}


ShellLike = Union[Walker, TleShells, Mapping[str, Any]]
StationLike = Union[Station, StationsCsv, Mapping[str, Any]]


def scenario_dict(name: str, start: Union[str, _dt.datetime], shells: Sequence[ShellLike],
                  ground_stations: Sequence[StationLike] = (), defaults: Optional[Mapping[str, Any]] = None,
                  description: str = "", **sections: Mapping[str, Any]) -> Dict[str, Any]:
    """The mapping a YAML file with these contents would give."""
    def raw(item: Any) -> Any:
        return item.to_raw() if hasattr(item, "to_raw") else dict(item)
    start_text = start if isinstance(start, str) else start.isoformat()
    out: Dict[str, Any] = {"name": name, "start": start_text, "shells": [raw(s) for s in shells],
                           "ground_stations": [raw(g) for g in ground_stations]}
    if description:
        out["description"] = description
    if defaults:
        out["defaults"] = dict(defaults)
    out.update({k: v for k, v in sections.items() if v is not None})
    return out


def build_scenario(name: str, start: Union[str, _dt.datetime], shells: Sequence[ShellLike],
                   ground_stations: Sequence[StationLike] = (), defaults: Optional[Mapping[str, Any]] = None,
                   description: str = "", **sections: Mapping[str, Any]) -> Scenario:
    """A validated :class:`Scenario` from Python objects; ``sections`` are the layers'
    sections by name (``topology=``, ``emulation=``, ``controlplane=``, ...), as mappings."""
    return parse_scenario(scenario_dict(name, start, shells, ground_stations, defaults, description, **sections))
