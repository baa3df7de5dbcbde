"""Celestial's per-pair network model: every pair of participating nodes gets one direct
virtual link whose delay, distance, bandwidth and loss are those of the least-delay path
between them in the snapshot, so nothing is forwarded through satellites.

Paths are the snapshot's own (scipy Dijkstra from every participant, ground stations not
relaying unless the scenario lets them); a path's bandwidth is its narrowest link, its
loss the combination of its links' (1 - prod(1 - p)). Pairs without a path get no link.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Tuple

import numpy as np

from .links import PAIR, Links
from .snapshot import Snapshot


def _path_aggregate(pred: np.ndarray, edge: np.ndarray, combine: Callable[[np.ndarray, np.ndarray], np.ndarray]
                    ) -> np.ndarray:
    """Per row (a shortest-path tree) and node v, ``edge`` values combined along the
    path from the root to v, by pointer jumping (O(log depth) vectorised passes).
    ``edge[r, v]`` is the value of the tree edge pred[r, v] -> v (the identity at roots)."""
    rows = np.arange(pred.shape[0])[:, None]
    agg, jump = edge.copy(), pred.copy()
    while (jump >= 0).any():
        has = jump >= 0
        up = np.where(has, jump, 0)
        agg = np.where(has, combine(agg, agg[rows, up]), agg)
        jump = np.where(has, jump[rows, up], -1)
    return agg


def participants(snap: Snapshot) -> np.ndarray:
    """Node indices that take part: satellites inside the bounding box (all satellites
    without one), then every ground station (always active, as in Celestial)."""
    n = snap.nodes.num_satellites
    return np.concatenate((np.flatnonzero(snap.active[:n]), np.arange(n, snap.num_nodes)))


def pairwise_links(snap: Snapshot, nodes: np.ndarray, speed_of_light_factor: float = 1.0) -> Links:
    """One link per connected pair of ``nodes`` (node indices), with its path's
    distance (so delay), narrowest bandwidth and combined loss; kind :data:`PAIR`."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if len(nodes) < 2:
        return Links.empty()
    V = snap.num_nodes
    tables = snap.routes(nodes)
    pred = tables.predecessor.astype(np.int64)
    links = snap.links
    keys = links.keys(V)
    has = pred >= 0
    child = np.broadcast_to(np.arange(V), pred.shape)
    edge_key = np.minimum(pred, child) * V + np.maximum(pred, child)
    idx = np.searchsorted(keys, np.where(has, edge_key, 0))
    idx = np.clip(idx, 0, max(0, len(keys) - 1))
    dist = _path_aggregate(pred, np.where(has, links.distance_km[idx], 0.0), np.add)
    bw = _path_aggregate(pred, np.where(has, links.bandwidth_mbps[idx], np.inf), np.minimum)
    keep = _path_aggregate(pred, np.where(has, 1.0 - links.loss_percent[idx] / 100.0, 1.0), np.multiply)
    i, j = np.triu_indices(len(nodes), k=1)
    reach = np.isfinite(tables.delay_ms[i, nodes[j]])
    i, j = i[reach], j[reach]
    cols = nodes[j]
    return Links.build(a=nodes[i], b=cols, kind=np.full(len(i), PAIR), distance_km=dist[i, cols],
                       bandwidth_mbps=bw[i, cols], loss_percent=100.0 * (1.0 - keep[i, cols]),
                       speed_of_light_factor=speed_of_light_factor)


def direct_next_hops(links: Links, destinations: np.ndarray, num_nodes: int) -> np.ndarray:
    """The routing table of a per-pair network: every node sends traffic for a
    destination straight over their pair link (-1 where there is none). Shape
    (destinations, nodes), as :attr:`RoutingTables.next_hop_to_source`."""
    row = np.full(num_nodes, -1, dtype=np.int64)
    row[np.asarray(destinations)] = np.arange(len(destinations))
    out = np.full((len(destinations), num_nodes), -1, dtype=np.int32)
    for x, y in ((links.a, links.b), (links.b, links.a)):   # y sends to destination x via x itself
        r = row[x]
        ok = r >= 0
        out[r[ok], y[ok]] = x[ok]
    return out


def pairwise_plane(snap: Snapshot, destinations: np.ndarray, speed_of_light_factor: float = 1.0
                   ) -> Tuple[Links, np.ndarray]:
    """The per-pair data plane of a snapshot: its links and its next-hop table."""
    links = pairwise_links(snap, participants(snap), speed_of_light_factor)
    return links, direct_next_hops(links, destinations, snap.num_nodes)


def pairwise_snapshot(snap: Snapshot, links: Optional[Links] = None, speed_of_light_factor: float = 1.0) -> Snapshot:
    """``snap`` as the per-pair data plane sees it: its links replaced by the pair links
    (``links`` if computed already). Least delays are unchanged (a pair's delay is its
    path's); paths are one hop. The self-check judges the kernel's tables against it."""
    if links is None:
        links = pairwise_links(snap, participants(snap), speed_of_light_factor)
    return dataclasses.replace(snap, links=links, _graph=None)
