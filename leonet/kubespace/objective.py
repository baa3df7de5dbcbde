"""The CNPA objective (``Evaluate`` of Algorithm 1) and its vectorised building blocks.

Every placement function works on a *metric tensor* of shape ``(T, M, N)``: for
each of T topology snapshots, the distance (km) or delay from each of M candidate
ground stations to each of N satellites. ``inf`` marks a satellite a station
cannot reach in that snapshot. A *selection* is a sequence of candidate indices.

``Evaluate(S) = max over snapshots, max over satellites, min over g in S`` of the
metric: the worst satellite-to-nearest-control-node value of the period.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

#: Temporaries of ``chunk x M x N`` floats are kept below this many bytes.
_CHUNK_BYTES = 64 << 20


def check_metric(metric: np.ndarray) -> np.ndarray:
    """Validate a metric tensor: 3-D, float, no NaN, no negative values."""
    metric = np.asarray(metric)
    if metric.ndim != 3:
        raise ValueError(f"metric must have shape (snapshots, candidates, satellites), got {metric.shape}")
    if not np.issubdtype(metric.dtype, np.floating):
        metric = metric.astype(np.float64)
    if metric.size and not metric.min() >= 0:   # one pass: NaN or a negative value fails
        raise ValueError("metric must be non-negative (inf for unreachable), without NaN")
    return metric


def _snapshot_chunk(metric: np.ndarray) -> int:
    per_snapshot = max(1, metric.shape[1] * metric.shape[2] * metric.itemsize)
    return max(1, _CHUNK_BYTES // per_snapshot)


def nearest(metric: np.ndarray, selection: Sequence[int]) -> np.ndarray:
    """Metric from every satellite to its nearest selected station, shape (T, N).

    An empty selection gives ``inf`` everywhere.
    """
    sel = np.asarray(list(selection), dtype=np.intp)
    if sel.size == 0:
        return np.full((metric.shape[0], metric.shape[2]), np.inf, dtype=metric.dtype)
    return metric[:, sel, :].min(axis=1)


def evaluate(metric: np.ndarray, selection: Sequence[int]) -> float:
    """``Evaluate(S)`` of Algorithm 1: max over snapshots and satellites of the
    metric to the nearest selected station."""
    return float(nearest(metric, selection).max())


@dataclass(frozen=True)
class Summary:
    """The statistics the paper reports for a placement over a period."""

    worst: float                 #: Evaluate: max over time of max over satellites
    mean_of_snapshot_max: float  #: mean over time of the per-snapshot max ("average daily maximum")
    mean: float                  #: mean over time and satellites (the "average latency")
    unreachable: int             #: (snapshot, satellite) pairs no selected station reaches


def summarize(metric: np.ndarray, selection: Sequence[int]) -> Summary:
    """Worst, mean-of-per-snapshot-max and mean of the nearest-station metric."""
    near = nearest(metric, selection)
    finite = np.isfinite(near)
    return Summary(worst=float(near.max()),
                   mean_of_snapshot_max=float(near.max(axis=1).mean()),
                   mean=float(near[finite].mean()) if finite.any() else float("inf"),
                   unreachable=int((~finite).sum()))


def scores_with_each(metric: np.ndarray, base: Optional[np.ndarray] = None
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every candidate g, the objective of ``base`` plus g.

    ``base`` is the (T, N) nearest-station metric of a partial selection (``None``:
    empty). Returns, each of shape (M,): the max (``Evaluate``), the number of
    unreachable (snapshot, satellite) pairs, and the mean over the reachable ones.
    Computed in snapshot chunks so that memory stays bounded for long periods.
    """
    T, M, N = metric.shape
    worst = np.full(M, -np.inf)
    unreachable = np.zeros(M, dtype=np.int64)
    total = np.zeros(M)
    step = _snapshot_chunk(metric)
    for t0 in range(0, T, step):
        block = metric[t0:t0 + step]
        if base is not None:
            block = np.minimum(block, base[t0:t0 + step, None, :])
        worst = np.maximum(worst, block.max(axis=(0, 2)))
        inf = np.isinf(block)
        unreachable += inf.sum(axis=(0, 2))
        total += np.where(inf, 0.0, block).sum(axis=(0, 2), dtype=np.float64)
    reachable = T * N - unreachable
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(reachable > 0, total / np.maximum(reachable, 1), np.inf)
    return worst, unreachable, mean


def best_addition(metric: np.ndarray, base: Optional[np.ndarray], allowed: np.ndarray
                  ) -> Tuple[int, Tuple[float, int, float]]:
    """The allowed candidate g that :func:`best_candidate` would pick from
    :func:`scores_with_each`, and its (max, unreachable, mean), computed with less
    work: the maxima of every candidate first, then the tie-breaking counts and means
    only for the candidates that share the lowest maximum."""
    idx = np.flatnonzero(allowed)
    if idx.size == 0:
        raise ValueError("no candidate left to choose from")
    T, M, N = metric.shape
    step = _snapshot_chunk(metric)
    worst = np.full(M, -np.inf)
    for t0 in range(0, T, step):
        block = metric[t0:t0 + step]
        if base is not None:
            block = np.minimum(block, base[t0:t0 + step, None, :])
        worst = np.maximum(worst, block.max(axis=(0, 2)))
    tied = idx[worst[idx] == worst[idx].min()]
    unreachable = np.zeros(tied.size, dtype=np.int64)
    total = np.zeros(tied.size)
    for t0 in range(0, T, step):
        block = metric[t0:t0 + step][:, tied, :]
        if base is not None:
            block = np.minimum(block, base[t0:t0 + step, None, :])
        inf = np.isinf(block)
        unreachable += inf.sum(axis=(0, 2))
        total += np.where(inf, 0.0, block).sum(axis=(0, 2), dtype=np.float64)
    reachable = T * N - unreachable
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(reachable > 0, total / np.maximum(reachable, 1), np.inf)
    j = int(np.lexsort((tied, mean, unreachable))[0])
    g = int(tied[j])
    return g, (float(worst[g]), int(unreachable[j]), float(mean[j]))


def best_candidate(worst: np.ndarray, unreachable: np.ndarray, mean: np.ndarray,
                   allowed: np.ndarray) -> int:
    """The allowed candidate with the lowest ``worst``.

    Ties (common: the max is often set by one satellite that several candidates
    leave unchanged) go to fewer unreachable pairs, then the lower mean, then the
    lower index, so results are deterministic.
    """
    idx = np.flatnonzero(allowed)
    if idx.size == 0:
        raise ValueError("no candidate left to choose from")
    order = np.lexsort((idx, mean[idx], unreachable[idx], worst[idx]))
    return int(idx[order[0]])
