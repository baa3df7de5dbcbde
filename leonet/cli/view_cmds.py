"""`leonet view`: the live web view of the active run (or of a scenario's orbit alone)."""
from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError


def add_view_option(parser: argparse.ArgumentParser) -> None:
    """``--view [PORT]`` for commands that start a run (``run``, ``demo``)."""
    from ..viewer.server import DEFAULT_PORT
    parser.add_argument("--view", nargs="?", type=int, const=DEFAULT_PORT, default=None, metavar="PORT",
                        help=f"serve the live web view on localhost:PORT (default {DEFAULT_PORT})")


def check_port(value: int, field: str = "--view", host: str = "127.0.0.1") -> int:
    """A valid TCP port that is free now: checked before a run brings anything up, so that a
    taken port does not end the run after its bring-up."""
    import socket
    from ..schema import check_number
    port = int(check_number(field, value, 0, 65535, integer=True, fix="give a TCP port, e.g. 8765"))
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the server binds
        try:
            probe.bind((host, port))
        except OSError:
            raise ConfigError(field, value, "is in use on this machine",
                              f"give another port, e.g. {field} {port + 1}") from None
    return port


def register(sub: argparse._SubParsersAction) -> None:
    from ..viewer.server import DEFAULT_PORT
    p = sub.add_parser("view", help="live web view (map, links, paths, handovers) of the active run")
    p.add_argument("scenario", nargs="?", metavar="SCENARIO",
                   help="show this scenario's orbit and links without an emulation (default: the active run)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on localhost (default {DEFAULT_PORT})")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--path", metavar="A,B", help="highlight the path between two nodes from the start")
    p.add_argument("--speed", type=float, default=1.0, help="with SCENARIO: emulated seconds per wall second")
    p.add_argument("--step", type=float, default=1.0, help="with SCENARIO: tick length (emulated seconds)")
    p.add_argument("--offset", type=float, default=0.0, help="with SCENARIO: start this many seconds in")
    p.add_argument("--screenshot", metavar="PNG", help="write a screenshot (headless Chromium) and exit")
    p.set_defaults(func=cmd_view)


def cmd_view(args: argparse.Namespace) -> int:
    from ..schema import check_number
    from ..viewer import ActiveRunSource, EngineSource, ViewServer, announced_view
    from ..viewer.server import parse_path
    port = check_port(args.port, "--port", args.bind)
    try:
        path = parse_path(args.path)
    except ValueError as exc:
        raise ConfigError("--path", args.path, str(exc), "write --path Berlin,Madrid") from None
    if args.scenario is None and (url := announced_view()) is not None:
        print(f"leonet view: the active run serves its own view at {url}", file=sys.stderr)
        return _screenshot(url, path, args.screenshot) if args.screenshot else 0
    if args.scenario is None:
        source = ActiveRunSource()
    else:
        from ..orbits import build_constellation, load_scenario
        from ..topology import TopologyEngine
        speed = check_number("--speed", args.speed, 0, 1e6, lo_open=True)
        step = check_number("--step", args.step, 0, 86400, lo_open=True, unit="s")
        offset = check_number("--offset", args.offset, 0, None, unit="s")
        scenario = load_scenario(args.scenario)
        source = EngineSource(TopologyEngine(build_constellation(scenario)), scenario.name, step, speed,
                              offset).start()
    server = ViewServer(source, port, args.bind, path)
    url = server.start()
    try:
        if args.screenshot:
            return _screenshot(url, path, args.screenshot)
        print(f"leonet view: {url} ({'Ctrl-C stops' if args.scenario else 'until the run ends; Ctrl-C stops'})",
              file=sys.stderr)
        server.wait_closed_run()
        print("leonet view: the run ended", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _screenshot(url: str, path, png: str) -> int:
    from ..viewer.browser import look_at
    query = f"?path={path[0]},{path[1]}" if path else ""
    page = look_at(url + query, png, min_tick=1)
    print(f"leonet view: {png}: {page.node_count} nodes at {page.clock} (tick {page.tick})", file=sys.stderr)
    return 0
