"""The exhaustive-optimal baseline: the k stations that minimise ``Evaluate`` exactly.

Enumerating all C(M, k) subsets (2.5e10 for k = 5 of 316) is out of reach, so the
search is pruned without giving up optimality:

* **Decision by set cover.** For a threshold D, a placement with
  ``Evaluate <= D`` exists iff k stations cover every (snapshot, satellite)
  element, where g covers e when ``metric[e, g] <= D``. Before searching, a
  station whose covered elements are a subset of another's is dropped, and an
  element whose covering stations are a superset of another element's is
  dropped (covering the other covers it). A depth-first search then branches on
  the stations covering the hardest uncovered element (fewest stations);
  stations tried in an earlier sibling branch are excluded later, so no subset
  is visited twice; a branch is cut when more uncovered elements with pairwise
  disjoint station sets remain than stations left to place. Sets are Python
  integers used as bitsets.
* **Bisection** over the distinct metric values finds the smallest feasible D
  (to ``tolerance``; 0 means exactly).
* **Row generation.** The optimum is set by a few critical elements, so the
  search starts from the worst elements of a known placement, solves that
  subproblem, checks the answer on every element and adds violated elements
  (the worst overall and the worst of each snapshot) until the subproblem's
  optimum holds for the whole period. A subproblem's optimum is a lower bound of
  the full one, so the final answer is optimal.

* **Solvers.** ``solver="dfs"`` decides each set cover by the search above;
  ``"milp"`` by an integer program (HiGHS, :mod:`.cover_milp`), whose LP bound
  proves the hard infeasible thresholds near the optimum of large instances;
  ``"hybrid"`` tries the search with a small node budget first. All are exact.
  Each round's bisection starts at the previous round's proven bound.

``brute_force`` enumerates every subset and is kept for tests on tiny instances.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import List, Optional, Protocol, Sequence, Tuple

import numpy as np

from .objective import check_metric, evaluate, nearest, scores_with_each


class SearchLimit(Exception):
    """The exact search exceeded its node or time budget."""


def brute_force(metric: np.ndarray, k: int) -> Tuple[List[int], float]:
    """Every k-subset of the candidates; the first (lexicographic) best one."""
    metric = check_metric(metric)
    best: Tuple[List[int], float] = ([], math.inf)
    for combo in itertools.combinations(range(metric.shape[1]), k):
        score = evaluate(metric, combo)
        if score < best[1]:
            best = (list(combo), score)
    return best


def _bits(column: np.ndarray) -> int:
    return int.from_bytes(np.packbits(column, bitorder="little").tobytes(), "little")


def _undominated_columns(cover: np.ndarray) -> np.ndarray:
    """Columns (stations) whose set of covered rows is not inside another kept column's."""
    sets = [_bits(cover[:, g]) for g in range(cover.shape[1])]
    order = sorted(range(len(sets)), key=lambda g: (-sets[g].bit_count(), g))
    kept: List[int] = []
    for g in order:
        s = sets[g]
        if s and not any(s & ~sets[h] == 0 for h in kept):
            kept.append(g)
    return np.array(sorted(kept), dtype=np.intp)


