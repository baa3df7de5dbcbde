"""Shared pieces of the KubeSpace experiments (Table I, Fig. 10, Fig. 11): the three
constellations, the paper's numbers, cached path-delay tensors, CSV/table output."""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a fresh clone without installing
    sys.path.insert(0, str(ROOT))

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


# ----------------------------------------------------------------------------- output

def write_csv(path: Path, rows: List[dict], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})


def print_table(rows: List[dict], columns: Sequence[str], floatfmt: str = "{:.2f}") -> None:
    def cell(v):
        if isinstance(v, float):
            return floatfmt.format(v)
        return "" if v is None else str(v)
    text = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(t[i]) for t in text]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for t in text:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths)))


def matplotlib_agg():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, png: Path, *also_written: Path, dpi: int = 120) -> None:
    """Lay out and save an experiment's figure, and say which files the run wrote."""
    fig.tight_layout()
    fig.savefig(png, dpi=dpi)
    print(f"\nwrote {', '.join(str(p) for p in (*also_written, png))}")


class Stopwatch:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
