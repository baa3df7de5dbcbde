"""The constellation a scenario describes: satellites with shell/plane/slot identity,
ground stations, and their positions over time."""
from __future__ import annotations

import datetime as _dt
import logging
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from sgp4.api import Satrec

from ..errors import ConfigError
from .frames import geodetic_to_ecef, look_angles
from .grouping import TleGrouping, group_tles
from .propagation import Propagator
from .scenario import GroundStationSpec, Scenario, ShellSpec, load_scenario
from .timeutil import TimeLike, parse_utc
from .tle import read_tle_file, satrec_epoch
from .walker import WalkerShell, make_shell_satrecs

log = logging.getLogger("leonet.orbits")

#: Warn when a TLE's epoch is further than this from the requested time.
TLE_MAX_AGE_DAYS = 14.0

_NAME_RE = re.compile(r"^s(\d+)p(\d+)n(\d+)$")


def satellite_name(shell: int, plane: int, slot: int) -> str:
    """Node name of a satellite: ``s<shell>p<plane>n<slot>``, all 0-based.

    Short (IFNAMSIZ-friendly), DNS-safe, and +Grid neighbours can be derived from it.
    """
    return f"s{shell}p{plane}n{slot}"


def parse_satellite_name(name: str) -> Tuple[int, int, int]:
    """(shell, plane, slot) from a satellite node name."""
    m = _NAME_RE.match(name)
    if not m:
        raise ConfigError("satellite", name, "not a satellite node name",
                          "satellite names look like s0p12n5 (shell 0, plane 12, slot 5)")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


@dataclass(frozen=True)
class Satellite:
    index: int          #: position in Constellation.satellites
    name: str           #: node name, see :func:`satellite_name`
    shell: int
    plane: int
    slot: int
    catalog_name: str   #: the TLE's own name (for Walker shells, same as ``name``)


@dataclass
class Shell:
    """A shell of the built constellation (a TLE file may yield several)."""

    index: int
    name: str
    kind: str                       #: "walker-delta", "walker-star" or "tle"
    inclination_deg: float
    altitude_km: float
    plane_sizes: List[int]
    first: int                      #: index of its first satellite
    spec: ShellSpec
    #: the last plane neighbours the first (Walker delta over 360 deg). False for Walker
    #: star shells, whose first and last planes counter-rotate across a seam.
    wraps: bool
    walker: Optional[WalkerShell] = None

    @property
    def planes(self) -> int:
        return len(self.plane_sizes)

    @property
    def size(self) -> int:
        return sum(self.plane_sizes)



@dataclass(frozen=True)
class GroundStation:
    index: int
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    ecef_km: Tuple[float, float, float]
    spec: GroundStationSpec


class Constellation:
    """Satellites and ground stations of a scenario, with vectorised propagation."""

    def __init__(self, scenario: Scenario, satrecs: List[Satrec], satellites: List[Satellite],
                 shells: List[Shell], excluded: Optional[Dict[str, str]] = None):
        self.scenario = scenario
        self.start: _dt.datetime = scenario.start
        self.satrecs = satrecs
        self.satellites = satellites
        self.shells = shells
        self.excluded: Dict[str, str] = dict(excluded or {})  #: catalogue name -> reason
        self.ground_stations = [
            GroundStation(i, g.name, g.lat_deg, g.lon_deg, g.alt_m,
                          tuple(float(x) for x in geodetic_to_ecef(g.lat_deg, g.lon_deg, g.alt_m / 1000.0)),
                          g)
            for i, g in enumerate(scenario.ground_stations)]
        self.propagator = Propagator(satrecs, scenario.start)
        self._sat_index = {s.name: s.index for s in satellites}
        self._gs_index = {g.name: g.index for g in self.ground_stations}
        self.shell_of = np.array([s.shell for s in satellites], dtype=np.int32)
        self.plane_of = np.array([s.plane for s in satellites], dtype=np.int32)
        self.slot_of = np.array([s.slot for s in satellites], dtype=np.int32)

    # ------------------------------------------------------------------ lookup
    @property
    def num_satellites(self) -> int:
        return len(self.satellites)

    @property
    def ground_station_ecef(self) -> np.ndarray:
        return np.array([g.ecef_km for g in self.ground_stations], dtype=float).reshape(-1, 3)

    def satellite(self, name: str) -> Satellite:
        if name in self._sat_index:
            return self.satellites[self._sat_index[name]]
        for s in self.satellites:  # allow the TLE's own name too
            if s.catalog_name == name:
                return s
        raise ConfigError("satellite", name, "not in this scenario",
                          "satellite names look like s0p12n5; list them with `leonet positions`")

    def ground_station(self, name: str) -> GroundStation:
        if name in self._gs_index:
            return self.ground_stations[self._gs_index[name]]
        self.scenario.ground_station(name)  # raises with a suggestion
        raise AssertionError

    # ------------------------------------------------------------------ time
    def offset_of(self, when: TimeLike | float) -> float:
        """Seconds since the scenario start for an ISO time, datetime or offset."""
        if isinstance(when, (int, float)) and not isinstance(when, bool):
            return float(when)
        return (parse_utc(when) - self.start).total_seconds()

    def check_tle_age(self, when: _dt.datetime) -> None:
        """Warn if TLEs are far from ``when`` (SGP4 accuracy degrades by km per day)."""
        stale = [abs((when - satrec_epoch(s)).total_seconds()) / 86400.0
                 for s, sat in zip(self.satrecs, self.satellites)
                 if self.shells[sat.shell].kind == "tle"]
        old = [d for d in stale if d > TLE_MAX_AGE_DAYS]
        if old:
            log.warning("%d TLEs have epochs more than %.0f days from %s (up to %.0f days); "
                        "positions may be off by many km: use TLEs from near that time",
                        len(old), TLE_MAX_AGE_DAYS, when.isoformat(), max(old))

    # ------------------------------------------------------------------ geometry
    def positions_ecef(self, offsets_s: Sequence[float]) -> np.ndarray:
        """Satellite ECEF positions (km), shape (N, T, 3)."""
        return self.propagator.ecef(offsets_s)

    def positions_at(self, when: TimeLike | float) -> np.ndarray:
        """Satellite ECEF positions (km) at one time, shape (N, 3)."""
        return self.propagator.ecef_at(self.offset_of(when))

    def look_angles_at(self, when: TimeLike | float, ground_stations: Sequence[str]):
        """(elevation_deg, azimuth_deg, range_km), each (G, N), from named ground stations."""
        gss = [self.ground_station(n) for n in ground_stations]
        pos = self.positions_at(when)
        return look_angles(np.array([g.ecef_km for g in gss]), [g.lat_deg for g in gss],
                           [g.lon_deg for g in gss], pos)


