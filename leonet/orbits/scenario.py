"""Scenario files: the YAML that describes a constellation, its ground stations and
the start time, validated before anything runs.

A scenario looks like this (see ``topologies/`` and docs/scenarios.md)::

    name: my-scenario
    start: 2026-01-31T12:00:00Z        # UTC; Walker shells get this as their TLE epoch
    defaults:                          # layered: a shell or ground station may override
      min_elevation_deg: 25
    shells:
      - name: shell1
        walker: delta                  # delta | star
        planes: 72
        sats_per_plane: 22
        altitude_km: 550
        inclination_deg: 53
      - name: real
        tle_file: builtin:starlink-2026-01-31.tle   # or a path relative to this file
    ground_stations:
      - {name: Berlin, lat_deg: 52.52, lon_deg: 13.405}
      - csv: builtin:starlink_gateways.csv
        limit: 50
        min_elevation_deg: 30

Every error names the field, the bad value and the fix (:class:`ConfigError`).
"""
from __future__ import annotations

import csv
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..schema import (Fields, check_mapping, check_name, check_number, node_params, read_yaml,
                      section, section_names, suggest)
from .grouping import GroupingOptions
from .naming import dns_form, looks_like_satellite
from .timeutil import parse_utc
from .walker import WalkerShell

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PRESET_DIR = Path(__file__).resolve().parents[2] / "topologies"

_WALKER_KEYS = {"name", "walker", "planes", "sats_per_plane", "altitude_km", "inclination_deg",
                "arc_of_ascending_nodes_deg", "phasing", "eccentricity", "raan_offset_deg",
                "arg_perigee_deg"}
_TLE_KEYS = {"name", "tle_file", "inclination_range_deg", "altitude_range_km"} | {
    f.name for f in GroupingOptions.__dataclass_fields__.values()}
_GS_INLINE_KEYS = {"name", "lat_deg", "lon_deg", "alt_m"}
_GS_CSV_KEYS = {"csv", "limit", "names", "prefix"}
_CORE_KEYS = {"name", "description", "start", "defaults", "shells", "ground_stations"}


@dataclass
class ShellSpec:
    """One entry of ``shells``: a Walker shell, or a TLE file (which may hold several shells)."""

    name: str
    index: int
    walker: Optional[WalkerShell] = None
    walker_kind: str = ""  #: "delta" or "star"
    tle_file: Optional[Path] = None
    grouping: GroupingOptions = field(default_factory=GroupingOptions)
    inclination_range_deg: Optional[Tuple[float, float]] = None
    altitude_range_km: Optional[Tuple[float, float]] = None
    explicit: Dict[str, Any] = field(default_factory=dict)  #: params set on this shell


@dataclass
class GroundStationSpec:
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    explicit: Dict[str, Any] = field(default_factory=dict)  #: params set on it or its CSV entry
    #: where it was defined, for messages: ``ground_stations[1]`` or ``ground_stations[2] (x.csv row 5)``
    origin: str = field(default="", compare=False)


_PARSING = object()  # marks a section whose parser is running (to report cycles)


@dataclass
class Scenario:
    """A validated scenario: its core (start, shells, ground stations, per-node
    defaults) and, through :meth:`config`, every layer's section, each validated once.

    ``sections`` keeps the raw top-level sections as written."""

    name: str
    start: _dt.datetime
    shells: List[ShellSpec]
    ground_stations: List[GroundStationSpec]
    defaults: Dict[str, Any]
    description: str = ""
    sections: Dict[str, Any] = field(default_factory=dict)
    source: Optional[Path] = None
    _configs: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _satellite_names: Optional[Tuple[str, ...]] = field(default=None, repr=False, compare=False)

    def config(self, name: str) -> Any:
        """The validated configuration of section ``name`` (``topology``, ``emulation``,
        ...; see :func:`leonet.schema.section_names`): its defaults when the scenario has
        no such section. Parsed on first use and kept."""
        if name not in section_names():
            raise ConfigError("section", name, "no such scenario section",
                              suggest(name, section_names(), "sections: " + ", ".join(section_names())))
        cached = self._configs.get(name)
        if cached is _PARSING:
            raise RuntimeError(f"scenario sections depend on each other in a cycle through {name!r}")
        if cached is None:
            self._configs[name] = _PARSING
            try:
                self._configs[name] = section(name).parse(self.sections.get(name), self)
            except BaseException:
                del self._configs[name]
                raise
        return self._configs[name]

    def satellite_names(self) -> Tuple[str, ...]:
        """Every satellite's node name (``s<shell>p<plane>n<slot>``), in index order.
        For TLE shells this groups the TLEs (see :mod:`.grouping`)."""
        if self._satellite_names is None:
            from .constellation import build_constellation
            self._satellite_names = tuple(s.name for s in build_constellation(self).satellites)
        return self._satellite_names

    def ground_station_names(self) -> Tuple[str, ...]:
        return tuple(gs.name for gs in self.ground_stations)

    def shell_param(self, shell: ShellSpec, key: str) -> Any:
        return shell.explicit.get(key, self.defaults[key])

    def ground_station_param(self, gs: GroundStationSpec, key: str) -> Any:
        return gs.explicit.get(key, self.defaults[key])

    def pair_param(self, gs: GroundStationSpec, shell: ShellSpec, key: str) -> Any:
        """A parameter for a ground station and a shell's satellites: the ground
        station's own setting wins, then the shell's, then the global default."""
        if key in gs.explicit:
            return gs.explicit[key]
        return self.shell_param(shell, key)

    def ground_station(self, name: str) -> GroundStationSpec:
        for gs in self.ground_stations:
            if gs.name == name:
                return gs
        raise ConfigError("ground station", name, "not in this scenario",
                          suggest(name, [g.name for g in self.ground_stations],
                                  "list them with `leonet info SCENARIO`"))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Scenario":
        """Validate a scenario given as a mapping (as YAML would give it)."""
        return parse_scenario(raw)


