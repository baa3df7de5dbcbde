"""The routing self-check: the paths packets really take, judged against the engine's optimum.

For every (source, destination) pair, the check follows the next hops installed in the
kernel tables hop by hop, sums the engine's link delays along that walk at the last
applied tick, and compares the sum with the engine's least delay. It reports

* **loops**: the walk comes back to a node it passed;
* **black holes**: a node on the way has no route although the engine reaches the
  destination, or its route points at a node that is not its neighbour now;
* **detours**: the walk's delay differs from the optimum by more than the tolerance.

Another next hop than the engine's is *not* an error by itself: two paths whose delays
differ by microseconds (equal-hop paths around a +Grid cell) are equally good, and which of
them a Dijkstra run returns depends on the last bits of the positions.

**Tolerance**: ``TOLERANCE_MS`` (+ the run's ``route_hysteresis_ms``, by which its routes may
knowingly stay on a path longer than the optimum) + ``delay_update_threshold_ms`` per hop of the walk. The
fixed part covers what two independent computations of the same tick may differ by (this
check rebuilds the engine in its own process: ephemeris interpolation and summation order
differ by nanoseconds to microseconds). The per-hop part is the promise leonet makes about
delays in the first place: a link's shaping follows the engine's delay only to within
``delay_update_threshold_ms`` (smaller changes are not applied, to spare the kernel), so
paths that differ by less than that per hop are indistinguishable to the packets on them.

The walks run for all pairs at once, by pointer doubling over the (destination x node)
next-hop table: ~log2(V) vectorised rounds, about a second for Starlink's shell 1
(2.5 million pairs).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ..topology import Snapshot
from ..topology.links import pair_keys
from . import netns as nsmod
from .addressing import node_address_int
from .ebpf_table import ForwardingMap, usable_table
from .rtnl import RtnlSocket, dump_host_routes

#: fixed part of the tolerance (see the module docstring)
TOLERANCE_MS = 0.005
#: problems listed in full (the counts are always complete)
MAX_LISTED = 50
#: ticks applied while the tables were read that are each judged against (more: the first and last)
MAX_TICKS = 4

Table = Tuple[np.ndarray, np.ndarray]
#: reads the tables of some nodes again: (node indices) -> ({node: table}, the snapshot of the tick
#: in effect while they were read, that tick)
Reread = Callable[[List[int]], Tuple[Dict[int, Table], Snapshot, int]]


@dataclass
class RouteCheck:
    """What one check compared and found."""

    time_iso: str
    namespaces: int
    entries: int                         #: kernel routes read
    pairs: int                           #: (source, destination) pairs walked
    tolerance_ms: float
    per_hop_ms: float
    loops: List[str] = field(default_factory=list)
    black_holes: List[str] = field(default_factory=list)
    detours: List[str] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)   #: loops, black_holes, detours (complete)
    other_next_hops: int = 0             #: entries that differ from the engine's next hop
    max_excess_ms: float = 0.0           #: largest |walk - optimum| among the pairs judged fine
    ticks: Tuple[int, ...] = ()          #: the run's ticks the tables were judged against
    #: problems of the first reading; a second reading of the tables on their paths confirmed ``counts``
    first_reading: Optional[Dict[str, int]] = None
    reread_namespaces: int = 0
    reread_tick: Optional[int] = None
    seconds: Dict[str, float] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return sum(self.counts.values())

    def report(self) -> List[str]:
        """The lines ``leonet check`` prints."""
        ticks = ", ".join(str(t) for t in self.ticks) if self.ticks else "the current one"
        lines = [f"compared at {self.time_iso} (tick {ticks}): {self.entries:,} routed destinations in "
                 f"{self.namespaces:,} namespaces; walked {self.pairs:,} (source, destination) pairs hop by hop "
                 f"through them; "
                 f"tolerance {self.tolerance_ms:g} ms + {self.per_hop_ms:g} ms per hop over the engine's "
                 f"least delay",
                 f"{self.other_next_hops:,} entries name another next hop than the engine's; "
                 + ("all of their paths are within the tolerance" if not self.problems else
                    "judged by the paths they make") + f" (largest difference of a good path "
                 f"{self.max_excess_ms * 1000:.1f} us)"]
        if self.first_reading is not None:
            first = sum(self.first_reading.values())
            lines.append(f"the first reading showed {first:,} problem pairs (tables read over several ticks); a "
                         f"second reading of the {self.reread_namespaces:,} tables on their paths at tick "
                         f"{self.reread_tick} confirmed {self.problems:,}")
        if not self.problems:
            lines.append("no loops, no black holes, no detours: every path is as short as the engine's")
            return lines
        lines.append(f"{self.counts.get('loops', 0):,} loops, {self.counts.get('black_holes', 0):,} black holes, "
                     f"{self.counts.get('detours', 0):,} detours:")
        for kind in (self.loops, self.black_holes, self.detours):
            lines += ["  " + line for line in kind]
        if self.problems > len(self.loops) + len(self.black_holes) + len(self.detours):
            lines.append(f"  (the first {MAX_LISTED} of each kind are listed)")
        return lines


def kernel_next_hops(destinations: np.ndarray, num_nodes: int,
                     tables: Sequence[Tuple[np.ndarray, np.ndarray]]) -> Tuple[np.ndarray, int]:
    """The (destination row x node) next-hop table of the kernel (-1: no route), and the number
    of destinations with a route read (a prefix route counts once per address it covers);
    ``tables[v]`` is node v's (destination, gateway) addresses."""
    base = node_address_int(0)
    row_of = np.full(num_nodes, -1, dtype=np.int64)
    row_of[destinations] = np.arange(len(destinations))
    hops = np.full((len(destinations), num_nodes), -1, dtype=np.int32)
    entries = 0
    for v, (dst, gw) in enumerate(tables):
        d = dst.astype(np.int64) - base
        g = gw.astype(np.int64) - base
        own = d == v        # covered by a prefix route, but the local table delivers it first
        entries += len(dst) - int(own.sum())
        ok = (d >= 0) & (d < num_nodes) & (g >= 0) & (g < num_nodes) & ~own
        rows = row_of[d[ok]]
        mine = rows >= 0
        hops[rows[mine], v] = g[ok][mine]
    return hops, entries


