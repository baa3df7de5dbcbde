"""CLI commands of the topology layer: path, topology, handovers, plot."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional

from ..orbits import Constellation
from ..orbits.timeutil import format_utc, parse_utc
from ..topology import TopologyEngine, handover_events
from ..topology.export import handover_to_dict, handovers_csv, snapshot_to_dict, write_links_csv
from ..topology.plot import plot_snapshot
from .common import add_format_arg, add_scenario_arg, emit_rows, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("path", help="least-delay path between two nodes at a time")
    add_scenario_arg(p)
    _add_at(p)
    p.add_argument("--from", dest="source", required=True, metavar="NODE",
                   help="a ground station or satellite name (e.g. s0p12n5)")
    p.add_argument("--to", dest="target", required=True, metavar="NODE", help="a ground station or satellite")
    add_format_arg(p, ("table", "json"))
    p.set_defaults(func=cmd_path)

    p = sub.add_parser("topology", help="nodes (ECEF) and links (distance, delay, bandwidth) at a time")
    add_scenario_arg(p)
    _add_at(p)
    add_format_arg(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_topology)

    p = sub.add_parser("handovers", help="a ground station's primary-satellite changes over a time span")
    add_scenario_arg(p)
    p.add_argument("--from", dest="start", metavar="T0", help="UTC start (default: the scenario's start)")
    p.add_argument("--to", dest="end", required=True, metavar="T1", help="UTC end, inclusive")
    p.add_argument("--ground-station", dest="stations", action="append", required=True, metavar="GS",
                   help="a ground station (repeat the option for several)")
    p.add_argument("--step", type=float, default=1.0, metavar="S", help="time step in seconds (default 1)")
    add_format_arg(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_handovers)

    p = sub.add_parser("plot", help="world map of satellites, ISLs, GSLs and optionally one path")
    add_scenario_arg(p)
    _add_at(p)
    p.add_argument("--path", nargs=2, metavar=("A", "B"), help="highlight the least-delay path from A to B")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="image file, e.g. map.png")
    p.set_defaults(func=cmd_plot)


def _add_at(p: argparse.ArgumentParser) -> None:
    p.add_argument("--at", help="UTC time, ISO 8601 (default: the scenario's start)")


def _engine(args: argparse.Namespace) -> TopologyEngine:
    return TopologyEngine(load(args))


def _when(c: Constellation, at: Optional[str], field: str = "--at"):
    when = parse_utc(at, field) if at else c.start
    c.check_tle_age(when)
    return when


def cmd_path(args: argparse.Namespace) -> int:
    engine = _engine(args)
    snap = engine.snapshot(_when(engine.constellation, args.at))
    path = snap.path(args.source, args.target)
    if args.format == "json":
        json.dump(path.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif path.reachable:
        print(f"{path.source} -> {path.target} at {format_utc(path.time)}: {path.delay_ms:.3f} ms one way, "
              f"{path.distance_km:.1f} km, {len(path.hops) - 1} hops")
        print("  " + " -> ".join(path.hops))
    else:
        print(f"{path.source} -> {path.target} at {format_utc(path.time)}: unreachable")
    return 0 if path.reachable else 1


def cmd_topology(args: argparse.Namespace) -> int:
    engine = _engine(args)
    snap = engine.snapshot(_when(engine.constellation, args.at))
    if args.format == "json":
        json.dump(snapshot_to_dict(snap), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    elif args.format == "csv":
        write_links_csv(snap, sys.stdout)
    else:
        isl = int((snap.links.kind == 0).sum())
        print(f"{format_utc(snap.time)}: {snap.nodes.num_satellites} satellites, "
              f"{snap.nodes.num_ground_stations} ground stations, {isl} ISLs, {len(snap.links) - isl} GSLs")
        emit_rows(snap.links.rows(snap.nodes.names),
                  ["a", "b", "kind", "distance_km", "delay_ms", "bandwidth_mbps"], "table", floatfmt="{:.3f}")
    return 0


def cmd_handovers(args: argparse.Namespace) -> int:
    engine = _engine(args)
    c = engine.constellation
    start = _when(c, args.start, "--from")
    end = _when(c, args.end, "--to")
    for gs in args.stations:
        c.ground_station(gs)  # clear error with suggestions for unknown names
    events = handover_events(engine, start, end, args.step, ground_stations=args.stations)
    if args.format == "json":
        json.dump([handover_to_dict(e) for e in events], sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif args.format == "csv":
        sys.stdout.write(handovers_csv(events))
    else:
        if not events:
            print("no satellite in view of " + ", ".join(args.stations) + " during that span")
            return 0
        rows = [{k: ("-" if v is None else v) for k, v in handover_to_dict(e).items()} for e in events]
        emit_rows(rows, ["time", "ground_station", "old_satellite", "new_satellite"], "table")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    engine = _engine(args)
    snap = engine.snapshot(_when(engine.constellation, args.at))
    path = snap.path(*args.path) if args.path else None
    plot_snapshot(snap, args.output, path=path, bounding_box=engine.config.bounding_box)
    if path is not None and not path.reachable:
        sys.stderr.write(f"leonet: {path.source} -> {path.target} is unreachable at this time\n")
    print(args.output)
    return 0
