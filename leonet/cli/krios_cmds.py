"""CLI commands of Krios: ``leonet krios zones`` (each zone's projected region and its
members now) and ``leonet krios timeline`` (an app's predicted handovers in a zone)."""
from __future__ import annotations

import argparse
import math
from typing import List, Optional

from ..errors import ConfigError
from ..krios.config import KriosConfig, krios_config
from ..krios.manager import ZoneManager
from ..krios.policies import POLICIES
from ..krios.timeline import MODES, PAPER_INIT_S, PAPER_PATH_ERROR_S, plan
from ..krios.zones import Zone, check_radius, zone_from_labels
from ..orbits.timeutil import add_seconds, format_utc
from .common import add_format_arg, add_scenario_arg, emit_rows, load


def register(sub: argparse._SubParsersAction) -> None:
    kr = sub.add_parser("krios", help="Krios LEO zones: projected regions, members and predicted handovers")
    krs = kr.add_subparsers(dest="krios_command", metavar="SUBCOMMAND", parser_class=type(kr))
    krs.required = True

    p = krs.add_parser("zones", help="each zone's projected-region radius and the satellites in it now")
    add_scenario_arg(p)
    p.add_argument("--at", help="UTC time or offset in seconds (default: the scenario's start)")
    p.add_argument("--zone", action="append", metavar="NAME",
                   help="a zone of krios.zones, or LAT_LON (the paper's leozone label); repeatable")
    p.add_argument("--radius", type=float, metavar="KM", help="radius of LAT_LON zones (default 100)")
    add_format_arg(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_zones)

    p = krs.add_parser("timeline", help="predicted placements and handovers of one app in a zone")
    add_scenario_arg(p)
    p.add_argument("--zone", required=True, metavar="NAME", help="a zone of krios.zones, or LAT_LON")
    p.add_argument("--radius", type=float, metavar="KM", help="radius of a LAT_LON zone (default 100)")
    p.add_argument("--hours", type=float, required=True, metavar="H", help="length of the prediction")
    p.add_argument("--from", dest="start", help="UTC time or offset (default: the scenario's start)")
    p.add_argument("--policy", choices=POLICIES, help="scoring policy (default: scenario, else krios)")
    p.add_argument("--mode", choices=MODES, help="handover mode (default: scenario, else proactive)")
    p.add_argument("--lead", type=float, metavar="S", help="lead time (default: t_i + dt_e)")
    p.add_argument("--init", type=float, metavar="S", help=f"t_i, instance start-up (default {PAPER_INIT_S:g})")
    p.add_argument("--summary", action="store_true", help="print only the summary")
    add_format_arg(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_timeline)


def resolve_zone(cfg: KriosConfig, text: str, radius: Optional[float], flag: str = "--zone") -> Zone:
    """A zone of the scenario by name, or an ad-hoc ``LAT_LON`` zone (the paper's label)."""
    if text in cfg.zones:
        if radius is not None:
            raise ConfigError("--radius", radius, f"zone {text} has its radius in the scenario",
                              "drop --radius, or give the zone as LAT_LON")
        return cfg.zones[text]
    if "_" in text:
        if radius is not None:
            check_radius("--radius", radius, cfg.max_zone_radius_km)
        labels = {"leozone": text}
        if radius is not None:
            labels["radius"] = str(radius)
        zone = zone_from_labels(labels, name=text, where=flag, min_elevation_deg=cfg.min_elevation_deg,
                                max_radius_km=cfg.max_zone_radius_km)
        assert zone is not None
        return zone
    return cfg.zone(text, flag)


def _offset(c, text: Optional[str], flag: str) -> float:
    if text is None:
        return 0.0
    try:
        return float(text)
    except ValueError:
        pass
    from ..orbits.timeutil import parse_utc
    return (parse_utc(text, flag) - c.start).total_seconds()


def _iso(c, offset_s: float) -> str:
    """UTC time of an offset, to the millisecond."""
    return format_utc(add_seconds(c.start, round(offset_s, 3)))


def _altitude(c) -> float:
    return float(c.shells[0].altitude_km) if c.shells else 550.0


