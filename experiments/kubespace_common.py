"""Shared pieces of the KubeSpace experiments (Table I, Fig. 10, Fig. 11): the three
constellations, the paper's numbers, cached path-delay tensors; CSV/table/figure output
comes from ``common``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a fresh clone without installing
    sys.path.insert(0, str(ROOT))

from common import Stopwatch, matplotlib_agg, print_table, save_figure, write_csv  # noqa: E402,F401
from leonet.orbits import Constellation, load_constellation  # noqa: E402

#: name -> (scenario preset, satellites in the paper)
CONSTELLATIONS: Dict[str, tuple] = {
    "starlink": ("kubespace-starlink", 1584),
    "kuiper": ("kubespace-kuiper", 1296),
    "oneweb": ("kubespace-oneweb", 636),
}
DAY_S = 86400.0


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="reduced run (seconds): shorter period, fewer snapshots")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "kubespace", help="output folder")
    p.add_argument("--constellations", default=",".join(CONSTELLATIONS),
                   help="comma-separated subset of " + ", ".join(CONSTELLATIONS))
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes that build path snapshots (default 2)")
    return p


def selected(args: argparse.Namespace) -> List[str]:
    names = [n.strip() for n in args.constellations.split(",") if n.strip()]
    bad = [n for n in names if n not in CONSTELLATIONS]
    if bad:
        raise SystemExit(f"unknown constellation(s) {bad}; choose from {list(CONSTELLATIONS)}")
    return names


def load(name: str) -> Constellation:
    return load_constellation(CONSTELLATIONS[name][0])


# ----------------------------------------------------------------------------- path tensors

def path_tensor(c: Constellation, scenario: str, offsets: np.ndarray, cache: Path,
                stations: Sequence[int] | None = None, workers: int = 1, desc: str = "") -> np.ndarray:
    """Path one-way delay (ms), shape (T, G, N), built once and cached as .npy
    (keyed by a fingerprint of the network, the offsets and the stations; see
    :func:`leonet.topology.delays.cached_ground_satellite_delays`). ``scenario`` names
    the preset ``c`` was loaded from (kept for the callers; the key does not need it)."""
    from leonet.topology import TopologyEngine
    from leonet.topology.delays import cached_ground_satellite_delays

    return cached_ground_satellite_delays(TopologyEngine(c), offsets, cache, stations, workers=workers,
                                          desc=desc or f"paths {c.scenario.name}").delay_ms
