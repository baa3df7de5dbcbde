"""Komet's scheduling traces: the network distance from every client to every
satellite at every step, as the paper's simulations replay them (Sec. 8).

Network distance is the one-way delay of the least-delay path in the topology
engine's snapshot (a direct uplink when the satellite is in view, else the best
uplink plus ISLs), in whole microseconds as Celestial reports it.

**Trace hysteresis.** Celestial's trace generator records a path again only when its
delay moved by more than ``DELAY_UPDATE_THRESHOLD_US`` = 500 us since the value last
recorded, or when the path appeared, disappeared or changed its first hop (the
uplink satellite). The paper's simulations therefore see distances up to 0.5 ms
stale; this quantises the RTT distributions and changes migration counts, most for
MinMax. :class:`Quantizer` applies the same rule (``hysteresis_us``, 0: exact
values); a :class:`Trace` keeps both the recorded and the true distances.

Traces are built from :mod:`leonet.topology.delays` (parallel, cached), or streamed
in chunks for periods too long to hold (:func:`iter_trace`).
"""
from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError
from ..topology import TopologyEngine
from ..topology.delays import cached_ground_satellite_delays, ground_satellite_delays

#: Celestial's DELAY_UPDATE_THRESHOLD_US, the paper's traces
DEFAULT_HYSTERESIS_US = 500.0
#: steps converted at once (bounds float64 temporaries)
_BLOCK = 256


class Quantizer:
    """Celestial's path-update rule, step by step (state carries across chunks).

    The recorded distance of a (client, satellite) pair becomes the true one when they
    differ by more than ``threshold_us``, when reachability changed, or when the
    path's uplink satellite differs from the recorded path's; otherwise it keeps its
    last recorded value.
    """

    def __init__(self, threshold_us: float = DEFAULT_HYSTERESIS_US):
        if not threshold_us >= 0:
            raise ConfigError("hysteresis_us", threshold_us, "must be >= 0", "use 500 (Celestial) or 0 (exact)")
        self.threshold_us = float(threshold_us)
        self.recorded: Optional[np.ndarray] = None
        self.uplink: Optional[np.ndarray] = None

    def apply(self, true_us: np.ndarray, uplink: Optional[np.ndarray] = None,
              out: Optional[np.ndarray] = None) -> np.ndarray:
        """Recorded distances for consecutive steps ``true_us`` (k, C, N)."""
        out = np.empty_like(true_us) if out is None else out
        for i in range(len(true_us)):
            new = true_us[i]
            up = None if uplink is None else uplink[i]
            if self.recorded is None or self.threshold_us == 0:
                self.recorded = np.array(new, copy=True)
                self.uplink = None if up is None else np.array(up, copy=True)
            else:
                with np.errstate(invalid="ignore"):        # inf - inf: both unreachable, no change
                    changed = np.abs(new - self.recorded) > self.threshold_us
                if up is not None and self.uplink is not None:
                    changed |= up != self.uplink           # against the path last recorded, as Celestial
                    np.copyto(self.uplink, up, where=changed)
                np.copyto(self.recorded, new, where=changed)
            out[i] = self.recorded
        return out


