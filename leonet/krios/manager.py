"""The LEO zones manager (Krios §5.1): a zone's membership is not a table kept up to
date every tick but three questions answered on demand from the satellites' orbits:

* :meth:`ZoneManager.members` (``get_zone_nodes``): which satellites are in the
  zone's projected region at a time;
* :meth:`ZoneManager.best` (``get_best_node``): which of them to place on, by policy;
* :meth:`ZoneManager.exit_time` (``node_leaving_zone``): when a satellite leaves the
  region, found as the root of its elevation margin (SGP4 at every evaluation,
  bracketed on a coarse grid, then on a fine one, placed by interpolation and checked
  to ``EXIT_TOLERANCE_S``);

plus :meth:`ZoneManager.passes`: which satellites enter next, and when they leave.
Times are offsets in seconds from the constellation's start; positions are SGP4's,
rotated into the Earth-fixed frame (the zone turns with the Earth).

A scheduler deciding a burst of pods asks :meth:`~ZoneManager.members` and
:meth:`~ZoneManager.scores` for many zones within the same second; with ``knot_s``
the manager propagates every satellite once per ``knot_s`` and advances the positions
linearly with their Earth-fixed velocities within it (off by at most
``a dt^2 / 2``, under 6 m at 1 s: gravity plus the Coriolis term of the rotating
frame), so a decision costs a membership test instead of an SGP4 run of the shell.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import brentq

from ..orbits import Constellation
from ..orbits.propagation import Propagator
from .policies import POLICIES, score
from .zones import Zone

#: exit and entry times are found to this precision (s)
EXIT_TOLERANCE_S = 1e-3
#: coarse grid that brackets an exit: far below the shortest pass through a region
BRACKET_STEP_S = 10.0
#: a crossing bracketed on the coarse grid is narrowed on this many fine steps, then interpolated
ROOT_GRID_STEPS = 100
#: how far ahead an exit is looked for (s); a LEO satellite crosses any region within minutes
EXIT_HORIZON_S = 3 * 3600.0
#: a satellite about to enter the region within this long counts as on its pass
#: (``pass_exit_time``): a clock that re-synchronised backwards, or a decision made a
#: moment later than the tracking, must not make a just-chosen satellite look gone
ENTERING_GRACE_S = 60.0


@dataclass(frozen=True)
class Pass:
    """A satellite's stay in a zone's region: ``enter_s`` (the query time when it is
    already inside) to ``exit_s`` (inf when it does not leave within the horizon)."""

    satellite: int
    name: str
    enter_s: float
    exit_s: float

    @property
    def dwell_s(self) -> float:
        return self.exit_s - self.enter_s


class ZoneManager:
    """Answers zone questions for the satellites of ``constellation`` (or the subset
    ``satellites``, e.g. the nodes of a cluster). Satellite ids are constellation
    indices throughout."""

    def __init__(self, constellation: Constellation, satellites: Optional[Sequence[int]] = None,
                 knot_s: Optional[float] = None):
        if knot_s is not None and not knot_s > 0:
            raise ValueError(f"knot_s must be positive, not {knot_s!r}")
        self.constellation = constellation
        self.knot_s = knot_s
        self._knot: Optional[Tuple[float, np.ndarray, np.ndarray]] = None   # (offset, ECEF, Earth-fixed velocity)
        self.ids = np.arange(constellation.num_satellites) if satellites is None \
            else np.asarray(sorted(set(int(s) for s in satellites)), dtype=int)
        self.names = [constellation.satellites[i].name for i in self.ids]
        self._row = {int(s): k for k, s in enumerate(self.ids)}
        self._all = Propagator([constellation.satrecs[i] for i in self.ids], constellation.start)
        self._one: Dict[int, Propagator] = {}

    # ------------------------------------------------------------------ propagation
    def _single(self, sat: int) -> Propagator:
        p = self._one.get(sat)
        if p is None:
            p = self._one[sat] = Propagator([self.constellation.satrecs[sat]], self.constellation.start)
        return p

    def _knot_state(self, t: float) -> Tuple[float, np.ndarray, np.ndarray]:
        """The state of every managed satellite at the knot at or before ``t`` (cached)."""
        knot = math.floor(t / self.knot_s) * self.knot_s
        if self._knot is None or self._knot[0] != knot:
            pos, vel = self._all.ecef_with_velocity([knot])
            self._knot = (knot, pos[:, 0, :], vel[:, 0, :])
        return self._knot

    def positions(self, t: float) -> np.ndarray:
        """ECEF km of the managed satellites at offset ``t``, (N, 3)."""
        if self.knot_s is not None:
            knot, pos, vel = self._knot_state(float(t))
            return pos + vel * (float(t) - knot)
        return self._all.ecef_at(float(t))

    def state(self, t: float, sats: Optional[Sequence[int]] = None):
        """(ECEF positions, Earth-fixed velocities) at ``t``, each (n, 3)."""
        if self.knot_s is not None and (sats is None or all(int(s) in self._row for s in sats)):
            knot, pos, vel = self._knot_state(float(t))
            rows = slice(None) if sats is None else [self._row[int(s)] for s in sats]
            return pos[rows] + vel[rows] * (float(t) - knot), vel[rows]
        if sats is None:
            pos, vel = self._all.ecef_with_velocity([float(t)])
        else:
            prop = Propagator([self.constellation.satrecs[int(s)] for s in sats], self.constellation.start)
            pos, vel = prop.ecef_with_velocity([float(t)])
        return pos[:, 0, :], vel[:, 0, :]

    def margin(self, zone: Zone, sat: int, t) -> np.ndarray:
        """Elevation margin (deg) of one satellite at offsets ``t`` (>= 0: in the region)."""
        pos = self._single(int(sat)).ecef(np.atleast_1d(np.asarray(t, dtype=float)))[0]
        return zone.margin_deg(pos)

    # ------------------------------------------------------------------ the three functions
    def members(self, zone: Zone, t: float, exclude: Sequence[int] = ()) -> np.ndarray:
        """``get_zone_nodes``: managed satellites in the region at ``t`` (ids), minus ``exclude``."""
        pos = self.positions(t)
        near = np.flatnonzero(zone.near(pos))
        ids = self.ids[near[zone.contains(pos[near])]]
        if len(exclude):
            ids = ids[~np.isin(ids, np.asarray(list(exclude), dtype=int))]
        return ids

    def best(self, zone: Zone, t: float, candidates: Sequence[int], policy: str = "krios",
             rng: Optional[np.random.Generator] = None) -> Optional[int]:
        """``get_best_node``: the candidate the policy prefers at ``t`` (None if none)."""
        cands = np.asarray(list(candidates), dtype=int)
        if not len(cands):
            return None
        scores = self.scores(zone, t, cands, policy, rng)
        return int(cands[int(np.argmax(scores))])

    def scores(self, zone: Zone, t: float, candidates: Sequence[int], policy: str = "krios",
               rng: Optional[np.random.Generator] = None) -> np.ndarray:
        """Each candidate's score under ``policy`` (higher is better)."""
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}")
        cands = np.asarray(list(candidates), dtype=int)
        if policy == "longest" or (policy == "krios" and zone.polygon is not None):
            # Remaining access time, predicted: the paper's method for non-circular zones.
            return np.array([self.exit_time(zone, int(s), t) - t for s in cands])
        pos, vel = self.state(t, cands)
        return score(policy, zone, pos, vel, rng)

    def exit_time(self, zone: Zone, sat: int, t: float, horizon_s: float = EXIT_HORIZON_S) -> float:
        """``node_leaving_zone``: the offset at which ``sat`` leaves the region, to
        ``EXIT_TOLERANCE_S``. ``t`` itself if it is not inside at ``t``; inf if it
        stays beyond the horizon."""
        # the search grid starts at t: a satellite outside at t is found there at once
        return self._crossing(zone, int(sat), float(t), horizon_s, leaving=True)

    def pass_exit_time(self, zone: Zone, sat: int, t: float, entering_within_s: float = ENTERING_GRACE_S) -> float:
        """When ``sat`` leaves the region at the end of its current pass, or of the pass
        it begins within ``entering_within_s``; ``t`` if it is on neither."""
        exit_s = self.exit_time(zone, sat, t)
        if exit_s > t:
            return exit_s
        entry = self.entry_time(zone, sat, t, horizon_s=entering_within_s)
        if not entry - t <= entering_within_s:
            return float(t)
        return self.exit_time(zone, sat, entry + EXIT_TOLERANCE_S)

    def entry_time(self, zone: Zone, sat: int, t: float, horizon_s: float = EXIT_HORIZON_S) -> float:
        """When ``sat`` next enters the region (``t`` if it is inside; inf if not within the horizon)."""
        sat = int(sat)
        if self.margin(zone, sat, t)[0] >= 0:
            return float(t)
        return self._crossing(zone, sat, float(t), horizon_s, leaving=False)

    def entered_at(self, zone: Zone, sat: int, t: float, horizon_s: float = EXIT_HORIZON_S) -> float:
        """When ``sat``, inside the region at ``t``, entered it (searching backwards)."""
        sat = int(sat)
        if not self.margin(zone, sat, t)[0] >= 0:
            return float(t)
        hi = float(t)
        while t - hi < horizon_s:
            grid = hi - BRACKET_STEP_S * np.arange(61)
            inside = np.nan_to_num(self.margin(zone, sat, grid), nan=-90.0) >= 0
            hits = np.flatnonzero(~inside)
            if len(hits):
                k = int(hits[0])
                return self._root(zone, sat, grid[k], grid[k - 1])
            hi = float(grid[-1])
        return float("-inf")

    def _crossing(self, zone: Zone, sat: int, t: float, horizon_s: float, leaving: bool) -> float:
        lo = t
        while lo - t < horizon_s:
            grid = lo + BRACKET_STEP_S * np.arange(61)
            inside = np.nan_to_num(self.margin(zone, sat, grid), nan=-90.0) >= 0
            hits = np.flatnonzero(~inside if leaving else inside)
            if len(hits):
                k = int(hits[0])
                return float(grid[0]) if k == 0 else self._root(zone, sat, grid[k - 1], grid[k])
            lo = float(grid[-1])
        return float("inf")

    def _root(self, zone: Zone, sat: int, a: float, b: float) -> float:
        """The boundary crossing between ``a`` and ``b`` (margins of opposite signs), to
        ``EXIT_TOLERANCE_S``: a fine grid (:data:`ROOT_GRID_STEPS`) brackets the first
        crossing, linear interpolation places it, and the margins ``EXIT_TOLERANCE_S / 2``
        either side of that guess confirm it (three vectorised evaluations instead of
        Brent's method's ten scalar ones; Brent's method within the fine bracket when the
        check fails, e.g. a grazing pass)."""
        grid = np.linspace(float(a), float(b), ROOT_GRID_STEPS + 1)
        margin = np.nan_to_num(self.margin(zone, sat, grid), nan=-90.0)
        inside = margin >= 0
        k = int(np.flatnonzero(inside != inside[0])[0])
        lo, hi = float(grid[k - 1]), float(grid[k])
        guess = lo + (hi - lo) * float(margin[k - 1] / (margin[k - 1] - margin[k]))
        half = EXIT_TOLERANCE_S / 2
        check = np.nan_to_num(self.margin(zone, sat, [guess - half, guess + half]), nan=-90.0) >= 0
        if check[0] == inside[k - 1] and check[1] == inside[k]:
            return guess
        f = lambda x: float(np.nan_to_num(self.margin(zone, sat, x)[0], nan=-90.0))  # noqa: E731
        return float(brentq(f, lo, hi, xtol=EXIT_TOLERANCE_S))

    def passes(self, zone: Zone, t: float, horizon_s: float, step_s: float = BRACKET_STEP_S) -> List[Pass]:
        """Every managed satellite's stay in the region that is under way at ``t`` or
        begins within ``horizon_s``, ordered by entry; entries and exits refined to
        ``EXIT_TOLERANCE_S`` (stays shorter than ``step_s`` between grid points can be
        missed)."""
        grid = t + step_s * np.arange(int(np.ceil(horizon_s / step_s)) + 1)
        inside = np.zeros((len(self.ids), len(grid)), dtype=bool)
        for k0 in range(0, len(grid), 256):
            part = grid[k0:k0 + 256]
            pos = self._all.ecef(part)                                 # (N, T, 3)
            inside[:, k0:k0 + len(part)] = zone.contains(pos)
        out: List[Pass] = []
        for row, sat in enumerate(self.ids):
            col = inside[row]
            if not col.any():
                continue
            starts = np.flatnonzero(col & ~np.concatenate(([False], col[:-1])))
            for k in starts:
                enter = float(grid[0]) if k == 0 else self._root(zone, int(sat), grid[k - 1], grid[k])
                leave = self.exit_time(zone, int(sat), float(grid[k]))
                out.append(Pass(int(sat), self.constellation.satellites[int(sat)].name, enter, leave))
        out.sort(key=lambda p: (p.enter_s, p.satellite))
        return out

    def membership(self, zone: Zone, offsets_s: Sequence[float], knot_step_s: Optional[float] = 60.0) -> np.ndarray:
        """(N, T) in-region booleans at many offsets (Hermite-interpolated positions,
        sub-metre at 60 s knots, unless ``knot_step_s`` is None)."""
        offsets = np.asarray(offsets_s, dtype=float)
        out = np.zeros((len(self.ids), len(offsets)), dtype=bool)
        for k0 in range(0, len(offsets), 600):
            part = offsets[k0:k0 + 600]
            pos = self._all.ecef(part) if knot_step_s is None else self._all.ecef_interpolated(part, knot_step_s)
            out[:, k0:k0 + len(part)] = zone.contains(pos)
        return out
