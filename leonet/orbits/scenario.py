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
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from ..errors import ConfigError
from .grouping import GroupingOptions
from .timeutil import parse_utc
from .walker import WalkerShell

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PRESET_DIR = Path(__file__).resolve().parents[2] / "topologies"

#: Top-level sections owned and validated by higher layers (kept as raw mappings here).
LAYER_SECTIONS = ("topology", "emulation", "containers", "controlplane",
                  "kubespace", "krios", "komet")


@dataclass(frozen=True)
class ParamSpec:
    """A per-node parameter that ``defaults`` sets and shells / ground stations override."""

    default: Any
    check: Callable[[str, Any], Any]
    doc: str


def _number(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False,
            unit: str = "") -> Callable[[str, Any], float]:
    def check(fieldname: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(fieldname, value, "must be a number", f"write a number{unit}")
        v = float(value)
        too_low = v <= lo if lo_open else v < lo
        too_high = v >= hi if hi_open else v > hi
        if too_low or too_high:
            lb = "(" if lo_open else "["
            rb = ")" if hi_open else "]"
            raise ConfigError(fieldname, value, f"must be in {lb}{lo:g}, {hi:g}{rb}{unit}",
                              f"choose a value in {lb}{lo:g}, {hi:g}{rb}")
        return v
    return check


def _integer(lo: int, hi: Optional[int] = None) -> Callable[[str, Any], int]:
    def check(fieldname: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(fieldname, value, "must be a whole number",
                              f"write an integer >= {lo}")
        if value < lo or (hi is not None and value > hi):
            rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise ConfigError(fieldname, value, f"must be {rng}", f"choose an integer {rng}")
        return value
    return check


#: Per-node parameters. Higher layers add theirs here, so that one table documents them.
NODE_PARAMS: Dict[str, ParamSpec] = {
    "min_elevation_deg": ParamSpec(25.0, _number(0, 90, unit=" degrees"),
                                   "minimum elevation for a ground-satellite link"),
    # Link model of leonet.topology (ISL values per shell, GSL values per ground station or shell).
    "isl_bandwidth_mbps": ParamSpec(10000.0, _number(0, 1e7, lo_open=True, unit=" Mbit/s"), "ISL bandwidth"),
    "gsl_bandwidth_mbps": ParamSpec(1000.0, _number(0, 1e7, lo_open=True, unit=" Mbit/s"), "GSL bandwidth"),
    "isl_loss_percent": ParamSpec(0.0, _number(0, 100, unit=" percent"), "ISL random packet loss"),
    "gsl_loss_percent": ParamSpec(0.0, _number(0, 100, unit=" percent"), "GSL random packet loss"),
}

_WALKER_KEYS = {"name", "walker", "planes", "sats_per_plane", "altitude_km", "inclination_deg",
                "arc_of_ascending_nodes_deg", "phasing", "eccentricity", "raan_offset_deg",
                "arg_perigee_deg"}
_TLE_KEYS = {"name", "tle_file", "inclination_range_deg", "altitude_range_km"} | {
    f.name for f in GroupingOptions.__dataclass_fields__.values()}
_GS_INLINE_KEYS = {"name", "lat_deg", "lon_deg", "alt_m"}
_GS_CSV_KEYS = {"csv", "limit", "names", "prefix"}
_TOP_KEYS = {"name", "description", "start", "defaults", "shells", "ground_stations"} | set(LAYER_SECTIONS)


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


@dataclass
class Scenario:
    """A validated scenario. ``sections`` holds the raw higher-layer sections."""

    name: str
    start: _dt.datetime
    shells: List[ShellSpec]
    ground_stations: List[GroundStationSpec]
    defaults: Dict[str, Any]
    description: str = ""
    sections: Dict[str, Any] = field(default_factory=dict)
    source: Optional[Path] = None

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
                          _suggest(name, [g.name for g in self.ground_stations],
                                   "list them with `leonet info SCENARIO`"))


# ----------------------------------------------------------------------------- helpers

def _suggest(value: str, choices: Sequence[str], otherwise: str) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=3)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return otherwise


def _check_keys(where: str, mapping: Mapping[str, Any], allowed: set) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}", mapping[key], "unknown key",
                              _suggest(key, sorted(allowed),
                                       "allowed keys: " + ", ".join(sorted(allowed))))


