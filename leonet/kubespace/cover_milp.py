"""The set-cover decision of the exact search as an integer program (HiGHS via scipy).

:func:`leonet.kubespace.exhaustive.optimal_placement` decides, for a threshold D,
whether k stations cover every element (g covers e when ``metric[e, g] <= D``).
Its own depth-first search does this with bitsets; on large instances (OneWeb,
k = 6) its tree grows past any budget because it has no bound stronger than
disjoint rows. This module answers the same question with the classic p-center
decision program

    find y in {0, 1}^M  with  sum_g y_g <= k  and  sum_{g: A[e, g] <= D} y_g >= 1  for every e,

solved by HiGHS' branch and bound, whose LP relaxation (fractional set cover)
prunes far more. Dominated stations and rows are removed first, as the DFS does.
The answer stays exact: a cover HiGHS returns is checked on the matrix before it
is accepted, and "infeasible" is HiGHS' proof (status 2); anything else (time or
node limit) raises :class:`SearchLimit`, never a guess.
"""
from __future__ import annotations

import math
import time
from typing import List, Optional

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array, vstack

from .exhaustive import SearchLimit, reduced_cover


class CoverMILP:
    """Set-cover decision on an element x station matrix ``A`` by mixed-integer programming.

    Same interface as the depth-first search: set ``A``, call :meth:`feasible`;
    ``nodes`` counts branch-and-bound nodes over all calls.
    """

    def __init__(self, A: np.ndarray, node_limit: int, deadline: float):
        self.A = A
        self.node_limit = node_limit
        self.deadline = deadline
        self.nodes = 0
        self.programs = 0       #: integer programs solved

    def feasible(self, D: float, k: int) -> Optional[List[int]]:
        """k stations covering every row of A within D, or None (proven)."""
        reduced = reduced_cover(self.A, D)
        if reduced is None:
            return None
        stations, cover = reduced
        if len(stations) <= k:
            return [int(g) for g in stations]
        chosen = self._solve(cover, k)
        if chosen is None:
            return None
        if not cover[:, chosen].any(axis=1).all():      # never trust a rounded LP point blindly
            raise RuntimeError("HiGHS returned a selection that does not cover every element")
        return [int(stations[g]) for g in chosen]

    def _solve(self, cover: np.ndarray, k: int) -> Optional[List[int]]:
        m, M = cover.shape
        remaining_s = self.deadline - time.monotonic()
        remaining_nodes = self.node_limit - self.nodes
        if remaining_s <= 0 or remaining_nodes <= 0:
            raise SearchLimit(f"stopped after {self.nodes} branch-and-bound nodes")
        options = {"presolve": True, "node_limit": int(remaining_nodes)}
        if math.isfinite(remaining_s):
            options["time_limit"] = float(remaining_s)
        rows = vstack([csr_array(cover.astype(np.float64)), csr_array(np.ones((1, M)))])
        lower = np.concatenate([np.ones(m), [0.0]])
        upper = np.concatenate([np.full(m, np.inf), [float(k)]])
        # Objective: fewest stations. It steers branching towards small covers; any
        # solution within the k budget answers the decision.
        res = milp(np.ones(M), integrality=np.ones(M), bounds=Bounds(0, 1),
                   constraints=LinearConstraint(rows, lower, upper), options=options)
        self.programs += 1
        self.nodes += int(getattr(res, "mip_node_count", 0) or 0)
        if res.status == 2:
            return None
        if res.status != 0 or res.x is None:
            raise SearchLimit(f"integer program stopped ({res.message}) after {self.nodes} nodes")
        return np.flatnonzero(res.x > 0.5).tolist()


class DfsThenMILP:
    """Each decision first by the depth-first search with a small node budget (it
    settles most thresholds in milliseconds), then, if that budget runs out, by
    :class:`CoverMILP` (its LP bound proves the hard ones). Exact either way.
    ``node_limit`` applies to each of the two separately."""

    def __init__(self, A: np.ndarray, node_limit: int, deadline: float, dfs_nodes: int = 200_000):
        from .exhaustive import _CoverSearch

        self.dfs = _CoverSearch(A, node_limit, deadline)
        self.milp = CoverMILP(A, node_limit, deadline)
        self.node_limit = node_limit
        self.dfs_nodes = dfs_nodes
        self.log: List[dict] = []     #: one entry per decision: threshold, solver, answer, seconds

    @property
    def A(self) -> np.ndarray:
        return self.dfs.A

    @A.setter
    def A(self, value: np.ndarray) -> None:
        self.dfs.A = self.milp.A = value

    @property
    def nodes(self) -> int:
        return self.dfs.nodes + self.milp.nodes

    def feasible(self, D: float, k: int) -> Optional[List[int]]:
        """k stations covering every row of A within D, or None (proven by either)."""
        start = time.monotonic()
        self.dfs.node_limit = min(self.node_limit, self.dfs.nodes + self.dfs_nodes)
        try:
            found, used = self.dfs.feasible(D, k), "dfs"
        except SearchLimit:
            if self.dfs.nodes >= self.node_limit or time.monotonic() > self.dfs.deadline:
                raise
            found, used = self.milp.feasible(D, k), "milp"
        self.log.append({"threshold": D, "solver": used, "feasible": found is not None,
                         "seconds": time.monotonic() - start})
        return found
