"""Control Node Assignment Algorithm (CNAA), Algorithm 2 of the KubeSpace paper.

1. From the satellite's TLE, sample its distance to every control node every
   ``sample_s`` (60 s) over a window of ``window_s`` (12 h).
2. Interpolate each node's distance curve (:mod:`.interpolation`).
3. Every ``decision_s`` (1 s) find the nearest node; hand over to it when
   ``f_min(t) / f_curr(t) < threshold`` (delta). The first node is the nearest at t = 0.

The output is the list of (time, target) handover events. ``threshold = 1`` is the
nearest-only baseline: hand over as soon as another node is strictly nearer.

Decisions are exact for the 1 s grid but cheap: for every sample interval the
exact min/max of each interpolating polynomial is known, and an interval is only
evaluated second by second when some other node's minimum could fall below
``threshold`` times the current node's maximum there.

Any metric sampled on the same grid can drive the decision (``assign``): the
paper's straight-line distance, or path delay over ISLs (see :mod:`.metrics`).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from sgp4.api import Satrec

from ..errors import ConfigError
from ..orbits.frames import geodetic_to_ecef
from ..orbits.propagation import Propagator
from ..orbits.timeutil import add_seconds, parse_utc
from ..schema import check_number
from .interpolation import METHODS, interpolate

#: The paper's parameters (Algorithm 2's examples).
PAPER_WINDOW_S = 12 * 3600.0
PAPER_SAMPLE_S = 60.0
PAPER_DECISION_S = 1.0
#: Handover threshold ratio delta. The paper does not state its value; see
#: docs/kubespace.md for how this default was chosen.
DEFAULT_THRESHOLD = 0.9
#: Curves interpolated at once (satellites x control nodes): bounds memory to ~200 MB
#: for a day of 60 s samples.
_CURVES_PER_CHUNK = 8192
#: Sample intervals whose polynomial coefficients are materialised at once.
_INTERVALS_PER_BLOCK = 60


@dataclass(frozen=True)
class ControlNode:
    """A ground control node (a ground station hosting a control plane)."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0

    @property
    def ecef_km(self) -> np.ndarray:
        return np.asarray(geodetic_to_ecef(self.lat_deg, self.lon_deg, self.alt_m / 1000.0), dtype=float)

    @classmethod
    def of(cls, station) -> "ControlNode":
        """From a :class:`leonet.orbits.GroundStation` (or anything with name/lat/lon/alt)."""
        return cls(station.name, float(station.lat_deg), float(station.lon_deg), float(station.alt_m))


@dataclass(frozen=True)
class HandoverEvent:
    """At ``offset_s`` seconds into the window, switch from ``source`` to ``target``."""

    offset_s: float
    time: _dt.datetime
    source: str
    target: str


def check_grid(window_s: float, sample_s: float, decision_s: float,
               fields: Tuple[str, str, str] = ("window_s", "sample_s", "decision_s")) -> int:
    """Validate the time grid; returns the number of decisions per sample interval.
    ``fields`` names the three values in messages."""
    f_window, f_sample, f_decision = fields
    for name, value in zip(fields, (window_s, sample_s, decision_s)):
        check_number(name, value, lo=0, lo_open=True, unit="s")
    ratio = sample_s / decision_s
    if abs(ratio - round(ratio)) > 1e-9:
        raise ConfigError(f_decision, decision_s, f"must divide the sampling interval ({sample_s:g} s)",
                          "use e.g. sample 60 s and decide every 1 s")
    intervals = window_s / sample_s
    if abs(intervals - round(intervals)) > 1e-9 or round(intervals) < 1:
        raise ConfigError(f_window, window_s, f"must be a multiple of the sampling interval ({sample_s:g} s)",
                          "e.g. 43200 s with 60 s samples")
    return int(round(ratio))


def sample_offsets(window_s: float, sample_s: float) -> np.ndarray:
    """Sample times 0, sample_s, ..., window_s (inclusive)."""
    return np.arange(int(round(window_s / sample_s)) + 1) * float(sample_s)


def check_threshold(threshold: float, field: str = "threshold") -> float:
    """CNAA's handover ratio delta, in (0, 1]."""
    return check_number(field, threshold, 0, 1, lo_open=True, unit="(a ratio)",
                        fix="e.g. 0.9 (hand over once another node is 10 % nearer); 1 is nearest-only")


