"""Route hysteresis: keep yesterday's next hop while it stays within a stated epsilon of the optimum.

In a +Grid many paths between two nodes are near-ties (equal hop counts around a grid
cell, delays differing by microseconds). Which of them a Dijkstra run returns flips
with the last bits of the positions, so a fresh shortest-path tree every tick rewrites
thousands of kernel routes that change nothing a packet could notice. The rule here
keeps the previous next hop of node v towards destination d unless the path through
it is more than ``epsilon_ms`` longer than the least-delay path:

* a kept hop p must still be v's neighbour, with a link delay w(v, p) > epsilon and
  w(v, p) + D(p) <= D(v) + epsilon (D: least delay to d). Then D(p) < D(v): every hop,
  kept or new, strictly lowers D, so the tables are loop-free;
* the delay of the whole walk from v, through kept and new hops alike, exceeds D(v) by
  at most ``epsilon_ms`` (checked end to end, not per hop; kept hops that break it are
  reverted to the optimum until none does).

So every installed path is within ``epsilon_ms`` of the engine's least delay, and a
route changes only when a path improves by more than that (or its link goes away).

**Heirs.** When routes of node v must leave their next hop p (its GSL set, or the path
through it is no longer within epsilon), they move together where they can: the *heir* of
(v, p) is the least-delay next hop most of those routes would take, and each of them takes
the heir if that passes the same two rules as a kept hop; the others take their
least-delay hop.
With routes through kernel next-hop objects (leonet.emulation.nexthops) a group that
moves together is one re-pointed object instead of a route each.

**Groups** (optional, :mod:`.groups`): routes are grouped per node and destination group
rather than per node, heirs are chosen per (node, group, hop), and (at the nodes whose
routes are grouped: ground stations) the routes of such a group that could stay on the hop
it leaves *follow* the others to the heir when the heir
passes the same rules for them and that leaves fewer routes behind than would move
otherwise (so the group's object is re-pointed instead of routes moved one by one).
Followers are kept hops like any other: the end-to-end bound above holds for them too.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .groups import RouteGroups
from .links import Links
from .routing import RoutingTables


def nonzero_pairs(mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask as int64 (row, column) arrays, ~10x faster for sparse masks
    (2-D ``np.nonzero`` took 35 ms on a 1,700 x 1,700 table with 3,000 entries set)."""
    flat = np.flatnonzero(mask)
    return np.divmod(flat, np.int64(mask.shape[1]))


