"""Entry point of the ``leonet`` command: dispatches to each layer's subcommands.

User errors (:class:`leonet.errors.LeonetError`) print one clear line and exit 2.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from .. import __version__
from ..errors import LeonetError
from . import (containers_cmds, controlplane_cmds, demo_cmds, emulation_cmds, komet_cmds, kubespace_cmds,
               orbits_cmds, topology_cmds)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default exit code is 2 too
        self.print_usage(sys.stderr)
        sys.stderr.write(f"leonet: error: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="leonet", description="LEO-satellite network emulator.")
    parser.add_argument("--version", action="version", version=f"leonet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in (orbits_cmds, topology_cmds, emulation_cmds, containers_cmds, demo_cmds, controlplane_cmds,
                   kubespace_cmds, komet_cmds):
        module.register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="leonet: %(levelname)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args) or 0)
    except LeonetError as exc:
        sys.stderr.write(f"leonet: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("leonet: interrupted\n")
        return 130
    except BrokenPipeError:  # e.g. `leonet positions ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