# ----------------------------------------------------------------------------- helpers

def _params(where: str, mapping: Mapping[str, Any], level: str) -> Dict[str, Any]:
    """The per-node parameters set in ``mapping`` (at ``level``: defaults, shell or
    ground_station), checked."""
    out = {}
    for key, spec in node_params().items():
        if key not in mapping:
            continue
        if level not in spec.levels:
            raise ConfigError(f"{where}.{key}", mapping[key], f"has no meaning on a {level.replace('_', ' ')}",
                              "set it under " + " or on a ".join(
                                  "defaults:" if lv == "defaults" else lv.replace("_", " ") for lv in spec.levels))
        out[key] = spec.check(f"{where}.{key}", mapping[key])
    return out


def _param_keys() -> set:
    return set(node_params())


def resolve_data_path(value: Any, fieldname: str, base: Optional[Path]) -> Path:
    """``builtin:FILE`` names a file shipped in ``leonet/data``; other paths are
    relative to the scenario file."""
    if not isinstance(value, str) or not value:
        raise ConfigError(fieldname, value, "must be a file path", "give a path or builtin:FILE")
    if value.startswith("builtin:"):
        path = DATA_DIR / value[len("builtin:"):]
        if not path.is_file():
            shipped = sorted(p.name for p in DATA_DIR.iterdir() if p.is_file())
            raise ConfigError(fieldname, value, "no such built-in data file",
                              suggest(value[8:], shipped, "built-in files: " + ", ".join(shipped)))
        return path
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.is_file():
        raise ConfigError(fieldname, value, "file not found",
                          "relative paths are relative to the scenario file's folder")
    return path


def _range_pair(fieldname: str, value: Any) -> Tuple[float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not all(v == v and abs(v) != float("inf") for v in value) or value[0] > value[1]):
        raise ConfigError(fieldname, value, "must be a [low, high] pair of numbers",
                          "write e.g. [52.5, 53.5]")
    return float(value[0]), float(value[1])


# ----------------------------------------------------------------------------- shells

