"""CNPA, refined (ours): Algorithm 1's structure with its two gaps closed.

Measured against the proven optimum (:mod:`.exhaustive`), the paper's Algorithm 1
(:func:`.placement.cnpa`) stops 1-10 ms above it, for two reasons:

1. **The representatives miss the worst snapshots.** k-means picks snapshots that
   are *typical*; ``Evaluate`` is a maximum, set by a few atypical ones. A placement
   that is optimal on the representatives can be much worse on the whole period.
2. **The local search stops on plateaus.** The maximum is set by one satellite, so
   most swaps leave it unchanged and a strict-improvement search ends early.

The refined mode keeps greedy k-center and local search, and adds:

* **Snapshots chosen by the objective** (row generation): after solving on the
  representatives, the placement is evaluated on every snapshot, and the snapshot
  where it is worst is added to the representatives; repeat until the placement's
  score on the representatives equals its score on the whole period (the
  representatives then contain a worst snapshot, so nothing outside them can
  change the answer) or the round cap is reached.
* **Plateau moves** in the local search (a swap that keeps the maximum but lowers the
  count of unreachable pairs or the mean is accepted).
* **Restarts** (iterated local search): once the representatives decide the score,
  up to ``restarts`` times perturb the placement and search again -- alternately
  replacing one station by one of the stations nearest to the satellite and
  snapshot that set the maximum (guided), and one or two stations by random
  candidates; a better placement is checked on the whole period like the first one.
  Deterministic for a given ``seed``.

It remains a heuristic (no optimality proof); docs/results/kubespace.md reports its
distance to the exact optimum over seeds and constellations.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .clustering import DEFAULT_FEATURE_SAMPLE, select_representatives
from .objective import check_metric, evaluate, nearest
from .placement import DEFAULT_MAX_ITERATIONS, _allowed_mask, greedy_k_center, local_search

#: cap on the rounds (each adds a snapshot or accepts a restart's improvement)
DEFAULT_ROUNDS = 60
#: perturbation restarts in all
DEFAULT_RESTARTS = 64


@dataclass
class RefinedPlacement:
    """Result of :func:`cnpa_refined`. Indices refer to the metric's candidate axis."""

    selection: List[int]
    score: float                         #: Evaluate over all snapshots
    snapshots: List[int]                 #: the representatives at the end (k-means ones + added ones)
    rounds: int                          #: rounds run (snapshots added + improvements accepted + 1)
    converged: bool                      #: the score on the representatives equals the full score
    history: List[float] = field(default_factory=list)   #: full score of the best placement after each round
    timings_s: Dict[str, float] = field(default_factory=dict)


def _key(metric: np.ndarray, selection: Sequence[int]) -> Tuple[float, int, float]:
    """Lexicographic quality on ``metric``: max, unreachable pairs, mean."""
    near = nearest(metric, selection)
    finite = np.isfinite(near)
    return float(near.max()), int((~finite).sum()), float(near[finite].mean()) if finite.any() else np.inf


#: a guided perturbation picks among this many stations nearest to the worst satellite
GUIDED_CHOICES = 16


def _perturb(sub: np.ndarray, selection: Sequence[int], pool: np.ndarray, rng: np.random.Generator,
             guided: bool) -> List[int]:
    """``selection`` with one or two stations replaced: by random candidates, or
    (``guided``) by stations near the satellite and snapshot that set the maximum."""
    trial = list(selection)
    free = np.setdiff1d(pool, trial)
    if free.size == 0:
        return trial
    if guided:
        near = nearest(sub, trial)
        t, n = np.unravel_index(int(near.argmax()), near.shape)
        closest = free[np.argsort(sub[t, free, n], kind="stable")[:GUIDED_CHOICES]]
        trial[int(rng.integers(len(trial)))] = int(rng.choice(closest))
        return trial
    for pos in rng.choice(len(trial), size=min(len(trial), int(rng.integers(1, 3))), replace=False):
        free = np.setdiff1d(pool, trial)
        if free.size:
            trial[int(pos)] = int(rng.choice(free))
    return trial


def _search(sub: np.ndarray, start: Sequence[int], allowed: Optional[Sequence[int]],
            max_iterations: int) -> List[int]:
    return local_search(sub, start, max_iterations, allowed, plateau_moves=True).selection


def cnpa_refined(metric: np.ndarray, k: int, clusters: int = 20, seed: int = 0,
                 rounds: int = DEFAULT_ROUNDS, restarts: int = DEFAULT_RESTARTS,
                 max_iterations: int = DEFAULT_MAX_ITERATIONS,
                 feature_sample: Optional[int] = DEFAULT_FEATURE_SAMPLE,
                 allowed: Optional[Sequence[int]] = None) -> RefinedPlacement:
    """Choose ``k`` control nodes among the candidates of ``metric`` (shape (T, M, N),
    see :mod:`.objective`); ``clusters`` k-means representatives to start from."""
    metric = check_metric(metric)
    T, M, _ = metric.shape
    mask = _allowed_mask(M, allowed)
    if not 1 <= k <= mask.sum():
        raise ValueError(f"k must be in [1, {int(mask.sum())}], got {k}")
    rng = np.random.default_rng(seed)
    timings: Dict[str, float] = {}
    t0 = time.perf_counter()
    snaps = sorted(set(int(i) for i in select_representatives(metric, clusters, seed, feature_sample).indices))
    timings["clustering"] = time.perf_counter() - t0
    pool = np.flatnonzero(mask)

    def full_check(selection: List[int]) -> Tuple[float, int, bool]:
        """Score over the whole period, its worst snapshot, and whether that snapshot
        is already a representative (then the representatives decide the score)."""
        per_snapshot = nearest(metric, selection).max(axis=1)
        worst = int(per_snapshot.argmax())
        return float(per_snapshot[worst]), worst, per_snapshot[worst] <= per_snapshot[snaps].max() + 1e-9

    best: Optional[List[int]] = None
    best_full = np.inf
    history: List[float] = []
    converged = False
    rounds_run = 0
    restarts_left = restarts
    t0 = time.perf_counter()
    # Solve on the representatives; while the answer is worse elsewhere, add that snapshot.
    # Restarts run only once the representatives decide the score, and a better placement
    # they find is checked on the whole period again.
    sub = np.ascontiguousarray(metric[snaps])
    starts = [greedy_k_center(sub, k, allowed)]
    candidate = _search(sub, starts[0], allowed, max_iterations)
    while rounds_run < rounds:
        rounds_run += 1
        full, worst, decided = full_check(candidate)
        if full < best_full:
            best, best_full = list(candidate), full
        history.append(best_full)
        if not decided:
            snaps = sorted(set(snaps) | {worst})
            sub = np.ascontiguousarray(metric[snaps])
            starts = [greedy_k_center(sub, k, allowed), list(best)]
            candidate = min((_search(sub, st, allowed, max_iterations) for st in starts),
                            key=lambda sel: _key(sub, sel))
            continue
        converged = True
        improved = None
        while restarts_left > 0 and improved is None:
            restarts_left -= 1
            trial = _perturb(sub, candidate, pool, rng, guided=restarts_left % 2 == 0)
            trial = _search(sub, trial, allowed, max_iterations)
            if _key(sub, trial) < _key(sub, candidate):
                improved = trial
        if improved is None:
            break
        candidate = improved
        converged = False
    timings["search"] = time.perf_counter() - t0
    assert best is not None
    return RefinedPlacement(sorted(best), evaluate(metric, best), snaps, rounds_run, converged, history, timings)