@dataclass
class _Walks:
    end: np.ndarray          #: (D, V) where each walk ends: the destination, HOLE, or inside a loop
    delay_ms: np.ndarray     #: (D, V) summed engine delay of the walk
    hops: np.ndarray         #: (D, V) hop count


def walk(hops: np.ndarray, destinations: np.ndarray, snap: Snapshot) -> _Walks:
    """Follow ``hops`` (D x V) from every node to every destination, summing ``snap``'s link
    delays, by pointer doubling. A route to a node that is not a neighbour now ends the walk
    as a black hole, as a missing route does."""
    D, V = hops.shape
    hole = V
    links = snap.links
    order = np.argsort(pair_keys(links.a, links.b, V))
    keys = pair_keys(links.a, links.b, V)[order]
    delays = np.asarray(links.delay_ms, dtype=float)[order]
    has = hops >= 0
    pair = np.where(has, pair_keys(np.broadcast_to(np.arange(V), (D, V)), hops, V), -1)
    if len(keys):
        at = np.minimum(np.searchsorted(keys, pair), len(keys) - 1)
        adjacent = has & (keys[at] == pair)
        step = np.where(adjacent, delays[at], 0.0)
    else:
        adjacent, step = np.zeros((D, V), dtype=bool), np.zeros((D, V))
    jump = np.full((D, V + 1), hole, dtype=np.int64)
    jump[:, :V] = np.where(adjacent, hops, hole)
    acc = np.zeros((D, V + 1))
    acc[:, :V] = step
    count = np.zeros((D, V + 1), dtype=np.int32)
    count[:, :V] = adjacent
    rows = np.arange(D)
    jump[rows, destinations] = destinations       # the destination absorbs
    acc[rows, destinations] = 0.0
    count[rows, destinations] = 0
    # pointer doubling on flat indices (a 1-D gather is several times faster than a 2-D one)
    flat = (jump + (np.arange(D, dtype=np.int64) * (V + 1))[:, None]).ravel()
    acc, count = acc.ravel(), count.ravel()
    for _ in range(max(1, math.ceil(math.log2(V + 1))) + 1):
        acc += acc[flat]
        count += count[flat]
        nxt = flat[flat]
        if np.array_equal(nxt, flat):  # every walk has ended (at its destination, a hole or in a loop)
            break
        flat = nxt
    end = (flat % (V + 1)).reshape(D, V + 1)
    return _Walks(end[:, :V], acc.reshape(D, V + 1)[:, :V], count.reshape(D, V + 1)[:, :V])


