"""CLI commands of the emulation layer: run, exec, nodes, status, check, cleanup."""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Dict

from ..errors import LeonetError
from .common import add_scenario_arg, emit_rows


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a scenario as a live emulation (needs root)")
    add_scenario_arg(p)
    p.add_argument("--duration", type=float, metavar="S", help="emulated seconds to run (default: until Ctrl-C)")
    p.add_argument("--backend", choices=("auto", "netem", "nfqueue", "none"),
                   help="link delay backend (default: the scenario's, else auto)")
    p.add_argument("--speed", type=float, help="emulated seconds per wall second (default 1)")
    p.add_argument("--step", type=float, help="tick length in emulated seconds (default 1)")
    p.add_argument("--offset", type=float, help="start this many seconds after the scenario's start")
    p.add_argument("--start", help="override the scenario's start time (ISO 8601 UTC)")
    p.add_argument("--cli", action="store_true", help="open the interactive Mininet CLI")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("exec", help="run a command in a node of the active run")
    p.add_argument("node", metavar="NODE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD", help="the command")
    p.set_defaults(func=cmd_exec)

    p = sub.add_parser("nodes", help="name, kind and address of every node in the active run")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_nodes)

    p = sub.add_parser("status", help="emulated time, tick statistics, lag and backend of the active run")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("check", help="compare the active run's routing tables with the engine")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("cleanup", help="remove leonet's namespaces, processes and containers")
    p.set_defaults(func=cmd_cleanup)


class _Bars:
    """tqdm bars, one per bring-up stage."""

    def __init__(self) -> None:
        from tqdm import tqdm
        self._tqdm = tqdm
        self._bars: Dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = self._tqdm(total=total, desc=f"{stage:<12}", unit="", leave=True,
                                                 file=sys.stderr, dynamic_ncols=True)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()


def cmd_run(args: argparse.Namespace) -> int:
    from ..emulation.run import require_root
    from ..launch import prepare_run
    require_root()
    run = prepare_run(args.scenario, start=args.start, backend=args.backend, speed=args.speed,
                                     step_s=args.step, offset_s=args.offset)
    with run:
        print(f"leonet: bringing up {run.scenario.name}: {run.constellation.num_satellites} satellites, "
              f"{len(run.constellation.ground_stations)} ground stations", file=sys.stderr)
        run.start(_Bars())
        c = run.controller
        assert c is not None
        print(f"leonet: running at {c.current_time_iso} with the {run.shaper.name} backend "
              f"(stated accuracy {run.shaper.accuracy_ms} ms per hop); Ctrl-C stops", file=sys.stderr)
        try:
            if args.cli:
                from ..emulation.hosts import mininet_view, stop_hosts
                from ..emulation.mncli import LeoCLI
                ticker = threading.Thread(target=c.run, args=(args.duration,), daemon=True)
                ticker.start()
                view = mininet_view(run.network)
                try:
                    commands = {name: fn for service in run.services
                                for name, fn in getattr(service, "cli_commands", dict)().items()}
                    LeoCLI(view, c, commands)
                finally:
                    c.stop()
                    ticker.join()
                    stop_hosts(view)
            else:
                c.run(args.duration)
        except KeyboardInterrupt:
            print("\nleonet: stopping", file=sys.stderr)
        s = c.stats.summary()
        print(f"leonet: {int(s['ticks'])} ticks; apply p50 {s['apply_ms_p50']:.1f} ms, p99 {s['apply_ms_p99']:.1f} ms; "
              f"lag p99 {s['lag_ms_p99']:.1f} ms; {len(c.handovers)} GSL handovers", file=sys.stderr)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from ..emulation import netns, runstate
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise LeonetError("leonet exec: give a command after --, e.g. `leonet exec NODE -- ping -c 3 OTHER`")
    node = runstate.node_record(args.node)
    if not netns.exists(node["netns"]):
        raise LeonetError(f"node {args.node}'s namespace is gone; is the run still starting or stopping?")
    # `ip netns exec` (not nsenter) also applies /etc/netns/<ns>/resolv.conf: the node's DNS
    os.execvp("ip", ["ip", "netns", "exec", node["netns"], *command])
    return 127  # not reached


def cmd_nodes(args: argparse.Namespace) -> int:
    from ..emulation import runstate
    record = runstate.require_active_run()
    rows = [{"name": n["name"], "kind": n["kind"], "address": n["address"], "host": n["host"]}
            for n in record["nodes"]]
    emit_rows(rows, ["name", "kind", "address", "host"], args.format)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ..emulation import runstate
    record = runstate.require_active_run()
    status = runstate.read_status()
    if args.format == "json":
        json.dump(dict(status, pid=record["pid"], scenario=record.get("scenario")), sys.stdout, indent=1)
        print()
        return 0
    s = status.get("stats", {})
    print(f"scenario {record.get('scenario')} (pid {record['pid']}), backend {status.get('backend')}")
    print(f"emulated time {status.get('time')} (tick {status.get('tick')}, step {status.get('step_s')} s, "
          f"speed {status.get('speed')}x)")
    if s:
        print(f"apply ms p50 {s['apply_ms_p50']:.1f} p99 {s['apply_ms_p99']:.1f}; compute ms p50 "
              f"{s['compute_ms_p50']:.1f}; lag ms p99 {s['lag_ms_p99']:.1f} max {s['lag_ms_max']:.1f}")
    last = status.get("last_tick") or {}
    if last:
        phases = ", ".join(f"{name.replace('_', ' ')} {ms:.1f}" for name, ms in last.get("phase_ms", {}).items())
        print(f"last tick: apply {last['apply_ms']:.1f} ms ({phases}); {last['links_added']} links added, "
              f"{last['links_removed']} removed, {last['delays_updated']} delays and "
              f"{last['routes_changed']} routes changed")
    print(f"GSL handovers so far: {status.get('handovers', 0)}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ..emulation.selfcheck import check_active_run
    problems, when = check_active_run()
    if problems:
        print(f"{len(problems)} routing entries differ from the engine at {when}:")
        for line in problems[:100]:
            print("  " + line)
        return 1
    print(f"every routing table matches the engine at {when}")
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    from ..emulation.cleanup import cleanup
    from ..emulation.run import require_root
    require_root()
    print("leonet cleanup: " + cleanup().summary())
    return 0
