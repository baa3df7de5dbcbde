"""Komet's server-selection strategies (SoCC '24, Sec. 5), one interface for the
offline simulator and a live ground scheduler.

A strategy is stateful and is called once per step, in time order, with the one-way
network distance d(c, s) in microseconds from every client c to every satellite s at
that step (``inf``: unreachable). It answers with the satellite serving each client.
A live scheduler calls it the same way with *predicted* distances, ahead of time by
the migration lead time; strategies that look further ahead (Sticky) read a
:class:`Forecast`.

=====================  ==========================================================
``minmax``             one satellite for all clients: argmin of the summed distance
                       (for one client, its closest satellite) at every step
``minmax-many``        every client its own closest satellite (many-to-many MinMax)
``one-to-one``         hysteresis on one client's distance (Komet Sec. 5.1)
``many-to-one``        hysteresis on the root-mean-square of all clients' distances
                       (Sec. 5.2)
``many-to-many``       per-client candidates within the threshold of that client's
                       optimum, covered by a minimum hitting set (Sec. 5.3)
``sticky``             Bhattacherjee et al.'s Sticky as in Komet's artifact: an
                       oracle that holds a satellite for as long as it stays within
                       10 % of the optimum
=====================  ==========================================================

The exact rules, and where they follow the paper's artifact, are in docs/komet.md.
"""
from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Optional, Protocol, Tuple

import numpy as np

from ..errors import ConfigError
from .hitting_set import exact_hitting_set, greedy_hitting_set

STRATEGIES = ("minmax", "minmax-many", "one-to-one", "many-to-one", "many-to-many", "sticky")
AGGREGATES = ("rms", "sum")
TIE_BREAKS = ("ever", "current")
SOLVERS = ("greedy", "exact")
#: Komet's default threshold (Sec. 5: "at least 10 % better"), also Sticky's band
DEFAULT_THRESHOLD = 0.10
#: Sticky keeps this many longest-staying candidates before choosing the nearest (artifact)
STICKY_CANDIDATES = 5

_ABSOLUTE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(us|µs|ms)\s*$")
_PERCENT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*%\s*$")


# ----------------------------------------------------------------------------- thresholds

@dataclass(frozen=True)
class Threshold:
    """A relative (``relative`` = 0.1 for 10 %) or absolute (``absolute_us``, one-way
    microseconds) margin. Exactly one of the two is used."""

    relative: Optional[float] = DEFAULT_THRESHOLD
    absolute_us: Optional[float] = None

    @classmethod
    def parse(cls, value, where: str = "threshold") -> "Threshold":
        """0.1, "10%", "500us" / "500 µs", "0.5ms": numbers are fractions, units make
        it absolute (one way: the paper's "1 ms" one-to-one threshold is 500 us)."""
        if isinstance(value, Threshold):
            return value
        fix = 'write a fraction (0.1), a percentage ("10%") or a one-way delay ("500us", "1ms")'
        if isinstance(value, bool):
            raise ConfigError(where, value, "is not a threshold", fix)
        if isinstance(value, (int, float)):
            if not math.isfinite(value) or value < 0:
                raise ConfigError(where, value, "must be a fraction >= 0", fix)
            return cls(relative=float(value))
        if isinstance(value, str):
            m = _PERCENT.match(value)
            if m:
                return cls(relative=float(m.group(1)) / 100.0)
            m = _ABSOLUTE.match(value)
            if m:
                scale = 1000.0 if m.group(2) == "ms" else 1.0
                return cls(relative=None, absolute_us=float(m.group(1)) * scale)
        raise ConfigError(where, value, "is not a threshold", fix)

    @property
    def is_absolute(self) -> bool:
        return self.absolute_us is not None

    def better(self, new: float, current: float) -> bool:
        """Hysteresis: is ``new`` enough better than ``current`` to switch? Strict, as in
        the artifact: new < (1 - theta) * current, or new < current - delta."""
        if self.is_absolute:
            return new < current - self.absolute_us
        return new < (1.0 - self.relative) * current

    def within(self, values: np.ndarray, best: np.ndarray) -> np.ndarray:
        """Candidate mask: values < (1 + theta) * best, or values - delta < best."""
        return values < self.limit(best)

    def limit(self, best: np.ndarray) -> np.ndarray:
        """The bound a candidate must stay strictly below: (1 + theta) * best, or
        best + delta (the same test as values - delta < best for the whole-microsecond
        distances of a trace)."""
        if self.is_absolute:
            return best + self.absolute_us
        return best * (1.0 + self.relative)

    def __str__(self) -> str:
        if self.is_absolute:
            return f"{self.absolute_us:g}us"
        return f"{100.0 * self.relative:g}%"


