"""The scenario's ``krios:`` section, validated. Every key is optional::

    krios:
      scheduler_name: krios        # pods opt in with spec.schedulerName: krios
      policy: krios                # krios (v . (c - p)) | closest | random | longest
      handover: proactive          # proactive | reactive (lead 0) | none (scheduler only)
      lead_s: auto                 # auto: dt_e + t_i + t_AT + t_switch; or a number of seconds
      init_s: 5                    # t_i until the first instance's start has been measured
      transfer_s: 0                # t_AT: image/state transfer estimate (s)
      dns_ttl_s: 1                 # TTL of the zone's service records (clients re-resolve)
      drain_s: 1                   # after the switch, in-flight requests finish before the delete
      min_elevation_deg: 25        # default of every zone
      max_zone_radius_km: 100      # the paper's cap
      control_ground_station: null # where the Krios daemon runs (a control-plane station)
      zones:
        sf: {lat_deg: 37.7749, lon_deg: -122.4194, radius_km: 100}
        gulf: {polygon: [[28.2, -89.3], [28.2, -89.1], [28.1, -89.2]], min_elevation_deg: 30}

Declared in :mod:`leonet.schema` (parsed once per scenario by ``Scenario.config("krios")``);
errors name the field (``krios.zones.sf.radius_km``), the value and the fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..errors import ConfigError
from ..schema import Fields, check_number, register_section, suggest
from .geometry import DEFAULT_MIN_ELEVATION_DEG, MAX_ZONE_RADIUS_KM
from .policies import POLICIES
from .timeline import MODES, PAPER_INIT_S
from .zones import Zone, check_min_elevation, zone_from_mapping

if TYPE_CHECKING:
    from ..orbits.scenario import Scenario

DOC = "docs/krios.md"
#: zone names become DNS labels and label values
ZONE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass(frozen=True)
class KriosConfig:
    scheduler_name: str = "krios"
    policy: str = "krios"
    handover: str = "proactive"
    lead_s: Optional[float] = None          #: None: automatic (see docs/krios.md)
    init_s: float = PAPER_INIT_S
    transfer_s: float = 0.0
    dns_ttl_s: float = 1.0
    drain_s: float = 1.0
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG
    max_zone_radius_km: float = MAX_ZONE_RADIUS_KM
    control_ground_station: Optional[str] = None
    zones: Dict[str, Zone] = field(default_factory=dict)

    def zone(self, name: str, where: str = "zone") -> Zone:
        if name not in self.zones:
            raise ConfigError(where, name, "not a zone of the scenario's krios.zones",
                              suggest(name, self.zones, ("zones: " + ", ".join(self.zones)) if self.zones
                                      else "add it under krios.zones"))
        return self.zones[name]


def parse_krios_section(raw: Any, scenario: Optional["Scenario"] = None, where: str = "krios") -> KriosConfig:
    """Validate a raw ``krios:`` mapping (``None`` gives the defaults). With a
    ``scenario``, ``control_ground_station`` must name one of its ground stations."""
    f = Fields(where, raw, [x.name for x in fields(KriosConfig)], doc=DOC)
    d = KriosConfig()
    name = f.get("scheduler_name", d.scheduler_name)
    if not isinstance(name, str) or not DNS_NAME.match(name):
        raise ConfigError(f.at("scheduler_name"), name, "must be a DNS-1123 name", "write e.g. krios")
    lead = f.get("lead_s", "auto")
    lead_s = None if lead == "auto" else check_number(f.at("lead_s"), lead, lo=0, unit="s",
                                                      fix="write auto or a number of seconds >= 0")
    elev = check_min_elevation(f.at("min_elevation_deg"), f.get("min_elevation_deg", d.min_elevation_deg))
    cap = f.number("max_zone_radius_km", d.max_zone_radius_km, lo=0, hi=2000, lo_open=True, unit="km")
    control = f.get("control_ground_station")
    if control is not None and scenario is not None:
        stations = [g.name for g in scenario.ground_stations]
        if control not in stations:
            raise ConfigError(f.at("control_ground_station"), control, "not a ground station of the scenario",
                              suggest(control, stations, "name one of the scenario's ground stations"))
    zf = f.sub("zones", example="zones: {sf: {lat_deg: 37.77, lon_deg: -122.42, radius_km: 100}}")
    zones = {}
    for zname, zraw in zf.raw.items():
        if not ZONE_NAME.match(zname):
            raise ConfigError(zf.at(zname), zname, "a zone name must be a DNS label (a-z, 0-9, '-')",
                              "write e.g. sf or rig-a")
        zones[zname] = zone_from_mapping(zname, zraw, zf.at(zname), elev, cap)
    return KriosConfig(
        scheduler_name=name,
        policy=f.choice("policy", d.policy, POLICIES),
        handover=f.choice("handover", d.handover, MODES),
        lead_s=lead_s,
        init_s=f.number("init_s", d.init_s, lo=0, unit="s"),
        transfer_s=f.number("transfer_s", d.transfer_s, lo=0, unit="s"),
        dns_ttl_s=f.number("dns_ttl_s", d.dns_ttl_s, lo=0, unit="s"),
        drain_s=f.number("drain_s", d.drain_s, lo=0, unit="s"),
        min_elevation_deg=elev, max_zone_radius_km=cap, control_ground_station=control, zones=zones)


def krios_config(scenario: "Scenario") -> KriosConfig:
    """The validated ``krios:`` section of a scenario (defaults if absent; parsed once)."""
    return scenario.config("krios")


register_section("krios", parse_krios_section, "Krios: LEO zones, scheduler policy, handover mode and lead time")
