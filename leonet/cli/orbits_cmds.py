"""CLI commands of the orbital layer: presets, info, positions, tle, visible, demo."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Tuple

import numpy as np

from ..errors import ConfigError
from ..orbits import Constellation, load_constellation, preset_names
from ..orbits.frames import ecef_to_geodetic, geodetic_to_ecef, look_angles
from ..orbits.scenario import DATA_DIR, read_ground_station_csv
from ..orbits.timeutil import format_utc, parse_utc
from ..orbits.tle import format_tles
from .common import add_format_arg, add_scenario_arg, emit_rows, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the built-in scenarios")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("info", help="summarise a scenario: shells, planes, ground stations")
    add_scenario_arg(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("positions", help="satellite positions at a time (geodetic and ECEF)")
    add_scenario_arg(p)
    p.add_argument("--at", help="UTC time, ISO 8601 (default: the scenario's start)")
    add_format_arg(p, ("csv", "json", "table"), default="csv")
    p.set_defaults(func=cmd_positions)

    p = sub.add_parser("tle", help="3-line TLEs for every satellite of a scenario")
    add_scenario_arg(p)
    p.set_defaults(func=cmd_tle)

    p = sub.add_parser("visible", help="satellites a ground station sees: elevation, azimuth, range")
    add_scenario_arg(p)
    p.add_argument("--at", help="UTC time, ISO 8601 (default: the scenario's start)")
    p.add_argument("--from", dest="station", required=True, metavar="GROUND_STATION",
                   help="a ground station of the scenario, one of the 1,000 largest cities, or LAT,LON[,ALT_M]")
    p.add_argument("--min-elevation", type=float, metavar="DEG",
                   help="override the scenario's minimum elevation")
    add_format_arg(p)
    p.set_defaults(func=cmd_visible)


def _time(c: Constellation, at: Optional[str]):
    when = parse_utc(at, "--at") if at else c.start
    c.check_tle_age(when)
    return when


def cmd_presets(args: argparse.Namespace) -> int:
    for name in preset_names():
        print(name)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    c = load(args)
    sc = c.scenario
    print(f"scenario {sc.name}: start {format_utc(sc.start)}")
    if sc.description:
        print("  " + " ".join(sc.description.split()))
    print(f"{c.num_satellites} satellites in {len(c.shells)} shells, {len(c.ground_stations)} ground stations")
    rows = [{"shell": s.index, "name": s.name, "kind": s.kind, "planes": s.planes,
             "sats": s.size, "altitude_km": round(s.altitude_km, 1),
             "inclination_deg": round(s.inclination_deg, 2), "wraps": s.wraps,
             "min_elev_deg": sc.shell_param(s.spec, "min_elevation_deg")}
            for s in c.shells]
    emit_rows(rows, list(rows[0]), "table", floatfmt="{:g}")
    if c.excluded:
        counts = {}
        for reason in c.excluded.values():
            counts[reason] = counts.get(reason, 0) + 1
        print(f"excluded {len(c.excluded)} objects: " + "; ".join(f"{n} {r}" for r, n in counts.items()))
    return 0


def cmd_positions(args: argparse.Namespace) -> int:
    c = load(args)
    when = _time(c, args.at)
    pos = c.positions_at(when)
    lat, lon, alt = ecef_to_geodetic(pos)
    rows = [{"name": s.name, "lat_deg": float(lat[i]), "lon_deg": float(lon[i]), "alt_km": float(alt[i]),
             "x_km": float(pos[i, 0]), "y_km": float(pos[i, 1]), "z_km": float(pos[i, 2])}
            for i, s in enumerate(c.satellites)]
    emit_rows(rows, ["name", "lat_deg", "lon_deg", "alt_km", "x_km", "y_km", "z_km"], args.format)
    return 0


def cmd_tle(args: argparse.Namespace) -> int:
    c = load(args)
    sys.stdout.write(format_tles([s.name for s in c.satellites], c.satrecs))
    return 0


def _observer(c: Constellation, spec: str) -> Tuple[str, float, float, float, float]:
    """(name, lat, lon, alt_m, min_elevation) for a ground-station name or LAT,LON[,ALT]."""
    parts = spec.split(",")
    if len(parts) in (2, 3):
        try:
            nums = [float(x) for x in parts]
        except ValueError:
            nums = []
        if nums:
            if not (-90 <= nums[0] <= 90 and -180 <= nums[1] <= 360):
                raise ConfigError("--from", spec, "latitude or longitude out of range",
                                  "write LAT,LON with -90<=LAT<=90, -180<=LON<=360")
            return spec, nums[0], nums[1], nums[2] if len(nums) == 3 else 0.0, \
                c.scenario.defaults["min_elevation_deg"]
    if spec not in {g.name for g in c.ground_stations}:
        city = _cities().get(spec)
        if city is not None:  # any of the 1,000 largest cities works as an observer too
            return spec, city[1], city[2], city[3], c.scenario.defaults["min_elevation_deg"]
    gs = c.ground_station(spec)
    return gs.name, gs.lat_deg, gs.lon_deg, gs.alt_m, \
        c.scenario.ground_station_param(gs.spec, "min_elevation_deg")


def _cities():
    return {row[0]: row for row in read_ground_station_csv(DATA_DIR / "cities_top1000_2025.csv", "cities")}


def cmd_visible(args: argparse.Namespace) -> int:
    if args.min_elevation is not None and not 0 <= args.min_elevation <= 90:
        raise ConfigError("--min-elevation", args.min_elevation, "must be in [0, 90] degrees",
                          "choose a value between 0 and 90")
    c = load(args)
    when = _time(c, args.at)
    name, lat, lon, alt_m, min_elev = _observer(c, args.station)
    if args.min_elevation is not None:
        min_elev = args.min_elevation
    rows = visible_rows(c, when, lat, lon, alt_m, min_elev)
    if args.format == "table":
        print(f"{len(rows)} satellites above {min_elev:g} deg from {name} at {format_utc(when)}")
    emit_rows(rows, ["name", "elevation_deg", "azimuth_deg", "range_km", "shell"], args.format,
              floatfmt="{:.3f}")
    return 0


def visible_rows(c: Constellation, when, lat: float, lon: float, alt_m: float, min_elev: float):
    station = geodetic_to_ecef(lat, lon, alt_m / 1000.0)
    elev, azim, rng = look_angles(station[None, :], [lat], [lon], c.positions_at(when))
    elev, azim, rng = elev[0], azim[0], rng[0]
    order = [i for i in np.argsort(-elev) if elev[i] >= min_elev]
    return [{"name": c.satellites[i].name, "elevation_deg": float(elev[i]), "azimuth_deg": float(azim[i]),
             "range_km": float(rng[i]), "shell": c.shells[c.satellites[i].shell].name} for i in order]


def orbital_demo(scenario: str, city: str, at: Optional[str]) -> int:
    """Where a constellation is, and which satellites a city sees (no root needed)."""
    c = load_constellation(scenario)
    when = _time(c, at)
    cities = _cities()
    if city not in cities:
        import difflib
        raise ConfigError("--city", city, "not among the 1,000 largest cities",
                          "try e.g. " + ", ".join(difflib.get_close_matches(city, list(cities)) or
                                                  ["Berlin", "Tokyo", "Lagos"]))
    _, lat, lon, alt_m = cities[city]
    pos = c.positions_at(when)
    slat, slon, salt = ecef_to_geodetic(pos)
    print(f"leonet orbital demo: {c.scenario.name} at {format_utc(when)}")
    print(f"  {c.num_satellites} satellites in {len(c.shells)} shell(s); altitude "
          f"{np.nanmin(salt):.1f} to {np.nanmax(salt):.1f} km; latitudes {np.nanmin(slat):.1f} to "
          f"{np.nanmax(slat):.1f} deg")
    print("  a few satellites (name, lat, lon, alt):")
    for i in np.linspace(0, c.num_satellites - 1, 5).astype(int):
        print(f"    {c.satellites[i].name:<12} {slat[i]:8.3f} {slon[i]:9.3f} {salt[i]:7.1f} km")
    min_elev = c.scenario.defaults["min_elevation_deg"]
    rows = visible_rows(c, when, lat, lon, alt_m, min_elev)
    print(f"  {city} ({lat:.3f}, {lon:.3f}) sees {len(rows)} satellites above {min_elev:g} deg:")
    emit_rows(rows[:10], ["name", "elevation_deg", "azimuth_deg", "range_km"], "table", floatfmt="{:.2f}")
    if len(rows) > 10:
        print(f"  ... and {len(rows) - 10} more (see `leonet visible {c.scenario.name} --from LAT,LON`)")
    return 0
