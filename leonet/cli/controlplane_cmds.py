"""CLI of the control plane: ``leonet controlplane serve|kubeconfig|token`` and ``leonet kubectl``."""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, List, Optional, Union

from ..controlplane.kubeconfig import kubectl_binary
from ..errors import ConfigError

@dataclass(frozen=True)
class KubeTarget:
    """Where kubectl goes: a kubeconfig, and the network namespace to run it in (a control plane on an
    emulated ground station is reachable only from inside the emulated network)."""

    kubeconfig: Path
    netns: Optional[str] = None


Resolved = Union[Path, str, KubeTarget, None]

# Resolvers map a control-plane name (e.g. a ground station of a running emulation) to a kubeconfig.
# The control planes of the active emulation run are built in; other layers can add resolvers.
_resolvers: List[Callable[[str], Resolved]] = []


def register_kubeconfig_resolver(fn: Callable[[str], Resolved]) -> None:
    """Let another layer resolve names to a kubeconfig path or a :class:`KubeTarget`."""
    _resolvers.append(fn)


def controlplanes_dir() -> Path:
    return Path(os.environ.get("LEONET_CONTROLPLANES", Path.home() / ".leonet" / "controlplanes"))


def active_run_target(name: str) -> Optional[KubeTarget]:
    """A ground station (name or host, any case) with a control plane in the active emulation run."""
    from ..controlplane.cluster import active_planes
    for gs, p in active_planes().items():
        if name.lower() in (gs.lower(), p["host"].lower()):
            return KubeTarget(Path(p["kubeconfig"]), p["netns"])
    return None


def resolve_target(target: str) -> KubeTarget:
    """A kubeconfig file, a control plane's data dir, or a name: registered resolvers, the ground
    stations of the active run, then ``$LEONET_CONTROLPLANES/<name>/kubeconfig``."""
    p = Path(target)
    if p.is_file():
        return KubeTarget(p)
    if p.is_dir() and (p / "kubeconfig").is_file():
        return KubeTarget(p / "kubeconfig")
    for fn in [*reversed(_resolvers), active_run_target]:
        found = fn(target)
        if isinstance(found, KubeTarget):
            return found
        if found:
            return KubeTarget(Path(found))
    cand = controlplanes_dir() / target / "kubeconfig"
    if cand.is_file():
        return KubeTarget(cand)
    from ..controlplane.cluster import active_planes
    running = list(active_planes())
    raise ConfigError("TARGET", target, "not a kubeconfig, a control plane data dir, or a known control plane",
                      ("control planes of the active run: " + ", ".join(running)) if running else
                      f"pass a kubeconfig path, or start one with `leonet controlplane serve --data-dir "
                      f"{controlplanes_dir()}/{target}`")


def resolve_kubeconfig(target: str) -> Path:
    """The kubeconfig of :func:`resolve_target`."""
    return resolve_target(target).kubeconfig


def register(sub: argparse._SubParsersAction) -> None:
    from ..controlplane import server

    cp = sub.add_parser("controlplane", help="embedded Kubernetes-compatible control plane")
    cps = cp.add_subparsers(dest="cp_command", metavar="SUBCOMMAND")
    cps.required = True

    p = cps.add_parser("serve", help="run a control plane until interrupted")
    server.add_arguments(p)
    p.set_defaults(func=cmd_serve)

    p = cps.add_parser("kubeconfig", help="write a kubeconfig with a client certificate of the cluster CA")
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--server", help="API server URL (default: the one in <data-dir>/kubeconfig)")
    p.add_argument("--user", default="admin")
    p.add_argument("--group", action="append", dest="groups", help="repeatable (default system:masters)")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: print)")
    p.set_defaults(func=cmd_kubeconfig)

    p = cps.add_parser("token", help="create a bearer token or a bootstrap token")
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--bootstrap", action="store_true", help="a bootstrap token for TLS bootstrap of agents")
    p.add_argument("--user", default="admin")
    p.add_argument("--group", action="append", dest="groups")
    p.add_argument("--ttl", type=float, default=24 * 3600, help="bootstrap token lifetime, seconds")
    p.set_defaults(func=cmd_token)

    p = cps.add_parser("list", help="the control planes of the active emulation run")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("kubectl", help="kubectl against a control plane: leonet kubectl TARGET -- ARGS",
                       description="TARGET is a kubeconfig, a control plane's data dir or its name (a "
                                   "ground station of the active run: kubectl then runs inside its "
                                   "network namespace).")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("kubectl_args", nargs=argparse.REMAINDER, metavar="-- ARGS")
    p.set_defaults(func=cmd_kubectl)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..controlplane import server
    try:
        asyncio.run(server.serve(args))
    except OSError as e:
        raise ConfigError("--addr/--port", f"{args.addr}:{args.port}", f"cannot listen: {e.strerror}")
    return 0


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    from ..controlplane.kubeconfig import kubeconfig_dict, load_kubeconfig, write_kubeconfig
    from ..controlplane.pki import ClusterCA
    import yaml
    if not (args.data_dir / "ca.crt").exists():
        raise ConfigError("--data-dir", str(args.data_dir), "has no cluster CA", "start the control plane first")
    server_url = args.server
    name = "leonet"
    if not server_url:
        existing = load_kubeconfig(args.data_dir / "kubeconfig")
        server_url = existing["clusters"][0]["cluster"]["server"]
        name = existing["clusters"][0]["name"]
    ca = ClusterCA.load_or_create(args.data_dir)
    cert, key = ca.issue_client(args.user, args.groups or ["system:masters"])
    cfg = kubeconfig_dict(name, server_url, ca.pem, args.user, cert, key)
    if args.output:
        write_kubeconfig(args.output, cfg)
    else:
        sys.stdout.write(yaml.safe_dump(cfg, sort_keys=False))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from ..controlplane.auth import TokenFile
    from ..controlplane.pki import new_token
    tf = TokenFile(args.data_dir / "tokens.json")
    if args.bootstrap:
        print(tf.add_bootstrap(ttl=args.ttl))
    else:
        token = new_token()
        tf.add_static(token, args.user, args.groups or ["system:masters"])
        print(token)
    return 0


def cmd_kubectl(args: argparse.Namespace) -> int:
    rest = list(args.kubectl_args)
    if rest and rest[0] == "--":
        rest = rest[1:]
    from ..controlplane.netns import exec_prefix
    t = resolve_target(args.target)
    return subprocess.call([*exec_prefix(t.netns), kubectl_binary(), "--kubeconfig", str(t.kubeconfig), *rest])


def cmd_list(args: argparse.Namespace) -> int:
    from ..controlplane.cluster import active_planes
    from .common import emit_rows
    rows = [{"ground_station": gs, "url": p["url"], "kubeconfig": p["kubeconfig"], "netns": p["netns"]}
            for gs, p in active_planes().items()]
    if not rows and args.format == "table":
        print("no control planes: no active run, or its scenario has no `controlplane:` section")
        return 0
    emit_rows(rows, ["ground_station", "url", "kubeconfig", "netns"], args.format)
    return 0
