"""Multi-source Dijkstra compiled with numba, on every core, with first hops for free,
and repair of the last tick's trees.

scipy's ``csgraph.dijkstra`` runs one source after another in one thread and holds the
GIL (threads around it gained nothing, measured), with a Fibonacci heap. Here each
source is a binary-heap Dijkstra over the CSR arrays, compiled by numba without the GIL,
and the sources are split over one plain thread per core. While a node is settled, the
first hop of its path (the node after the source) is taken from its predecessor's, so
the per-source tables the routes need cost nothing extra.

**Repair.** Given the predecessors of the same sources a moment ago, each tree is
repaired instead of grown anew: every node's delay along its old tree path under the new
weights is a valid upper bound (infinite where a link of the path went away; found by
walking each node's predecessor chain once), every link that now offers a shorter way is
relaxed, and a label-correcting search from those nodes runs until no link shortens any
path. The result is exact (every label is a real path's delay and no link can shorten
one) and costs a pass over the nodes and links plus the part that changed, instead of a
whole Dijkstra with a heap operation per node.

**Aliases.** A source may be known outside the graph by another index (a ground station
is split into a source half and a sink half, see ``routing.py``): predecessors naming
the source are written as its alias, so the tables need no renumbering afterwards.

Results equal scipy's: least delays, and for each node its predecessor on one least-delay
path (-1 at the source and where unreachable); where two paths tie exactly, which
predecessor is kept may differ. The first call in a process compiles the kernels (a few
seconds) unless numba's on-disk cache beside this module holds them already. Plain
threads, not numba's parallel layer: that layer aborts when two Python threads call it
at once and is not safe across ``fork``, and leonet does both (the lookahead worker is
forked from the run).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Tuple

import numpy as np
from numba import njit
from scipy.sparse import csr_matrix


@njit(cache=True, nogil=True, inline="always")
def _push(heap_d, heap_v, n_heap, d, v):  # pragma: no cover - compiled
    i = n_heap
    while i > 0:
        q = (i - 1) // 2
        if heap_d[q] <= d:
            break
        heap_d[i] = heap_d[q]
        heap_v[i] = heap_v[q]
        i = q
    heap_d[i] = d
    heap_v[i] = v
    return n_heap + 1


@njit(cache=True, nogil=True, inline="always")
def _pop(heap_d, heap_v, n_heap):  # pragma: no cover - compiled
    """Remove the root (the caller read it before); returns the new size."""
    n_heap -= 1
    if n_heap > 0:
        ld = heap_d[n_heap]
        lv = heap_v[n_heap]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= n_heap:
                break
            if c + 1 < n_heap and heap_d[c + 1] < heap_d[c]:
                c += 1
            if heap_d[c] >= ld:
                break
            heap_d[i] = heap_d[c]
            heap_v[i] = heap_v[c]
            i = c
        heap_d[i] = ld
        heap_v[i] = lv
    return n_heap


@njit(cache=True, nogil=True)
def _search(indptr, indices, weights, source, alias, dist_r, pred_r, heap_d, heap_v, n_heap):  # pragma: no cover
    """Settle the heap's nodes (stale entries skipped), relaxing their links; predecessors
    that are the source are written as its alias."""
    while n_heap > 0:
        d = heap_d[0]
        u = heap_v[0]
        n_heap = _pop(heap_d, heap_v, n_heap)
        if d > dist_r[u]:
            continue
        n_heap = _relax(indptr, indices, weights, u, d, alias if u == source else u, dist_r, pred_r,
                        heap_d, heap_v, n_heap)


@njit(cache=True, nogil=True, inline="always")
def _relax(indptr, indices, weights, u, du, named, dist_r, pred_r, heap_d, heap_v, n_heap):  # pragma: no cover
    """Relax the links out of ``u`` (at delay ``du``): a node reached faster gets ``u`` (as
    ``named``) for predecessor and goes on the heap; returns the heap's new size."""
    for k in range(indptr[u], indptr[u + 1]):
        v = indices[k]
        nd = du + weights[k]
        if nd < dist_r[v]:
            dist_r[v] = nd
            pred_r[v] = named
            n_heap = _push(heap_d, heap_v, n_heap, nd, v)
    return n_heap


@njit(cache=True, nogil=True)
def _first_hops(source, alias, pred_r, first_r, stack):  # pragma: no cover - compiled
    """The first hop of every node's path (the node after the source), from the
    predecessors; ``first_r`` preset to -2 (not yet known)."""
    first_r[source] = -1
    for v in range(len(pred_r)):
        top = 0
        x = v
        while first_r[x] == -2:
            p = pred_r[x]
            if p < 0:
                first_r[x] = -1
                break
            if p == alias:
                first_r[x] = x
                break
            stack[top] = x
            top += 1
            x = p
        while top > 0:
            top -= 1
            x = stack[top]
            first_r[x] = first_r[pred_r[x]]


@njit(cache=True, nogil=True)
def _grow(indptr, indices, weights, sources, aliases, dist, pred, first, with_first):  # pragma: no cover
    """Dijkstra from scratch from each source (rows preset to inf / -1 / -2); first hops
    only ``with_first``."""
    heap_d = np.empty(len(indices) + 1, dtype=np.float64)
    heap_v = np.empty(len(indices) + 1, dtype=np.int32)
    stack = np.empty(len(indptr), dtype=np.int32)
    for row in range(len(sources)):
        source, alias = sources[row], aliases[row]
        dist[row, source] = 0.0
        heap_d[0] = 0.0
        heap_v[0] = source
        _search(indptr, indices, weights, source, alias, dist[row], pred[row], heap_d, heap_v, 1)
        if with_first:
            _first_hops(source, alias, pred[row], first[row], stack)


