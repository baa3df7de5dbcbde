"""The scenario's ``topology:`` section: link rules and the link model, validated.

Every key is optional; the defaults are listed in :class:`TopologyConfig` and
docs/topology.md. Example::

    topology:
      isl:
        inter_plane: same_slot        # same_slot | nearest | none
        min_grazing_altitude_km: 80   # line of sight must clear this altitude
        max_latitude_deg: 66.5        # no inter-plane ISLs above this |latitude|
        max_range_km: 5000
        inter_shell: none             # none | nearest
      gsl:
        policy: all                   # all | nearest | highest_elevation
        max_per_ground_station: 4
        max_per_satellite: 8
      speed_of_light_factor: 1.0      # delay = distance / (c * factor)
      delay_threshold_ms: 0.5         # timelines announce delay changes of this size
      ground_station_relay: false     # may paths transit a ground station?
      bounding_box: {lat_min_deg: 30, lat_max_deg: 60, lon_min_deg: 170, lon_max_deg: -160}

Per-node link parameters (bandwidth, loss, minimum elevation) are not set here but in
the scenario's ``defaults:`` and overridden per shell or ground station, see
:data:`LINK_PARAMS`.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from ..errors import ConfigError
from ..orbits import Constellation, Scenario
from .bbox import BoundingBox

ISL_INTER_PLANE_MODES = ("same_slot", "nearest", "none")
INTER_SHELL_MODES = ("none", "nearest")
GSL_POLICIES = ("all", "nearest", "highest_elevation")

#: Per-node link parameters (declared in ``leonet.orbits.scenario.NODE_PARAMS`` so that
#: ``defaults:``, shells and ground stations can set them). ISL values come from the
#: shell; GSL values from the ground station, else its satellite's shell, else defaults.
LINK_PARAMS = ("isl_bandwidth_mbps", "gsl_bandwidth_mbps", "isl_loss_percent", "gsl_loss_percent",
               "min_elevation_deg")
_SHELL_ONLY_PARAMS = ("isl_bandwidth_mbps", "isl_loss_percent")


@dataclass(frozen=True)
class IslRules:
    """Which inter-satellite links exist (see docs/topology.md, "ISL rules")."""

    #: intra-plane neighbours (slot +-1 in the same plane) are linked
    intra_plane: bool = True
    #: ``same_slot``: the same slot in the adjacent planes; ``nearest``: the satellite of
    #: the adjacent plane that stays closest over an orbit; ``none``: no inter-plane ISLs
    inter_plane: str = "same_slot"
    #: the straight line between the satellites must stay above this altitude (km)
    min_grazing_altitude_km: float = 80.0
    #: inter-plane ISLs are down while either end is above this |geocentric latitude|
    max_latitude_deg: Optional[float] = None
    #: ISLs longer than this are down (km); None: no limit
    max_range_km: Optional[float] = None
    #: ``nearest``: each satellite also links to the nearest satellite of the next shell
    #: that is in line of sight and range; ``none``: shells are not linked
    inter_shell: str = "none"


@dataclass(frozen=True)
class GslRules:
    """Which ground-satellite links exist among the visible pairs."""

    #: ``all`` visible satellites, or the ``nearest`` / ``highest_elevation`` ones
    policy: str = "all"
    #: at most this many GSLs per ground station (None: no limit for ``all``, 1 otherwise)
    max_per_ground_station: Optional[int] = None
    #: at most this many GSLs per satellite (None: no limit)
    max_per_satellite: Optional[int] = None

    @property
    def per_ground_station(self) -> Optional[int]:
        """The effective per-ground-station cap."""
        if self.max_per_ground_station is not None:
            return self.max_per_ground_station
        return None if self.policy == "all" else 1


@dataclass(frozen=True)
class TopologyConfig:
    """Validated ``topology:`` section. Build it with :func:`topology_config`."""

    isl: IslRules = field(default_factory=IslRules)
    gsl: GslRules = field(default_factory=GslRules)
    #: one-way delay = distance / (speed of light in vacuum * this factor)
    speed_of_light_factor: float = 1.0
    #: timelines announce a link's delay again once it moved into another band of
    #: this width (ms); 0 announces every change
    delay_threshold_ms: float = 0.5
    #: whether shortest paths may go satellite -> ground station -> satellite
    ground_station_relay: bool = False
    #: satellites inside it are "active" (reported per step); None: all are active
    bounding_box: Optional[BoundingBox] = None


# ----------------------------------------------------------------------------- validation

def _suggest(value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=2)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "allowed: " + ", ".join(choices)


def _mapping(where: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(where, value, "must be a mapping of key: value", "see docs/topology.md")
    return value


def _check_keys(where: str, raw: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for key in raw:
        if key in LINK_PARAMS:
            raise ConfigError(f"{where}.{key}", raw[key], "is a per-node parameter, not a topology rule",
                              f"set {key} under defaults: (or on a shell or ground station)")
        if key not in allowed:
            raise ConfigError(f"{where}.{key}", raw[key], "unknown key", _suggest(key, allowed))


def _choice(where: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(where, value, "unknown choice", _suggest(str(value), choices))
    return value


def _number(where: str, value: Any, lo: float, hi: float, unit: str, lo_open: bool = False,
            optional: bool = False) -> Optional[float]:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(where, value, "must be a number", f"write a number in {unit}"
                          + (" or null" if optional else ""))
    v = float(value)
    if v < lo or v > hi or (lo_open and v == lo):
        lb = "(" if lo_open else "["
        raise ConfigError(where, value, f"must be in {lb}{lo:g}, {hi:g}] {unit}",
                          f"choose a value in {lb}{lo:g}, {hi:g}]")
    return v


def _count(where: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(where, value, "must be a whole number >= 1", "write a whole number >= 1 (e.g. 1 or 4), or null for no limit")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(where, value, "must be true or false", "write true or false")
    return value


def _parse_isl(raw: Any) -> IslRules:
    where = "topology.isl"
    raw = _mapping(where, raw)
    _check_keys(where, raw, list(IslRules.__dataclass_fields__))
    d = IslRules()
    return IslRules(
        intra_plane=_bool(f"{where}.intra_plane", raw.get("intra_plane", d.intra_plane)),
        inter_plane=_choice(f"{where}.inter_plane", raw.get("inter_plane", d.inter_plane),
                            ISL_INTER_PLANE_MODES),
        min_grazing_altitude_km=_number(f"{where}.min_grazing_altitude_km",
                                        raw.get("min_grazing_altitude_km", d.min_grazing_altitude_km),
                                        -6000, 100000, "km"),
        max_latitude_deg=_number(f"{where}.max_latitude_deg", raw.get("max_latitude_deg"), 0, 90,
                                 "degrees", optional=True),
        max_range_km=_number(f"{where}.max_range_km", raw.get("max_range_km"), 0, 1e6, "km",
                             lo_open=True, optional=True),
        inter_shell=_choice(f"{where}.inter_shell", raw.get("inter_shell", d.inter_shell),
                            INTER_SHELL_MODES))


def _parse_gsl(raw: Any) -> GslRules:
    where = "topology.gsl"
    raw = _mapping(where, raw)
    _check_keys(where, raw, list(GslRules.__dataclass_fields__))
    return GslRules(
        policy=_choice(f"{where}.policy", raw.get("policy", "all"), GSL_POLICIES),
        max_per_ground_station=_count(f"{where}.max_per_ground_station", raw.get("max_per_ground_station")),
        max_per_satellite=_count(f"{where}.max_per_satellite", raw.get("max_per_satellite")))


def parse_topology_section(raw: Any) -> TopologyConfig:
    """Validate a raw ``topology:`` mapping (``None`` gives the defaults)."""
    raw = _mapping("topology", raw)
    _check_keys("topology", raw, list(TopologyConfig.__dataclass_fields__))
    d = TopologyConfig()
    bbox = raw.get("bounding_box")
    return TopologyConfig(
        isl=_parse_isl(raw.get("isl")),
        gsl=_parse_gsl(raw.get("gsl")),
        speed_of_light_factor=_number("topology.speed_of_light_factor",
                                      raw.get("speed_of_light_factor", d.speed_of_light_factor),
                                      0, 1, "(fraction of c in vacuum)", lo_open=True),
        delay_threshold_ms=_number("topology.delay_threshold_ms",
                                   raw.get("delay_threshold_ms", d.delay_threshold_ms), 0, 1000, "ms"),
        ground_station_relay=_bool("topology.ground_station_relay",
                                   raw.get("ground_station_relay", d.ground_station_relay)),
        bounding_box=None if bbox is None else BoundingBox.parse(bbox, "topology.bounding_box"))


def check_link_params(scenario: Scenario) -> None:
    """Reject ISL parameters set on ground stations, where they would be silently ignored."""
    for gs in scenario.ground_stations:
        for key in _SHELL_ONLY_PARAMS:
            if key in gs.explicit:
                raise ConfigError(f"ground station {gs.name}.{key}", gs.explicit[key],
                                  "an ISL parameter has no meaning on a ground station",
                                  "set it under defaults: or on a shell")


def topology_config(scenario_or_constellation: Scenario | Constellation) -> TopologyConfig:
    """The validated topology configuration of a scenario (or of a constellation's scenario)."""
    scenario = getattr(scenario_or_constellation, "scenario", scenario_or_constellation)
    check_link_params(scenario)
    return parse_topology_section(scenario.sections.get("topology"))
