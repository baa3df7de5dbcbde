"""For every satellite, the nearest of a set of "control" ground stations (e.g. the
sites of a Kubernetes control plane), by path delay and by straight-line distance."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .routing import RoutingTables
from .snapshot import NodeRef, Snapshot


@dataclass(frozen=True)
class ControlAssignment:
    """Per satellite (index = satellite index): the chosen control node and the metric.

    ``by_delay`` is -1 where no control ground station is reachable (``delay_ms`` inf);
    ``by_distance`` is -1 only for satellites without a position.
    """

    control_nodes: np.ndarray       #: (C,) node indices of the control ground stations
    by_delay: np.ndarray            #: (N,) node index of the least-path-delay control station
    delay_ms: np.ndarray            #: (N,) one-way path delay to it
    by_distance: np.ndarray         #: (N,) node index of the nearest one in a straight line
    distance_km: np.ndarray         #: (N,) straight-line distance to it


def nearest_control(snapshot: Snapshot, control: Sequence[NodeRef],
                    routes: Optional[RoutingTables] = None) -> ControlAssignment:
    """Nearest control station of each satellite. ``routes`` may be given if it already
    has every control station among its sources (saves the Dijkstra runs)."""
    nodes = np.array([snapshot.node_index(x) for x in control], dtype=np.int64)
    n = snapshot.nodes.num_satellites
    if not len(nodes):
        none = np.full(n, -1, np.int64)
        return ControlAssignment(nodes, none, np.full(n, np.inf), none.copy(), np.full(n, np.inf))
    if routes is None:
        routes = snapshot.routes(nodes)
    rows = [routes.row(int(x)) for x in nodes]
    delay = routes.delay_ms[rows, :n]                                    # (C, N)
    best = np.argmin(delay, axis=0)
    best_delay = delay[best, np.arange(n)]
    by_delay = np.where(np.isfinite(best_delay), nodes[best], -1)

    sat_pos = snapshot.positions_km[:n]
    dist = np.linalg.norm(sat_pos[None, :, :] - snapshot.positions_km[nodes][:, None, :], axis=-1)
    finite = np.isfinite(dist).all(axis=0)
    nearest = np.argmin(np.where(np.isfinite(dist), dist, np.inf), axis=0)
    by_distance = np.where(finite, nodes[nearest], -1)
    return ControlAssignment(nodes, by_delay, best_delay, by_distance, dist[nearest, np.arange(n)])