def _require(where: str, mapping: Mapping[str, Any], key: str, hint: str) -> Any:
    if key not in mapping:
        raise ConfigError(f"{where}.{key}", None, "missing", hint)
    return mapping[key]


def _mapping(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(where, value, "must be a mapping of key: value", "see docs/scenarios.md")
    return value


def _name(where: str, value: Any) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise ConfigError(where, value, "must be a non-empty name", "write a short name")
    return str(value).strip()


def _params(where: str, mapping: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: NODE_PARAMS[k].check(f"{where}.{k}", v) for k, v in mapping.items() if k in NODE_PARAMS}


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
                              _suggest(value[8:], shipped, "built-in files: " + ", ".join(shipped)))
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
            or value[0] > value[1]):
        raise ConfigError(fieldname, value, "must be a [low, high] pair of numbers",
                          "write e.g. [52.5, 53.5]")
    return float(value[0]), float(value[1])


# ----------------------------------------------------------------------------- shells

def _parse_shell(raw: Any, index: int, base: Optional[Path]) -> ShellSpec:
    where = f"shells[{index}]"
    raw = _mapping(where, raw)
    name = _name(f"{where}.name", _require(where, raw, "name", "give each shell a name"))
    params = _params(where, raw)
    if "tle_file" in raw:
        _check_keys(where, raw, _TLE_KEYS | set(NODE_PARAMS))
        path = resolve_data_path(raw["tle_file"], f"{where}.tle_file", base)
        g = GroupingOptions()
        opts = {}
        for key, default in g.__dict__.items():
            if key in raw:
                if isinstance(default, int):
                    opts[key] = _integer(1)(f"{where}.{key}", raw[key])
                else:
                    opts[key] = _number(0, 1e6, lo_open=True)(f"{where}.{key}", raw[key])
        return ShellSpec(
            name=name, index=index, tle_file=path, grouping=GroupingOptions(**opts),
            inclination_range_deg=(_range_pair(f"{where}.inclination_range_deg", raw["inclination_range_deg"])
                                   if "inclination_range_deg" in raw else None),
            altitude_range_km=(_range_pair(f"{where}.altitude_range_km", raw["altitude_range_km"])
                               if "altitude_range_km" in raw else None),
            explicit=params)

    _check_keys(where, raw, _WALKER_KEYS | set(NODE_PARAMS))
    kind = raw.get("walker", "delta")
    if kind not in ("delta", "star"):
        raise ConfigError(f"{where}.walker", kind, "unknown Walker pattern",
                          "use 'delta' (planes over 360 deg) or 'star' (over 180 deg); "
                          "for real satellites use tle_file instead")
    hint = "Walker shells need planes, sats_per_plane, altitude_km and inclination_deg (or a tle_file)"
    planes = _integer(1)(f"{where}.planes", _require(where, raw, "planes", hint))
    per_plane = _integer(1)(f"{where}.sats_per_plane", _require(where, raw, "sats_per_plane", hint))
    altitude = _number(0, 100000, lo_open=True, unit=" km")(
        f"{where}.altitude_km", _require(where, raw, "altitude_km", hint))
    inclination = _number(0, 180, unit=" degrees")(
        f"{where}.inclination_deg", _require(where, raw, "inclination_deg", hint))
    arc = _number(0, 360, lo_open=True, unit=" degrees")(
        f"{where}.arc_of_ascending_nodes_deg",
        raw.get("arc_of_ascending_nodes_deg", 360.0 if kind == "delta" else 180.0))
    phasing = _integer(0, planes - 1)(f"{where}.phasing", raw.get("phasing", 1 if planes > 1 else 0))
    ecc = _number(0, 1, hi_open=True)(f"{where}.eccentricity", raw.get("eccentricity", 0.0))
    shell = WalkerShell(planes=planes, sats_per_plane=per_plane, altitude_km=altitude,
                        inclination_deg=inclination, arc_of_ascending_nodes_deg=arc,
                        phasing=phasing, eccentricity=ecc,
                        raan_offset_deg=_number(-360, 360)(f"{where}.raan_offset_deg",
                                                           raw.get("raan_offset_deg", 0.0)),
                        arg_perigee_deg=_number(0, 360)(f"{where}.arg_perigee_deg",
                                                        raw.get("arg_perigee_deg", 0.0)))
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
        name=_name(f"{where}.name", name),
        lat_deg=_number(-90, 90, unit=" degrees")(f"{where}.lat_deg", lat),
        lon_deg=_number(-180, 360, unit=" degrees")(f"{where}.lon_deg", lon),
        alt_m=_number(-500, 9000, unit=" m")(f"{where}.alt_m", alt),
        explicit=dict(params))