# ---------------------------------------------------------------------------- sampling

def straight_line_samples(propagator: Propagator, nodes_ecef_km: np.ndarray, offsets_s: np.ndarray,
                          chunk: int = 256) -> np.ndarray:
    """Straight-line distance (km) from every satellite to every node, shape (N, K, S)."""
    nodes = np.asarray(nodes_ecef_km, dtype=float).reshape(-1, 3)
    N = len(propagator)
    out = np.empty((N, len(nodes), len(offsets_s)), dtype=np.float32)
    for start in range(0, len(offsets_s), chunk):
        pos = propagator.ecef(offsets_s[start:start + chunk])              # (N, t, 3)
        diff = pos[:, None, :, :] - nodes[None, :, None, :]
        out[:, :, start:start + chunk] = np.sqrt(np.einsum("nktx,nktx->nkt", diff, diff))
    return out


# ---------------------------------------------------------------------------- decisions

@dataclass
class Assignment:
    """Handover events of many satellites over one window.

    Events are sorted by (satellite, time); ``initial[n]`` is satellite n's node at t = 0.
    Node indices refer to the columns of the samples given to :func:`assign`.
    """

    initial: np.ndarray       #: (N,) node at t = 0
    satellite: np.ndarray     #: (E,) satellite index of each event
    offset_s: np.ndarray      #: (E,) seconds into the window
    source: np.ndarray        #: (E,) node before the event
    target: np.ndarray        #: (E,) node after it
    window_s: float
    decision_s: float
    threshold: float

    @property
    def num_satellites(self) -> int:
        return len(self.initial)

    @property
    def total(self) -> int:
        return len(self.satellite)

    def per_satellite(self) -> np.ndarray:
        """Handovers of every satellite, shape (N,)."""
        return np.bincount(self.satellite, minlength=self.num_satellites)

    def assigned_at(self, offsets_s: Sequence[float]) -> np.ndarray:
        """Node of every satellite at the given times, shape (N, len(offsets)).

        An event at time t is in force from t on."""
        q = np.asarray(offsets_s, dtype=float)
        N = self.num_satellites
        span = self.window_s + 1.0
        keys = self.satellite * span + self.offset_s
        qkeys = np.arange(N)[:, None] * span + q[None, :]
        pos = np.searchsorted(keys, qkeys, side="right") - 1
        first = np.searchsorted(self.satellite, np.arange(N), side="left")
        valid = pos >= first[:, None]
        return np.where(valid, self.target[np.maximum(pos, 0)] if len(keys) else 0, self.initial[:, None])

    def events(self, satellite: int) -> List[Tuple[float, int, int]]:
        """(offset_s, source, target) of one satellite's events."""
        sel = self.satellite == satellite
        return list(zip(self.offset_s[sel].tolist(), self.source[sel].tolist(), self.target[sel].tolist()))


def _may_hand_over(lo: np.ndarray, hi: np.ndarray, current: np.ndarray, threshold: float) -> np.ndarray:
    """(B, n): can satellite n hand over in interval b while on node ``current[n]``?

    A necessary condition: some other node's minimum over the interval is below
    threshold x the current node's maximum (with a margin against rounding).
    Intervals where it fails need no per-second evaluation.
    """
    hi_cur = np.take_along_axis(hi, current[None, :, None], axis=2)          # (B, n, 1)
    lo_other = lo.copy()
    np.put_along_axis(lo_other, current[None, :, None], np.inf, axis=2)
    return (lo_other < threshold * hi_cur * (1 + 1e-9) + 1e-9).any(axis=2)


