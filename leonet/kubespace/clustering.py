"""Step 1 of CNPA (``SelectRepresentatives``): cluster topology snapshots with k-means
and keep, per cluster, the snapshot closest to its centroid.

Each snapshot is flattened into one feature vector (its candidate-to-satellite
metric matrix, M x N values) and every feature is standardised over the period
(z-score), as the paper describes. A day of Starlink snapshots has 1,440 x 500,544
features (2.9 GB); k-means iterations over that cost minutes on a shared 2-core
machine, so k-means runs on a seeded uniform sample of ``feature_sample`` of the
flattened coordinates (all of them when there are fewer). The squared distance
between two snapshots over a uniform coordinate sample is an unbiased estimate of
the full one (times a constant), so the k-means objective is estimated without
bias (see the tests and docs/kubespace.md). ``feature_sample=None`` uses every
coordinate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

#: Flattened coordinates sampled for k-means (None: all).
DEFAULT_FEATURE_SAMPLE = 2048


@dataclass(frozen=True)
class Representatives:
    """Result of ``SelectRepresentatives``."""

    indices: np.ndarray    #: snapshot index of each cluster's representative, ascending
    labels: np.ndarray     #: cluster of every snapshot, shape (T,)
    inertia: float         #: k-means within-cluster sum of squares (feature space)

    @property
    def clusters(self) -> int:
        return len(self.indices)


def snapshot_features(metric: np.ndarray, feature_sample: Optional[int] = DEFAULT_FEATURE_SAMPLE,
                      seed: int = 0) -> np.ndarray:
    """Standardised, flattened snapshot features, shape (T, F) or (T, feature_sample).

    ``inf`` (unreachable) is replaced by the largest finite value, so that a station
    without any satellite in view looks "as far as it gets" rather than breaking
    the statistics. Constant features are zero after standardisation.
    """
    T = metric.shape[0]
    flat = metric.reshape(T, -1)
    F = flat.shape[1]
    if feature_sample is not None and feature_sample < F:
        cols = np.sort(np.random.default_rng(seed).choice(F, size=feature_sample, replace=False))
        x = flat[:, cols].astype(np.float64)
    else:
        x = flat.astype(np.float64)
    finite = np.isfinite(x)
    cap = float(x[finite].max()) if finite.any() else 0.0
    x[~finite] = cap
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    constant = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
    return np.where(constant, 0.0, (x - mean) / np.where(constant, 1.0, std))


def _sq_dist(X: np.ndarray, C: np.ndarray, x2: np.ndarray) -> np.ndarray:
    d = x2[:, None] - 2.0 * X @ C.T + (C * C).sum(axis=1)[None, :]
    return np.maximum(d, 0.0)


def _kmeans_pp(X: np.ndarray, k: int, rng: np.random.Generator, x2: np.ndarray) -> np.ndarray:
    centers = [X[rng.integers(len(X))]]
    d2 = _sq_dist(X, np.array(centers), x2)[:, 0]
    for _ in range(1, k):
        total = d2.sum()
        i = rng.choice(len(X), p=d2 / total) if total > 0 else rng.integers(len(X))
        centers.append(X[i])
        d2 = np.minimum(d2, _sq_dist(X, X[i:i + 1], x2)[:, 0])
    return np.array(centers)


def kmeans(X: np.ndarray, k: int, seed: int = 0, n_init: int = 4, max_iter: int = 100
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd's k-means with k-means++ seeding; the best of ``n_init`` runs.

    Returns (centroids (k, F), labels (T,), inertia). Deterministic for a seed.
    A run stops when no label changes or after ``max_iter`` iterations. An empty
    cluster is re-seeded with the point farthest from its centroid.
    """
    X = np.asarray(X, dtype=np.float64)
    T = len(X)
    if not 1 <= k <= T:
        raise ValueError(f"k must be in [1, {T}], got {k}")
    rng = np.random.default_rng(seed)
    x2 = (X * X).sum(axis=1)
    best = None
    for _ in range(n_init):
        centers = _kmeans_pp(X, k, rng, x2)
        labels = np.full(T, -1)
        for _ in range(max_iter):
            d2 = _sq_dist(X, centers, x2)
            new = d2.argmin(axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            counts = np.bincount(labels, minlength=k)
            onehot = np.zeros((k, T))
            onehot[labels, np.arange(T)] = 1.0
            sums = onehot @ X
            for j in np.flatnonzero(counts == 0):
                far = int(d2[np.arange(T), labels].argmax())
                sums[j], counts[j] = X[far], 1
                labels[far] = j
            centers = sums / counts[:, None]
        inertia = float(_sq_dist(X, centers, x2)[np.arange(T), labels].sum())
        if best is None or inertia < best[2] - 1e-9 * abs(best[2]):
            best = (centers.copy(), labels.copy(), inertia)
    return best


def select_representatives(metric: np.ndarray, clusters: int, seed: int = 0,
                           feature_sample: Optional[int] = DEFAULT_FEATURE_SAMPLE,
                           features: Optional[np.ndarray] = None) -> Representatives:
    """``SelectRepresentatives(G, C)``: C snapshots that stand for the period.

    With ``clusters >= T`` every snapshot is its own representative.
    """
    T = metric.shape[0]
    if clusters < 1:
        raise ValueError("clusters must be >= 1")
    if clusters >= T:
        return Representatives(np.arange(T), np.arange(T), 0.0)
    X = snapshot_features(metric, feature_sample, seed) if features is None else features
    centers, labels, inertia = kmeans(X, clusters, seed=seed)
    reps = []
    for j in range(clusters):
        members = np.flatnonzero(labels == j)
        d2 = ((X[members] - centers[j]) ** 2).sum(axis=1)
        reps.append(int(members[d2.argmin()]))
    return Representatives(np.array(sorted(reps)), labels, inertia)