def to_microseconds(delay_ms: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """One-way ms (float32, ``inf`` unreachable) to whole microseconds (float32),
    truncated as Celestial's integer ``delay_us``."""
    out = np.empty(delay_ms.shape, dtype=np.float32) if out is None else out
    for t0 in range(0, len(delay_ms), _BLOCK):
        out[t0:t0 + _BLOCK] = np.floor(np.asarray(delay_ms[t0:t0 + _BLOCK], dtype=np.float64) * 1000.0)
    return out


@dataclass
class Trace:
    """Client-satellite distances over consecutive steps; also the :class:`Forecast`
    the strategies read (see :mod:`leonet.komet.strategies`)."""

    clients: Tuple[str, ...]
    satellites: Tuple[str, ...]
    offsets_s: np.ndarray            #: (T,) seconds since the scenario start
    step_s: float
    delay_us: np.ndarray             #: (T, C, N) what strategies see (recorded, with hysteresis)
    active: np.ndarray               #: (T, N) inside the bounding box
    true_delay_us: Optional[np.ndarray] = None   #: (T, C, N) exact, before hysteresis
    hysteresis_us: float = DEFAULT_HYSTERESIS_US
    first_index: int = 0             #: step number of row 0 (chunks of a streamed trace)
    active_only: bool = False        #: strategies may only choose active satellites
    engine: Optional[TopologyEngine] = field(default=None, repr=False)
    _sat_cache: Dict[Tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.offsets_s)

    @property
    def num_clients(self) -> int:
        return len(self.clients)

    @property
    def num_satellites(self) -> int:
        return len(self.satellites)

    @property
    def duration_s(self) -> float:
        return len(self) * self.step_s

    def _row(self, index: int) -> Optional[int]:
        i = index - self.first_index
        return i if 0 <= i < len(self) else None

    # Forecast ------------------------------------------------------------------
    def delays_at(self, index: int) -> Optional[np.ndarray]:
        i = self._row(index)
        return None if i is None else self.delay_us[i]

    def eligible_at(self, index: int) -> Optional[np.ndarray]:
        i = self._row(index)
        return None if i is None or not self.active_only else np.asarray(self.active[i])

    def satellite_delays(self, index: int, source: int) -> np.ndarray:
        """(N,) one-way path delay (us) from satellite ``source`` at a step (exact;
        the paper's trace quantised these too, which only matters for near-ties)."""
        if self.engine is None:
            raise ConfigError("trace", "satellite delays", "this trace has no topology engine",
                              "build it with build_trace(...) to use Sticky")
        key = (index, int(source))
        if key not in self._sat_cache:
            i = self._row(index)
            offset = float(self.offsets_s[i]) if i is not None else float(self.offsets_s[0]) + \
                (index - self.first_index) * self.step_s
            snap = self.engine.snapshot(offset)
            n = self.num_satellites
            self._sat_cache[key] = np.floor(snap.routes([int(source)]).delay_ms[0, :n] * 1000.0)
        return self._sat_cache[key]


def client_indices(engine: TopologyEngine, clients: Sequence[str]) -> np.ndarray:
    """Ground-station indices of client names (a ConfigError names an unknown one)."""
    if not clients:
        raise ConfigError("clients", list(clients), "no clients", "name at least one ground station")
    return np.array([engine.constellation.ground_station(n).index for n in clients], dtype=np.intp)


def step_offsets(start_offset_s: float, duration_s: float, step_s: float) -> np.ndarray:
    """``start, start + step, ...`` below ``start + duration`` (1,200 steps for 20 min at 1 s)."""
    for name, value in (("duration_s", duration_s), ("step_s", step_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(name, value, "must be a positive number of seconds", "write e.g. 1200 and 1")
    count = int(np.floor(duration_s / step_s + 1e-9))
    if count < 1:
        raise ConfigError("duration_s", duration_s, f"is shorter than one step ({step_s:g} s)",
                          "give a longer duration or a shorter step")
    return float(start_offset_s) + np.arange(count) * float(step_s)


def build_trace(engine: TopologyEngine, clients: Sequence[str], start_offset_s: float, duration_s: float,
                step_s: float = 1.0, hysteresis_us: float = DEFAULT_HYSTERESIS_US,
                cache_dir: Optional[Path] = None, workers: int = 1, progress: bool = False,
                keep_true: bool = True, active_only: bool = False) -> Trace:
    """The trace of ``clients`` (ground-station names) over ``duration_s`` from
    ``start_offset_s`` (seconds after the scenario start), held in memory; the path
    delays are cached in ``cache_dir`` when given."""
    stations = client_indices(engine, clients)
    offsets = step_offsets(start_offset_s, duration_s, step_s)
    quantizer = Quantizer(hysteresis_us)           # validates before the expensive part
    uplinks = hysteresis_us > 0
    if cache_dir is not None:
        raw = cached_ground_satellite_delays(engine, offsets, cache_dir, stations, uplinks=uplinks,
                                             workers=workers, progress=progress, desc="komet trace")
    else:
        raw = ground_satellite_delays(engine, offsets, stations, uplinks=uplinks, progress=progress)
    true_us = to_microseconds(raw.delay_ms)
    seen = quantizer.apply(true_us, raw.uplink) if hysteresis_us > 0 else true_us
    return Trace(tuple(clients), tuple(s.name for s in engine.constellation.satellites), offsets, float(step_s),
                 seen, np.asarray(raw.active), true_us if keep_true else None, float(hysteresis_us),
                 active_only=active_only, engine=engine)


_STREAM: Dict[str, object] = {}


def _stream_chunk(offsets: np.ndarray):
    raw = ground_satellite_delays(_STREAM["engine"], offsets, _STREAM["stations"], uplinks=_STREAM["uplinks"])
    return raw.delay_ms, raw.uplink, raw.active


def iter_trace(engine: TopologyEngine, clients: Sequence[str], start_offset_s: float, duration_s: float,
               step_s: float = 1.0, hysteresis_us: float = DEFAULT_HYSTERESIS_US, chunk_steps: int = 300,
               workers: int = 1, keep_true: bool = False, active_only: bool = False) -> Iterator[Trace]:
    """The same trace as :func:`build_trace`, streamed in chunks of ``chunk_steps``
    (for periods too long to hold: a day for 50 clients is 27 GB). ``workers``
    processes (niced) compute up to two chunks each ahead; the hysteresis state
    carries across chunks.
    Strategies that read ahead (Sticky) only see to the end of each chunk."""
    stations = client_indices(engine, clients)
    offsets = step_offsets(start_offset_s, duration_s, step_s)
    quantizer = Quantizer(hysteresis_us)
    uplinks = hysteresis_us > 0
    pieces = [offsets[i:i + chunk_steps] for i in range(0, len(offsets), chunk_steps)]
    names = tuple(s.name for s in engine.constellation.satellites)
    _STREAM.update(engine=engine, stations=stations, uplinks=uplinks)
    # Workers run niced: the consumer (a simulator, a scheduler) keeps its CPU share.
    pool = mp.get_context("fork").Pool(workers, initializer=os.nice, initargs=(10,)) \
        if workers > 1 and len(pieces) > 1 else None
    try:
        first = 0
        for piece, (delay_ms, uplink, active) in zip(pieces, _ahead(pool, pieces, 2 * workers)):
            true_us = to_microseconds(delay_ms)
            seen = quantizer.apply(true_us, uplink) if uplinks else true_us
            yield Trace(tuple(clients), names, piece, float(step_s), seen, active,
                        true_us if keep_true else None, float(hysteresis_us), first, active_only, engine)
            first += len(piece)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        _STREAM.clear()


def _ahead(pool, pieces, window: int):
    """Results of ``_stream_chunk`` in order, at most ``window`` chunks computed ahead
    (so a slow consumer does not pile up chunks in memory)."""
    if pool is None:
        for piece in pieces:
            yield _stream_chunk(piece)
        return
    pending = [pool.apply_async(_stream_chunk, (piece,)) for piece in pieces[:window]]
    for i in range(len(pieces)):
        result = pending.pop(0).get()
        if i + window < len(pieces):
            pending.append(pool.apply_async(_stream_chunk, (pieces[i + window],)))
        yield result
