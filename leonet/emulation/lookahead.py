"""Computing future ticks ahead of time, in another process.

Tick times are known in advance, so a worker process computes the snapshot and the
all-pairs next-hop table of the next ticks while the controller applies the current
one (the precompute-then-replay pipeline of Celestial and Hypatia, but live). An
all-pairs Dijkstra over shell 1 (1,700 nodes) takes ~0.3 s; off the critical path, a
tick's apply is only the kernel changes.

**Changes, not tables.** The worker sends the entries of the next-hop table that changed
since the table it sent before (about 10,000 of 20 million at phase I), and this process
keeps the whole table up to date from them (:class:`TableChanges`). A whole table crosses
the pipe only for the first tick: at phase I a whole table is 42 MB to pickle, copy and
unpickle, and a 20-million-entry comparison in the apply found the changes again. Every job
the worker runs is absorbed here in the order it was submitted (a skipped tick's changes
too), so the table here is always the worker's.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Deque, Dict, Optional, Tuple

import numpy as np

from ..childproc import die_with_parent
from ..topology import Snapshot, TopologyEngine
from ..topology.links import Links
from ..topology.pairwise import pairwise_plane
from ..topology.routing import RoutingTables
from ..topology.groups import RouteGroups
from ..topology.stable import stable_next_hops

if TYPE_CHECKING:
    from .network import LeoNetwork

log = logging.getLogger("leonet.emulation")


@dataclass(frozen=True)
class TableChanges:
    """The next-hop table of one job of the worker, as changes to the one before it:
    ``table[rows, cols] = values`` turns table number ``base`` into number ``seq``. A whole
    table (``whole``, ``base`` -1) where there is none before it, or whole tables were asked for."""

    seq: int
    base: int
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    whole: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Computed:
    """One tick as the worker computed it."""

    snapshot: Snapshot
    #: (destinations x nodes) next hops, int32; None: route in this process (see :meth:`Lookahead.get`).
    #: The lookahead's own table, changed in place by the next ``get``: copy what is kept.
    next_hop: Optional[np.ndarray]
    plane: Optional[Links]              #: per-pair forwarding: the per-pair links
    #: ``next_hop`` as table number ``changes.seq``, changed from number ``changes.base``
    #: (-1: from none; None with ``next_hop``)
    changes: Optional[TableChanges]
    worker_ms: Dict[str, float]         #: the worker's time per stage


_engine: Optional[TopologyEngine] = None
_destinations: Optional[np.ndarray] = None
_per_pair = False
_hysteresis_ms = 0.0
#: destination groups of the routes (emulation.route_groups), for the hysteresis
_groups: Optional[RouteGroups] = None
#: the worker's last table: route hysteresis keeps its next hops where they are still good
_previous: Optional[np.ndarray] = None
#: the worker's last shortest-path trees: the next tick's are repaired from them (same result,
#: a fraction of the work: leonet/topology/dijkstra.py)
_last_routes: Optional[RoutingTables] = None
#: the worker's last table as sent (number ``_seq``), and the threads of its Dijkstra (0: a core each)
_table: Optional[np.ndarray] = None
_seq = 0
_threads = 0


def _init(engine: TopologyEngine, destinations: np.ndarray, per_pair: bool = False,
          hysteresis_ms: float = 0.0, threads: int = 0, groups: Optional[RouteGroups] = None,
          parent_pid: Optional[int] = None) -> None:
    global _engine, _destinations, _per_pair, _hysteresis_ms, _threads, _groups
    _engine, _destinations, _per_pair, _hysteresis_ms, _threads = engine, destinations, per_pair, hysteresis_ms, threads
    _groups = groups
    die_with_parent(parent_pid)   # a forked worker would otherwise outlive a killed run, holding its namespace handles
    # A terminal's Ctrl-C reaches the whole process group: the run stops this worker itself,
    # after the ticks have stopped (interrupted here, it would break the pool mid-tick).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _compute(offset_s: float, whole: bool = False) -> Tuple[Snapshot, TableChanges, Optional[Links], Dict[str, float]]:
    """The snapshot at ``offset_s``, its next-hop table (as changes unless ``whole``), its
    per-pair links (per-pair forwarding) and the worker's times (ms) per stage."""
    global _previous, _last_routes
    assert _engine is not None and _destinations is not None
    t0 = time.perf_counter()
    snap = _engine.snapshot(offset_s)
    t1 = time.perf_counter()
    if _per_pair:   # the per-pair links and their direct next hops (docs/forwarding.md)
        plane, hops = pairwise_plane(snap, _destinations, _engine.config.speed_of_light_factor)
    else:
        # Against the worker's own previous tick, which is the table the run installed unless a
        # link fault made it route again itself; either way the result is within the hysteresis.
        plane = None
        routes = _last_routes = snap.routes(_destinations, previous=_last_routes, with_first_hops=False,
                                            threads=_threads)
        if _hysteresis_ms > 0:
            hops = stable_next_hops(_previous, routes, snap.links, len(snap.nodes), _hysteresis_ms, _groups)
        else:               # the least-delay table as it is
            hops = routes.next_hop_to_source
        if _hysteresis_ms > 0:  # the only use of the previous table: keep none by default
            _previous = hops
    t2 = time.perf_counter()
    changes = _changes(hops, whole)
    snap._graph = None  # rebuilt on demand; not worth pickling
    t3 = time.perf_counter()
    return snap, changes, plane, {"snapshot": (t1 - t0) * 1e3, "routes": (t2 - t1) * 1e3,
                                  "changes": (t3 - t2) * 1e3}


