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

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..errors import ConfigError
from ..orbits import Constellation, Scenario
from ..schema import Fields, check_keys, check_number, register_node_param, register_section
from ..schema.registry import NODE_PARAM_LEVELS
from .bbox import BoundingBox

ISL_INTER_PLANE_MODES = ("same_slot", "nearest", "none")
INTER_SHELL_MODES = ("none", "nearest")
GSL_POLICIES = ("all", "nearest", "highest_elevation")

#: Per-node link parameters (declared below with :func:`leonet.schema.register_node_param`,
#: so that ``defaults:``, shells and ground stations can set them). ISL values come from
#: the shell; GSL values from the ground station, else its satellite's shell, else defaults.
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

def _reject_node_params(f: Fields) -> None:
    for key in f.raw:
        if key in LINK_PARAMS:
            raise ConfigError(f.at(key), f.raw[key], "is a per-node parameter, not a topology rule",
                              f"set {key} under defaults: (or on a shell or ground station)")


def _section(where: str, raw: Any, cls: type) -> Fields:
    f = Fields(where, raw, doc="docs/topology.md")
    _reject_node_params(f)
    check_keys(where, f.raw, list(cls.__dataclass_fields__))
    return f


def _parse_isl(raw: Any) -> IslRules:
    f = _section("topology.isl", raw, IslRules)
    d = IslRules()
    return IslRules(
        intra_plane=f.flag("intra_plane", d.intra_plane),
        inter_plane=f.choice("inter_plane", d.inter_plane, ISL_INTER_PLANE_MODES),
        min_grazing_altitude_km=f.number("min_grazing_altitude_km", d.min_grazing_altitude_km,
                                         -6000, 100000, unit="km"),
        max_latitude_deg=f.number("max_latitude_deg", None, 0, 90, unit="degrees", optional=True),
        max_range_km=f.number("max_range_km", None, 0, 1e6, lo_open=True, unit="km", optional=True),
        inter_shell=f.choice("inter_shell", d.inter_shell, INTER_SHELL_MODES))


def _parse_gsl(raw: Any) -> GslRules:
    f = _section("topology.gsl", raw, GslRules)
    return GslRules(
        policy=f.choice("policy", "all", GSL_POLICIES),
        max_per_ground_station=f.integer("max_per_ground_station", None, lo=1, optional=True),
        max_per_satellite=f.integer("max_per_satellite", None, lo=1, optional=True))


def parse_topology_section(raw: Any, scenario: Optional[Scenario] = None) -> TopologyConfig:
    """Validate a raw ``topology:`` mapping (``None`` gives the defaults)."""
    f = _section("topology", raw, TopologyConfig)
    d = TopologyConfig()
    bbox = f.get("bounding_box")
    return TopologyConfig(
        isl=_parse_isl(f.get("isl")),
        gsl=_parse_gsl(f.get("gsl")),
        speed_of_light_factor=f.number("speed_of_light_factor", d.speed_of_light_factor, 0, 1, lo_open=True,
                                       unit="(fraction of c in vacuum)"),
        delay_threshold_ms=f.number("delay_threshold_ms", d.delay_threshold_ms, 0, 1000, unit="ms"),
        ground_station_relay=f.flag("ground_station_relay", d.ground_station_relay),
        bounding_box=None if bbox is None else BoundingBox.parse(bbox, "topology.bounding_box"))


def topology_config(scenario_or_constellation: Scenario | Constellation) -> TopologyConfig:
    """The validated topology configuration of a scenario (or of a constellation's scenario)."""
    scenario = getattr(scenario_or_constellation, "scenario", scenario_or_constellation)
    return scenario.config("topology")


register_section("topology", parse_topology_section, "docs/topology.md")

_LINK_PARAM_SPECS = (
    ("min_elevation_deg", 25.0, 0, 90, False, "degrees", "minimum elevation for a ground-satellite link"),
    ("isl_bandwidth_mbps", 10000.0, 0, 1e7, True, "Mbit/s", "ISL bandwidth"),
    ("gsl_bandwidth_mbps", 1000.0, 0, 1e7, True, "Mbit/s", "GSL bandwidth"),
    ("isl_loss_percent", 0.0, 0, 100, False, "percent", "ISL random packet loss"),
    ("gsl_loss_percent", 0.0, 0, 100, False, "percent", "GSL random packet loss"),
)


def _in_range(lo: float, hi: float, lo_open: bool, unit: str) -> Callable[[str, Any], float]:
    return lambda field, value: check_number(field, value, lo, hi, lo_open=lo_open, unit=unit)


for _name, _default, _lo, _hi, _lo_open, _unit, _doc in _LINK_PARAM_SPECS:
    register_node_param(_name, _default, _in_range(_lo, _hi, _lo_open, _unit), _doc,
                        levels=("defaults", "shell") if _name in _SHELL_ONLY_PARAMS else NODE_PARAM_LEVELS,
                        module=__name__)