def link_delays(links: Links, num_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Delay (ms) of the link between nodes ``a[i]`` and ``b[i]``, NaN where there is none."""
    keys = links.keys(num_nodes)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
    want = lo * num_nodes + hi
    pos = np.clip(np.searchsorted(sorted_keys, want), 0, max(len(sorted_keys) - 1, 0))
    out = np.full(len(want), np.nan)
    if len(sorted_keys):
        hit = sorted_keys[pos] == want
        out[hit] = np.asarray(links.delay_ms, dtype=float)[order[pos[hit]]]
    return out


def stable_next_hops(previous: np.ndarray, routes: RoutingTables, links: Links, num_nodes: int,
                     epsilon_ms: float, groups: Optional[RouteGroups] = None) -> np.ndarray:
    """The (destinations x nodes) next-hop table to install: ``routes``' least-delay next hops,
    except where ``previous`` (the table installed now, same shape) still gives a path within
    ``epsilon_ms`` of the least delay (see the module docstring). ``epsilon_ms <= 0`` or a
    ``previous`` of another shape returns the least-delay table unchanged. ``groups``: the
    destination groups of the routes (heirs per group, and followers; None: per node)."""
    best = routes.next_hop_to_source
    if epsilon_ms <= 0 or previous is None or previous.shape != best.shape:
        return best.copy()
    hops = best.astype(np.int32, copy=True)
    dist = routes.delay_ms
    rows, cols = nonzero_pairs((previous >= 0) & (previous != best) & (best >= 0))
    if not len(rows):
        return hops
    kept = previous[rows, cols].astype(np.int64)
    slack, ok = _candidates(links, num_nodes, dist, best, rows, cols, kept, epsilon_ms)
    move = ~ok          # the previous hop went away or is no longer good: try its heir instead
    if move.any():
        owner = cols[move] if groups is None else groups.key(rows[move], cols[move])
        heir = _heirs(owner, kept[move], best[rows[move], cols[move]], num_nodes)
        heir_slack, heir_ok = _candidates(links, num_nodes, dist, best, rows[move], cols[move], heir, epsilon_ms)
        kept[move], slack[move], ok[move] = heir, heir_slack, heir_ok
        if groups is not None:
            rows, cols, kept, slack, ok = _with_followers(previous, best, dist, links, num_nodes, epsilon_ms,
                                                          groups, rows, cols, kept, slack, ok, move)
    rows, cols, kept, slack = rows[ok], cols[ok], kept[ok], slack[ok]
    while len(rows):
        hops[rows, cols] = kept
        excess = _walk_excess(hops, rows, cols, slack, max_hops=num_nodes)
        bad = excess > epsilon_ms
        if not bad.any():
            break
        hops[rows[bad], cols[bad]] = best[rows[bad], cols[bad]]
        rows, cols, kept, slack = rows[~bad], cols[~bad], kept[~bad], slack[~bad]
    return hops


def _with_followers(previous: np.ndarray, best: np.ndarray, dist: np.ndarray, links: Links, num_nodes: int,
                    epsilon_ms: float, groups: RouteGroups, rows: np.ndarray, cols: np.ndarray,
                    kept: np.ndarray, slack: np.ndarray, ok: np.ndarray, move: np.ndarray):
    """Add the followers (module docstring) to the candidate entries ``rows, cols, kept, slack,
    ok`` (``move``: the entries that leave their previous hop, now for its heir where ``ok``)."""
    V = np.int64(num_nodes)
    mv = np.flatnonzero(move)
    d, v, heir = rows[mv], cols[mv], kept[mv]
    old = previous[d, v].astype(np.int64)
    to_heir = ok[mv] | (best[d, v] == heir)
    gkey, inverse = np.unique(groups.key(d, v) * V + old, return_inverse=True)   # (node, group, hop left)
    inverse = inverse.reshape(-1)
    movers = np.bincount(inverse, weights=to_heir, minlength=len(gkey)).astype(np.int64)
    group_heir = np.full(len(gkey), -1, dtype=np.int64)
    group_heir[inverse[to_heir]] = heir[to_heir]
    live = (movers > 0) & groups.nodes[gkey // V // groups.count]    # only where routes are grouped
    gkey, movers, group_heir = gkey[live], movers[live], group_heir[live]
    if not len(gkey):
        return rows, cols, kept, slack, ok
    owner, hop = np.divmod(gkey, V)
    node, group = np.divmod(owner, groups.count)
    # the routes of each such (node, group) on the hop left that do not leave it: the stayers
    on = previous[:, node] == hop[None, :]
    on &= groups.of_row[:, None] == group[None, :]
    mover_key = groups.key(d, v) * V + old
    listed = np.isin(mover_key, gkey)
    on[d[listed], np.searchsorted(gkey, mover_key[listed])] = False
    sd, sg = nonzero_pairs(on)
    sv, sh = node[sg], group_heir[sg]
    f_slack, f_ok = _candidates(links, num_nodes, dist, best, sd, sv, sh, epsilon_ms)
    at_best = best[sd, sv] == sh
    f_ok |= at_best
    stayers = np.bincount(sg, minlength=len(gkey))
    able = np.bincount(sg, weights=f_ok, minlength=len(gkey)).astype(np.int64)
    left = stayers - able
    # kernel operations (leonet.emulation.nexthops): with followers the group's object is
    # re-pointed and those left behind move (plus an object for them); without, the fewer of
    # the movers and the stayers (+ re-point and new object) move
    cost_follow = 1 + left + (left > 0)
    cost_not = np.where(movers <= stayers, movers, stayers + 2)
    follow = (movers + able > left) & (cost_follow < cost_not)
    take = follow[sg] & f_ok
    # a follower that was a kept hop already is replaced; one at its heir is the least-delay hop
    fkey = sd[take] * V + sv[take]
    ok = ok & ~np.isin(rows.astype(np.int64) * V + cols, fkey)
    add = take & ~at_best
    return (np.concatenate((rows, sd[add])), np.concatenate((cols, sv[add])), np.concatenate((kept, sh[add])),
            np.concatenate((slack, f_slack[add])), np.concatenate((ok, np.ones(int(add.sum()), dtype=bool))))


def _candidates(links: Links, num_nodes: int, dist: np.ndarray, best: np.ndarray, rows: np.ndarray,
                cols: np.ndarray, hop: np.ndarray, epsilon_ms: float) -> Tuple[np.ndarray, np.ndarray]:
    """For node ``cols[i]`` forwarding to destination row ``rows[i]`` over neighbour ``hop[i]``
    instead of its least-delay hop: the slack (how much longer) and whether the two rules allow it."""
    w = link_delays(links, num_nodes, cols, hop)
    with np.errstate(invalid="ignore"):
        slack = w + dist[rows, hop] - dist[rows, cols]
        ok = np.isfinite(slack) & (w > epsilon_ms) & (slack <= epsilon_ms) & (hop != best[rows, cols])
    return slack, ok


def _heirs(nodes: np.ndarray, lost: np.ndarray, best: np.ndarray, num_nodes: int) -> np.ndarray:
    """For each route of node ``nodes[i]`` that must leave its next hop ``lost[i]``: the
    least-delay next hop that most routes of that (node, hop) take (ties: the lowest index)."""
    V = np.int64(num_nodes)
    group = nodes.astype(np.int64) * V + lost
    uniq, counts = np.unique(group * V + best, return_counts=True)
    g, to = np.divmod(uniq, V)
    order = np.lexsort((to, -counts, g))
    g, to = g[order], to[order]
    first = np.r_[True, g[1:] != g[:-1]]
    g, to = g[first], to[first]
    return to[np.searchsorted(g, group)]


def _walk_excess(hops: np.ndarray, rows: np.ndarray, cols: np.ndarray, slack: np.ndarray,
                 max_hops: int) -> np.ndarray:
    """For each kept entry (rows[i], cols[i]): the sum of the kept hops' slacks on the walk from
    that node to its destination, i.e. how much longer than the least delay the walk is."""
    D, V = hops.shape
    slack_at = np.zeros(D * V)
    flat_kept = rows.astype(np.int64) * V + cols
    slack_at[flat_kept] = slack
    flat_hops = hops.reshape(-1)
    base = rows.astype(np.int64) * V
    total = slack.astype(float).copy()
    pos = flat_hops[flat_kept].astype(np.int64)          # every kept hop is >= 0
    live = np.ones(len(rows), dtype=bool)
    for _ in range(max_hops):
        idx = np.flatnonzero(live)
        if not len(idx):
            break
        here = base[idx] + pos[idx]
        total[idx] += slack_at[here]
        nxt = flat_hops[here]
        live[idx] = nxt >= 0
        pos[idx] = np.where(nxt >= 0, nxt, 0)
    return total