# ---------------------------------------------------------------------------- building

def _walker_shell(spec: ShellSpec, index: int, first_sat: int, start: _dt.datetime,
                  satnum: int) -> Tuple[Shell, List[Satrec], List[Satellite]]:
    w = spec.walker
    assert w is not None
    satrecs = make_shell_satrecs(w, start, satnum)
    sats = []
    for p in range(w.planes):
        for n in range(w.sats_per_plane):
            name = satellite_name(index, p, n)
            sats.append(Satellite(first_sat + len(sats), name, index, p, n, name))
    shell = Shell(index, spec.name, f"walker-{spec.walker_kind}", w.inclination_deg, w.altitude_km,
                  [w.sats_per_plane] * w.planes, first_sat, spec,
                  wraps=spec.walker_kind == "delta" and w.arc_of_ascending_nodes_deg >= 360.0 - 1e-9,
                  walker=w)
    return shell, satrecs, sats


def _tle_shells(spec: ShellSpec, first_index: int, first_sat: int, start: _dt.datetime
                ) -> Tuple[List[Shell], List[Satrec], List[Satellite], Dict[str, str]]:
    records = read_tle_file(spec.tle_file)
    recs_sats = [(r, r.satrec()) for r in records]
    excluded: Dict[str, str] = {}
    kept = []
    for r, s in recs_sats:
        inc = np.degrees(s.inclo)
        alt = s.a * 6378.135 - 6371.0
        if spec.inclination_range_deg and not (spec.inclination_range_deg[0] <= inc <= spec.inclination_range_deg[1]):
            continue
        if spec.altitude_range_km and not (spec.altitude_range_km[0] <= alt <= spec.altitude_range_km[1]):
            continue
        kept.append((r, s))
    if not kept:
        raise ConfigError(f"shells[{spec.index}]", str(spec.tle_file),
                          "no satellites left after the inclination/altitude filters",
                          "widen inclination_range_deg / altitude_range_km")
    grouping: TleGrouping = group_tles([s for _, s in kept], start, spec.grouping)
    for i, reason in grouping.excluded.items():
        excluded[kept[i][0].name] = reason
    shells, satrecs, sats = [], [], []
    for k, g in enumerate(grouping.shells):
        index = first_index + k
        first = first_sat + len(sats)
        for p, plane in enumerate(g.planes):
            for n, i in enumerate(plane):
                rec, s = kept[i]
                sats.append(Satellite(first_sat + len(sats), satellite_name(index, p, n), index, p, n,
                                      rec.name))
                satrecs.append(s)
        shells.append(Shell(index, f"{spec.name}-{k}", "tle", g.inclination_deg, g.altitude_km,
                            [len(p) for p in g.planes], first, spec, wraps=g.wraps))
    if excluded:
        summary = {}
        for reason in excluded.values():
            summary[reason] = summary.get(reason, 0) + 1
        log.info("%s: excluded %d of %d objects: %s", spec.tle_file.name, len(excluded), len(kept),
                 "; ".join(f"{n} {r}" for r, n in summary.items()))
    return shells, satrecs, sats, excluded


def build_constellation(scenario: Scenario) -> Constellation:
    """Turn a validated scenario into satellites (Walker shells become real TLEs)."""
    satrecs: List[Satrec] = []
    satellites: List[Satellite] = []
    shells: List[Shell] = []
    excluded: Dict[str, str] = {}
    for spec in scenario.shells:
        if spec.walker is not None:
            shell, recs, sats = _walker_shell(spec, len(shells), len(satellites), scenario.start,
                                              satnum=len(satellites) + 1)
            new_shells = [shell]
        else:
            new_shells, recs, sats, ex = _tle_shells(spec, len(shells), len(satellites), scenario.start)
            excluded.update(ex)
        shells.extend(new_shells)
        satrecs.extend(recs)
        satellites.extend(sats)
    if len(satellites) > 339999:
        raise ConfigError("shells", len(satellites), "more satellites than TLE catalogue numbers allow",
                          "use at most 339,999 satellites")
    return Constellation(scenario, satrecs, satellites, shells, excluded)


def load_constellation(name_or_path: str, start: Optional[str] = None) -> Constellation:
    """Load a scenario (preset name or YAML path) and build its constellation."""
    return build_constellation(load_scenario(name_or_path, start))