# ----------------------------------------------------------------------------- interface

@dataclass(frozen=True)
class StepInput:
    """One step as a strategy sees it."""

    index: int                       #: step number (0 at the first step of the run)
    offset_s: float                  #: seconds since the scenario start
    delay_us: np.ndarray             #: (C, N) one-way client-satellite distance, ``inf``: unreachable
    eligible: Optional[np.ndarray] = None  #: (N,) satellites allowed to serve (None: all)

    def masked(self) -> np.ndarray:
        """``delay_us`` with ineligible satellites at ``inf`` (no copy without a mask)."""
        if self.eligible is None:
            return self.delay_us
        return np.where(self.eligible[None, :], self.delay_us, np.inf)


class Forecast(Protocol):
    """The future as a strategy may read it: a simulator's trace, or a live scheduler's
    prediction from the orbits. Indices are step numbers as in :class:`StepInput`."""

    def delays_at(self, index: int) -> Optional[np.ndarray]:
        """(C, N) one-way distances (us) at a step, None beyond the forecast."""

    def eligible_at(self, index: int) -> Optional[np.ndarray]:
        """(N,) eligible satellites at a step (None: all)."""

    def satellite_delays(self, index: int, source: int) -> np.ndarray:
        """(N,) one-way path delay (us) from satellite ``source`` to every satellite."""


class Strategy(ABC):
    """A server-selection strategy. Call :meth:`reset` once, then :meth:`step` for
    every step in time order."""

    #: the strategy's name (one of :data:`STRATEGIES`)
    name: str = ""
    #: True when one satellite serves every client (one-to-one, many-to-one)
    shared: bool = True

    def reset(self, num_clients: int, num_satellites: int) -> None:
        """Forget all state, for a run with these dimensions."""
        self.num_clients = num_clients
        self.num_satellites = num_satellites

    @abstractmethod
    def step(self, now: StepInput, forecast: Optional[Forecast] = None) -> np.ndarray:
        """The serving satellite of each client, shape (C,), -1 where none can serve."""

    def label(self) -> str:
        """A short description for tables, e.g. ``many-to-one 10% (rms)``."""
        return self.name


def _none(num_clients: int) -> np.ndarray:
    return np.full(num_clients, -1, dtype=np.int32)


def aggregate_scores(delay_us: np.ndarray, aggregate: str) -> np.ndarray:
    """Per-satellite score over clients, in float64: the root of the summed squares
    (``rms``; the 1/C factor changes no comparison and is left out, as in the
    artifact's simulation) or the plain sum (``sum``, MinMax's "lowest sum")."""
    d = np.asarray(delay_us, dtype=np.float64)
    if aggregate == "rms":
        return np.sqrt(np.einsum("cn,cn->n", d, d))
    return d.sum(axis=0)


# ----------------------------------------------------------------------------- MinMax

class MinMax(Strategy):
    """Bhattacherjee et al.'s MinMax: the best satellite at every step, no hysteresis.
    One satellite for all clients, the one with the lowest summed distance."""

    name = "minmax"
    shared = True

    def step(self, now: StepInput, forecast: Optional[Forecast] = None) -> np.ndarray:
        scores = aggregate_scores(now.masked(), "sum")
        best = int(np.argmin(scores))
        if not np.isfinite(scores[best]):
            return _none(len(now.delay_us))
        return np.full(len(now.delay_us), best, dtype=np.int32)


