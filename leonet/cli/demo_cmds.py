"""`leonet demo`: the live emulation demo, or the orbital one with --orbits."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..emulation.config import BACKENDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="live emulation demo: RTTs between ground stations follow the orbit")
    p.add_argument("--orbits", action="store_true",
                   help="the orbital demo instead (no root): where shell 1 is and what a city sees")
    p.add_argument("--duration", type=float, default=60.0, help="emulated seconds to ping for (default 60)")
    p.add_argument("--backend", default="auto", choices=BACKENDS)
    p.add_argument("--scenario", default=None, help="preset or YAML (default: demo, or starlink-shell1 with --orbits)")
    p.add_argument("--city", default="Berlin", help="--orbits: a city from the top-1000 list")
    p.add_argument("--at", help="--orbits: UTC time (default: the scenario's start)")
    p.add_argument("--out", default="results/demo", help="folder for the CSV and figure")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.orbits:
        from .orbits_cmds import orbital_demo
        return orbital_demo(args.scenario or "starlink-shell1", args.city, args.at)
    if os.geteuid() != 0:
        print("leonet demo: the live emulation needs root; run `sudo leonet demo`, "
              "or `leonet demo --orbits` for the orbital demo", file=sys.stderr)
        return 2
    from ..demo import run_demo
    from ..emulation.progress import StageBars
    run_demo(args.scenario or "demo", args.duration, args.backend, Path(args.out), progress=StageBars())
    return 0
