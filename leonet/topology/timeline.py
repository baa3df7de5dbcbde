"""Timelines: what changes from one step to the next, as diffs an emulator can apply.

A timeline over ``[start, end]`` at ``step_s`` yields one :class:`StepDiff` per step.
The first diff is relative to an empty network (it adds everything); applying all
diffs in order to a :class:`TopologyState` reproduces a fresh snapshot's state.

**Delay announcements.** A link's delay is announced when it is added and again when
it moves into another band ``floor(delay_ms / delay_threshold_ms)`` (every change if
the threshold is 0). The announced delay therefore never differs from the true one by
a threshold or more, and whether a step announces depends only on that step and the
previous one, so a timeline cut into chunks and computed in parallel gives exactly the
diffs of a serial run.
"""
from __future__ import annotations

import datetime as _dt
import multiprocessing
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError
from ..orbits.timeutil import TimeLike
from .control import nearest_control
from .engine import TopologyEngine
from .links import Link, Links
from .snapshot import NodeRef, Snapshot


@dataclass(frozen=True)
class HandoverEvent:
    """A ground station's primary satellite changed (None: no satellite in view).
    The first step of a timeline reports the initial attachment with ``old_satellite`` None."""

    time: _dt.datetime
    offset_s: float
    ground_station: str
    old_satellite: Optional[str]
    new_satellite: Optional[str]


@dataclass(frozen=True)
class NextHopChanges:
    """Routing-table entries that changed: at ``node``, traffic for ``destination``
    now goes to ``new`` instead of ``old`` (-1: no route, or the node is the destination)."""

    node: np.ndarray
    destination: np.ndarray
    old: np.ndarray
    new: np.ndarray

    def __len__(self) -> int:
        return len(self.node)


@dataclass(frozen=True)
class ControlChanges:
    """Satellites whose nearest control ground station changed (node indices, -1: none)."""

    satellite: np.ndarray
    old: np.ndarray
    new: np.ndarray

    def __len__(self) -> int:
        return len(self.satellite)


@dataclass(frozen=True)
class StepDiff:
    """Changes at one step relative to the previous step (step 0: to an empty network)."""

    index: int
    time: _dt.datetime
    offset_s: float
    added: Links                    #: links that came up, with their attributes
    removed: np.ndarray             #: (k, 2) node-index pairs (a < b) of links that went down
    delay_changed: Links            #: links whose announced delay changed (new attributes)
    next_hops: NextHopChanges       #: for the timeline's destinations
    activated: np.ndarray           #: satellites that entered the bounding box
    deactivated: np.ndarray         #: satellites that left it
    handovers: Tuple[HandoverEvent, ...]
    control_by_delay: ControlChanges
    control_by_distance: ControlChanges

    @property
    def empty(self) -> bool:
        return not (len(self.added) or len(self.removed) or len(self.delay_changed) or len(self.next_hops)
                    or len(self.activated) or len(self.deactivated) or self.handovers
                    or len(self.control_by_delay) or len(self.control_by_distance))


# ----------------------------------------------------------------------------- per-step records

@dataclass
class _Record:
    """What diffs are computed from: one step's links and derived tables."""

    links: Links
    keys: np.ndarray
    next_hop: np.ndarray            #: (V, D) next hop at node v toward destination d
    active: np.ndarray
    primary: np.ndarray             #: (G,) satellite index or -1
    control_delay: np.ndarray       #: (N,) node index or -1
    control_distance: np.ndarray


def _empty_record(engine: TopologyEngine, destinations: np.ndarray) -> _Record:
    nodes = engine.nodes
    n = nodes.num_satellites
    return _Record(Links.empty(), np.zeros(0, np.int64),
                   np.full((len(nodes), len(destinations)), -1, np.int32), np.zeros(n, bool),
                   np.full(nodes.num_ground_stations, -1, np.int64), np.full(n, -1, np.int64),
                   np.full(n, -1, np.int64))


