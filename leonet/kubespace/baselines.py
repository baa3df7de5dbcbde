"""Placement baselines of the paper's Fig. 10: random selection (averaged over seeds)
and the best single control node near the equator. The exhaustive optimum is in
:mod:`.exhaustive`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from .objective import Summary, best_candidate, check_metric, scores_with_each, summarize

#: Candidates within this many degrees of the equator count as "near the equator".
EQUATOR_BAND_DEG = 10.0


@dataclass
class RandomBaseline:
    selections: List[List[int]]
    summaries: List[Summary]

    @property
    def mean_worst(self) -> float:
        return float(np.mean([s.worst for s in self.summaries]))

    @property
    def mean_of_snapshot_max(self) -> float:
        return float(np.mean([s.mean_of_snapshot_max for s in self.summaries]))

    @property
    def mean(self) -> float:
        return float(np.mean([s.mean for s in self.summaries]))


def random_placements(metric: np.ndarray, k: int, seeds: Sequence[int]) -> RandomBaseline:
    """k candidates drawn uniformly without replacement, once per seed."""
    metric = check_metric(metric)
    M = metric.shape[1]
    if not 1 <= k <= M:
        raise ValueError(f"k must be in [1, {M}], got {k}")
    selections, summaries = [], []
    for seed in seeds:
        sel = sorted(np.random.default_rng(seed).choice(M, size=k, replace=False).tolist())
        selections.append(sel)
        summaries.append(summarize(metric, sel))
    return RandomBaseline(selections, summaries)


def near_equator(latitudes_deg: Sequence[float], band_deg: float = EQUATOR_BAND_DEG) -> np.ndarray:
    """Indices of candidates with |latitude| <= band_deg."""
    return np.flatnonzero(np.abs(np.asarray(latitudes_deg, dtype=float)) <= band_deg)


def best_single(metric: np.ndarray, allowed: Sequence[int]) -> int:
    """The allowed candidate that alone gives the lowest ``Evaluate``."""
    metric = check_metric(metric)
    mask = np.zeros(metric.shape[1], dtype=bool)
    mask[np.asarray(list(allowed), dtype=np.intp)] = True
    worst, unreachable, mean = scores_with_each(metric)
    return best_candidate(worst, unreachable, mean, mask)
