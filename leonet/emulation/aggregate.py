"""Fewest prefix routes that forward exactly as a node's per-destination routes.

A node's routes name one next-hop object per destination address (``10.64.0.0 + i``),
and long runs of neighbouring addresses share an object (all the satellites of a far
plane leave through the same neighbour), so a bring-up's millions of /32 routes can be
fewer prefixes under longest-prefix match: Optimal Routing Table Constructor (ORTC; Draves,
King, Venkatachary and Zill, INFOCOM 1999) over the binary trie of the node addresses,
for many nodes at once with numpy, the candidate objects of a trie node as a bit mask.

* Up the trie, a node's candidates are its children's in common, or all of them if they
  have none in common.
* Down the trie, a node keeps what its nearest route above gives if that is a candidate;
  otherwise it gets a route of its own (the lowest candidate).

The routes forward every destination exactly as its /32 would: a destination without a
route gets a *throw* prefix where a route above would otherwise cover it (forwarding then
fails as with no route), addresses that are no destination are never covered, and the
node's own address (delivered by the local table first) may be covered by anything.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: candidate bit 63 stands for "no route" (a throw route if one must be installed)
_NONE_BIT = np.uint64(1) << np.uint64(63)
#: at most this many distinct objects per node; a node with more keeps its /32 routes
MAX_OBJECTS = 63


@dataclass(frozen=True)
class Prefixes:
    """Routes of several nodes: ``node[i]`` gets ``first[i]/(32 - bits[i])`` (``first``: the
    index of the first address it covers; it covers ``2 ** bits[i]`` of them) through object
    ``object_id[i]``, or a throw route where ``object_id[i]`` is 0."""

    node: np.ndarray
    first: np.ndarray
    bits: np.ndarray
    object_id: np.ndarray

    def __len__(self) -> int:
        return len(self.node)


def aggregate(objects: np.ndarray, rows: np.ndarray, columns: np.ndarray, chunk: int = 256) -> Prefixes:
    """Prefix routes for the nodes ``columns`` that forward as ``objects``, a (destination
    rows x nodes) table of object ids (0: no route) whose row r is address index ``rows[r]``
    and column c node ``columns[c]``; the nodes are handled ``chunk`` at a time (memory).

    Nodes with more than :data:`MAX_OBJECTS` distinct objects are left out (the caller keeps
    their /32 routes)."""
    rows = np.asarray(rows, dtype=np.int64)
    depth = max(1, int(np.ceil(np.log2(max(int(rows.max(initial=0)) + 1, int(np.max(columns, initial=0)) + 1, 2)))))
    parts = []
    for start in range(0, objects.shape[1], chunk):
        parts.append(_aggregate_chunk(objects[:, start:start + chunk], rows, np.asarray(columns[start:start + chunk]),
                                      depth))
    if not parts:
        none = np.zeros(0, dtype=np.int64)
        return Prefixes(none, none, none, none)
    return Prefixes(*(np.concatenate([p[k] for p in parts]) for k in range(4)))


def _aggregate_chunk(objects: np.ndarray, rows: np.ndarray, columns: np.ndarray, depth: int):
    n = objects.shape[1]
    # each node's objects as bits 0..62, by increasing id (any order is exact)
    table = np.zeros((n, MAX_OBJECTS + 1), dtype=np.int64)     # bit -> object id, per node
    leaf_bits = np.full((n, 1 << depth), _NONE_BIT, dtype=np.uint64)   # not a destination: no route
    keep = np.ones(n, dtype=bool)
    for c in range(n):
        ids, inverse = np.unique(objects[:, c], return_inverse=True)
        real = ids > 0
        if real.sum() > MAX_OBJECTS:
            keep[c] = False
            continue
        bit_of = np.where(real, np.cumsum(real) - 1, 63).astype(np.uint64)
        table[c, :int(real.sum())] = ids[real]
        leaf_bits[c, rows] = np.uint64(1) << bit_of[inverse]
    own = columns[(columns >= 0) & (columns < leaf_bits.shape[1])]
    leaf_bits[np.flatnonzero((columns >= 0) & (columns < leaf_bits.shape[1])), own] = ~np.uint64(0)  # local

    # up: candidates per trie level, leaves (level depth) to the root (level 0)
    levels = [leaf_bits]
    for _ in range(depth):
        child = levels[-1]
        left, right = child[:, 0::2], child[:, 1::2]
        both = left & right
        levels.append(np.where(both != 0, both, left | right))
    levels.reverse()

    # down: a route where the nearest route above is not a candidate
    out_node, out_first, out_bits, out_bit = [], [], [], []
    above = np.broadcast_to(_NONE_BIT, (n, 1))
    for level, cand in enumerate(levels):
        if level:
            above = np.repeat(above, 2, axis=1)
        need = (cand & above) == 0
        if need.any():
            lowest = cand & (~cand + np.uint64(1))
            above = np.where(need, lowest, above)
            c, pos = np.nonzero(need)
            span = depth - level
            out_node.append(c)
            out_first.append(pos.astype(np.int64) << span)
            out_bits.append(np.full(len(c), span, dtype=np.int64))
            out_bit.append(lowest[c, pos])
    if not out_node:
        none = np.zeros(0, dtype=np.int64)
        return none, none, none, none
    c = np.concatenate(out_node)
    bit = np.concatenate(out_bit)
    index = np.log2(bit.astype(np.float64)).round().astype(np.int64)   # one bit set
    object_id = np.where(index == 63, 0, table[c, np.minimum(index, MAX_OBJECTS)])
    mine = keep[c]
    return (np.asarray(columns)[c[mine]], np.concatenate(out_first)[mine], np.concatenate(out_bits)[mine],
            object_id[mine])