def _record(snap: Snapshot, destinations: np.ndarray, control: np.ndarray) -> _Record:
    n = snap.nodes.num_satellites
    sources = np.unique(np.concatenate((destinations, control))).astype(np.int64)
    routes = snap.routes(sources) if len(sources) else None
    if len(destinations):
        rows = np.searchsorted(sources, destinations)
        next_hop = routes.next_hop_to_source[rows].T.copy()
    else:
        next_hop = np.zeros((snap.num_nodes, 0), np.int32)
    if len(control):
        ctl = nearest_control(snap, control, routes)
        control_delay, control_distance = ctl.by_delay, ctl.by_distance
    else:
        control_delay = control_distance = np.full(n, -1, np.int64)
    return _Record(snap.links, snap.links.keys(snap.num_nodes), next_hop, snap.active.copy(),
                   snap.primary_satellite.copy(), control_delay, control_distance)


def _membership(keys: np.ndarray, other: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For sorted ``keys`` and sorted ``other``: whether each key is in other, and where."""
    if not len(other):
        return np.zeros(len(keys), bool), np.zeros(len(keys), np.int64)
    pos = np.minimum(np.searchsorted(other, keys), len(other) - 1)
    return other[pos] == keys, pos


def _changes(old: np.ndarray, new: np.ndarray) -> ControlChanges:
    idx = np.flatnonzero(old != new)
    return ControlChanges(idx, old[idx], new[idx])


def _diff(engine: TopologyEngine, index: int, offset_s: float, prev: _Record, cur: _Record,
          destinations: np.ndarray, threshold_ms: float) -> StepDiff:
    in_prev, pos = _membership(cur.keys, prev.keys)
    in_cur, _ = _membership(prev.keys, cur.keys)
    common = np.flatnonzero(in_prev)
    new_delay, old_delay = cur.links.delay_ms[common], prev.links.delay_ms[pos[common]]
    if threshold_ms > 0:
        moved = np.floor(new_delay / threshold_ms) != np.floor(old_delay / threshold_ms)
    else:
        moved = new_delay != old_delay
    node, col = np.nonzero(prev.next_hop != cur.next_hop)
    names = engine.nodes.names
    n = engine.nodes.num_satellites
    time = engine.time_of(offset_s)
    handovers = tuple(
        HandoverEvent(time, offset_s, names[n + g],
                      names[prev.primary[g]] if prev.primary[g] >= 0 else None,
                      names[cur.primary[g]] if cur.primary[g] >= 0 else None)
        for g in np.flatnonzero(prev.primary != cur.primary))
    return StepDiff(
        index=index, time=time, offset_s=offset_s,
        added=cur.links.select(~in_prev),
        removed=np.stack((prev.links.a[~in_cur], prev.links.b[~in_cur]), axis=1),
        delay_changed=cur.links.select(common[moved]),
        next_hops=NextHopChanges(node, destinations[col], prev.next_hop[node, col], cur.next_hop[node, col]),
        activated=np.flatnonzero(cur.active & ~prev.active),
        deactivated=np.flatnonzero(prev.active & ~cur.active),
        handovers=handovers,
        control_by_delay=_changes(prev.control_delay, cur.control_delay),
        control_by_distance=_changes(prev.control_distance, cur.control_distance))


# ----------------------------------------------------------------------------- running

@dataclass(frozen=True)
class _Job:
    offsets: np.ndarray
    destinations: np.ndarray
    control: np.ndarray
    threshold_ms: float
    knot_step_s: Optional[float]


def _run_steps(engine: TopologyEngine, job: _Job, first: int, stop: int) -> Iterator[StepDiff]:
    """Diffs for steps ``first`` to ``stop - 1``; a chunk starting later than step 0
    first recomputes the step before it as its baseline."""
    if first > 0:
        (offset, pos), = engine.positions(job.offsets[first - 1:first], job.knot_step_s)
        prev = _record(engine.snapshot_from_positions(offset, pos), job.destinations, job.control)
    else:
        prev = _empty_record(engine, job.destinations)
    for k, snap in enumerate(engine.snapshots(job.offsets[first:stop], job.knot_step_s)):
        cur = _record(snap, job.destinations, job.control)
        yield _diff(engine, first + k, snap.offset_s, prev, cur, job.destinations, job.threshold_ms)
        prev = cur


_WORKER: Dict[str, object] = {}


def _worker_chunk(bounds: Tuple[int, int]) -> List[StepDiff]:
    engine, job = _WORKER["engine"], _WORKER["job"]
    return list(_run_steps(engine, job, *bounds))  # type: ignore[arg-type]


def _node_array(engine: TopologyEngine, refs: Sequence[NodeRef], what: str) -> np.ndarray:
    out = []
    for r in refs:
        if isinstance(r, (int, np.integer)):
            if not 0 <= int(r) < len(engine.nodes):
                raise ConfigError(what, r, "node index out of range", f"use 0..{len(engine.nodes) - 1}")
            out.append(int(r))
        else:
            out.append(engine.nodes.index(r))
    return np.array(sorted(set(out)), dtype=np.int64)


def timeline(engine: TopologyEngine, start: TimeLike | float, end: TimeLike | float, step_s: float,
             destinations: Optional[Sequence[NodeRef]] = None, control: Sequence[NodeRef] = (),
             delay_threshold_ms: Optional[float] = None, workers: int = 1,
             chunk_steps: int = 600, knot_step_s: Optional[float] = None) -> Iterator[StepDiff]:
    """Diffs for every step from ``start`` to ``end`` (inclusive) every ``step_s`` seconds.

    ``destinations``: nodes whose next hops are tracked (default: every ground station;
    ``[]`` skips routing). ``control``: control ground stations for the nearest-control
    assignment (default none). ``delay_threshold_ms`` defaults to the config's.
    ``workers > 1`` computes chunks of ``chunk_steps`` steps in that many processes
    (fork); the diffs are identical to a serial run and arrive in order.
    ``knot_step_s`` interpolates positions between SGP4 states (see
    :meth:`TopologyEngine.positions`); the default runs SGP4 at every step, so that
    every step equals a fresh :meth:`TopologyEngine.snapshot` bit for bit.
    """
    offsets = engine.step_offsets(start, end, step_s)
    if destinations is None:
        n = engine.nodes.num_satellites
        dest = np.arange(n, len(engine.nodes), dtype=np.int64)
    else:
        dest = _node_array(engine, destinations, "destinations")
    threshold = engine.config.delay_threshold_ms if delay_threshold_ms is None else delay_threshold_ms
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold < 0:
        raise ConfigError("delay_threshold_ms", threshold, "must be a number >= 0", "use e.g. 0.5")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError("workers", workers, "must be a whole number >= 1", "use 1 or the number of cores")
    if knot_step_s is not None and not (isinstance(knot_step_s, (int, float)) and knot_step_s > 0):
        raise ConfigError("knot_step_s", knot_step_s, "must be a positive number of seconds", "use e.g. 60")
    job = _Job(offsets, dest, _node_array(engine, control, "control"), float(threshold), knot_step_s)
    if workers == 1 or len(offsets) <= chunk_steps:
        yield from _run_steps(engine, job, 0, len(offsets))
        return
    bounds = [(i, min(i + chunk_steps, len(offsets))) for i in range(0, len(offsets), chunk_steps)]
    _WORKER.update(engine=engine, job=job)  # inherited by the forked workers
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for chunk in pool.imap(_worker_chunk, bounds):
                yield from chunk
    finally:
        _WORKER.clear()


def handover_events(engine: TopologyEngine, start: TimeLike | float, end: TimeLike | float,
                    step_s: float, ground_stations: Optional[Sequence[str]] = None,
                    workers: int = 1) -> List[HandoverEvent]:
    """Primary-satellite changes of the given ground stations (default all), the first
    step's initial attachments included (no routing is computed)."""
    wanted = None
    if ground_stations is not None:
        for g in ground_stations:
            if engine.nodes.index(g) < engine.nodes.num_satellites:
                raise ConfigError("ground station", g, "is a satellite", "name a ground station")
        wanted = set(ground_stations)
    events = []
    for diff in timeline(engine, start, end, step_s, destinations=[], workers=workers):
        events.extend(e for e in diff.handovers if wanted is None or e.ground_station in wanted)
    return events


# ----------------------------------------------------------------------------- replay

@dataclass
class TopologyState:
    """The state an emulator holds, rebuilt by applying diffs in order (:meth:`apply`),
    or taken from a fresh snapshot (:meth:`of_snapshot`) to compare with."""

    num_nodes: int
    destinations: np.ndarray
    links: Dict[Tuple[int, int], Link] = field(default_factory=dict)
    next_hop: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    primary: Dict[str, Optional[str]] = field(default_factory=dict)  #: ground station -> satellite
    control_by_delay: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    control_by_distance: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def empty(cls, engine: TopologyEngine, destinations: Optional[Sequence[NodeRef]] = None) -> "TopologyState":
        dest = (np.arange(engine.nodes.num_satellites, len(engine.nodes)) if destinations is None
                else _node_array(engine, destinations, "destinations"))
        rec = _empty_record(engine, dest)
        return cls(len(engine.nodes), dest, {}, rec.next_hop, rec.active, {}, rec.control_delay,
                   rec.control_distance)

    @classmethod
    def of_snapshot(cls, engine: TopologyEngine, snap: Snapshot,
                    destinations: Optional[Sequence[NodeRef]] = None,
                    control: Sequence[NodeRef] = ()) -> "TopologyState":
        state = cls.empty(engine, destinations)
        rec = _record(snap, state.destinations, _node_array(engine, control, "control"))
        state.links = {(l.a, l.b): l for l in rec.links}
        state.next_hop, state.active = rec.next_hop, rec.active
        n = engine.nodes.num_satellites
        names = engine.nodes.names
        state.primary = {names[n + g]: names[s] for g, s in enumerate(rec.primary) if s >= 0}
        state.control_by_delay, state.control_by_distance = rec.control_delay, rec.control_distance
        return state

    def apply(self, diff: StepDiff) -> None:
        for a, b in diff.removed:
            del self.links[(int(a), int(b))]
        for link in diff.added:
            self.links[(link.a, link.b)] = link
        for link in diff.delay_changed:
            self.links[(link.a, link.b)] = link
        col = np.searchsorted(self.destinations, diff.next_hops.destination)
        self.next_hop[diff.next_hops.node, col] = diff.next_hops.new
        self.active[diff.activated] = True
        self.active[diff.deactivated] = False
        for e in diff.handovers:
            if e.new_satellite is None:
                self.primary.pop(e.ground_station, None)
            else:
                self.primary[e.ground_station] = e.new_satellite
        self.control_by_delay[diff.control_by_delay.satellite] = diff.control_by_delay.new
        self.control_by_distance[diff.control_by_distance.satellite] = diff.control_by_distance.new

    def link_table(self) -> Links:
        """The current links as sorted arrays."""
        rows = [self.links[k] for k in sorted(self.links)]
        if not rows:
            return Links.empty()
        from .links import KIND_NAMES
        return Links(np.array([l.a for l in rows], np.int32), np.array([l.b for l in rows], np.int32),
                     np.array([KIND_NAMES.index(l.kind) for l in rows], np.uint8),
                     np.array([l.distance_km for l in rows]), np.array([l.delay_ms for l in rows]),
                     np.array([l.bandwidth_mbps for l in rows]), np.array([l.loss_percent for l in rows]))

    def matches(self, other: "TopologyState", delay_tolerance_ms: float = 0.0) -> bool:
        """Same links (delays within the tolerance), next hops, active set, primaries and
        control assignments."""
        return (self.link_table().equals(other.link_table(), delay_tolerance_ms)
                and np.array_equal(self.destinations, other.destinations)
                and np.array_equal(self.next_hop, other.next_hop)
                and np.array_equal(self.active, other.active)
                and self.primary == other.primary
                and np.array_equal(self.control_by_delay, other.control_by_delay)
                and np.array_equal(self.control_by_distance, other.control_by_distance))