def judge(hops: np.ndarray, destinations: np.ndarray, snap: Snapshot, per_hop_ms: float,
          tolerance_ms: float = TOLERANCE_MS, optimum: Optional[np.ndarray] = None,
          engine_hops: Optional[np.ndarray] = None) -> Tuple[Dict[str, np.ndarray], _Walks, np.ndarray]:
    """Masks (D x V) of loops, black holes and detours of the kernel table ``hops`` at ``snap``
    (``optimum``, ``engine_hops``: the engine's routes of ``snap`` if computed already), the
    walks, and the difference walk - optimum (ms)."""
    if optimum is None:
        optimum = snap.routes(destinations).delay_ms
    D, V = hops.shape
    w = walk(hops, destinations, snap)
    is_dest = np.zeros((D, V), dtype=bool)
    is_dest[np.arange(D), destinations] = True
    reachable = np.isfinite(optimum) & ~is_dest
    arrived = w.end == destinations[:, None]
    loops = ~arrived & (w.end != V) & ~is_dest
    holes = (w.end == V) & reachable
    excess = np.where(arrived & reachable, w.delay_ms - np.where(np.isfinite(optimum), optimum, 0.0), 0.0)
    detours = arrived & reachable & (np.abs(excess) > tolerance_ms + per_hop_ms * w.hops)
    return {"loops": loops, "black_holes": holes, "detours": detours}, w, excess


def check_tables(names: Sequence[str], destinations: np.ndarray, tables: Sequence[Table],
                 snaps: Sequence[Snapshot], per_hop_ms: float, time_iso: str,
                 ticks: Sequence[int] = (), tolerance_ms: float = TOLERANCE_MS,
                 reread: Optional[Reread] = None) -> RouteCheck:
    """Judge kernel ``tables`` (one (destinations, gateways) pair per node) against each of ``snaps``
    (the ticks that may have been in effect while they were read): a pair is a problem only if it
    is one at every tick. With ``reread``, the problems are confirmed by reading the tables on their
    paths once more, within one tick (tables read over many ticks mix routes of different ticks,
    and a walk through them can loop where no tick's tables do)."""
    t0 = time.perf_counter()
    V = len(names)
    destinations = np.asarray(destinations, dtype=np.int64)
    hops, entries = kernel_next_hops(destinations, V, tables)
    found: Optional[Dict[str, np.ndarray]] = None
    best_excess = None
    other = None
    first_walk = None
    for snap in snaps:
        routes = snap.routes(destinations)
        masks, w, excess = judge(hops, destinations, snap, per_hop_ms, tolerance_ms, routes.delay_ms)
        differs = (hops != routes.next_hop_to_source) & (routes.next_hop_to_source >= 0)
        if found is None:
            found, best_excess, other, first_walk = masks, np.abs(excess), differs, (w, snap)
        else:
            found = {k: found[k] & masks[k] for k in found}
            best_excess = np.minimum(best_excess, np.abs(excess))
            other &= differs
    assert found is not None and best_excess is not None and other is not None and first_walk is not None
    bad = found["loops"] | found["black_holes"] | found["detours"]
    first_reading = None
    if reread is not None and bad.any():
        first_reading = {k: int(np.count_nonzero(m)) for k, m in found.items()}
        hops, snap, tick, count = _confirm(hops, destinations, bad, reread)
        masks, w, excess = judge(hops, destinations, snap, per_hop_ms, tolerance_ms)
        found = {k: found[k] & masks[k] for k in found}
        first_walk = (w, snap)
        bad = found["loops"] | found["black_holes"] | found["detours"]
    D = len(destinations)
    result = RouteCheck(time_iso=time_iso, namespaces=len(tables), entries=entries,
                        pairs=D * (V - 1), tolerance_ms=tolerance_ms,
                        per_hop_ms=per_hop_ms, ticks=tuple(ticks),
                        counts={k: int(np.count_nonzero(m)) for k, m in found.items()},
                        other_next_hops=int(np.count_nonzero(other)),
                        max_excess_ms=float(best_excess[~bad].max()) if (~bad).any() else 0.0,
                        first_reading=first_reading)
    if first_reading is not None:
        result.reread_namespaces, result.reread_tick = count, tick
    w, snap = first_walk
    links = {(int(a), int(b)) for a, b in zip(snap.links.a, snap.links.b)}
    for kind, out in (("loops", result.loops), ("black_holes", result.black_holes), ("detours", result.detours)):
        rows, cols = np.nonzero(found[kind])
        for i, v in list(zip(rows.tolist(), cols.tolist()))[:MAX_LISTED]:
            out.append(_describe(kind, names, hops, destinations, snap, links, i, v, w, per_hop_ms, tolerance_ms))
    result.seconds["judge"] = time.perf_counter() - t0
    return result


