"""Destination groups of routes: which routes of a node move together.

A ground station reaches every satellite over one of the ~10-20 satellites it sees. When a
newly risen satellite becomes the best uplink for some destinations, those are not a
random subset: in a +Grid they are the satellites on one side of a position in their
planes (e.g. slots 14..2 of every plane a few hops away move, slots 3..13 stay, measured
at shell 1). Grouping a station's routes by the destination's position in its orbit
(slot, in runs of ``span`` consecutive slots, per shell) makes such a move one re-pointed
next-hop object per group instead of hundreds of routes (leonet.emulation.nexthops), and
lets route hysteresis move a group's near-tied members with the rest (leonet.topology.stable).

Routes towards ground stations form one more group; satellites (as forwarding nodes) keep
one group: their route changes do not follow orbital positions (measured: no fewer
operations, 8x more next-hop objects).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..orbits import Constellation

#: none: a node's routes are one group; slot: ground stations group them by the
#: destination's position in its orbit (docs/emulation.md, "Routes")
ROUTE_GROUPINGS = ("none", "slot")


@dataclass(frozen=True)
class RouteGroups:
    """Group of each destination row (``of_row``, ``0 .. count-1``) at the nodes marked in
    ``nodes``; every other node has all its routes in group 0."""

    of_row: np.ndarray
    nodes: np.ndarray

    @property
    def count(self) -> int:
        return int(self.of_row.max()) + 1 if len(self.of_row) else 1

    def key(self, rows: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """(node, group) key ``node * count + group`` of routes (destination row, node)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        return nodes * self.count + np.where(self.nodes[nodes], self.of_row[rows], 0)


def route_groups(constellation: Constellation, destinations: np.ndarray, by: str = "slot",
                 span: int = 3) -> Optional[RouteGroups]:
    """Groups of the routes towards ``destinations`` (node indices) at ground stations:
    ``by="slot"``: satellites by (shell, slot // span), ground stations one group;
    ``by="none"``: None (one group per node)."""
    if by == "none":
        return None
    if by not in ROUTE_GROUPINGS:
        raise ValueError(f"route grouping {by!r}: one of {ROUTE_GROUPINGS}")
    if span < 1:
        raise ValueError("span: at least 1 slot per group")
    n = constellation.num_satellites
    shells = np.array([s.shell for s in constellation.satellites], dtype=np.int64)
    slots = np.array([s.slot for s in constellation.satellites], dtype=np.int64)
    dest = np.asarray(destinations, dtype=np.int64)
    sat = dest < n
    width = int(slots.max()) // span + 1 if n else 1
    key = np.full(len(dest), -1, dtype=np.int64)       # ground stations: one group
    key[sat] = shells[dest[sat]] * width + slots[dest[sat]] // span
    of_row = np.unique(key, return_inverse=True)[1].astype(np.int64)
    stations = np.arange(n + len(constellation.ground_stations)) >= n
    return RouteGroups(of_row.reshape(-1), stations)
