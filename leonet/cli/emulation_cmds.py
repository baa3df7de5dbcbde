"""CLI commands of the emulation layer: run, exec, nodes, status, check, probe, cleanup."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

import numpy as np

from ..emulation.config import BACKENDS
from ..errors import LeonetError
from .common import add_scenario_arg, emit_rows


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a scenario as a live emulation (needs root)")
    add_scenario_arg(p)
    p.add_argument("--duration", type=float, metavar="S", help="emulated seconds to run (default: until Ctrl-C)")
    p.add_argument("--backend", choices=BACKENDS,
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

    p = sub.add_parser("check", help="walk every pair through the active run's routing tables and report loops, "
                                     "black holes and paths longer than the engine's least delay")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("probe", help="one-way delay per direction and per hop between two nodes of the active run")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--count", type=int, default=20, help="packets each way (default 20)")
    p.add_argument("--interval", type=float, default=0.05, metavar="S", help="seconds between packets")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("cleanup", help="remove leonet's namespaces, processes and containers")
    p.set_defaults(func=cmd_cleanup)


def cmd_run(args: argparse.Namespace) -> int:
    from ..emulation.run import require_root
    from ..emulation.progress import StageBars
    from ..launch import prepare_run
    require_root()
    # A script's background job (`leonet run ... &`) starts with SIGINT ignored; Ctrl-C and `kill -INT`
    # must stop a run however it was started (the run itself takes over both signals in start()).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    run = prepare_run(args.scenario, start=args.start, backend=args.backend, speed=args.speed,
                                     step_s=args.step, offset_s=args.offset)
    try:
        with run:
            print(f"leonet: bringing up {run.scenario.name}: {run.constellation.num_satellites} satellites, "
                  f"{len(run.constellation.ground_stations)} ground stations", file=sys.stderr)
            run.start(StageBars())
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
                        LeoCLI(view, c)
                    finally:
                        c.stop()
                        ticker.join()
                        stop_hosts(view)
                else:
                    c.run(args.duration)
            except KeyboardInterrupt:
                print("\nleonet: stopping", file=sys.stderr)
            s = c.stats.summary()
            print(f"leonet: {int(s['ticks'])} ticks; apply p50 {s['apply_ms_p50']:.1f} ms, "
                  f"p99 {s['apply_ms_p99']:.1f} ms; lag p99 {s['lag_ms_p99']:.1f} ms; {len(c.handovers)} GSL handovers",
                  file=sys.stderr)
    finally:
        # The run is gone: a Ctrl-C repeated while the process exits must not turn a clean exit into
        # a death by SIGINT (the interpreter restores SIGINT's default action as it shuts down).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
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
    result = check_active_run()
    for line in result.report():
        print(line)
    print(f"(read {result.seconds.get('read', 0):.1f} s, judged {result.seconds.get('judge', 0):.1f} s)")
    return 1 if result.problems else 0


def cmd_probe(args: argparse.Namespace) -> int:
    from ..emulation.owdprobe import probe_active_run
    from ..emulation.run import require_root
    from ..schema import check_number
    require_root()
    count = check_number("--count", args.count, 1, 10000, integer=True)
    interval = check_number("--interval", args.interval, 0.001, 10)
    try:
        results = probe_active_run(args.a, args.b, count, interval)
    except ValueError as exc:
        raise LeonetError(f"leonet probe: {exc}") from None
    rows = [row for r in results for row in r.hop_rows()]
    if args.format != "table":
        emit_rows(rows, list(rows[0]), args.format)
        return 0
    for r in results:
        leg = r.leg
        one_way = r.one_way_ms
        summary = (f"median {np.median(one_way):.3f} ms, error {np.median(one_way) - leg.expected_ms[-1]:+.3f} ms, "
                   f"p95 {np.percentile(one_way, 95):.3f} ms" if len(one_way) else "no packet arrived")
        print(f"{leg.direction}: {leg.hops[0]} -> {leg.hops[-1]}, {len(leg.hops) - 1} hops, expected "
              f"{leg.expected_ms[-1]:.3f} ms one way; {r.received}/{r.sent} arrived, {summary}")
        for row in r.hop_rows():
            got = "not seen" if row["measured_ms"] is None else \
                f"{row['measured_ms']:9.3f} ms ({row['error_ms']:+.3f}); link {row['link_measured_ms']:.3f} ms"
            print(f"  {row['hop']:3d} {row['node']:<14} expected {row['expected_ms']:9.3f} ms; measured {got} "
                  f"(expected {row['link_expected_ms']:.3f} ms); seen {row['seen']}/{r.sent}")
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    from ..emulation.cleanup import cleanup
    from ..emulation.run import require_root
    require_root()
    print("leonet cleanup: " + cleanup().summary())
    return 0