def _parse_shell(raw: Any, index: int, base: Optional[Path]) -> ShellSpec:
    where = f"shells[{index}]"
    check_mapping(where, raw, allow_none=False)
    name = check_name(f"{where}.name", Fields(where, raw).require("name", "give each shell a name"))
    if "tle_file" in raw:
        f = Fields(where, raw, _TLE_KEYS | _param_keys(), label="allowed keys")
        params = _params(where, raw, "shell")
        path = resolve_data_path(raw["tle_file"], f"{where}.tle_file", base)
        opts = {}
        for key, default in GroupingOptions().__dict__.items():
            if key in raw:
                opts[key] = (f.integer(key, None, lo=1) if isinstance(default, int)
                             else f.number(key, None, lo=0, hi=1e6, lo_open=True))
        return ShellSpec(
            name=name, index=index, tle_file=path, grouping=GroupingOptions(**opts),
            inclination_range_deg=(_range_pair(f"{where}.inclination_range_deg", raw["inclination_range_deg"])
                                   if "inclination_range_deg" in raw else None),
            altitude_range_km=(_range_pair(f"{where}.altitude_range_km", raw["altitude_range_km"])
                               if "altitude_range_km" in raw else None),
            explicit=params)

    f = Fields(where, raw, _WALKER_KEYS | _param_keys(), label="allowed keys")
    params = _params(where, raw, "shell")
    kind = raw.get("walker", "delta")
    if kind not in ("delta", "star"):
        raise ConfigError(f"{where}.walker", kind, "unknown Walker pattern",
                          "use 'delta' (planes over 360 deg) or 'star' (over 180 deg); "
                          "for real satellites use tle_file instead")
    hint = "Walker shells need planes, sats_per_plane, altitude_km and inclination_deg (or a tle_file)"
    planes = f.integer("planes", f.require("planes", hint), lo=1)
    per_plane = f.integer("sats_per_plane", f.require("sats_per_plane", hint), lo=1)
    altitude = f.number("altitude_km", f.require("altitude_km", hint), 0, 100000, lo_open=True, unit="km")
    inclination = f.number("inclination_deg", f.require("inclination_deg", hint), 0, 180, unit="degrees")
    arc = f.number("arc_of_ascending_nodes_deg", 360.0 if kind == "delta" else 180.0, 0, 360,
                   lo_open=True, unit="degrees")
    phasing = f.integer("phasing", 1 if planes > 1 else 0, 0, planes - 1)
    ecc = f.number("eccentricity", 0.0, 0, 1, hi_open=True)
    shell = WalkerShell(planes=planes, sats_per_plane=per_plane, altitude_km=altitude,
                        inclination_deg=inclination, arc_of_ascending_nodes_deg=arc,
                        phasing=phasing, eccentricity=ecc,
                        raan_offset_deg=f.number("raan_offset_deg", 0.0, -360, 360),
                        arg_perigee_deg=f.number("arg_perigee_deg", 0.0, 0, 360))
    perigee_alt = shell.semi_major_axis_km * (1 - ecc) - 6371.0
    if perigee_alt < 100:
        raise ConfigError(f"{where}.eccentricity", ecc,
                          f"perigee would be {perigee_alt:.0f} km above ground, inside the atmosphere",
                          "lower the eccentricity or raise altitude_km")
    if shell.size > 100000:
        raise ConfigError(f"{where}.planes", planes, f"shell of {shell.size} satellites is too large",
                          "use at most 100,000 satellites per shell")
    return ShellSpec(name=name, index=index, walker=shell, walker_kind=kind, explicit=params)


# ----------------------------------------------------------------------------- ground stations

def _station(where: str, name: Any, lat: Any, lon: Any, alt: Any,
             params: Dict[str, Any]) -> GroundStationSpec:
    return GroundStationSpec(
        name=check_name(f"{where}.name", name),
        lat_deg=check_number(f"{where}.lat_deg", lat, -90, 90, unit="degrees"),
        lon_deg=check_number(f"{where}.lon_deg", lon, -180, 360, unit="degrees"),
        alt_m=check_number(f"{where}.alt_m", alt, -500, 9000, unit="m"),
        explicit=dict(params), origin=where)


def read_ground_station_csv(path: Path, where: str) -> List[Tuple[str, float, float, float]]:
    """Rows (name, lat_deg, lon_deg, alt_m) of a CSV with columns
    ``name,latitude_deg,longitude_deg[,altitude_m]`` (other columns are ignored)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = set(reader.fieldnames or [])
            for col in ("name", "latitude_deg", "longitude_deg"):
                if col not in cols:
                    raise ConfigError(f"{where}.csv", str(path), f"has no column '{col}'",
                                      "use columns name,latitude_deg,longitude_deg[,altitude_m]")
            rows = []
            for n, row in enumerate(reader, start=2):
                try:
                    rows.append((row["name"].strip(), float(row["latitude_deg"]),
                                 float(row["longitude_deg"]), float(row.get("altitude_m") or 0.0)))
                except (TypeError, ValueError, AttributeError):
                    raise ConfigError(f"{where}.csv", f"{path.name}:{n}", "row has a non-numeric coordinate",
                                      "fix that row of the CSV") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}.csv", str(path), "is not UTF-8 text", "give a CSV file") from None
    return rows


def _parse_ground_stations(raw: Any, base: Optional[Path]) -> List[GroundStationSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("ground_stations", raw, "must be a list", "write one '- ...' entry per station or CSV")
    stations: List[GroundStationSpec] = []
    for i, entry in enumerate(raw):
        where = f"ground_stations[{i}]"
        check_mapping(where, entry, allow_none=False)
        if "csv" in entry:
            f = Fields(where, entry, _GS_CSV_KEYS | _param_keys(), label="allowed keys")
            params = _params(where, entry, "ground_station")
            path = resolve_data_path(entry["csv"], f"{where}.csv", base)
            rows = read_ground_station_csv(path, where)
            if "names" in entry:
                wanted = entry["names"]
                if not isinstance(wanted, list):
                    raise ConfigError(f"{where}.names", wanted, "must be a list of names", "write [A, B]")
                by_name = {r[0]: r for r in rows}
                for w in wanted:
                    if w not in by_name:
                        raise ConfigError(f"{where}.names", w, f"not in {path.name}",
                                          suggest(str(w), list(by_name), "check the spelling"))
                rows = [by_name[w] for w in wanted]
            if "limit" in entry:
                rows = rows[:f.integer("limit", None, lo=0)]
            prefix = check_name(f"{where}.prefix", entry["prefix"], "prefix") if "prefix" in entry else ""
            for j, (name, lat, lon, alt) in enumerate(rows):
                stations.append(_station(f"{where} ({path.name} row {j + 1})", prefix + name,
                                         lat, lon, alt, params))
        else:
            f = Fields(where, entry, _GS_INLINE_KEYS | _param_keys(), label="allowed keys")
            params = _params(where, entry, "ground_station")
            hint = "a ground station needs name, lat_deg and lon_deg (or csv: FILE)"
            stations.append(_station(where, f.require("name", hint), f.require("lat_deg", hint),
                                     f.require("lon_deg", hint), entry.get("alt_m", 0.0), params))
    _check_station_names(stations)
    return stations


def _check_station_names(stations: Sequence[GroundStationSpec]) -> None:
    """Names must stay distinct as host names and DNS labels, and apart from satellites'."""
    seen: Dict[str, int] = {}
    forms: Dict[str, int] = {}
    for idx, gs in enumerate(stations):
        if gs.name in seen:
            raise ConfigError("ground_stations", gs.name,
                              f"duplicate ground-station name (stations #{seen[gs.name]} and #{idx})",
                              "give every ground station a unique name (a CSV entry can add a prefix:)")
        seen[gs.name] = idx
        if looks_like_satellite(gs.name):
            raise ConfigError(f"{gs.origin}.name", gs.name, "is named like a satellite (s<shell>p<plane>n<slot>)",
                              "rename the ground station")
        form = dns_form(gs.name)
        if form in forms:
            other = stations[forms[form]].name
            raise ConfigError(f"{gs.origin}.name", gs.name,
                              f"has the same host/DNS form '{form}' as {other!r} ({stations[forms[form]].origin})",
                              "give the stations names that differ in more than case, spaces or punctuation")
        forms[form] = idx


