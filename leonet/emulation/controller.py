"""The time-stepping controller: real-time pacing, per-tick apply, statistics, hooks.

Each tick ``k`` the controller waits (on the monotonic clock) until
``wall_start + k * step / speed``, computes the snapshot at emulated offset
``offset0 + k * step``, applies it, and publishes what happened. It never sleeps a
fixed interval, so lag does not accumulate from compute time; when a tick overruns,
the next one starts late and the lag is recorded and warned about.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..orbits.timeutil import format_utc
from ..topology import Snapshot, TopologyEngine
from .lookahead import Computed, Lookahead
from .network import ApplyReport, LeoNetwork

log = logging.getLogger("leonet.emulation")


@dataclass(frozen=True)
class TickInfo:
    """What one tick did: emulated time, timings (ms) and the changes applied.

    ``compute_ms`` is the time the tick waited for its snapshot (near zero when the
    lookahead worker had it ready), ``apply_ms`` the time to change the kernel."""

    index: int
    offset_s: float
    time_iso: str
    compute_ms: float
    apply_ms: float
    lag_ms: float
    report: ApplyReport
    #: the lookahead worker's time (ms) per stage computing this tick (empty without one)
    worker_ms: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GslHandover:
    """A ground station's primary satellite changed (``old``/``new`` may be None)."""

    time_iso: str
    offset_s: float
    ground_station: str
    old: Optional[str]
    new: Optional[str]


@dataclass
class Hooks:
    """Callbacks for higher layers; each list is called in order from the controller thread."""

    tick: List[Callable[[TickInfo], None]] = field(default_factory=list)
    handover: List[Callable[[GslHandover], None]] = field(default_factory=list)
    #: called with (added, removed): lists of (node a, node b, kind)
    links: List[Callable[[List[Tuple[str, str, str]], List[Tuple[str, str, str]]], None]] = \
        field(default_factory=list)


@dataclass
class TickStats:
    compute_ms: List[float] = field(default_factory=list)
    apply_ms: List[float] = field(default_factory=list)
    lag_ms: List[float] = field(default_factory=list)

    def summary(self) -> Dict[str, float]:
        out: Dict[str, float] = {"ticks": float(len(self.apply_ms))}
        for name in ("compute_ms", "apply_ms", "lag_ms"):
            values = np.array(getattr(self, name)) if getattr(self, name) else np.zeros(1)
            out[f"{name}_p50"] = float(np.percentile(values, 50))
            out[f"{name}_p99"] = float(np.percentile(values, 99))
            out[f"{name}_max"] = float(values.max())
        return out


@dataclass(frozen=True)
class ClockReading:
    """One reading of the emulation's clock (what the info API's ``/clock`` reports), taken from one
    sample of the wall clock and of the last applied tick, so that its fields always agree."""

    #: the emulated offset now (s): the real-time pacing's, between ticks too, but never more than one
    #: step past the last applied tick (while the emulation lags, apps must not act on a future the
    #: links do not show yet); a controller that is not ticking stays at its last tick
    offset_s: float
    #: emulated seconds ``offset_s`` is held back behind the real-time pacing: ``offset_s + lag_s`` is
    #: where the pacing is. 0 while the ticks keep up; otherwise the next tick is overdue by
    #: ``lag_s / speed`` wall seconds (its :attr:`TickInfo.lag_ms` when it starts)
    lag_s: float
    #: True while :meth:`Controller.run` paces ticks in real time
    ticking: bool


def clock_at(offset0_s: float, wall0_s: float, now_s: float, speed: float, applied_offset_s: float,
             step_s: float) -> ClockReading:
    """The clock at monotonic time ``now_s`` while ticks are paced from ``offset0_s`` at ``wall0_s``
    and the last applied tick is at ``applied_offset_s`` (see :class:`ClockReading`)."""
    paced = offset0_s + (now_s - wall0_s) * speed
    shown = min(paced, applied_offset_s + step_s)
    return ClockReading(shown, paced - shown, True)


