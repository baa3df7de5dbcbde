"""CLI commands of the containers layer: images, estimate, fault, limits, workload, suspended.

`fault`, `limits`, `workload` and `suspended` talk to the active run's control socket
(/run/leonet/control.sock); `images` and `estimate` work without a run.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

from ..errors import ConfigError
from .common import add_scenario_arg, emit_rows


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="build or list leonet's local Docker images (no registry needed)")
    isub = p.add_subparsers(dest="images_command", metavar="ACTION")
    isub.required = True
    b = isub.add_parser("build", help="build images/<name> when missing or changed")
    b.add_argument("--force", action="store_true", help="rebuild even when up to date")
    b.set_defaults(func=cmd_images_build)
    ls = isub.add_parser("list", help="leonet's images and whether they are built and current")
    ls.set_defaults(func=cmd_images_list)

    p = sub.add_parser("estimate", help="CPU and memory a scenario's nodes need, against this machine")
    add_scenario_arg(p)
    p.add_argument("--offset", type=float, default=0.0, help="seconds after the scenario's start")
    p.add_argument("--cores", type=float, help="capacity to compare against (default: this machine's cores)")
    p.add_argument("--memory-gb", type=float, help="capacity to compare against (default: MemAvailable)")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("fault", help="inject a fault into the active run (logged with emulated and wall time)")
    fsub = p.add_subparsers(dest="fault_command", metavar="ACTION")
    fsub.required = True
    for action, text in (("kill", "stop a node's software and take its links down"),
                         ("restart", "bring a node's links back and restart its software"),
                         ("pause", "freeze a node's software (docker pause / cgroup freezer)"),
                         ("resume", "thaw a paused node")):
        f = fsub.add_parser(action, help=text)
        f.add_argument("node", metavar="NODE")
        f.set_defaults(func=cmd_fault, action=action)
    for action, text in (("fail-link", "take the link between two nodes down"),
                         ("restore-link", "undo a link's failure or degradation"),
                         ("degrade-link", "add delay and/or loss to a link")):
        f = fsub.add_parser(action, help=text)
        f.add_argument("a", metavar="NODE_A")
        f.add_argument("b", metavar="NODE_B")
        if action == "degrade-link":
            f.add_argument("--delay", type=float, default=0.0, metavar="MS", help="extra one-way delay (ms)")
            f.add_argument("--loss", type=float, default=0.0, metavar="PCT", help="extra random loss (percent)")
        f.set_defaults(func=cmd_fault, action=action)
    f = fsub.add_parser("log", help="every fault injected into the active run")
    f.add_argument("--format", choices=("table", "csv", "json"), default="table")
    f.set_defaults(func=cmd_fault_log)

    p = sub.add_parser("limits", help="change a Docker node's CPU/memory limits in the active run")
    p.add_argument("node", metavar="NODE")
    p.add_argument("--cpus", type=float, help="CPU limit (cores)")
    p.add_argument("--memory", type=int, metavar="MB", help="memory limit (MB)")
    p.set_defaults(func=cmd_limits)

    p = sub.add_parser("workload", help="containers in a Docker node's network namespace (like a pod's)")
    wsub = p.add_subparsers(dest="workload_command", metavar="ACTION")
    wsub.required = True
    w = wsub.add_parser("run", help="start a container in a node's namespace")
    w.add_argument("node", metavar="NODE")
    w.add_argument("image", metavar="IMAGE")
    _workload_options(w)
    w.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD",
                   help="command after --, e.g. `-- ping -c 3 10.64.0.1` (default: the image's)")
    w.set_defaults(func=cmd_workload_run)
    w = wsub.add_parser("ls", help="the run's containers (holders, main and workloads)")
    w.add_argument("node", nargs="?", metavar="NODE")
    w.add_argument("--format", choices=("table", "csv", "json"), default="table")
    w.set_defaults(func=cmd_workload_ls)
    w = wsub.add_parser("rm", help="remove a workload container")
    w.add_argument("node", metavar="NODE")
    w.add_argument("name", metavar="NAME")
    w.set_defaults(func=cmd_workload_rm)

    p = sub.add_parser("suspended", help="nodes paused by the bounding box or by faults in the active run")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_suspended)


def _workload_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="app", help="workload name (default app)")
    parser.add_argument("--cpus", type=float, help="CPU limit (cores)")
    parser.add_argument("--memory", type=int, metavar="MB", help="memory limit (MB)")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")


def cmd_images_build(args: argparse.Namespace) -> int:
    from ..containers.images import build_images
    for r in build_images(force=args.force):
        print(f"{r.image}: {'built' if r.built else 'up to date'} ({r.seconds:.1f} s)")
    return 0


def cmd_images_list(args: argparse.Namespace) -> int:
    from ..containers.images import build_context, image_context_hash, image_names
    for image in image_names():
        _, digest = build_context(image.split(":")[0])
        have = image_context_hash(image)
        state = "missing" if have is None else ("current" if have == digest else "stale (rebuild)")
        print(f"{image}: {state}")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from ..containers.config import containers_config
    from ..containers.estimate import celestial_estimate, estimate
    from ..emulation.config import emulation_config
    from ..orbits import build_constellation, load_scenario
    from ..schema import check_number
    from ..topology import TopologyEngine
    cores = check_number("--cores", args.cores, 0, 1e6, lo_open=True, optional=True)
    memory_gb = check_number("--memory-gb", args.memory_gb, 0, 1e6, lo_open=True, optional=True)
    scenario = load_scenario(args.scenario)
    engine = TopologyEngine(build_constellation(scenario))
    config = containers_config(scenario, emulation_config(scenario).nodes)
    memory_mb = None if memory_gb is None else memory_gb * 1024
    ours = estimate(engine, config, args.offset, cores, memory_mb)
    print("leonet (satellites counted in the box every 60 s over 2 h):")
    for line in ours.lines():
        print("  " + line)
    theirs = celestial_estimate(engine, config, cores, memory_mb)
    print("Celestial v0.1 (box share of the lat/lon plane x all satellites' vCPUs + ground stations' vCPUs):")
    if theirs is None:
        print("  not computed: Celestial's formula needs cpus and memory_mb on every Docker node type "
              "(containers.satellite / containers.ground_station)")
    else:
        for line in theirs.lines():
            print("  " + line)
    return 0


def _print_event(event: Dict[str, Any]) -> None:
    params = "".join(f" {k}={v}" for k, v in event.get("params", {}).items())
    detail = f" ({event['detail']})" if event.get("detail") else ""
    print(f"#{event['seq']} {event['action']} {event['target']}{params} at emulated {event['emulated_time']} "
          f"(wall {event['wall_time']}){detail}")


def cmd_fault(args: argparse.Namespace) -> int:
    from ..containers.control import request
    body: Dict[str, Any] = {"action": args.action}
    if args.action in ("kill", "restart", "pause", "resume"):
        body["node"] = args.node
    else:
        body.update(a=args.a, b=args.b)
        if args.action == "degrade-link":
            body.update(extra_delay_ms=args.delay, extra_loss_percent=args.loss)
    _print_event(request("POST", "/faults", body))
    return 0


def cmd_fault_log(args: argparse.Namespace) -> int:
    from ..containers.control import request
    events: List[Dict[str, Any]] = request("GET", "/faults")["events"]
    if args.format == "json":
        json.dump(events, sys.stdout, indent=1)
        print()
        return 0
    rows = [dict(e, params=" ".join(f"{k}={v}" for k, v in e["params"].items())) for e in events]
    emit_rows(rows, ["seq", "action", "target", "params", "emulated_time", "wall_time", "detail"], args.format)
    return 0


def cmd_limits(args: argparse.Namespace) -> int:
    from ..containers.control import request
    if args.cpus is None and args.memory is None:
        raise ConfigError("limits", None, "nothing to change", "give --cpus and/or --memory")
    _print_event(request("POST", f"/nodes/{args.node}/limits", {"cpus": args.cpus, "memory_mb": args.memory}))
    return 0


def workload_body(args: argparse.Namespace) -> Dict[str, Any]:
    """The control request for `leonet workload run` (options may follow IMAGE, before --)."""
    rest = list(args.command)
    if "--" in rest:  # options written after IMAGE land in the remainder: parse them here
        split = rest.index("--")
        late = argparse.ArgumentParser(prog="leonet workload run", add_help=False)
        _workload_options(late)
        late.set_defaults(name=args.name, cpus=args.cpus, memory=args.memory, env=list(args.env))
        opts = late.parse_args(rest[:split])
        args.name, args.cpus, args.memory, args.env = opts.name, opts.cpus, opts.memory, opts.env
        rest = rest[split + 1:]
    command = rest
    env = {}
    for item in args.env:
        if "=" not in item:
            raise ConfigError("--env", item, "must be KEY=VALUE", "write e.g. -e MODE=test")
        k, v = item.split("=", 1)
        env[k] = v
    return {"image": args.image, "command": command or None, "name": args.name, "cpus": args.cpus,
            "memory_mb": args.memory, "env": env}


def cmd_workload_run(args: argparse.Namespace) -> int:
    from ..containers.control import request
    result = request("POST", f"/nodes/{args.node}/workloads", workload_body(args))
    print(f"started {result['name']}")
    return 0


def cmd_workload_ls(args: argparse.Namespace) -> int:
    from ..containers.control import request
    path = "/workloads" + (f"?node={args.node}" if args.node else "")
    rows = request("GET", path)["containers"]
    emit_rows(rows, ["name", "node", "role", "image", "status"], args.format)
    return 0


def cmd_workload_rm(args: argparse.Namespace) -> int:
    from ..containers.control import request
    request("DELETE", f"/nodes/{args.node}/workloads/{args.name}")
    print(f"removed {args.name} from {args.node}")
    return 0


def cmd_suspended(args: argparse.Namespace) -> int:
    from ..containers.control import request
    data = request("GET", "/suspended")
    if args.format == "json":
        json.dump(data, sys.stdout, indent=1)
        print()
        return 0
    print(f"outside the bounding box ({len(data['bounding_box'])}): {' '.join(data['bounding_box']) or '-'}")
    print(f"paused by faults ({len(data['faults'])}): {' '.join(data['faults']) or '-'}")
    return 0
