"""Path delays from ground stations to every satellite over time, shape (T, G, N).

This is the input of every trace-driven study above this layer (KubeSpace's
placement, Komet's scheduling traces): for each step, the one-way delay of the
least-delay path from each chosen ground station to each satellite over the
snapshot's ISLs and GSLs (ground stations do not relay unless the scenario says so).
A satellite the station sees directly is reached over its own GSL (the straight
line is the shortest path); any other over the best uplink satellite plus ISLs.

Optionally also the **uplink**: the first satellite on each path (the satellite
itself when it is in view), which trace generators such as Celestial's use to decide
when a path changed. And the bounding box's ``active`` flag per satellite.

Long periods are built in parallel chunks (fork) straight into ``.npy`` files and
cached, keyed by a fingerprint of the network (see :func:`cache_key`), so a second
run with the same inputs only maps the files.
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import numpy as np

from .engine import TopologyEngine

#: bump when the computation changes, to invalidate caches
CACHE_VERSION = 2
#: steps per work item of the parallel build
_CHUNK_STEPS = 60


@dataclass
class GroundSatelliteDelays:
    """Per-step path delays from some ground stations to every satellite."""

    offsets_s: np.ndarray            #: (T,) seconds since the scenario start
    stations: np.ndarray             #: (G,) ground-station indices
    delay_ms: np.ndarray             #: (T, G, N) float32 one-way, ``inf`` where unreachable
    active: np.ndarray               #: (T, N) bool: inside the bounding box (all True without one)
    uplink: Optional[np.ndarray] = None  #: (T, G, N) first satellite on the path, -1 if unreachable

    def __len__(self) -> int:
        return len(self.offsets_s)


def _uplink_dtype(num_satellites: int) -> np.dtype:
    return np.dtype(np.int16) if num_satellites < np.iinfo(np.int16).max else np.dtype(np.int32)


def _station_indices(engine: TopologyEngine, stations: Optional[Sequence[int]]) -> np.ndarray:
    if stations is None:
        return np.arange(len(engine.constellation.ground_stations))
    return np.asarray(stations, dtype=np.intp).reshape(-1)


def _progress(iterable: Iterable, total: int, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit="step", leave=False)


def _fill(engine: TopologyEngine, offsets: np.ndarray, stations: np.ndarray, delay: np.ndarray,
          active: np.ndarray, uplink: Optional[np.ndarray], progress: bool = False, desc: str = "") -> None:
    """Compute steps ``offsets`` into the given (T, ...) output arrays."""
    n = engine.nodes.num_satellites
    sources = n + stations
    routes = None
    for i, snap in enumerate(_progress(engine.snapshots(offsets), len(offsets), desc or "paths", progress)):
        routes = snap.routes(sources, previous=routes)   # the last step's trees, repaired
        delay[i] = routes.delay_ms[:, :n]
        active[i] = snap.active
        if uplink is not None:
            uplink[i] = routes.first_hop_from_source[:, :n]


def ground_satellite_delays(engine: TopologyEngine, offsets_s: Sequence[float],
                            stations: Optional[Sequence[int]] = None, uplinks: bool = False,
                            progress: bool = False) -> GroundSatelliteDelays:
    """Path delays (ms) from ``stations`` (indices; default all) to every satellite,
    computed in this process."""
    offsets = np.asarray(offsets_s, dtype=float).reshape(-1)
    st = _station_indices(engine, stations)
    n = engine.nodes.num_satellites
    delay = np.empty((len(offsets), len(st), n), dtype=np.float32)
    active = np.empty((len(offsets), n), dtype=bool)
    uplink = np.empty((len(offsets), len(st), n), dtype=_uplink_dtype(n)) if uplinks else None
    _fill(engine, offsets, st, delay, active, uplink, progress)
    return GroundSatelliteDelays(offsets, st, delay, active, uplink)


# ----------------------------------------------------------------------------- cache

def cache_key(engine: TopologyEngine, offsets_s: np.ndarray, stations: np.ndarray, uplinks: bool) -> str:
    """A fingerprint of everything the tensor depends on: the steps, the stations and
    their positions, and the network itself, taken as the links (with delays) and
    active flags of the first and last snapshot. Any change to orbits, ground
    stations, elevation masks or topology rules changes those links."""
    h = hashlib.sha256()
    h.update(f"v{CACHE_VERSION} uplinks={uplinks}".encode())
    h.update(np.asarray(offsets_s, dtype=np.float64).tobytes())
    h.update(np.asarray(stations, dtype=np.int64).tobytes())
    h.update(engine.constellation.ground_station_ecef[stations].tobytes())
    h.update(repr(engine.config).encode())
    for offset in {float(offsets_s[0]), float(offsets_s[-1])} if len(offsets_s) else ():
        snap = engine.snapshot(offset)
        links = snap.links
        for arr in (links.a, links.b, links.delay_ms, snap.active):
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:20]


_JOB: Dict[str, object] = {}


def _work(bounds) -> int:
    start, stop = bounds
    job = _JOB
    delay = np.load(job["files"]["delay"], mmap_mode="r+")
    active = np.load(job["files"]["active"], mmap_mode="r+")
    uplink = np.load(job["files"]["uplink"], mmap_mode="r+") if "uplink" in job["files"] else None
    _fill(job["engine"], job["offsets"][start:stop], job["stations"], delay[start:stop], active[start:stop],
          None if uplink is None else uplink[start:stop])
    for arr in (delay, active, uplink):
        if arr is not None:
            arr.flush()
    return stop - start


def cached_ground_satellite_delays(engine: TopologyEngine, offsets_s: Sequence[float], cache_dir: Path,
                                   stations: Optional[Sequence[int]] = None, uplinks: bool = False,
                                   workers: int = 1, progress: bool = True, desc: str = "",
                                   ) -> GroundSatelliteDelays:
    """As :func:`ground_satellite_delays`, built once into ``cache_dir`` (``workers``
    forked processes) and afterwards memory-mapped read-only from there."""
    offsets = np.asarray(offsets_s, dtype=float).reshape(-1)
    st = _station_indices(engine, stations)
    n = engine.nodes.num_satellites
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = f"gsd-{engine.constellation.scenario.name}-{cache_key(engine, offsets, st, uplinks)}"
    names = ("delay", "active") + (("uplink",) if uplinks else ())
    final = {k: cache_dir / f"{stem}-{k}.npy" for k in names}
    if not all(p.exists() for p in final.values()):
        shapes = {"delay": ((len(offsets), len(st), n), np.float32), "active": ((len(offsets), n), bool),
                  "uplink": ((len(offsets), len(st), n), _uplink_dtype(n))}
        partial = {k: p.with_name(f"{p.stem}.{os.getpid()}.partial.npy") for k, p in final.items()}
        done = False
        try:
            for k, p in partial.items():
                shape, dtype = shapes[k]
                np.lib.format.open_memmap(p, mode="w+", dtype=dtype, shape=shape).flush()
            _JOB.update(files=partial, engine=engine, offsets=offsets, stations=st)
            chunk = max(1, min(_CHUNK_STEPS, len(offsets) // max(workers * 4, 1)))
            pieces = [(i, min(i + chunk, len(offsets))) for i in range(0, len(offsets), chunk)]
            from tqdm import tqdm
            bar = tqdm(total=len(offsets), desc=desc or f"paths {engine.constellation.scenario.name}",
                       unit="step", leave=False, disable=not progress)
            if workers > 1 and len(pieces) > 1:
                with mp.get_context("fork").Pool(workers) as pool:
                    for count in pool.imap_unordered(_work, pieces):
                        bar.update(count)
            else:
                for piece in pieces:
                    bar.update(_work(piece))
            bar.close()
            for k in names:   # the delay file last: its presence marks a complete entry
                if k != "delay":
                    partial[k].replace(final[k])
            partial["delay"].replace(final["delay"])
            done = True
        finally:
            _JOB.clear()
            if not done:      # interrupted or failed: leave no half-written files behind
                for p in partial.values():
                    p.unlink(missing_ok=True)
    return GroundSatelliteDelays(
        offsets, st, np.load(final["delay"], mmap_mode="r"), np.load(final["active"], mmap_mode="r"),
        np.load(final["uplink"], mmap_mode="r") if uplinks else None)