def _confirm(hops: np.ndarray, destinations: np.ndarray, bad: np.ndarray,
             reread: Reread) -> Tuple[np.ndarray, Snapshot, int, int]:
    """The next-hop table with the rows of every node on the walks of the ``bad`` pairs read again
    (all in one reading, so within one tick; the walks through the new rows may reach more nodes:
    read again with those, a few times at most); the snapshot and tick of that reading, and how many
    tables it read."""
    hops = hops.copy()
    rows, cols = np.nonzero(bad)
    need: Set[int] = set()
    snap, tick = None, 0
    for _ in range(3):
        more = _nodes_on_walks(hops, destinations, rows, cols)
        if more <= need:
            break
        need |= more
        tables, snap, tick = reread(sorted(need))
        fresh, _ = kernel_next_hops(destinations, hops.shape[1],
                                    [tables.get(v, (np.zeros(0, np.uint32),) * 2) for v in range(hops.shape[1])])
        cols_read = sorted(tables)
        hops[:, cols_read] = fresh[:, cols_read]
    assert snap is not None
    return hops, snap, tick, len(need)


def _nodes_on_walks(hops: np.ndarray, destinations: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                    max_hops: int = 64) -> Set[int]:
    """Every node the walks (row, start node) pass, following ``hops``, vectorised step by step."""
    seen = [cols]
    cur, r = cols, rows
    for _ in range(max_hops):
        nxt = hops[r, cur]
        go = (nxt >= 0) & (nxt != destinations[r])
        cur, r = nxt[go], r[go]
        if not len(cur):
            break
        seen.append(cur)
    return set(np.unique(np.concatenate(seen)).tolist())


def _describe(kind: str, names: Sequence[str], hops: np.ndarray, destinations: np.ndarray, snap: Snapshot,
              links: set, i: int, v: int, w: _Walks, per_hop_ms: float, tolerance_ms: float) -> str:
    """One line about the walk from node ``v`` to destination row ``i``."""
    d = int(destinations[i])
    path, seen, cur = [v], {v}, v
    while cur != d and len(path) < 64:
        nxt = int(hops[i, cur])
        if nxt < 0 or (min(cur, nxt), max(cur, nxt)) not in links:
            break  # a black hole at cur
        path.append(nxt)
        if nxt in seen:
            break
        seen.add(nxt)
        cur = nxt
    shown = " ".join(names[p] for p in path[:16]) + (" ..." if len(path) > 16 else "")
    head = f"{names[v]} -> {names[d]}:"
    if kind == "loops":
        return f"loop: {head} {shown}"
    if kind == "black_holes":
        last = path[-1]
        nxt = int(hops[i, last])
        why = "has no route" if nxt < 0 else f"routes via {names[nxt]}, which is not its neighbour now"
        return f"black hole: {head} {names[last]} {why} (walk: {shown})"
    opt = snap.path(names[v], names[d]).delay_ms
    limit = tolerance_ms + per_hop_ms * int(w.hops[i, v])
    return (f"detour: {head} {w.delay_ms[i, v]:.3f} ms over {int(w.hops[i, v])} hops, the engine's least delay "
            f"{opt:.3f} ms (difference {w.delay_ms[i, v] - opt:+.3f} ms, tolerance {limit:.3f} ms): {shown}")