def _scan_block(values: np.ndarray, current: np.ndarray, threshold: float
                ) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Algorithm 2, lines 11-15, over a block of decision steps.

    ``values`` is (m, K, n) for m satellites at n consecutive decision times;
    ``current`` (m,) is updated in place. Returns event batches
    (row, step, source, target).
    """
    m, _, n = values.shape
    fmin = values.min(axis=1)
    gmin = values.argmin(axis=1)
    steps = np.arange(n)
    start = np.zeros(m, dtype=np.int64)
    rows = np.arange(m)
    batches = []
    while rows.size:
        fcur = values[rows, current[rows], :]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = fmin[rows] / fcur
        trig = (gmin[rows] != current[rows, None]) & (ratio < threshold) & (steps >= start[rows, None])
        has = trig.any(axis=1)
        if not has.any():
            break
        rows = rows[has]
        first = trig[has].argmax(axis=1)
        target = gmin[rows, first]
        batches.append((rows.copy(), first, current[rows].copy(), target))
        current[rows] = target
        start[rows] = first + 1
    return batches


def assign(samples: np.ndarray, sample_s: float = PAPER_SAMPLE_S, decision_s: float = PAPER_DECISION_S,
           threshold: Union[float, Sequence[float]] = DEFAULT_THRESHOLD,
           interpolation: str = "cubic", initial: Optional[Sequence[int]] = None
           ) -> Union[Assignment, List[Assignment]]:
    """Algorithm 2, steps 2-3, for many satellites at once.

    ``samples`` (N, K, S): the metric from each of N satellites to each of K nodes
    at times 0, sample_s, ..., (S-1) * sample_s (``inf``: unreachable). Returns the
    handover events over that window, decided every ``decision_s``. Given a
    sequence of thresholds, returns one :class:`Assignment` per threshold (the
    interpolation is shared). ``initial`` (N,) gives each satellite's node at t = 0
    (a satellite that is already bound, when a window is recomputed); by default it
    is the nearest (line 10).
    """
    samples = np.asarray(samples)
    if samples.ndim != 3 or samples.shape[2] < 2:
        raise ValueError("samples must have shape (satellites, nodes, >= 2 samples)")
    if interpolation not in METHODS:
        raise ConfigError("interpolation", interpolation, "unknown method", "use " + " or ".join(METHODS))
    single = np.isscalar(threshold)
    thresholds = [check_threshold(t) for t in ([threshold] if single else threshold)]
    N, K, S = samples.shape
    window_s = (S - 1) * float(sample_s)
    per_interval = check_grid(window_s, sample_s, decision_s)
    # Unreachable samples become a huge finite distance so the interpolants stay finite.
    finite_max = np.max(samples, initial=0.0, where=np.isfinite(samples))
    unreachable = max(1e3 * finite_max, 1e9)
    taus = np.arange(per_interval) * float(decision_s)

    given = None
    if initial is not None:
        given = np.asarray(initial, dtype=np.int64).reshape(-1)
        if given.shape != (N,) or given.min(initial=0) < 0 or given.max(initial=0) >= K:
            raise ValueError(f"initial must give a node index in [0, {K}) for each of the {N} satellites")
    initial = np.empty(N, dtype=np.int64)
    found: List[List[Tuple[np.ndarray, ...]]] = [[] for _ in thresholds]
    per_chunk = max(1, _CURVES_PER_CHUNK // max(K, 1))
    for n0 in range(0, N, per_chunk):
        chunk = np.asarray(samples[n0:n0 + per_chunk], dtype=float)
        chunk = np.where(np.isfinite(chunk), chunk, unreachable)
        poly = interpolate(chunk, sample_s, interpolation)              # curves (n, K)
        n = chunk.shape[0]
        first = chunk[:, :, 0].argmin(axis=1) if given is None else given[n0:n0 + len(chunk)].copy()  # line 10
        initial[n0:n0 + n] = first
        currents = [first.copy() for _ in thresholds]
        for j0 in range(0, poly.intervals, _INTERVALS_PER_BLOCK):
            j1 = min(j0 + _INTERVALS_PER_BLOCK, poly.intervals)
            coef = poly.block(j0, j1)                                   # (4, B, n, K)
            lo, hi = poly.bounds(coef=coef)                             # (B, n, K)
            for threshold, current, events in zip(thresholds, currents, found):
                maybe = _may_hand_over(lo, hi, current, threshold)       # (B, n)
                for jj in range(j1 - j0):
                    idx = np.flatnonzero(maybe[jj])
                    if not idx.size:
                        continue
                    j = j0 + jj
                    tau = np.append(taus, sample_s) if j == poly.intervals - 1 else taus
                    c = coef[:, jj][:, idx]                             # (4, m, K)
                    values = ((c[0][..., None] * tau + c[1][..., None]) * tau + c[2][..., None]) * tau \
                        + c[3][..., None]
                    cur = current[idx]
                    before = cur.copy()
                    for rows, step, src, tgt in _scan_block(values, cur, threshold):
                        events.append((n0 + idx[rows], j * sample_s + tau[step], src, tgt))
                    current[idx] = cur
                    changed = idx[cur != before]
                    if changed.size and jj + 1 < j1 - j0:
                        maybe[jj + 1:, changed] = _may_hand_over(lo[jj + 1:, changed], hi[jj + 1:, changed],
                                                                 current[changed], threshold)
    results = [_collect(initial, events, window_s, decision_s, threshold)
               for threshold, events in zip(thresholds, found)]
    return results[0] if single else results


def _collect(initial: np.ndarray, found: List[Tuple[np.ndarray, ...]], window_s: float,
             decision_s: float, threshold: float) -> Assignment:
    if found:
        sat, off, src, tgt = (np.concatenate(x) for x in zip(*found))
        order = np.lexsort((off, sat))
        sat, off, src, tgt = sat[order], off[order], src[order], tgt[order]
    else:
        sat = src = tgt = np.zeros(0, dtype=np.int64)
        off = np.zeros(0)
    return Assignment(initial.copy(), sat.astype(np.int64), off.astype(float), src.astype(np.int64),
                      tgt.astype(np.int64), window_s, float(decision_s), threshold)


# ---------------------------------------------------------------------------- from TLEs

def cnaa(satrecs: Sequence[Satrec], start: _dt.datetime, nodes: Sequence[ControlNode],
         window_s: float = PAPER_WINDOW_S, sample_s: float = PAPER_SAMPLE_S,
         decision_s: float = PAPER_DECISION_S, threshold: Union[float, Sequence[float]] = DEFAULT_THRESHOLD,
         interpolation: str = "cubic", initial: Optional[Sequence[int]] = None
         ) -> Union[Assignment, List[Assignment]]:
    """Algorithm 2 with the paper's straight-line distance, for satellites given by
    their SGP4 records, over ``[start, start + window_s]`` (one result per
    threshold if a sequence is given; ``initial`` as in :func:`assign`)."""
    if not nodes:
        raise ConfigError("control nodes", [], "none given", "give at least one control node")
    check_grid(window_s, sample_s, decision_s)
    offsets = sample_offsets(window_s, sample_s)
    prop = Propagator(list(satrecs), start)
    ecef = np.array([n.ecef_km for n in nodes])
    samples = straight_line_samples(prop, ecef, offsets)
    if np.isnan(samples).any():
        raise ConfigError("TLE", "", "SGP4 cannot propagate a satellite over the window (decayed?)",
                          "use a fresher TLE or a shorter window")
    return assign(samples, sample_s, decision_s, threshold, interpolation, initial)


def predict_handovers(tle: Union[str, Satrec], nodes: Sequence[ControlNode],
                      start: Optional[Union[str, _dt.datetime]] = None,
                      window_s: float = PAPER_WINDOW_S, sample_s: float = PAPER_SAMPLE_S,
                      decision_s: float = PAPER_DECISION_S, threshold: float = DEFAULT_THRESHOLD,
                      interpolation: str = "cubic") -> Tuple[str, List[HandoverEvent]]:
    """What a satellite's handover daemon runs: its initial control node and its
    predicted handover events, from its own TLE.

    ``tle`` is the two element lines (optionally with a name line) or a ``Satrec``;
    ``start`` defaults to the TLE epoch.
    """
    if isinstance(tle, Satrec):
        sat = tle
    else:
        lines = [ln for ln in str(tle).strip().splitlines() if ln.strip()]
        if len(lines) < 2 or not (lines[-2].startswith("1 ") and lines[-1].startswith("2 ")):
            raise ConfigError("tle", tle, "is not a two-line element set",
                              "give the two lines starting with '1 ' and '2 '")
        sat = Satrec.twoline2rv(lines[-2].rstrip(), lines[-1].rstrip())
    if start is None:
        from ..orbits.tle import satrec_epoch
        when = satrec_epoch(sat)
    else:
        when = parse_utc(start, "start")
    result = cnaa([sat], when, nodes, window_s, sample_s, decision_s, threshold, interpolation)
    events = [HandoverEvent(off, add_seconds(when, off), nodes[src].name, nodes[tgt].name)
              for off, src, tgt in result.events(0)]
    return nodes[int(result.initial[0])].name, events
