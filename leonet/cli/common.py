"""Helpers shared by the CLI command modules."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any, Dict, List, Sequence

from ..orbits import Constellation, load_constellation


def add_scenario_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO",
                        help="a preset name (see `leonet presets`) or a scenario YAML path")


def add_format_arg(parser: argparse.ArgumentParser, choices: Sequence[str] = ("table", "csv", "json"),
                   default: str = "table") -> None:
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default {default})")


def load(args: argparse.Namespace) -> Constellation:
    return load_constellation(args.scenario)


def emit_rows(rows: List[Dict[str, Any]], columns: Sequence[str], fmt: str,
              out=None, floatfmt: str = "{:.6f}") -> None:
    """Print rows as an aligned table, CSV or a JSON list."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump(rows, out, indent=1)
        out.write("\n")
        return
    def cell(v: Any) -> str:
        return floatfmt.format(v) if isinstance(v, float) else str(v)
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([cell(r[c]) for c in columns])
        return
    text = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(t[i]) for t in text]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for t in text:
        out.write("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(t, widths)).rstrip() + "\n")


def _numeric(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False
