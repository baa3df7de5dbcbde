"""Delay-weighted shortest paths (a compiled multi-source Dijkstra on every core,
``dijkstra.py``), and the routing tables derived from them. Given the tables of the
previous tick, the trees are repaired instead of grown anew (same result, less work).

Ground stations do not relay traffic unless ``ground_station_relay`` is set (as in
Hypatia): then a path may only start or end at a ground station. This is done exactly
by splitting each ground station into a source half (links out to its satellites) and
a sink half (links in from them), so one Dijkstra run per source stays correct.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
from scipy.sparse import csr_matrix

from .links import GSL, Links

#: Dijkstra ignores zero-weight entries of a sparse matrix: co-located nodes get this delay.
_MIN_WEIGHT_MS = 1e-12


def delay_graph(links: Links, num_nodes: int) -> csr_matrix:
    """Symmetric sparse matrix of link delays (ms), ``num_nodes`` square."""
    w = np.maximum(links.delay_ms, _MIN_WEIGHT_MS)
    rows = np.concatenate((links.a, links.b))
    cols = np.concatenate((links.b, links.a))
    return csr_matrix((np.concatenate((w, w)), (rows, cols)), shape=(num_nodes, num_nodes))


def _split_graph(links: Links, num_nodes: int, num_satellites: int) -> csr_matrix:
    """Directed graph where ground stations cannot be transited: ground station node
    ``num_satellites + g`` keeps only the links in from its satellites (its *sink* half),
    and its *source* half, node ``num_nodes + g``, only the links out. So the first
    ``num_nodes`` columns of a result are the nodes themselves."""
    w = np.maximum(links.delay_ms, _MIN_WEIGHT_MS)
    isl = links.kind != GSL
    a, b, wi = links.a[isl], links.b[isl], w[isl]
    # For GSLs, a (the smaller index) is the satellite and b the ground station.
    sat, gs, wg = links.a[~isl], links.b[~isl], w[~isl]
    source = gs - num_satellites + num_nodes
    rows = np.concatenate((a, b, source, sat))
    cols = np.concatenate((b, a, sat, gs))
    size = num_nodes + (num_nodes - num_satellites)
    return csr_matrix((np.concatenate((wi, wi, wg, wg)), (rows, cols)), shape=(size, size))


@dataclass
class RoutingTables:
    """Shortest paths from ``sources`` to every node, with the next hops to install.

    Rows follow ``sources``; columns are node indices. Links are symmetric, so the
    shortest-path tree rooted at a source is also the tree of routes *to* it:

    * ``next_hop_to_source[i, v]``: where node v forwards traffic for ``sources[i]``;
    * ``first_hop_from_source[i, v]``: where ``sources[i]`` forwards traffic for v.

    Both are -1 at the source itself and where v is unreachable.
    """

    sources: np.ndarray              #: (S,) node indices
    delay_ms: np.ndarray             #: (S, V) one-way path delay, ``inf`` if unreachable
    predecessor: np.ndarray          #: (S, V) int, -1 at the source and if unreachable
    _first_hop: Optional[np.ndarray] = field(default=None, repr=False)
    #: the predecessors over the graph Dijkstra ran on (ground stations split in two), for
    #: repairing these trees at the next tick (see :func:`shortest_paths`)
    _graph_predecessor: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def next_hop_to_source(self) -> np.ndarray:
        return self.predecessor

    @property
    def first_hop_from_source(self) -> np.ndarray:
        if self._first_hop is None:
            self._first_hop = first_hops(self.predecessor, self.sources)
        return self._first_hop

    def row(self, source: int) -> int:
        """Row of a source node index (ValueError if it is not a source)."""
        hits = np.flatnonzero(self.sources == source)
        if not len(hits):
            raise ValueError(f"node {source} is not a source of these routing tables")
        return int(hits[0])

    def reachable(self, source: int, target: int) -> bool:
        return bool(np.isfinite(self.delay_ms[self.row(source), target]))

    def hops(self, source: int, target: int) -> Optional[List[int]]:
        """Node indices from source to target, or None if unreachable."""
        i = self.row(source)
        if not np.isfinite(self.delay_ms[i, target]):
            return None
        path = [int(target)]
        pred = self.predecessor[i]
        while path[-1] != source:
            path.append(int(pred[path[-1]]))
        return path[::-1]


def first_hops(predecessor: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """For every row's source s and node v, the first node after s on the path to v
    (vectorised pointer jumping: O(log path length) passes)."""
    pred = np.asarray(predecessor)
    rows, num = pred.shape
    if not pred.size:
        return np.full(pred.shape, -1, np.int32)
    # Work on flat indices (row * num + node): a 1-D gather is the fastest numpy gather.
    base = (np.arange(rows, dtype=np.int64) * num)[:, None]
    self_flat = base + np.arange(num)
    root = (pred == np.asarray(sources)[:, None]) | (pred < 0)   # first hops, source, unreachable
    jump = np.where(root, self_flat, base + pred).ravel()
    while True:
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            break
        jump = nxt
    out = (jump.reshape(rows, num) - base).astype(np.int32)
    return np.where(pred < 0, -1, out)


def shortest_paths(links: Links, num_nodes: int, num_satellites: int, sources: Sequence[int],
                   ground_station_relay: bool = False, previous: Optional[RoutingTables] = None,
                   with_first_hops: bool = True, threads: int = 0) -> RoutingTables:
    """Delay-weighted shortest paths from ``sources`` (node indices) to all nodes.
    ``previous``: these sources' tables at another time (the last tick), whose trees are
    then repaired rather than grown from scratch; the result is the same.
    ``with_first_hops=False``: the first hops are derived only if asked for (the routes
    towards the sources need only the predecessors). ``threads``: 0 for one per core."""
    from .dijkstra import dijkstra   # numba loads on first use, not with every leonet command
    src = np.asarray(sources, dtype=np.int64).reshape(-1)
    split = not (ground_station_relay or num_nodes == num_satellites)
    if split:   # a ground station's paths start at its source half
        graph = _split_graph(links, num_nodes, num_satellites)
        start = np.where(src >= num_satellites, src - num_satellites + num_nodes, src)
    else:
        graph, start = delay_graph(links, num_nodes), src
    warm = None
    if previous is not None and previous._graph_predecessor is not None and np.array_equal(previous.sources, src):
        warm = previous._graph_predecessor
    graph_dist, graph_pred, graph_first = dijkstra(graph, start, threads=threads, previous=warm, aliases=src,
                                                   with_first_hops=with_first_hops)
    # the nodes are the graph's first columns (views, no copies: all-pairs tables are large)
    dist, pred = graph_dist[:, :num_nodes], graph_pred[:, :num_nodes]
    first = None if graph_first is None else graph_first[:, :num_nodes]
    if split:   # a ground station's own sink half is not itself (its delay would be a round trip)
        rows = np.arange(len(src))
        dist[rows, src] = 0.0
        pred[rows, src] = -1
        if first is not None:
            first[rows, src] = -1
    return RoutingTables(src, dist, pred, first, graph_pred)