class Controller:
    """Drives a :class:`LeoNetwork` through time."""

    def __init__(self, engine: TopologyEngine, network: LeoNetwork, step_s: float = 1.0,
                 speed: float = 1.0, offset_s: float = 0.0, hooks: Optional[Hooks] = None,
                 lookahead: bool = True):
        self.engine = engine
        self.network = network
        self.step_s = step_s
        self.speed = speed
        self.offset0 = offset_s
        self.hooks = hooks or Hooks()
        self.stats = TickStats()
        self.handovers: List[GslHandover] = []
        self.tick_index = 0
        self.current_offset_s = offset_s
        self._stop = threading.Event()
        self._primary: Optional[np.ndarray] = None
        self._warned_at = -1e9
        self._wall0: Optional[float] = None   #: monotonic time of offset0 while run() paces ticks
        self._lookahead = Lookahead.for_network(engine, network) if lookahead else None

    # ------------------------------------------------------------------ time
    @property
    def current_time_iso(self) -> str:
        return format_utc(self.engine.time_of(self.current_offset_s))

    def clock(self) -> ClockReading:
        """The clock now: emulated offset, lag and whether ticks are paced, from one sample (a tick
        applied meanwhile on the controller thread cannot make them disagree)."""
        wall0, applied = self._wall0, self.current_offset_s
        if wall0 is None or self._stop.is_set():
            return ClockReading(applied, 0.0, False)
        return clock_at(self.offset0, wall0, time.monotonic(), self.speed, applied, self.step_s)

    def offset_now(self) -> float:
        """The emulated offset (s) now, between ticks too: :attr:`ClockReading.offset_s`."""
        return self.clock().offset_s

    def lag_s(self) -> float:
        """Emulated seconds the clock (:meth:`offset_now`) is held back behind the real-time pacing,
        0 while the ticks keep up: :attr:`ClockReading.lag_s`."""
        return self.clock().lag_s

    @property
    def ticking(self) -> bool:
        """True while :meth:`run` paces ticks in real time."""
        return self._wall0 is not None and not self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Stop ticking and end the lookahead worker."""
        self._stop.set()
        if self._lookahead is not None:
            self._lookahead.close()
            self._lookahead = None

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------------ ticks
    def first_snapshot(self) -> Snapshot:
        """The snapshot to bring the network up with; the lookahead starts computing its
        routes and the first ticks' now, while the nodes are made (see :meth:`first_computed`)."""
        snap = self.engine.snapshot(self.offset0)
        self._primary = snap.primary_satellite.copy()
        if self._lookahead is not None:
            self._lookahead.prefetch(self.offset0 + i * self.step_s for i in range(self._lookahead.depth + 1))
        return snap

    def first_computed(self) -> Optional[Computed]:
        """The lookahead's computation of the first snapshot (its all-pairs routes from
        scratch: seconds at phase I, done while the nodes were being made), None without one."""
        return self._lookahead.get(self.offset0) if self._lookahead is not None else None

    def run(self, duration_s: Optional[float] = None) -> None:
        """Tick in real time (at ``speed``) until ``duration_s`` more emulated seconds
        have passed or :meth:`stop`. A second call continues where the first ended."""
        first = self.tick_index + 1
        wall0 = self._wall0 = time.monotonic() - (first - 1) * self.step_s / self.speed
        start_offset = self.offset0 + (first - 1) * self.step_s
        k = first
        while not self._stop.is_set():
            offset = self.offset0 + k * self.step_s
            if duration_s is not None and offset - start_offset > duration_s + 1e-9:
                break
            deadline = wall0 + k * self.step_s / self.speed
            if self._lookahead is not None:
                self._lookahead.prefetch(offset + i * self.step_s for i in range(self._lookahead.depth))
            delay = deadline - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            self.tick(k, offset, deadline)
            k += 1
        self._wall0 = None

    def step(self, count: int = 1) -> Optional[TickInfo]:
        """Apply the next ``count`` ticks now, as fast as they can be applied (no
        real-time pacing: emulated time moves only when stepped). Returns the last tick."""
        info = None
        for _ in range(count):
            k = self.tick_index + 1
            offset = self.offset0 + k * self.step_s
            if self._lookahead is not None:
                self._lookahead.prefetch(offset + i * self.step_s for i in range(self._lookahead.depth))
            info = self.tick(k, offset, time.monotonic())
        return info

    def tick(self, index: int, offset_s: float, deadline: float) -> TickInfo:
        started = time.monotonic()
        lag_ms = max(0.0, (started - deadline) * 1000.0)
        t0 = time.perf_counter()
        changes, worker_ms = None, {}
        if self._lookahead is not None:
            computed = self._lookahead.get(offset_s)
            snap, next_hop, plane, changes = computed.snapshot, computed.next_hop, computed.plane, computed.changes
            worker_ms = computed.worker_ms
        else:
            snap, next_hop, plane = self.engine.snapshot(offset_s), None, None
        t1 = time.perf_counter()
        report = self.network.apply(snap, next_hop=next_hop, plane=plane, changes=changes)
        t2 = time.perf_counter()
        self.current_offset_s = offset_s
        self.tick_index = index
        info = TickInfo(index, offset_s, format_utc(snap.time), (t1 - t0) * 1000, (t2 - t1) * 1000, lag_ms, report,
                        worker_ms)
        self.stats.compute_ms.append(info.compute_ms)
        self.stats.apply_ms.append(info.apply_ms)
        self.stats.lag_ms.append(lag_ms)
        for line in report.errors:
            log.warning("tick %d: %s", index, line)
        if lag_ms > 1000.0 * self.step_s / self.speed and started - self._warned_at > 10:
            self._warned_at = started
            log.warning("emulation is %.0f ms behind real time at %s (compute %.0f ms, apply %.0f ms)",
                        lag_ms, info.time_iso, info.compute_ms, info.apply_ms)
        self._publish(snap, info)
        self._prepare_next(offset_s + self.step_s)
        return info

    def _prepare_next(self, offset_s: float) -> None:
        """Between ticks: let the backend get ready for the next tick's new links, so
        that their slow set-up (a rule change per namespace) is not in its apply."""
        upcoming = self._lookahead.peek(offset_s) if self._lookahead is not None else None
        if upcoming is None:
            return
        try:
            self.network.prepare(*upcoming)
        except Exception as exc:  # only an optimisation: the next tick attaches the slow way
            log.warning("preparing the links of the next tick: %s", exc)

    def _publish(self, snap: Snapshot, info: TickInfo) -> None:
        for fn in self.hooks.tick:
            fn(info)
        names = self.engine.nodes.names
        if self.hooks.links and (report := info.report) and (report.added or report.removed):
            for fn in self.hooks.links:
                fn(report.added, report.removed)
        if self._primary is not None:
            changed = np.flatnonzero(snap.primary_satellite != self._primary)
            for g in changed:
                old, new = int(self._primary[g]), int(snap.primary_satellite[g])
                event = GslHandover(info.time_iso, info.offset_s, names[self.engine.nodes.num_satellites + g],
                                    names[old] if old >= 0 else None, names[new] if new >= 0 else None)
                self.handovers.append(event)
                for fn in self.hooks.handover:
                    fn(event)
        self._primary = snap.primary_satellite.copy()