class MinMaxMany(Strategy):
    """MinMax for many-to-many: every client its own closest satellite."""

    name = "minmax-many"
    shared = False

    def step(self, now: StepInput, forecast: Optional[Forecast] = None) -> np.ndarray:
        d = now.masked()
        best = np.argmin(d, axis=1).astype(np.int32)
        best[~np.isfinite(d[np.arange(len(d)), best])] = -1
        return best


# ----------------------------------------------------------------------------- hysteresis

class Hysteresis(Strategy):
    """One-to-one (Sec. 5.1) and many-to-one (Sec. 5.2).

    The score of a satellite is the client's distance (one client) or the aggregate
    over all clients (RMS by default). With nothing assigned, take the best; after
    that switch to the best only if ``threshold.better(best, current)``. A current
    satellite that becomes unreachable or ineligible scores ``inf`` and is left.
    """

    shared = True

    def __init__(self, threshold: Threshold | float | str = DEFAULT_THRESHOLD, aggregate: str = "rms",
                 single_client: bool = False):
        self.threshold = Threshold.parse(threshold)
        if not self.threshold.is_absolute and not 0.0 <= self.threshold.relative < 1.0:
            raise ConfigError("threshold", self.threshold.relative, "a switching threshold must be below 100 %",
                              "use e.g. 0.1 (10 %)")
        if aggregate not in AGGREGATES:
            raise ConfigError("aggregate", aggregate, "unknown aggregate", "use " + " or ".join(AGGREGATES))
        self.aggregate = aggregate
        self.single_client = single_client
        self.name = "one-to-one" if single_client else "many-to-one"
        self.current = -1

    def reset(self, num_clients: int, num_satellites: int) -> None:
        if self.single_client and num_clients != 1:
            raise ConfigError("clients", num_clients, "one-to-one serves exactly one client",
                              "name one client, or use many-to-one")
        super().reset(num_clients, num_satellites)
        self.current = -1

    def step(self, now: StepInput, forecast: Optional[Forecast] = None) -> np.ndarray:
        scores = aggregate_scores(now.masked(), self.aggregate)
        best = int(np.argmin(scores))
        if np.isfinite(scores[best]) and (self.current < 0 or self.threshold.better(scores[best],
                                                                                    scores[self.current])):
            self.current = best
        return np.full(len(now.delay_us), self.current, dtype=np.int32)

    def label(self) -> str:
        agg = "" if self.single_client else f" ({self.aggregate})"
        return f"{self.name} {self.threshold}{agg}"


# ----------------------------------------------------------------------------- many-to-many