# ----------------------------------------------------------------------------- scenario

def parse_scenario(raw: Any, source: Optional[Path] = None) -> Scenario:
    """Validate a scenario mapping (as read from YAML) into a :class:`Scenario`: its
    core and every section it has."""
    base = source.parent if source is not None else None
    check_mapping("scenario", raw, allow_none=False)
    f = Fields("scenario", raw, _CORE_KEYS | set(section_names()))
    start = parse_utc(f.require("start", "set an explicit UTC start time, e.g. start: 2026-01-31T12:00:00Z"),
                      "start")
    defaults_raw = Fields("defaults", raw.get("defaults"), _param_keys()).raw
    params = node_params()
    defaults = {k: spec.default for k, spec in params.items()}
    defaults.update(_params("defaults", defaults_raw, "defaults"))

    shells_raw = raw.get("shells")
    if not isinstance(shells_raw, list) or not shells_raw:
        raise ConfigError("shells", shells_raw, "must be a non-empty list",
                          "add at least one Walker shell or tle_file entry")
    shells = [_parse_shell(s, i, base) for i, s in enumerate(shells_raw)]
    names = [s.name for s in shells]
    for s in shells:
        if names.count(s.name) > 1:
            raise ConfigError(f"shells[{s.index}].name", s.name, "duplicate shell name",
                              "give every shell a unique name")
    sections = {key: check_mapping(key, raw[key]) for key in section_names() if key in raw}
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError("description", description, "must be text", "write a sentence, or drop the key")
    scenario = Scenario(
        name=check_name("name", raw.get("name", source.stem if source else "scenario")),
        description=description, start=start, shells=shells,
        ground_stations=_parse_ground_stations(raw.get("ground_stations"), base),
        defaults=defaults, sections=dict(sections), source=source)
    for key in sections:
        scenario.config(key)  # every section is validated now, whatever the command
    return scenario


def preset_names() -> List[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def scenario_path(name_or_path: str) -> Path:
    """A preset name (``starlink-shell1``) or a YAML path to a file path."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError("SCENARIO", name_or_path, "file not found",
                              "give a YAML path or one of the presets: " + ", ".join(preset_names()))
        return path.resolve()
    preset = PRESET_DIR / f"{name_or_path}.yaml"
    if preset.is_file():
        return preset
    raise ConfigError("SCENARIO", name_or_path, "unknown preset",
                      suggest(name_or_path, preset_names(), "presets: " + ", ".join(preset_names())))


def load_scenario(name_or_path: str, start: Optional[str] = None) -> Scenario:
    """Load and validate a scenario by preset name or path (the core and every
    section). ``start`` overrides its start time."""
    path = scenario_path(name_or_path)
    raw = read_yaml(path)
    if isinstance(raw, Mapping) and start is not None:
        raw = dict(raw, start=start)
    return parse_scenario(raw, source=path)
