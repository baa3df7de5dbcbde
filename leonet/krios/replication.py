"""Naive LEO compute (§1, Fig. 2): the application pre-deployed on a fixed set of
satellites, available in a zone whenever one of them is in the zone's region.

Availability is computed per second from the zones manager's membership matrix; a
*uniform* replica set spreads ``count`` satellites evenly over the shell's
plane-and-slot order (as the paper's "deployed uniformly"), a *random* one draws them.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def uniform_selection(num_satellites: int, count: int) -> np.ndarray:
    """``count`` satellite indices spread evenly over ``range(num_satellites)`` (which
    is ordered plane by plane, slot by slot)."""
    if not 0 <= count <= num_satellites:
        raise ValueError("count must be between 0 and the number of satellites")
    return (np.arange(count) * num_satellites) // max(count, 1)


def random_selection(num_satellites: int, count: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(num_satellites, size=count, replace=False))


def availability(membership: np.ndarray, selection: Sequence[int]) -> float:
    """Fraction of time steps at which a selected satellite is in the region;
    ``membership`` is (satellites, steps) booleans."""
    sel = np.asarray(selection, dtype=int)
    if not len(sel):
        return 0.0
    return float(membership[sel].any(axis=0).mean())


def covered(membership: np.ndarray, selection: Sequence[int]) -> np.ndarray:
    sel = np.asarray(selection, dtype=int)
    return membership[sel].any(axis=0) if len(sel) else np.zeros(membership.shape[1], dtype=bool)


def min_uniform_replicas(membership: np.ndarray, lo: int = 1, hi: Optional[int] = None) -> int:
    """The fewest uniformly spread replicas giving 100 % availability over the steps.

    Availability is not strictly monotone in the count (each count spreads its
    satellites differently), so after bisection the counts below the answer are
    scanned down until a run of 5 % of the shell fails in a row.
    """
    n = membership.shape[0]
    hi = n if hi is None else hi
    full = lambda k: bool(covered(membership, uniform_selection(n, k)).all())  # noqa: E731
    if not full(hi):
        return -1
    a, b = lo, hi
    while a < b:
        mid = (a + b) // 2
        if full(mid):
            b = mid
        else:
            a = mid + 1
    best, misses = a, 0
    k = a - 1
    while k >= lo and misses < max(1, n // 20):
        if full(k):
            best, misses = k, 0
        else:
            misses += 1
        k -= 1
    return best



def uniform_availability_curve(membership: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """Availability of the uniform spread of each of ``counts`` replicas."""
    n = membership.shape[0]
    return np.array([availability(membership, uniform_selection(n, int(k))) for k in counts])