def cmd_zones(args: argparse.Namespace) -> int:
    c = load(args)
    cfg = krios_config(c.scenario)
    if args.radius is not None:
        check_radius("--radius", args.radius, cfg.max_zone_radius_km)
    zones = [resolve_zone(cfg, z, args.radius) for z in args.zone] if args.zone else list(cfg.zones.values())
    if not zones:
        raise ConfigError("krios.zones", None, "the scenario defines no zones",
                          "add krios.zones to the scenario, or pass --zone LAT_LON")
    t = _offset(c, args.at, "--at")
    manager = ZoneManager(c)
    rows = []
    for z in zones:
        exits = {int(s): manager.exit_time(z, int(s), t) for s in manager.members(z, t)}
        order = sorted(exits, key=exits.get, reverse=True)
        nxt = [p for p in manager.passes(z, t, 900.0) if p.enter_s > t][:1]
        row = {"zone": z.name, "kind": z.kind, "lat_deg": z.lat_deg, "lon_deg": z.lon_deg,
               "radius_km": z.radius_km, "min_elevation_deg": z.min_elevation_deg,
               "region_radius_km": round(z.region_radius_km(_altitude(c)), 1), "members": len(exits)}
        if args.format == "json":
            row["time"] = _iso(c, t)
            row["satellites"] = [{"name": c.satellites[s].name, "remaining_s": round(exits[s] - t, 3),
                                  "exit": _iso(c, exits[s])} for s in order]
            row["next"] = [{"name": p.name, "enter": _iso(c, p.enter_s),
                            "in_s": round(p.enter_s - t, 3)} for p in nxt]
        else:
            row["satellites"] = " ".join(f"{c.satellites[s].name}({exits[s] - t:.0f}s)" for s in order)
            row["next"] = f"{nxt[0].name}(in {nxt[0].enter_s - t:.0f}s)" if nxt else ""
        rows.append(row)
    emit_rows(rows, list(rows[0]), args.format, floatfmt="{:.4g}")
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    c = load(args)
    cfg = krios_config(c.scenario)
    zone = resolve_zone(cfg, args.zone, args.radius)
    if not (args.hours > 0 and math.isfinite(args.hours)):
        raise ConfigError("--hours", args.hours, "must be a positive number of hours", "e.g. --hours 2")
    init = PAPER_INIT_S if args.init is None else args.init
    lead = args.lead if args.lead is not None else (cfg.lead_s if cfg.lead_s is not None
                                                    else init + cfg.transfer_s + PAPER_PATH_ERROR_S)
    for flag, v in (("--lead", lead), ("--init", init)):
        if not (v >= 0 and math.isfinite(v)):
            raise ConfigError(flag, v, "must be a number of seconds >= 0", "e.g. 5")
    t0 = _offset(c, args.start, "--from")
    manager = ZoneManager(c)
    p = plan(manager, zone, t0, args.hours * 3600.0, args.policy or cfg.policy, args.mode or cfg.handover,
             lead_s=lead, init_s=init)
    rows: List[dict] = []
    for k, inst in enumerate(p.instances):
        rows.append({"instance": k, "satellite": inst.name,
                     "start": _iso(c, inst.created_s),
                     "ready": _iso(c, inst.ready_s),
                     "leaves_zone": _iso(c, inst.exit_s) if math.isfinite(inst.exit_s) else "-",
                     "deleted": _iso(c, inst.deleted_s) if inst.deleted_s < p.end_s else "-",
                     "served_s": round(min(inst.deleted_s, p.end_s) - inst.created_s, 3)})
    iv = p.intervals_s()
    summary = {"zone": zone.name, "radius_km": zone.radius_km, "policy": p.policy, "mode": p.mode,
               "lead_s": round(p.lead_s, 6), "hours": args.hours, "handovers": max(len(p.instances) - 1, 0),
               "median_interval_s": round(float(sorted(iv)[len(iv) // 2]), 1) if len(iv) else None,
               "mean_instances": round(p.mean_instances(), 4),
               "availability": round(p.availability(manager), 4)}
    if args.format == "json":
        import json
        import sys
        json.dump({"summary": summary, "instances": rows}, sys.stdout, indent=1)
        print()
        return 0
    if not args.summary:
        emit_rows(rows, list(rows[0]) if rows else ["instance"], args.format, floatfmt="{:.3f}")
    if args.format == "table":
        print("\n" + "  ".join(f"{k}={v}" for k, v in summary.items()))
    return 0
