"""The network at one instant: nodes, positions, links, and path queries."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.sparse import csr_matrix

from .links import Links
from .nodes import Nodes
from .routing import RoutingTables, delay_graph, shortest_paths

NodeRef = Union[int, str]


@dataclass(frozen=True)
class Path:
    """A shortest (least one-way delay) path, or the explicit answer that there is none.

    ``delay_ms`` and ``distance_km`` are None and ``hops`` is empty when unreachable.
    """

    source: str
    target: str
    time: _dt.datetime
    reachable: bool
    delay_ms: Optional[float]
    distance_km: Optional[float]
    hops: Tuple[str, ...]            #: node names from source to target, both included
    node_indices: Tuple[int, ...]

    def to_dict(self) -> Dict[str, object]:
        from ..orbits.timeutil import format_utc
        return {"from": self.source, "to": self.target, "time": format_utc(self.time),
                "reachable": self.reachable, "delay_ms": self.delay_ms,
                "distance_km": self.distance_km, "hops": list(self.hops)}


@dataclass
class Snapshot:
    """Nodes (satellites, then ground stations) and the links that are up at ``time``."""

    time: _dt.datetime
    offset_s: float                  #: seconds since the scenario start
    nodes: Nodes
    positions_km: np.ndarray         #: (V, 3) ECEF, satellites then ground stations
    links: Links
    #: per ground station: its primary satellite (index) by the GSL policy, or -1
    primary_satellite: np.ndarray
    #: per satellite: inside the bounding box (all True without one)
    active: np.ndarray
    ground_station_relay: bool = False
    _graph: Optional[csr_matrix] = field(default=None, repr=False)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def graph(self) -> csr_matrix:
        """Symmetric sparse (V, V) matrix of link delays in ms (no entry: no link)."""
        if self._graph is None:
            self._graph = delay_graph(self.links, self.num_nodes)
        return self._graph

    def node_index(self, node: NodeRef) -> int:
        if isinstance(node, (int, np.integer)):
            if not 0 <= int(node) < self.num_nodes:
                raise IndexError(f"node index {node} out of range")
            return int(node)
        return self.nodes.index(node)

    def routes(self, sources: Sequence[NodeRef], previous: Optional[RoutingTables] = None,
               with_first_hops: bool = True, threads: int = 0) -> RoutingTables:
        """Shortest paths from each source (name or index) to every node. ``previous``: the
        same sources' tables at another tick, repaired instead of computed anew (faster, same
        result). ``with_first_hops=False`` derives the first hops only when asked for;
        ``threads``: 0 for one per core."""
        return shortest_paths(self.links, self.num_nodes, self.nodes.num_satellites,
                              [self.node_index(s) for s in sources], self.ground_station_relay, previous,
                              with_first_hops, threads)

    def routes_from_ground_stations(self) -> RoutingTables:
        """Routing tables rooted at every ground station: the routes of every node to
        every ground station, and of every ground station to every node."""
        n = self.nodes.num_satellites
        return shortest_paths(self.links, self.num_nodes, n, np.arange(n, self.num_nodes),
                              self.ground_station_relay)

    def path(self, source: NodeRef, target: NodeRef) -> Path:
        """The least-delay path between two nodes (any kinds), or an unreachable answer."""
        s, t = self.node_index(source), self.node_index(target)
        hops = self.routes([s]).hops(s, t)
        names = self.nodes.names
        if hops is None:
            return Path(names[s], names[t], self.time, False, None, None, (), ())
        keys = self.links.keys(self.num_nodes)
        idx = np.searchsorted(keys, [min(u, v) * self.num_nodes + max(u, v)
                                     for u, v in zip(hops[:-1], hops[1:])])
        return Path(names[s], names[t], self.time, True,
                    float(np.sum(self.links.delay_ms[idx])), float(np.sum(self.links.distance_km[idx])),
                    tuple(names[i] for i in hops), tuple(hops))

    def link_between(self, a: NodeRef, b: NodeRef) -> Optional[int]:
        """Row of the link between two nodes in :attr:`links`, or None."""
        i, j = sorted((self.node_index(a), self.node_index(b)))
        keys = self.links.keys(self.num_nodes)
        k = int(np.searchsorted(keys, i * self.num_nodes + j))
        return k if k < len(keys) and keys[k] == i * self.num_nodes + j else None
