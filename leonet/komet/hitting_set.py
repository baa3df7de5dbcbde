"""Minimum hitting sets over clients' candidate satellites (Komet's many-to-many step).

The input is a boolean *candidate matrix* ``M`` of shape (C, K): ``M[c, k]`` is True
when column k (a satellite) is an acceptable server for client c. A hitting set is a
set of columns with at least one True in every row that has any True at all; rows
without candidates cannot be hit and are ignored.

* :func:`greedy_hitting_set` is the paper's heuristic (Komet Sec. 5.3, artifact
  ``find_hitting_set``): repeatedly take the column that hits the most rows not hit
  yet. It is the classic ln(C)-approximation (Feige 1998), not always minimal.
* :func:`exact_hitting_set` solves the same problem exactly as a 0/1 integer program
  (scipy's HiGHS), for comparison and for small instances.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np


def _as_matrix(candidates: np.ndarray) -> np.ndarray:
    m = np.asarray(candidates, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"candidates must be a (clients, satellites) matrix, got shape {m.shape}")
    return m


_WEIGHTS = np.left_shift(np.int64(1), np.arange(62, dtype=np.int64))


def _column_masks(m: np.ndarray) -> List[int]:
    """Each column's rows as a Python int bit set (bit c: row c): counting the open rows
    a column hits is then one ``&`` and ``bit_count`` instead of numpy calls."""
    rows = m.shape[0]
    if rows <= len(_WEIGHTS):         # one matrix product for up to 62 rows
        return (_WEIGHTS[:rows] @ m.astype(np.int64)).tolist()
    packed = np.packbits(m, axis=0, bitorder="little")
    return [int.from_bytes(packed[:, k].tobytes(), "little") for k in range(m.shape[1])]


def greedy_hitting_set(candidates: np.ndarray, preferred: Optional[np.ndarray] = None,
                       cost: Optional[np.ndarray] = None, max_size: Optional[int] = None) -> np.ndarray:
    """Greedy maximum-frequency hitting set; returns the chosen column indices in the
    order they were picked.

    Ties between columns hitting equally many open rows go to a ``preferred`` column
    (K bools; Komet prefers satellites that already host the service), then to the
    lower ``cost`` (a (C, K) array, e.g. delays) summed over the open rows it hits,
    i.e. the closer satellite, then to the lower index. ``max_size`` stops early (the
    artifact's fixed-size variant); rows may then stay open.
    """
    m = _as_matrix(candidates)
    masks = _column_masks(m)
    pref = [False] * len(masks) if preferred is None else np.asarray(preferred, dtype=bool).tolist()
    open_rows = 0                     # as a bit set, and for the cost tie-break as a bool array
    for mask in masks:
        open_rows |= mask
    is_open = m.any(axis=1)
    chosen: List[int] = []
    while open_rows and (max_size is None or len(chosen) < max_size):
        counts = [(mask & open_rows).bit_count() for mask in masks]
        best = max(counts)
        tied = [k for k, n in enumerate(counts) if n == best]
        if len(tied) > 1 and any(pref[k] for k in tied):
            tied = [k for k in tied if pref[k]]
        if len(tied) > 1 and cost is not None:
            hit = m[is_open][:, tied]
            total = np.where(hit, np.asarray(cost)[is_open][:, tied], 0.0).sum(axis=0)
            tied = [tied[int(np.argmin(total))]]
        pick = tied[0]
        chosen.append(pick)
        open_rows &= ~masks[pick]
        is_open &= ~m[:, pick]
    return np.array(chosen, dtype=np.intp)


def exact_hitting_set(candidates: np.ndarray, preferred: Optional[np.ndarray] = None) -> np.ndarray:
    """A minimum hitting set (sorted column indices), by 0/1 integer programming.

    Among minimum sets it takes one with the most ``preferred`` columns. Exponential
    in the worst case; fast for the tens of candidate satellites of one step.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    m = _as_matrix(candidates)
    rows = m[m.any(axis=1)]
    if not len(rows):
        return np.zeros(0, dtype=np.intp)
    used = np.flatnonzero(rows.any(axis=0))
    a = rows[:, used].astype(float)
    pref = np.zeros(m.shape[1], bool) if preferred is None else np.asarray(preferred, dtype=bool)
    # Each column costs 1; a preferred one a little less, never enough to add a column.
    objective = 1.0 - pref[used] / (len(used) + 1.0)
    res = milp(objective, constraints=LinearConstraint(a, lb=1.0, ub=np.inf),
               integrality=np.ones(len(used)), bounds=Bounds(0, 1))
    if not res.success:  # cannot happen for a feasible covering problem; fail loudly if it does
        raise RuntimeError(f"hitting-set integer program failed: {res.message}")
    return np.sort(used[np.round(res.x).astype(bool)])


def is_hitting_set(candidates: np.ndarray, chosen: Sequence[int]) -> bool:
    """True when every row with a candidate has one among ``chosen``."""
    m = _as_matrix(candidates)
    hit = m[:, np.asarray(chosen, dtype=np.intp)].any(axis=1) if len(chosen) else np.zeros(len(m), bool)
    return bool((hit | ~m.any(axis=1)).all())
