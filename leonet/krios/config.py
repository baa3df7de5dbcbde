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

Errors name the field (``krios.zones.sf.radius_km``), the value and the fix.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Mapping, Optional

from ..errors import ConfigError
from ..orbits import Scenario
from .geometry import DEFAULT_MIN_ELEVATION_DEG, MAX_ZONE_RADIUS_KM
from .policies import POLICIES
from .timeline import MODES, PAPER_INIT_S
from .zones import Zone, check_min_elevation, zone_from_mapping

#: zone names become DNS labels and label values
ZONE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


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
            close = difflib.get_close_matches(name, list(self.zones), n=1)
            raise ConfigError(where, name, "not a zone of the scenario's krios.zones",
                              f"did you mean '{close[0]}'?" if close else
                              ("zones: " + ", ".join(self.zones)) if self.zones else "add it under krios.zones")
        return self.zones[name]


def _keys(where: str, raw: Mapping[str, Any], allowed) -> None:
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            raise ConfigError(f"{where}.{key}", raw[key], "unknown key",
                              f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(allowed))


def _seconds(where: str, value: Any, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(where, value, "must be a number of seconds " + (">= 0" if allow_zero else "> 0"),
                          "write e.g. 5")
    return float(value)


def _choice(where: str, value: Any, choices) -> str:
    if value not in choices:
        close = difflib.get_close_matches(str(value), list(choices), n=1)
        raise ConfigError(where, value, "unknown choice",
                          (f"did you mean '{close[0]}'? " if close else "") + "use one of: " + ", ".join(choices))
    return value


def parse_krios_section(raw: Any, ground_stations=()) -> KriosConfig:
    """Validate a raw ``krios:`` mapping (None gives the defaults). ``ground_stations``:
    the scenario's names, to check ``control_ground_station``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("krios", raw, "must be a mapping of key: value", "see docs/krios.md")
    d = KriosConfig()
    _keys("krios", raw, [f.name for f in fields(KriosConfig)])
    name = raw.get("scheduler_name", d.scheduler_name)
    if not isinstance(name, str) or not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", name):
        raise ConfigError("krios.scheduler_name", name, "must be a DNS-1123 name", "write e.g. krios")
    lead = raw.get("lead_s", "auto")
    lead_s = None if lead == "auto" else _seconds("krios.lead_s", lead)
    elev = check_min_elevation("krios.min_elevation_deg", raw.get("min_elevation_deg", d.min_elevation_deg))
    cap = raw.get("max_zone_radius_km", d.max_zone_radius_km)
    if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not 0 < cap <= 2000:
        raise ConfigError("krios.max_zone_radius_km", cap, "must be a radius in km in (0, 2000]", "write e.g. 100")
    control = raw.get("control_ground_station")
    if control is not None and control not in ground_stations:
        close = difflib.get_close_matches(str(control), list(ground_stations), n=1)
        raise ConfigError("krios.control_ground_station", control, "not a ground station of the scenario",
                          f"did you mean '{close[0]}'?" if close else "name one of the scenario's ground stations")
    zones_raw = raw.get("zones") or {}
    if not isinstance(zones_raw, Mapping):
        raise ConfigError("krios.zones", zones_raw, "must be a mapping of zone name: zone",
                          "write zones: {sf: {lat_deg: 37.77, lon_deg: -122.42, radius_km: 100}}")
    zones = {}
    for zname, zraw in zones_raw.items():
        if not isinstance(zname, str) or not ZONE_NAME.match(zname):
            raise ConfigError(f"krios.zones.{zname}", zname, "a zone name must be a DNS label (a-z, 0-9, '-')",
                              "write e.g. sf or rig-a")
        zones[zname] = zone_from_mapping(zname, zraw, f"krios.zones.{zname}", elev, float(cap))
    return KriosConfig(
        scheduler_name=name,
        policy=_choice("krios.policy", raw.get("policy", d.policy), POLICIES),
        handover=_choice("krios.handover", raw.get("handover", d.handover), MODES),
        lead_s=lead_s,
        init_s=_seconds("krios.init_s", raw.get("init_s", d.init_s)),
        transfer_s=_seconds("krios.transfer_s", raw.get("transfer_s", d.transfer_s)),
        dns_ttl_s=_seconds("krios.dns_ttl_s", raw.get("dns_ttl_s", d.dns_ttl_s)),
        drain_s=_seconds("krios.drain_s", raw.get("drain_s", d.drain_s)),
        min_elevation_deg=elev, max_zone_radius_km=float(cap), control_ground_station=control, zones=zones)


def krios_config(scenario: Scenario) -> KriosConfig:
    """The validated ``krios:`` section of a scenario (defaults if absent)."""
    return parse_krios_section(scenario.sections.get("krios"), [g.name for g in scenario.ground_stations])
