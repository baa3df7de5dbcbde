"""Routes through kernel next-hop objects: one re-pointed object instead of many routes.

With inline next hops every route names its gateway, so when a ground station loses the
satellite that carried ~1,700 of its routes (a GSL handover), ~1,700 routes are replaced
in one tick. With next-hop objects (``ip nexthop``, Linux >= 5.3) a route names an object
id, and one ``RTM_NEWNEXTHOP`` re-points every route that uses it.

:class:`NexthopSlots` keeps, per node, a set of *slots* (object ids) and the node each
one points at, and turns each tick's next-hop table into few kernel operations, greedily:

1. a slot whose routes mostly move to one new next hop is re-pointed there (one
   operation) when more of its routes move there than stay where it points;
2. every route whose slot does not (now) point at its next hop moves to a slot that
   does, taking a free slot where the node has none (one operation each);
3. routes to destinations that became unreachable are deleted.

The result is exact: every route's object points at the table's next hop, so the kernel
forwards exactly as with inline gateways. A slot whose routes all left is free again, but
only from the next tick on (within a tick, a route still on its way off a slot is never
re-pointed elsewhere by that slot's reuse). A slot is written to the kernel whenever it
is re-pointed or taken into use, so objects the kernel deleted with their link (it
deletes a device's next-hop objects with the device) are simply created again.

This module is bookkeeping only (numpy); :mod:`.network` sends the messages, in the order
of :class:`SlotPlan`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

from ..topology.groups import RouteGroups
from ..topology.stable import nonzero_pairs

Pairs = Tuple[np.ndarray, np.ndarray]


def _none() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class SlotPlan:
    """One tick's kernel operations. Send, per node, in this order: ``fresh`` objects,
    route ``puts``, ``repoints``, route ``deletes`` (routes that must leave a re-pointed
    slot are moved before it is re-pointed)."""

    #: objects taken into use now (create or replace): node, slot, target node
    fresh: Tuple[np.ndarray, np.ndarray, np.ndarray] = field(default_factory=lambda: (_none(), _none(), _none()))
    #: routes to add or replace: destination row, node, slot
    puts: Tuple[np.ndarray, np.ndarray, np.ndarray] = field(default_factory=lambda: (_none(), _none(), _none()))
    #: objects re-pointed: node, slot, target node
    repoints: Tuple[np.ndarray, np.ndarray, np.ndarray] = field(default_factory=lambda: (_none(), _none(), _none()))
    #: routes to delete: destination row, node
    deletes: Pairs = field(default_factory=lambda: (_none(), _none()))

    @property
    def operations(self) -> int:
        """Kernel operations (one message each)."""
        return len(self.fresh[0]) + len(self.puts[0]) + len(self.repoints[0]) + len(self.deletes[0])

    @property
    def route_operations(self) -> int:
        return len(self.puts[0]) + len(self.deletes[0])

    @property
    def object_operations(self) -> int:
        return len(self.fresh[0]) + len(self.repoints[0])


class NexthopSlots:
    """Per-node next-hop objects and which one each route uses: ``rows`` destinations
    (rows of the next-hop table) by ``nodes`` nodes (columns).

    ``groups`` (:class:`leonet.topology.groups.RouteGroups`; None: one group per node)
    splits each node's routes into destination groups with objects of their own: the routes
    of group g at node v only ever use the slots of (v, g), so a group whose routes move to
    one new next hop together re-points its own object even when the node's other routes
    over the same next hop stay. Slot s of group g is kernel object ``s * G + g + 1`` of
    the node (G: the number of groups; ids stay fixed when the capacity grows)."""

    def __init__(self, rows: int, nodes: int, slots: int = 16, groups: Optional[RouteGroups] = None):
        self.rows, self.nodes = rows, nodes
        if groups is not None and (groups.of_row.shape != (rows,) or groups.nodes.shape != (nodes,)):
            raise ValueError("groups: one group per destination row and a flag per node")
        self.route_groups = groups
        #: groups per node: the slot tables below have a row per (node, group) key, node * G + group
        self.groups = groups.count if groups is not None else 1
        #: slot of route (destination row, node); -1: no route
        self.slot = np.full((rows, nodes), -1, dtype=np.int32)
        #: the node each slot points at (-1: never used) and the routes using it
        self.target = np.full((nodes * self.groups, slots), -1, dtype=np.int32)
        self.size = np.zeros((nodes * self.groups, slots), dtype=np.int32)

    @property
    def capacity(self) -> int:
        """Slots per node (grows when a node needs more)."""
        return self.target.shape[1]

    def effective(self) -> np.ndarray:
        """The (rows x nodes) next hops the kernel forwards along: each route's slot's target."""
        keys = self._key(np.arange(self.rows)[:, None], np.arange(self.nodes)[None, :])
        return np.where(self.slot >= 0, self.target[keys, np.maximum(self.slot, 0)], -1)

    def object_id(self, keys: np.ndarray, slots: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(node, kernel object id minus 1) of slots given by (node * G + group) keys."""
        node, group = np.divmod(np.asarray(keys, dtype=np.int64), self.groups)
        return node, np.asarray(slots, dtype=np.int64) * self.groups + group

    def plan(self, old_hop: np.ndarray, new_hop: np.ndarray, changed: Optional[np.ndarray] = None,
             pairs: Optional[Pairs] = None) -> SlotPlan:
        """Move the slots from table ``old_hop`` (installed) to ``new_hop``, both
        (rows x nodes) with -1 for no route, and return the kernel operations
        (``changed``: ``new_hop != old_hop`` if the caller has it; or ``pairs``: the rows and
        columns where they differ, each once, which spares comparing whole tables)."""
        if pairs is None:
            if changed is None:
                changed = new_hop != old_hop
            pairs = nonzero_pairs(changed)
        d, v = (np.asarray(p, dtype=np.int64) for p in pairs)
        if not len(d):
            return SlotPlan()
        nh = new_hop[d, v].astype(np.int64)
        in_use = self.size > 0                  # slots busy when the tick began: not free now
        k = self._key(d, v)                     # the (node, group) whose slots a route uses
        rp_key, rp_slot, rp_to = self._repoints(d, v, k, nh)
        # routes that did not change but sit on a slot re-pointed away: they move too
        sd, sv = self._stayers(rp_key, rp_slot, d, v)
        if len(sd):
            d, v = np.concatenate((d, sd)), np.concatenate((v, sv))
            k = self._key(d, v)
            nh = np.concatenate((nh, new_hop[sd, sv].astype(np.int64)))
        s = self.slot[d, v].astype(np.int64)
        self.target[rp_key, rp_slot] = rp_to
        on = np.where(s >= 0, self.target[k, np.maximum(s, 0)], -1)
        gone = (nh < 0) & (s >= 0)
        need = (nh >= 0) & (on != nh)
        pd, pv, pk, pnh, ps_old = d[need], v[need], k[need], nh[need], s[need]
        ps = self._slots_for(pk, pnh, in_use)
        leave = ps_old >= 0
        self.size -= self._count(np.concatenate((pk[leave], k[gone])), np.concatenate((ps_old[leave], s[gone])))
        was_empty = self.size == 0
        arriving = self._count(pk, ps)
        self.size += arriving
        self.slot[pd, pv] = ps
        self.slot[d[gone], v[gone]] = -1
        # objects written: re-pointed ones, and those taken into use (empty before, used now)
        taken = np.flatnonzero(arriving.reshape(-1))
        tk, ts = np.divmod(taken, self.capacity)
        fresh = was_empty[tk, ts]
        repointed = ~np.isin(rp_key * self.capacity + rp_slot, taken[fresh])   # (none is fresh)
        tk, ts = tk[fresh], ts[fresh]
        rk, rs = rp_key[repointed], rp_slot[repointed]
        return SlotPlan(fresh=(*self.object_id(tk, ts), self.target[tk, ts].astype(np.int64)),
                        puts=(pd, pv, ps * self.groups + self._key(pd, pv) % self.groups),
                        repoints=(*self.object_id(rk, rs), self.target[rk, rs].astype(np.int64)),
                        deletes=(d[gone], v[gone]))

    # -- steps ---------------------------------------------------------------------------
    def _key(self, d: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The (node, group) key ``v * G + g`` of route (row ``d``, node ``v``)."""
        if self.route_groups is None:
            return np.asarray(v, dtype=np.int64) + np.zeros_like(d, dtype=np.int64)
        return self.route_groups.key(d, v)

    def _repoints(self, d: np.ndarray, v: np.ndarray, k: np.ndarray, nh: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slots to re-point, and where: for each slot that routes leave, the next hop most of
        them take, if more take it than stay (ties: the lowest node index). Slots are given
        by their (node, group) key ``k``."""
        s = self.slot[d, v].astype(np.int64)
        K, V = self.capacity, self.nodes
        leaving = s >= 0
        moving = leaving & (nh >= 0)
        if not moving.any():
            return _none(), _none(), _none()
        key = (k[moving] * K + s[moving]) * V + nh[moving]
        uniq, counts = np.unique(key, return_counts=True)
        slot_key, to = np.divmod(uniq, V)
        order = np.lexsort((to, -counts, slot_key))
        slot_key, to, counts = slot_key[order], to[order], counts[order]
        first = np.r_[True, slot_key[1:] != slot_key[:-1]]
        slot_key, to, counts = slot_key[first], to[first], counts[first]
        left = np.bincount(k[leaving] * K + s[leaving], minlength=self.size.size)[slot_key]
        stay = self.size.reshape(-1)[slot_key] - left
        go = counts > stay
        key, slot = np.divmod(slot_key[go], K)
        return key, slot, to[go]

    def _stayers(self, keys: np.ndarray, slots: np.ndarray, changed_rows: np.ndarray,
                 changed_nodes: np.ndarray) -> Pairs:
        """(row, node) of the unchanged routes on the given slots, by (node, group) key (the
        changed ones: the pairs ``changed_rows``, ``changed_nodes``)."""
        if not len(keys):
            return _none(), _none()
        order = np.argsort(changed_nodes, kind="stable")
        by_node, rows_by_node = changed_nodes[order], changed_rows[order]
        rows, cols = [], []
        for key, slot in zip(keys.tolist(), slots.tolist()):
            node, group = divmod(key, self.groups)
            mine = (self.slot[:, node] == slot)
            if self.route_groups is not None and self.route_groups.nodes[node]:
                mine &= self.route_groups.of_row == group
            lo, hi = np.searchsorted(by_node, [node, node + 1])
            mine[rows_by_node[lo:hi]] = False
            r = np.flatnonzero(mine)
            rows.append(r)
            cols.append(np.full(len(r), node))
        if not rows:
            return _none(), _none()
        return np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)

    def _count(self, keys: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """How many of the routes (``keys[i]``, ``slots[i]``) are on each slot ((node, group) x capacity)."""
        n, K = self.size.shape
        return np.bincount(keys * K + slots, minlength=n * K).reshape(n, K).astype(np.int32)

    def _slots_for(self, nodes: np.ndarray, targets: np.ndarray, in_use: np.ndarray) -> np.ndarray:
        """For each (node, target) (``nodes``: (node, group) keys): a slot of the node pointing
        at the target, else one that is free (empty and not in use when the tick began), now
        pointed at the target; a node's new targets take its free slots in order (growing the
        capacity if need be)."""
        if not len(nodes):
            return _none()
        uniq, inverse = _unique_inverse(nodes * self.nodes + targets, self.size.shape[0] * self.nodes)
        un, ut = np.divmod(uniq, self.nodes)
        match = self.target[un] == ut[:, None]
        chosen = np.where(match.any(axis=1), match.argmax(axis=1), -1)
        found = chosen >= 0
        in_use = in_use.copy()
        in_use[un[found], chosen[found]] = True   # a free slot found by its target: not free for another
        new = np.flatnonzero(~found)              # a new neighbour of a node: a handful per tick
        if len(new):
            nn = un[new]                              # sorted by node, as ``uniq`` is
            starts = np.flatnonzero(np.r_[True, nn[1:] != nn[:-1]])
            rank = np.arange(len(nn)) - np.repeat(starts, np.diff(np.r_[starts, len(nn)]))
            free = (self.size == 0) & ~in_use
            while (rank >= free[nn].sum(axis=1)).any():
                K = self.capacity
                self._grow()
                free = np.pad(free, ((0, 0), (0, self.capacity - K)), constant_values=True)
            first_free = np.argsort(~free[nn], axis=1, kind="stable")   # free slots first, by index
            slot = first_free[np.arange(len(nn)), rank]
            self.target[nn, slot] = ut[new]
            chosen[new] = slot
        return chosen[inverse].astype(np.int64)

    def _grow(self) -> None:
        K = self.capacity
        self.target = np.pad(self.target, ((0, 0), (0, K)), constant_values=-1)
        self.size = np.pad(self.size, ((0, 0), (0, K)))


def _unique_inverse(keys: np.ndarray, space: int) -> Tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for keys in ``[0, space)``; many keys (a
    bring-up's millions of routes) are ranked through a table of the space instead of sorted."""
    if len(keys) * 8 < space:
        return np.unique(keys, return_inverse=True)
    present = np.zeros(space, dtype=bool)
    present[keys] = True
    rank = np.cumsum(present, dtype=np.int32) - 1
    return np.flatnonzero(present), rank[keys].astype(np.int64)