@njit(cache=True, nogil=True)
def _along_tree(indptr, indices, weights, source, alias, pred_r, dist_r, stack):  # pragma: no cover - compiled
    """``dist_r`` (preset to inf): each node's delay along its old predecessor chain under
    the current weights. Each node's chain is walked up to a node whose delay is known, and
    the delays are filled in on the way back, a link's weight looked up among its tail's
    links (each node is walked once, and only its own link is read, where a walk down the
    tree would read every link of every node). Nodes whose chain lost a link, or had none,
    lose their predecessor."""
    dist_r[source] = 0.0
    pred_r[source] = -1
    for start in range(len(pred_r)):
        if dist_r[start] < np.inf or pred_r[start] < 0:
            continue
        top = 0
        x = start
        while True:                  # up the chain to a known delay, or to its broken end
            stack[top] = x
            top += 1
            p = pred_r[x]
            if p == alias:
                p = source
            if p < 0 or dist_r[p] < np.inf or top == len(stack):   # (longer than the nodes: a cycle)
                break
            x = p
        broken = p < 0 or dist_r[p] == np.inf
        while top > 0:               # back down: delay = the tail's + the link's
            top -= 1
            y = stack[top]
            if not broken:
                tail = pred_r[y]
                if tail == alias:
                    tail = source
                broken = True
                for k in range(indptr[tail], indptr[tail + 1]):
                    if indices[k] == y:
                        dist_r[y] = dist_r[tail] + weights[k]
                        broken = False
                        break
            if broken:               # this link went away: the rest of the chain has no path yet
                pred_r[y] = -1


@njit(cache=True, nogil=True)
def _repair(indptr, indices, weights, sources, aliases, dist, pred, first, with_first):  # pragma: no cover
    """Repair each source's tree (``pred`` holds the old ones on entry; see the module
    docstring); ``dist`` and (``with_first``) ``first`` are overwritten."""
    n = len(indptr) - 1
    # pushes: at most one per link in the scan, and one per link in the search (a popped label
    # is final, as in Dijkstra: the scan leaves every link satisfied or its tail on the heap)
    heap_d = np.empty(2 * len(indices) + 1, dtype=np.float64)
    heap_v = np.empty(2 * len(indices) + 1, dtype=np.int32)
    scratch = np.empty(n + 1, dtype=np.int32)
    for row in range(len(sources)):
        source, alias = sources[row], aliases[row]
        dist_r, pred_r = dist[row], pred[row]
        dist_r[:] = np.inf
        _along_tree(indptr, indices, weights, source, alias, pred_r, dist_r, scratch)
        n_heap = 0
        for u in range(n):             # links that shorten a path now: their heads start the search
            if dist_r[u] < np.inf:
                n_heap = _relax(indptr, indices, weights, u, dist_r[u], alias if u == source else u, dist_r,
                                pred_r, heap_d, heap_v, n_heap)
        _search(indptr, indices, weights, source, alias, dist_r, pred_r, heap_d, heap_v, n_heap)
        if with_first:
            first[row, :] = -2
            _first_hops(source, alias, pred_r, first[row], scratch)


def cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def dijkstra(graph: csr_matrix, sources: np.ndarray, threads: int = 0, previous: Optional[np.ndarray] = None,
             aliases: Optional[np.ndarray] = None, with_first_hops: bool = True
             ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Least delays (S, N), predecessors and first hops (S, N, int32, -1: none) from
    ``sources`` over the directed CSR ``graph`` (undirected: store both directions), on
    ``threads`` threads (0: one per core). Weights must be positive.

    ``previous``: predecessors these sources had over the same nodes a moment ago (another
    tick): the trees are repaired instead of grown (same result, much less work).
    ``aliases``: the index to write where a predecessor is the source (default: itself).
    ``with_first_hops=False`` skips the first hops (None is returned in their place): the
    routes *to* every source need only the predecessors, and the first hops cost another
    pass over every node per source."""
    g = graph.tocsr()
    src = np.asarray(sources, dtype=np.int64).reshape(-1)
    alias = src if aliases is None else np.asarray(aliases, dtype=np.int64).reshape(-1)
    n = g.shape[0]
    shape = (len(src), n)
    if previous is not None and previous.shape == shape:
        kernel = _repair     # it presets each row itself, in its own thread (first touch is costly)
        dist = np.empty(shape)
        first = np.empty(shape if with_first_hops else (len(src), 0), dtype=np.int32)
        pred = np.array(previous, dtype=np.int32)   # a copy: repaired in place
    else:
        kernel = _grow
        dist = np.full(shape, np.inf)
        first = np.full(shape if with_first_hops else (len(src), 0), -2, dtype=np.int32)
        pred = np.full(shape, -1, dtype=np.int32)
    if not len(src) or not n:
        return dist, pred, np.full(shape, -1, dtype=np.int32) if with_first_hops else None
    arrays = (g.indptr.astype(np.int64), g.indices.astype(np.int32), g.data.astype(np.float64))
    threads = min(threads or cores(), len(src))
    if threads <= 1 or len(src) < 8:
        kernel(*arrays, src, alias, dist, pred, first, with_first_hops)
    else:
        bounds = np.linspace(0, len(src), threads + 1).astype(int)
        parts = [slice(bounds[i], bounds[i + 1]) for i in range(threads)]
        # a pool per call: cheap next to the work, and nothing to go wrong across fork
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="leonet-dijkstra") as pool:
            for f in [pool.submit(kernel, *arrays, src[p], alias[p], dist[p], pred[p], first[p], with_first_hops)
                      for p in parts]:
                f.result()
    return dist, pred, first if with_first_hops else None