def _changes(hops: np.ndarray, whole: bool) -> TableChanges:
    """``hops`` as changes to the worker's last table, which becomes ``hops``."""
    global _table, _seq
    if _table is None or whole or _table.shape != hops.shape:
        dtype = np.int16 if hops.shape[1] < 32767 else np.int32  # halves what crosses the pipe
        table = hops.astype(dtype)
        none = np.zeros(0, np.int32)
        out = TableChanges(_seq + 1, -1, none, none, none, whole=table)
    else:
        from .tablediff import update_table   # numba loads in the worker only
        table = _table
        rows, cols, values = update_table(table, hops)
        out = TableChanges(_seq + 1, _seq, rows, cols, values)
    _table, _seq = table, out.seq     # only now: a job that failed leaves the chain as it was
    return out


class Lookahead:
    """Keeps the next ``depth`` ticks computing in one worker process.

    The worker is forked at once, before the run starts its other threads (a fork copies
    every lock as it is, held or not), and :meth:`close` ends it within ``close_timeout_s``
    whatever it is doing: the teardown of a run must not wait on a computation."""

    def __init__(self, engine: TopologyEngine, destinations: np.ndarray, depth: int = 2,
                 close_timeout_s: float = 5.0, per_pair: bool = False, route_hysteresis_ms: float = 0.0,
                 threads: int = 0, route_groups: Optional[RouteGroups] = None):
        ctx = multiprocessing.get_context("fork")
        self._pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init,
                                                            initargs=(engine, destinations, per_pair,
                                                                      route_hysteresis_ms, threads, route_groups,
                                                                      os.getpid()))
        self._futures: Dict[float, concurrent.futures.Future] = {}
        self._order: Deque[concurrent.futures.Future] = collections.deque()   #: as submitted
        #: the worker's table as of its job number ``_seq`` (-1: lost track, a whole one is on its way)
        self._table: Optional[np.ndarray] = None
        self._seq = 0
        self.depth = depth
        self.close_timeout_s = close_timeout_s
        self.worker_pid: int = self._pool.submit(os.getpid).result(timeout=60)

    @classmethod
    def for_network(cls, engine: TopologyEngine, network: "LeoNetwork", **kw) -> "Lookahead":
        """A lookahead that computes the tables ``network`` installs (its destinations, forwarding,
        route hysteresis and groups)."""
        return cls(engine, network.destinations, per_pair=network.per_pair,
                   route_hysteresis_ms=network.config.route_hysteresis_ms, route_groups=network.route_groups, **kw)

    def _submit(self, offset_s: float) -> concurrent.futures.Future:
        future = self._pool.submit(_compute, offset_s, self._seq < 0)
        self._order.append(future)
        return future

    def prefetch(self, offsets_s) -> None:
        for off in offsets_s:
            key = round(float(off), 6)
            if key not in self._futures:
                self._futures[key] = self._submit(float(off))

    def get(self, offset_s: float) -> "Computed":
        """The snapshot, next hops (with their changes) and (per-pair forwarding) per-pair
        links at ``offset_s`` (computed now if not prefetched). The jobs submitted before it
        are absorbed first (waited for unless they could still be cancelled)."""
        key = round(float(offset_s), 6)
        future = self._futures.pop(key, None)
        if future is None:
            future = self._submit(float(offset_s))
        for old in [k for k in self._futures if k < key]:  # skipped ticks: absorbed below unless cancelled
            self._futures.pop(old).cancel()
        while True:     # the worker's jobs in the order it ran them, up to this one
            job = self._order.popleft()
            if job is not future and job.cancelled():
                continue
            for k in [k for k, f in self._futures.items() if f is job]:   # absorbed: its table is gone
                del self._futures[k]
            try:
                snap, changes, plane, times = job.result()
            except Exception:
                if job is future:
                    raise
                continue    # a failed job leaves the worker's table as it was
            usable = self._absorb(changes)
            if job is future:
                break
        if self._seq < 0:
            log.warning("the lookahead lost track of its worker's next-hop table; this tick routes itself")
            return Computed(snap, None, plane, None, times)
        if not usable:      # (a whole table) its number, and changes that apply to no table
            changes = dataclasses.replace(changes, base=-1, whole=None)
        return Computed(snap, self._table, plane, changes, times)

    def _absorb(self, changes: TableChanges) -> bool:
        """Bring the table here to the worker's job ``changes.seq``; whether ``changes`` is
        the difference from the table before."""
        if changes.whole is not None:
            self._table, self._seq = changes.whole.astype(np.int32), changes.seq
            return False
        if self._table is None or changes.base != self._seq:   # not expected: every job is absorbed
            self._seq = -1           # jobs submitted from now on send whole tables
            return False
        self._table[changes.rows, changes.cols] = changes.values
        self._seq = changes.seq
        return True

    def peek(self, offset_s: float) -> Optional[Tuple[Snapshot, Optional[Links]]]:
        """The snapshot at ``offset_s`` and its per-pair links (None with hop-by-hop
        forwarding) if they are computed already, without waiting."""
        future = self._futures.get(round(float(offset_s), 6))
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        snap, _, plane, _ = future.result()
        return snap, plane

    def close(self) -> None:
        for f in self._futures.values():
            f.cancel()
        self._futures.clear()
        self._order.clear()
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
