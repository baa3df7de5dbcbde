"""Control Node Placement Algorithm (CNPA), Algorithm 1 of the KubeSpace paper.

1. ``SelectRepresentatives``: k-means over standardised snapshot features, one
   representative snapshot per cluster (:mod:`.clustering`).
2. Greedy k-center: start empty; k times add the candidate g that minimises
   ``Evaluate(S + {g})``.
3. ``LocalSearch``: replace one selected station by an unselected one whenever
   that lowers ``Evaluate``; stop when no swap improves or after an iteration cap.

Algorithm 1 writes the greedy step as ``Evaluate(S + {g}, G)`` over all snapshots
but the local search over the representatives R, while the text says the
representatives are the proxies for evaluating placements. We follow the text
(greedy and local search over R, ``greedy_over="representatives"``); the literal
reading is available as ``greedy_over="all"``. The returned score is always
``Evaluate`` over *all* snapshots.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .clustering import DEFAULT_FEATURE_SAMPLE, Representatives, select_representatives
from .objective import best_addition, check_metric, evaluate, nearest

#: Default cap on accepted local-search swaps (the paper's "predefined number of iterations").
DEFAULT_MAX_ITERATIONS = 100


def _allowed_mask(M: int, allowed: Optional[Sequence[int]]) -> np.ndarray:
    mask = np.zeros(M, dtype=bool)
    if allowed is None:
        mask[:] = True
    else:
        mask[np.asarray(list(allowed), dtype=np.intp)] = True
    return mask


def greedy_k_center(metric: np.ndarray, k: int, allowed: Optional[Sequence[int]] = None) -> List[int]:
    """Greedy step of Algorithm 1 (lines 6-9): k times, add the candidate that
    minimises ``Evaluate(S + {g})`` (ties: see :func:`objective.best_candidate`)."""
    metric = check_metric(metric)
    M = metric.shape[1]
    mask = _allowed_mask(M, allowed)
    if not 1 <= k <= mask.sum():
        raise ValueError(f"k must be in [1, {int(mask.sum())}], got {k}")
    selection: List[int] = []
    base = None
    for _ in range(k):
        g, _ = best_addition(metric, base, mask)
        selection.append(g)
        mask[g] = False
        column = metric[:, g, :]
        base = column.copy() if base is None else np.minimum(base, column)
    return selection


@dataclass
class LocalSearchResult:
    selection: List[int]
    score: float               #: Evaluate over the metric given to the search
    swaps: int                 #: accepted swaps
    history: List[float]       #: score after the start and after every accepted swap


def local_search(metric: np.ndarray, selection: Sequence[int],
                 max_iterations: int = DEFAULT_MAX_ITERATIONS,
                 allowed: Optional[Sequence[int]] = None, plateau_moves: bool = False
                 ) -> LocalSearchResult:
    """``LocalSearch(S, R)``: swap a selected station for an unselected one while
    that strictly lowers ``Evaluate``.

    Positions are visited in order; for each, every unselected candidate is tried
    in its place (vectorised) and the best strictly improving swap is accepted.
    Stops when a full pass over the positions improves nothing, or after
    ``max_iterations`` accepted swaps. The score never increases.

    ``plateau_moves`` (not in the paper) also accepts a swap that leaves the max
    unchanged but lowers the number of unreachable pairs or the mean: the max is
    set by one worst satellite, so most swaps tie on it and the strict search
    stops on such plateaus.
    """
    metric = check_metric(metric)
    M = metric.shape[1]
    sel = [int(g) for g in selection]
    if len(set(sel)) != len(sel):
        raise ValueError("selection has duplicates")
    allowed_mask = _allowed_mask(M, allowed)
    near = nearest(metric, sel)
    score = float(near.max())
    finite = np.isfinite(near)
    key = (score, int((~finite).sum()), float(near[finite].mean()) if finite.any() else np.inf)
    history = [score]
    swaps = 0
    improved = True
    while improved and swaps < max_iterations:
        improved = False
        for i in range(len(sel)):
            if swaps >= max_iterations:
                break
            others = sel[:i] + sel[i + 1:]
            base = nearest(metric, others) if others else None
            mask = allowed_mask.copy()
            mask[sel] = False
            if not mask.any():
                continue
            g, new_key = best_addition(metric, base, mask)
            if new_key[0] < score or (plateau_moves and new_key < key):
                sel[i] = g
                score, key = new_key[0], new_key
                history.append(score)
                swaps += 1
                improved = True
    return LocalSearchResult(sel, score, swaps, history)


@dataclass
class Placement:
    """Result of :func:`cnpa`. Indices refer to the metric's candidate axis."""

    selection: List[int]
    score: float                       #: Evaluate over all snapshots
    score_representatives: float       #: Evaluate over the representatives
    greedy_selection: List[int]
    greedy_score: float                #: Evaluate of the greedy result over all snapshots
    representatives: Representatives
    swaps: int
    timings_s: Dict[str, float] = field(default_factory=dict)


def cnpa(metric: np.ndarray, k: int, clusters: int = 20, seed: int = 0,
         max_iterations: int = DEFAULT_MAX_ITERATIONS,
         feature_sample: Optional[int] = DEFAULT_FEATURE_SAMPLE,
         greedy_over: str = "representatives", allowed: Optional[Sequence[int]] = None,
         representatives: Optional[Representatives] = None, plateau_moves: bool = False) -> Placement:
    """Algorithm 1: choose ``k`` control nodes among the candidates of ``metric``.

    ``metric`` has shape (T, M, N) (see :mod:`.objective`); ``clusters`` is C;
    ``seed`` fixes k-means and the feature sample; ``allowed`` restricts the
    candidates. Pass ``representatives`` to reuse a clustering (e.g. across k).
    ``plateau_moves`` is an extension of the local search (see :func:`local_search`).
    """
    metric = check_metric(metric)
    if greedy_over not in ("representatives", "all"):
        raise ValueError("greedy_over must be 'representatives' or 'all'")
    timings: Dict[str, float] = {}
    t0 = time.perf_counter()
    reps = representatives or select_representatives(metric, clusters, seed, feature_sample)
    timings["clustering"] = time.perf_counter() - t0
    rep_metric = np.ascontiguousarray(metric[reps.indices])

    t0 = time.perf_counter()
    greedy = greedy_k_center(metric if greedy_over == "all" else rep_metric, k, allowed)
    timings["greedy"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    refined = local_search(rep_metric, greedy, max_iterations, allowed, plateau_moves)
    timings["local_search"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    score = evaluate(metric, refined.selection)
    greedy_score = evaluate(metric, greedy)
    timings["evaluate"] = time.perf_counter() - t0
    return Placement(refined.selection, score, refined.score, greedy, greedy_score, reps,
                     refined.swaps, timings)
