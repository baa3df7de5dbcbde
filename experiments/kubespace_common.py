"""Shared pieces of the KubeSpace experiments (Table I, Fig. 10, Fig. 11): the three
constellations, the paper's numbers, cached path-delay tensors, CSV/table output."""
from __future__ import annotations

import argparse
import csv
import hashlib
import multiprocessing as mp
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
from leonet.orbits.scenario import scenario_path  # noqa: E402

#: name -> (scenario preset, satellites in the paper)
CONSTELLATIONS: Dict[str, tuple] = {
    "starlink": ("kubespace-starlink", 1584),
    "kuiper": ("kubespace-kuiper", 1296),
    "oneweb": ("kubespace-oneweb", 636),
}
DAY_S = 86400.0
#: bump when the tensor computation changes, to invalidate caches
CACHE_VERSION = 1


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

_JOB: dict = {}


def _work(bounds):
    start, stop = bounds
    from leonet.kubespace.metrics import path_delay
    out = np.load(_JOB["file"], mmap_mode="r+")
    out[start:stop] = path_delay(_JOB["constellation"], _JOB["offsets"][start:stop], _JOB["stations"],
                                 engine=_JOB.get("engine"))
    out.flush()
    return stop - start


def path_tensor(c: Constellation, scenario: str, offsets: np.ndarray, cache: Path,
                stations: Sequence[int] | None = None, workers: int = 1, desc: str = "") -> np.ndarray:
    """Path one-way delay (ms), shape (T, G, N), built once and cached as .npy
    (keyed by the scenario file, the offsets and the stations)."""
    from tqdm import tqdm
    from leonet.topology import TopologyEngine

    st = np.arange(len(c.ground_stations)) if stations is None else np.asarray(stations)
    key = hashlib.sha256()
    key.update(scenario_path(scenario).read_bytes())
    key.update(np.asarray(offsets, dtype=float).tobytes())
    key.update(st.astype(np.int64).tobytes())
    key.update(str(CACHE_VERSION).encode())
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"path-{c.scenario.name}-{key.hexdigest()[:16]}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    tmp = path.with_suffix(".partial.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                    shape=(len(offsets), len(st), c.num_satellites))
    del out
    _JOB.update(file=tmp, constellation=c, offsets=np.asarray(offsets, dtype=float), stations=st,
                engine=TopologyEngine(c))
    chunk = max(1, min(60, len(offsets) // max(workers * 4, 1)))
    pieces = [(i, min(i + chunk, len(offsets))) for i in range(0, len(offsets), chunk)]
    bar = tqdm(total=len(offsets), desc=desc or f"paths {c.scenario.name}", unit="snap", leave=False)
    if workers > 1 and len(pieces) > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for done in pool.imap_unordered(_work, pieces):
                bar.update(done)
    else:
        for piece in pieces:
            bar.update(_work(piece))
    bar.close()
    tmp.replace(path)
    return np.load(path, mmap_mode="r")


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