def read_tables(netns_names: Sequence[str], nodes: Optional[Sequence[int]] = None,
                forwarding_map: Optional[ForwardingMap] = None) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Every namespace's leonet routes as (destinations, gateways) address arrays; with a
    ``forwarding_map`` (``emulation.forwarding_table: ebpf``), the entries of node ``nodes[k]``
    in it that the kernel of namespace ``netns_names[k]`` can carry out."""
    worker = nsmod.NetnsThread()
    try:
        def dump(node: int) -> Tuple[np.ndarray, np.ndarray]:
            sock = RtnlSocket()
            try:
                if forwarding_map is not None:
                    return usable_table(forwarding_map, node, sock)
                return dump_host_routes(sock)
            finally:
                sock.close()
        indices = list(nodes) if nodes is not None else list(range(len(netns_names)))
        return worker.run_many([(name, (lambda v=v: dump(v))) for name, v in zip(netns_names, indices)])
    finally:
        worker.close()


def check_active_run() -> RouteCheck:
    """Check the active run from another process: read every node's table, rebuild the engine
    at the run's last applied tick (with the run's link faults), and judge the walks. If the run
    applied ticks while the tables were read, a pair is a problem only if it is one at each of
    those ticks, and the problems left are confirmed by a second reading of the tables on their
    paths within one tick."""
    from ..orbits import build_constellation, load_scenario
    from ..topology import TopologyEngine
    from . import runstate
    record = runstate.require_active_run()
    scenario = load_scenario(record["scenario_path"], record.get("start"))
    engine = TopologyEngine(build_constellation(scenario))
    namespaces = [n["netns"] for n in record["nodes"]]
    before = runstate.read_status()
    map_id = int(before.get("forwarding_map_id") or 0)
    fmap = ForwardingMap(len(namespaces), map_id) if map_id else None
    try:
        return _check_tables_of_run(engine, record, namespaces, before, fmap)
    finally:
        if fmap is not None:
            fmap.close()


def _check_tables_of_run(engine, record: dict, namespaces: List[str], before: dict,
                         fmap: Optional[ForwardingMap]) -> RouteCheck:
    """:func:`check_active_run` once the run's records are read (``fmap``: its BPF map, if any)."""
    from . import runstate
    t0 = time.perf_counter()
    tables = read_tables(namespaces, None, fmap)
    t1 = time.perf_counter()
    after = runstate.read_status()
    first, last = int(before.get("tick", 0)), int(after.get("tick", 0))
    ticks = list(range(first, last + 1))
    if len(ticks) > MAX_TICKS:  # the run outpaced the reading: judge against the ends only
        ticks = [first, last]
    step = float(after.get("step_s", 1.0))
    snaps = [_snapshot_at(engine, after, float(before["offset_s"]) + (k - first) * step) for k in ticks]

    def reread(nodes: List[int]) -> Tuple[Dict[int, Table], Snapshot, int]:
        for _ in range(3):  # until the run applied no tick during the reading
            start = runstate.read_status()
            again = read_tables([namespaces[v] for v in nodes], nodes, fmap)
            now = runstate.read_status()
            if start.get("tick") == now.get("tick"):
                break
        return dict(zip(nodes, again)), _snapshot_at(engine, now, float(now["offset_s"])), int(now.get("tick", 0))

    V = len(engine.nodes)
    if "destinations" in record:       # routes: bounding-box records its destination nodes
        dests = np.asarray(record["destinations"], dtype=int)
    else:
        dests = np.arange(V) if record.get("routes", "all") == "all" else np.arange(engine.nodes.num_satellites, V)
    if record.get("forwarding") == "per-pair":   # judged over the direct pair links the run installs
        from ..topology.pairwise import pairwise_snapshot

        def plane(snap: Snapshot) -> Snapshot:
            return pairwise_snapshot(snap, speed_of_light_factor=engine.config.speed_of_light_factor)
    else:
        def plane(snap: Snapshot) -> Snapshot:
            return snap
    snaps = [plane(s) for s in snaps]

    def reread_plane(nodes: List[int]) -> Tuple[Dict[int, Table], Snapshot, int]:
        tables_, snap_, tick_ = reread(nodes)
        return tables_, plane(snap_), tick_

    result = check_tables(engine.nodes.names, dests, tables, snaps,
                          float(record.get("delay_update_threshold_ms", 0.05)), after["time"], ticks,
                          tolerance_ms=TOLERANCE_MS + float(record.get("route_hysteresis_ms", 0.0)),
                          reread=reread_plane)
    result.seconds["read"] = t1 - t0
    return result


def _snapshot_at(engine, status: dict, offset_s: float) -> Snapshot:
    """The engine's snapshot at ``offset_s`` with the link faults ``status`` lists, as the run sees it."""
    from .overrides import LinkOverride, LinkOverrides
    overrides = LinkOverrides()
    for a, b, failed, extra_delay, extra_loss in status.get("link_faults", []):
        overrides.set(int(a), int(b), LinkOverride(bool(failed), float(extra_delay), float(extra_loss)))
    return overrides.apply(engine.snapshot(offset_s))