class ManyToMany(Strategy):
    """Many-to-many (Sec. 5.3): each client's candidates are the satellites within the
    threshold of its closest one; a hitting set of the candidate sets hosts replicas;
    each client uses the closest replica among its candidates.

    ``tie_break``: hitting-set ties go to satellites that host the service, either
    ``ever`` (every satellite assigned so far: the artifact's simulation) or
    ``current`` (the previous step's replicas: what a live deployment holds).
    ``solver``: ``greedy`` (the paper) or ``exact`` (a minimum set, by integer
    programming). ``max_replicas`` stops the greedy set early (the artifact's
    ``ManyToManyFixed``); clients left uncovered use their closest replica.
    There is no hysteresis across steps, as in the paper.
    """

    name = "many-to-many"
    shared = False

    def __init__(self, threshold: Threshold | float | str = DEFAULT_THRESHOLD, tie_break: str = "ever",
                 solver: str = "greedy", max_replicas: Optional[int] = None):
        self.threshold = Threshold.parse(threshold)
        if tie_break not in TIE_BREAKS:
            raise ConfigError("tie_break", tie_break, "unknown tie break", "use " + " or ".join(TIE_BREAKS))
        if solver not in SOLVERS:
            raise ConfigError("hitting_set", solver, "unknown solver", "use " + " or ".join(SOLVERS))
        if max_replicas is not None and (isinstance(max_replicas, bool) or not isinstance(max_replicas, int)
                                         or max_replicas < 1):
            raise ConfigError("max_replicas", max_replicas, "must be a whole number >= 1", "write e.g. 5, or omit it")
        if max_replicas is not None and solver == "exact":
            raise ConfigError("max_replicas", max_replicas, "only applies to the greedy hitting set",
                              "drop max_replicas or use hitting_set: greedy")
        self.tie_break = tie_break
        self.solver = solver
        self.max_replicas = max_replicas
        self.deployed = np.zeros(0, bool)

    def reset(self, num_clients: int, num_satellites: int) -> None:
        super().reset(num_clients, num_satellites)
        self.deployed = np.zeros(num_satellites, bool)

    def step(self, now: StepInput, forecast: Optional[Forecast] = None) -> np.ndarray:
        d = now.masked()
        limit = self.threshold.limit(d.min(axis=1))            # per client; inf if it sees nothing
        # Only columns below the loosest client limit can be anyone's candidate: find them
        # with one pass over the (C, N) matrix, then work on those few.
        cols = np.flatnonzero(d.min(axis=0) < limit[np.isfinite(limit)].max(initial=-np.inf))
        candidates = d[:, cols] < limit[:, None]
        keep = candidates.any(axis=0)
        cols, candidates = cols[keep], candidates[:, keep]
        out = _none(len(d))
        if not len(cols):
            if self.tie_break == "current":
                self.deployed[:] = False
            return out
        m = candidates
        cost = d[:, cols]
        preferred = self.deployed[cols]
        if self.solver == "exact":
            chosen = exact_hitting_set(m, preferred)
        else:
            chosen = greedy_hitting_set(m, preferred, cost, self.max_replicas)
        # Each client: its closest chosen candidate; if none (max_replicas), its closest replica.
        sub_cost = cost[:, chosen]
        pick = np.argmin(np.where(m[:, chosen], sub_cost, np.inf), axis=1)
        uncovered = ~m[:, chosen].any(axis=1)
        if uncovered.any():
            pick[uncovered] = np.argmin(sub_cost[uncovered], axis=1)
        served = np.isfinite(sub_cost[np.arange(len(d)), pick])
        out[served] = cols[chosen][pick[served]]
        if self.tie_break == "current":
            self.deployed[:] = False
        self.deployed[out[served]] = True
        return out

    def label(self) -> str:
        extra = "" if self.solver == "greedy" else f" ({self.solver})"
        if self.max_replicas:
            extra += f" (max {self.max_replicas})"
        return f"{self.name} {self.threshold}{extra}"


# ----------------------------------------------------------------------------- Sticky

