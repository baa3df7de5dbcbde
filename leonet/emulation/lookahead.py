"""Computing future ticks ahead of time, in another process.

Tick times are known in advance, so a worker process computes the snapshot and the
all-pairs next-hop table of the next ticks while the controller applies the current
one (the precompute-then-replay pipeline of Celestial and Hypatia, but live). An
all-pairs Dijkstra over shell 1 (1,700 nodes) takes ~0.3 s; off the critical path, a
tick's apply is only the kernel changes.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import time
from typing import Dict, Optional, Tuple

import numpy as np

from ..topology import Snapshot, TopologyEngine
from ..topology.links import Links
from ..topology.pairwise import pairwise_plane
from ..topology.routing import RoutingTables
from ..topology.stable import stable_next_hops

_engine: Optional[TopologyEngine] = None
_destinations: Optional[np.ndarray] = None
_per_pair = False
_hysteresis_ms = 0.0
#: the worker's last table: route hysteresis keeps its next hops where they are still good
_previous: Optional[np.ndarray] = None
#: the worker's last shortest-path trees: the next tick's are repaired from them (same result,
#: a fraction of the work: leonet/topology/dijkstra.py)
_last_routes: Optional[RoutingTables] = None


def _init(engine: TopologyEngine, destinations: np.ndarray, per_pair: bool = False,
          hysteresis_ms: float = 0.0) -> None:
    global _engine, _destinations, _per_pair, _hysteresis_ms
    _engine, _destinations, _per_pair, _hysteresis_ms = engine, destinations, per_pair, hysteresis_ms
    _die_with_parent()
    # A terminal's Ctrl-C reaches the whole process group: the run stops this worker itself,
    # after the ticks have stopped (interrupted here, it would break the pool mid-tick).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this worker when the run process dies (even by kill -9):
    a forked worker otherwise outlives it, holding its namespace handles."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _compute(offset_s: float) -> Tuple[Snapshot, np.ndarray, Optional[Links]]:
    global _previous, _last_routes
    assert _engine is not None and _destinations is not None
    snap = _engine.snapshot(offset_s)
    if _per_pair:   # the per-pair links and their direct next hops (docs/forwarding.md)
        plane, hops = pairwise_plane(snap, _destinations, _engine.config.speed_of_light_factor)
    else:
        # Against the worker's own previous tick, which is the table the run installed unless a
        # link fault made it route again itself; either way the result is within the hysteresis.
        plane = None
        routes = _last_routes = snap.routes(_destinations, previous=_last_routes)
        if _hysteresis_ms > 0:
            hops = stable_next_hops(_previous, routes, snap.links, len(snap.nodes), _hysteresis_ms)
        else:               # the least-delay table as it is (copied once, below, to the smaller type)
            hops = routes.next_hop_to_source
        if _hysteresis_ms > 0:  # the only use of the previous table: keep none by default
            _previous = hops
    dtype = np.int16 if len(snap.nodes) < 32767 else np.int32  # halves what crosses the pipe
    snap._graph = None  # rebuilt on demand; not worth pickling
    return snap, hops.astype(dtype), plane


class Lookahead:
    """Keeps the next ``depth`` ticks computing in one worker process.

    The worker is forked at once, before the run starts its other threads (a fork copies
    every lock as it is, held or not), and :meth:`close` ends it within ``close_timeout_s``
    whatever it is doing: the teardown of a run must not wait on a computation."""

    def __init__(self, engine: TopologyEngine, destinations: np.ndarray, depth: int = 2,
                 close_timeout_s: float = 5.0, per_pair: bool = False, route_hysteresis_ms: float = 0.0):
        ctx = multiprocessing.get_context("fork")
        self._pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init,
                                                            initargs=(engine, destinations, per_pair,
                                                                      route_hysteresis_ms))
        self._futures: Dict[float, concurrent.futures.Future] = {}
        self.depth = depth
        self.close_timeout_s = close_timeout_s
        self.worker_pid: int = self._pool.submit(os.getpid).result(timeout=60)

    def prefetch(self, offsets_s) -> None:
        for off in offsets_s:
            key = round(float(off), 6)
            if key not in self._futures:
                self._futures[key] = self._pool.submit(_compute, float(off))

    def get(self, offset_s: float) -> Tuple[Snapshot, np.ndarray, Optional[Links]]:
        """The snapshot, next hops and (per-pair forwarding) per-pair links at ``offset_s``
        (computed now if not prefetched)."""
        key = round(float(offset_s), 6)
        future = self._futures.pop(key, None)
        if future is None:
            future = self._pool.submit(_compute, float(offset_s))
        for old in [k for k in self._futures if k < key]:  # skipped ticks
            self._futures.pop(old).cancel()
        snap, hops, plane = future.result()
        return snap, hops.astype(np.int32), plane

    def peek(self, offset_s: float) -> Optional[Tuple[Snapshot, Optional[Links]]]:
        """The snapshot at ``offset_s`` and its per-pair links (None with hop-by-hop
        forwarding) if they are computed already, without waiting."""
        future = self._futures.get(round(float(offset_s), 6))
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        snap, _, plane = future.result()
        return snap, plane

    def close(self) -> None:
        for f in self._futures.values():
            f.cancel()
        self._futures.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + self.close_timeout_s
        while _alive(self.worker_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(self.worker_pid):  # still computing (or stuck): it holds nothing worth waiting for
            os.kill(self.worker_pid, signal.SIGKILL)
        self._pool.shutdown(wait=True)  # the pool's thread sees the worker gone and ends


def _alive(pid: int) -> bool:
    """Whether our child ``pid`` still runs (a zombie does not: the pool reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