def read_ground_station_csv(path: Path, where: str) -> List[Tuple[str, float, float, float]]:
    """Rows (name, lat_deg, lon_deg, alt_m) of a CSV with columns
    ``name,latitude_deg,longitude_deg[,altitude_m]`` (other columns are ignored)."""
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
            except (TypeError, ValueError):
                raise ConfigError(f"{where}.csv", f"{path.name}:{n}", "row has a non-numeric coordinate",
                                  "fix that row of the CSV") from None
    return rows


def _parse_ground_stations(raw: Any, base: Optional[Path]) -> List[GroundStationSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("ground_stations", raw, "must be a list", "write one '- ...' entry per station or CSV")
    stations: List[GroundStationSpec] = []
    for i, entry in enumerate(raw):
        where = f"ground_stations[{i}]"
        entry = _mapping(where, entry)
        params = _params(where, entry)
        if "csv" in entry:
            _check_keys(where, entry, _GS_CSV_KEYS | set(NODE_PARAMS))
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
                                          _suggest(str(w), list(by_name), "check the spelling"))
                rows = [by_name[w] for w in wanted]
            if "limit" in entry:
                rows = rows[:_integer(0)(f"{where}.limit", entry["limit"])]
            prefix = str(entry.get("prefix", ""))
            for j, (name, lat, lon, alt) in enumerate(rows):
                stations.append(_station(f"{where} ({path.name} row {j + 1})", prefix + name,
                                         lat, lon, alt, params))
        else:
            _check_keys(where, entry, _GS_INLINE_KEYS | set(NODE_PARAMS))
            hint = "a ground station needs name, lat_deg and lon_deg (or csv: FILE)"
            stations.append(_station(where, _require(where, entry, "name", hint),
                                     _require(where, entry, "lat_deg", hint),
                                     _require(where, entry, "lon_deg", hint),
                                     entry.get("alt_m", 0.0), params))
    seen: Dict[str, int] = {}
    for idx, gs in enumerate(stations):
        if gs.name in seen:
            raise ConfigError("ground_stations", gs.name,
                              f"duplicate ground-station name (stations #{seen[gs.name]} and #{idx})",
                              "give every ground station a unique name (a CSV entry can add a prefix:)")
        seen[gs.name] = idx
    return stations


# ----------------------------------------------------------------------------- scenario

def parse_scenario(raw: Any, source: Optional[Path] = None) -> Scenario:
    """Validate a scenario mapping (as read from YAML) into a :class:`Scenario`."""
    base = source.parent if source is not None else None
    raw = _mapping("scenario", raw)
    _check_keys("scenario", raw, _TOP_KEYS)
    start = parse_utc(_require("scenario", raw, "start",
                               "set an explicit UTC start time, e.g. start: 2026-01-31T12:00:00Z"),
                      "start")
    defaults_raw = _mapping("defaults", raw.get("defaults") or {})
    _check_keys("defaults", defaults_raw, set(NODE_PARAMS))
    defaults = {k: spec.default for k, spec in NODE_PARAMS.items()}
    defaults.update(_params("defaults", defaults_raw))

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
    sections = {}
    for key in LAYER_SECTIONS:
        if key in raw:
            sections[key] = _mapping(key, raw[key] or {})
    return Scenario(
        name=_name("name", raw.get("name", source.stem if source else "scenario")),
        description=str(raw.get("description", "")),
        start=start, shells=shells,
        ground_stations=_parse_ground_stations(raw.get("ground_stations"), base),
        defaults=defaults, sections=sections, source=source)


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
                      _suggest(name_or_path, preset_names(),
                               "presets: " + ", ".join(preset_names())))


def load_scenario(name_or_path: str, start: Optional[str] = None) -> Scenario:
    """Load and validate a scenario by preset name or path. ``start`` overrides its start time."""
    path = scenario_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark is not None else path.name
        raise ConfigError(where, str(getattr(exc, "problem", exc)), "is not valid YAML",
                          "fix the YAML syntax at that line") from None
    if isinstance(raw, Mapping) and start is not None:
        raw = dict(raw, start=start)
    return parse_scenario(raw, source=path)