class Sticky(Strategy):
    """Sticky (Bhattacherjee et al. 2020) as Komet's artifact implements it for
    many-to-one, an oracle over the forecast:

    1. at the first step, take the MinMax satellite (lowest summed distance);
    2. at each decision step, the candidates are the satellites whose summed distance
       is at most ``(1 + band)`` times the lowest;
    3. for each, count the steps it stays within that band (looking ahead);
    4. keep the ``candidates`` longest-staying ones (stable: ties by index);
    5. take the one nearest (satellite-to-satellite path delay) to the satellite
       serving at the previous step; hold it while it stays in the band, then decide
       again.
    """

    name = "sticky"
    shared = True

    def __init__(self, band: Threshold | float | str = DEFAULT_THRESHOLD, candidates: int = STICKY_CANDIDATES,
                 lookahead_steps: Optional[int] = None):
        self.band = Threshold.parse(band, "threshold")
        if self.band.is_absolute:
            raise ConfigError("threshold", str(self.band), "Sticky's band is relative", "use e.g. 0.1 (10 %)")
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
            raise ConfigError("candidates", candidates, "must be a whole number >= 1", "write e.g. 5")
        self.candidates = candidates
        self.lookahead_steps = lookahead_steps
        self.current = -1
        self.hold_until = -1
        self._bands: Dict[int, Optional[np.ndarray]] = {}

    def reset(self, num_clients: int, num_satellites: int) -> None:
        super().reset(num_clients, num_satellites)
        self.current, self.hold_until = -1, -1
        self._bands = {}

    def _in_band(self, scores: np.ndarray) -> np.ndarray:
        return scores <= scores.min() * (1.0 + self.band.relative)

    def _band_at(self, forecast: Forecast, index: int) -> Optional[np.ndarray]:
        if index not in self._bands:
            d = forecast.delays_at(index)
            if d is None:
                self._bands[index] = None
            else:
                eligible = forecast.eligible_at(index)
                if eligible is not None:
                    d = np.where(eligible[None, :], d, np.inf)
                self._bands[index] = self._in_band(aggregate_scores(d, "sum"))
        return self._bands[index]

    def step(self, now: StepInput, forecast: Optional[Forecast] = None) -> np.ndarray:
        if now.index < self.hold_until:
            return np.full(len(now.delay_us), self.current, dtype=np.int32)
        scores = aggregate_scores(now.masked(), "sum")
        if not np.isfinite(scores.min()):
            return np.full(len(now.delay_us), self.current, dtype=np.int32)
        if self.current < 0:
            self.current, self.hold_until = int(np.argmin(scores)), now.index + 1
            return np.full(len(now.delay_us), self.current, dtype=np.int32)
        if forecast is None:
            raise ConfigError("strategy", "sticky", "needs a forecast of the coming steps (it is an oracle)",
                              "run it over a whole trace (not streamed), or give the scheduler a forecast")
        for old in [i for i in self._bands if i <= now.index]:
            del self._bands[old]
        in_band = np.flatnonzero(self._in_band(scores))
        stays = np.ones(len(in_band), dtype=np.int64)
        alive = np.ones(len(in_band), bool)
        k = 1
        while alive.any() and (self.lookahead_steps is None or k < self.lookahead_steps):
            band = self._band_at(forecast, now.index + k)
            if band is None:          # end of the forecast: the survivors stay until then
                break
            alive &= band[in_band]
            stays += alive
            k += 1
        order = np.argsort(-stays, kind="stable")[:self.candidates]
        top = in_band[order]
        hop = forecast.satellite_delays(now.index, self.current)[top]
        choice = int(np.argmin(hop))
        self.current = int(top[choice])
        self.hold_until = now.index + int(stays[order[choice]])
        return np.full(len(now.delay_us), self.current, dtype=np.int32)

    def label(self) -> str:
        return f"sticky {self.band}"


# ----------------------------------------------------------------------------- replication

def replication_sources(before: Iterable[int], now: Iterable[int],
                        satellite_delays: Callable[[int], np.ndarray]) -> Dict[int, int]:
    """Where each newly selected satellite copies the service's state from (Sec. 5.3,
    the artifact's ``deploy_functions``): the satellite running the service before
    that is closest to it by path delay (``satellite_delays(s)``: (N,) from ``s``).
    Several new satellites may share a source. Empty when nothing ran before (the
    first deployment creates the state)."""
    running = sorted({int(s) for s in before if s >= 0})
    sources: Dict[int, int] = {}
    if not running:
        return sources
    for new in sorted({int(s) for s in now if s >= 0} - set(running)):
        d = np.asarray(satellite_delays(new))[running]
        sources[new] = running[int(np.argmin(d))]
    return sources


# ----------------------------------------------------------------------------- factory

def make_strategy(name: str, threshold=None, aggregate: str = "rms", tie_break: str = "ever",
                  hitting_set: str = "greedy", max_replicas: Optional[int] = None,
                  candidates: int = STICKY_CANDIDATES) -> Strategy:
    """A strategy by name (see :data:`STRATEGIES`); ``threshold`` defaults to 10 %."""
    thr = Threshold.parse(DEFAULT_THRESHOLD if threshold is None else threshold)
    if name == "minmax":
        return MinMax()
    if name == "minmax-many":
        return MinMaxMany()
    if name in ("one-to-one", "many-to-one"):
        return Hysteresis(thr, aggregate, single_client=name == "one-to-one")
    if name == "many-to-many":
        return ManyToMany(thr, tie_break, hitting_set, max_replicas)
    if name == "sticky":
        return Sticky(thr, candidates)
    from difflib import get_close_matches
    close = get_close_matches(str(name), STRATEGIES, n=1)
    raise ConfigError("strategy", name, "unknown strategy",
                      f"did you mean {close[0]!r}?" if close else "use one of " + ", ".join(STRATEGIES))


def strategy_names() -> Tuple[str, ...]:
    return STRATEGIES