def _minimal_rows(cover: np.ndarray) -> np.ndarray:
    """Rows (elements) whose set of covering stations contains no other kept row's set."""
    m, M = cover.shape
    words = -(-M // 64)
    packed = np.zeros((m, words * 8), dtype=np.uint8)
    packed[:, :-(-M // 8)] = np.packbits(cover, axis=1, bitorder="little")
    packed = packed.view(np.uint64)                                  # (m, words)
    counts = cover.sum(axis=1)
    _, first = np.unique(packed, axis=0, return_index=True)           # drop exact duplicates
    order = first[np.argsort(counts[first], kind="stable")]
    kept = np.empty((len(order), words), dtype=np.uint64)
    kept_rows: List[int] = []
    for r in order:
        row = packed[r]
        head = kept[:len(kept_rows)]
        if len(kept_rows) and ((head & row) == head).all(axis=1).any():
            continue                      # a kept row's stations are all among this row's
        kept[len(kept_rows)] = row
        kept_rows.append(int(r))
    return np.array(kept_rows, dtype=np.intp)


def reduced_cover(A: np.ndarray, D: float) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The cover matrix of threshold D without dominated stations and rows:
    (kept station indices, boolean rows x kept stations), or None if a row has no
    station within D."""
    cover = A <= D
    if not cover.any(axis=1).all():
        return None
    stations = _undominated_columns(cover)
    cover = cover[:, stations]
    return stations, cover[_minimal_rows(cover)]


class _CoverSearch:
    """Depth-first set-cover decision on an element x station matrix ``A``."""

    def __init__(self, A: np.ndarray, node_limit: int, deadline: float):
        self.A = A
        self.node_limit = node_limit
        self.deadline = deadline
        self.nodes = 0

    def _tick(self) -> None:
        self.nodes += 1
        if self.nodes > self.node_limit or (self.nodes % 1024 == 0 and time.monotonic() > self.deadline):
            raise SearchLimit(f"stopped after {self.nodes} search nodes")

    def feasible(self, D: float, k: int) -> Optional[List[int]]:
        """k stations covering every row of A within D, or None."""
        reduced = reduced_cover(self.A, D)
        if reduced is None:
            return None
        stations, cover = reduced
        order = np.argsort(cover.sum(axis=1), kind="stable")        # bit i = i-th hardest row
        cover = cover[order]
        self.station_bits = [_bits(cover[:, g]) for g in range(cover.shape[1])]
        self.covering = [np.flatnonzero(r).tolist() for r in cover]
        self.row_sets = [sum(1 << g for g in c) for c in self.covering]
        found = self._dfs((1 << len(order)) - 1, k, 0)
        return None if found is None else [int(stations[g]) for g in found]

    def _disjoint_rows(self, uncovered: int, forbidden: int, need: int) -> bool:
        """Are there ``need`` uncovered rows whose allowed station sets are pairwise disjoint?"""
        used, found, x, scanned = 0, 0, uncovered, 0
        while x and scanned < 64:
            low = x & -x
            x ^= low
            scanned += 1
            s = self.row_sets[low.bit_length() - 1] & ~forbidden
            if s & used == 0:
                used |= s
                found += 1
                if found >= need:
                    return True
        return False

    def _dfs(self, uncovered: int, k: int, forbidden: int) -> Optional[List[int]]:
        if uncovered == 0:
            return []
        if k == 0:
            return None
        self._tick()
        hardest = (uncovered & -uncovered).bit_length() - 1
        options = [g for g in self.covering[hardest] if not (forbidden >> g) & 1]
        if k == 1:
            for g in options:
                if uncovered & ~self.station_bits[g] == 0:
                    return [g]
            return None
        if self._disjoint_rows(uncovered, forbidden, k + 1):
            return None
        # Stations covering the most still-uncovered rows first: finds covers sooner.
        options.sort(key=lambda g: -(uncovered & self.station_bits[g]).bit_count())
        for g in options:
            found = self._dfs(uncovered & ~self.station_bits[g], k - 1, forbidden)
            if found is not None:
                return [g] + found
            forbidden |= 1 << g  # every subset with g was just examined
        return None


class CoverDecider(Protocol):
    """A set-cover decision procedure on the element x station matrix ``A``."""

    A: np.ndarray
    nodes: int

    def feasible(self, D: float, k: int) -> Optional[List[int]]: ...


def _solve_subproblem(A: np.ndarray, k: int, upper: Sequence[int], search: CoverDecider,
                      tolerance: float, floor: float = -math.inf) -> Tuple[List[int], float, float]:
    """Min over k-subsets of max over rows of min over the subset, for A (m, M).

    Returns (selection, its score, lower bound); score - lower bound <= tolerance,
    and the lower bound equals the score when the search is exact. ``floor`` is a
    known lower bound (a previous round's, on a subset of these rows).
    """
    best = list(upper)
    best_score = float(A[:, best].min(axis=1).max())
    # no placement beats the best station for each element, nor the optimum on fewer rows
    lower = max(float(A.min(axis=1).max()), floor)
    values = np.unique(A[(A >= lower) & (A < best_score)])
    lo, hi = 0, len(values)              # the optimum is values[i] for some i in [lo, hi], hi = best
    lower_bound = lower
    while lo < hi:
        if tolerance > 0 and best_score - (values[lo - 1] if lo else lower) <= tolerance:
            break
        mid = (lo + hi) // 2
        found = search.feasible(float(values[mid]), k)
        if found is None:
            lo = mid + 1
            lower_bound = float(values[mid])
        else:
            best = sorted(found)
            best_score = float(A[:, best].min(axis=1).max())
            hi = int(np.searchsorted(values, best_score, side="left"))
    if lo >= hi:
        lower_bound = best_score
    return best, best_score, lower_bound


@dataclass
class ExactResult:
    selection: List[int]
    score: float           #: Evaluate over all snapshots of ``selection``
    lower_bound: float     #: no placement scores below this (== score unless a tolerance was given)
    rounds: int            #: row-generation rounds
    elements: int          #: elements in the final subproblem
    nodes: int             #: search-tree nodes visited
    seconds: float


#: the set-cover decision procedures :func:`optimal_placement` can use
SOLVERS = ("dfs", "milp", "hybrid")


def optimal_placement(metric: np.ndarray, k: int, initial: Sequence[int],
                      batch: int = 1000, tolerance: float = 0.0, node_limit: int = 20_000_000,
                      time_limit_s: Optional[float] = None, solver: str = "dfs") -> ExactResult:
    """The optimal k stations for ``Evaluate`` over all snapshots.

    ``initial`` is any k-selection (e.g. the CNPA result); it seeds the elements
    and the upper bound. With ``tolerance > 0`` the bisection stops once the
    optimum is bracketed that tightly (``lower_bound <= optimum <= score``).
    Raises :class:`SearchLimit` past ``node_limit`` search nodes or
    ``time_limit_s`` seconds.

    ``solver`` decides each set cover: ``"dfs"``, the bitset depth-first search
    above; ``"milp"``, an integer program solved by HiGHS (:mod:`.cover_milp`;
    ``nodes`` then counts branch-and-bound nodes); ``"hybrid"``, the search with
    200,000 nodes per decision, then the integer program (``nodes`` counts both).
    All are exact. OneWeb K = 6 needs ``"milp"`` or ``"hybrid"``.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    metric = check_metric(metric)
    start = time.monotonic()
    deadline = start + time_limit_s if time_limit_s is not None else math.inf
    T, M, N = metric.shape
    if len(initial) != k or len(set(initial)) != k:
        raise ValueError("initial must hold k distinct candidates")
    current = [int(g) for g in initial]
    if k == 1:  # one pass over the candidates is exact and cheaper than any search
        worst, _, mean = scores_with_each(metric)
        g = int(np.lexsort((np.arange(M), mean, worst))[0])
        return ExactResult([g], float(worst[g]), float(worst[g]), 0, T * N, 0, time.monotonic() - start)
    near = nearest(metric, current)
    elements = _worst_elements(near, -np.inf, batch)
    if solver in ("milp", "hybrid"):
        from .cover_milp import CoverMILP, DfsThenMILP   # imports this module's helpers
        search: CoverDecider = (CoverMILP if solver == "milp" else DfsThenMILP)(
            np.empty((0, M)), node_limit, deadline)
    else:
        search = _CoverSearch(np.empty((0, M)), node_limit, deadline)
    rounds = 0
    proven = -math.inf    # each round's rows contain the last round's, so its bound carries over
    while True:
        rounds += 1
        t_idx, s_idx = np.divmod(elements, N)
        search.A = metric[t_idx, :, s_idx]                              # (m, M)
        sub_best, sub_score, sub_lower = _solve_subproblem(search.A, k, current, search, tolerance, proven)
        proven = sub_lower
        near = nearest(metric, sub_best)
        full_score = float(near.max())
        if full_score <= sub_score:
            return ExactResult(sub_best, full_score, sub_lower, rounds, len(elements), search.nodes,
                               time.monotonic() - start)
        current = sub_best
        elements = np.union1d(elements, _new_elements(metric, near, sub_score, batch))


def _new_elements(metric: np.ndarray, near: np.ndarray, above: float, batch: int,
                  cap: int = 200_000) -> np.ndarray:
    """Elements to add after a subproblem answer scored ``above`` on its rows: the
    worst violators (overall and per snapshot) and the violators whose station sets
    at that threshold are minimal (the hardest ones to cover)."""
    N = near.shape[1]
    flat = near.ravel()
    viol = np.flatnonzero(flat > above)
    if len(viol) > cap:
        viol = viol[np.argsort(-flat[viol], kind="stable")[:cap]]
    t_idx, s_idx = np.divmod(viol, N)
    minimal = viol[_minimal_rows(metric[t_idx, :, s_idx] <= above)]
    return np.union1d(minimal, _worst_elements(near, above, batch))


def _worst_elements(near: np.ndarray, above: float, batch: int) -> np.ndarray:
    """Flat (snapshot * N + satellite) indices above ``above``: the ``batch`` worst
    overall plus the worst of every snapshot (so that new rows are spread in time)."""
    T, N = near.shape
    flat = near.ravel()
    over = np.flatnonzero(flat > above)
    top = over[np.argsort(-flat[over], kind="stable")[:batch]]
    per_snapshot = np.arange(T) * N + near.argmax(axis=1)
    per_snapshot = per_snapshot[flat[per_snapshot] > above]
    return np.union1d(top, per_snapshot)
