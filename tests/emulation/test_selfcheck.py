"""The routing self-check's judgement (no root: kernel tables built from the engine's routes and
changed by hand): equal-cost alternatives pass, detours, loops and black holes are reported."""
import numpy as np
import pytest

from leonet.emulation.addressing import node_address_int
from leonet.emulation.selfcheck import TOLERANCE_MS, check_tables
from leonet.orbits import build_constellation, parse_scenario
from leonet.topology import TopologyEngine

from . import scenarios

PER_HOP_MS = 0.05
BASE = node_address_int(0)


@pytest.fixture(scope="module")
def world():
    engine = TopologyEngine(build_constellation(parse_scenario(scenarios.TINY)))
    snap = engine.snapshot(0.0)
    V = len(engine.nodes)
    dests = np.arange(V)
    routes = snap.routes(dests)
    return engine, snap, dests, routes


def tables_of(hops: np.ndarray, dests: np.ndarray):
    """Per node (destinations, gateways) as addresses, as the kernel dump gives them."""
    out = []
    for v in range(hops.shape[1]):
        has = hops[:, v] >= 0
        out.append(((BASE + dests[has]).astype(np.uint32), (BASE + hops[has, v]).astype(np.uint32)))
    return out


def judge(world, hops, snaps=None):
    engine, snap, dests, _ = world
    return check_tables(engine.nodes.names, dests, tables_of(hops, dests), snaps or [snap], PER_HOP_MS, "t")


def neighbours(snap, v):
    links = snap.links
    return [int(b) for a, b in zip(links.a, links.b) if a == v] + [int(a) for a, b in zip(links.a, links.b) if b == v]


def delay(snap, u, v):
    links = snap.links
    for a, b, d in zip(links.a, links.b, links.delay_ms):
        if {int(a), int(b)} == {u, v}:
            return float(d)
    raise KeyError((u, v))


def reaches_without(hops, i, start, avoid, dest):
    cur, seen = start, set()
    while cur != dest:
        if cur == avoid or cur in seen or cur < 0:
            return False
        seen.add(cur)
        cur = int(hops[i, cur])
    return True


def alternatives(world):
    """(row, node, other next hop, extra delay) for every neighbour that is not the engine's choice
    and whose own route does not come back through the node."""
    engine, snap, dests, routes = world
    hops = routes.next_hop_to_source
    out = []
    for v in range(engine.nodes.num_satellites):
        for i in range(0, len(dests), 7):
            d = int(dests[i])
            if d == v or hops[i, v] < 0:
                continue
            for alt in neighbours(snap, v):
                if alt != hops[i, v] and reaches_without(hops, i, alt, v, d):
                    extra = delay(snap, v, alt) + routes.delay_ms[i, alt] - routes.delay_ms[i, v]
                    out.append((i, v, alt, extra))
    return out


def test_the_engines_own_tables_pass(world):
    result = judge(world, world[3].next_hop_to_source.copy())
    assert result.problems == 0 and result.other_next_hops == 0, result.report()
    V = len(world[0].nodes)
    assert result.pairs == V * (V - 1) and result.entries == np.count_nonzero(world[3].next_hop_to_source >= 0)
    assert result.max_excess_ms < 1e-9
    assert "walked" in result.report()[0] and "tolerance 0.005 ms + 0.05 ms per hop" in result.report()[0]


def test_an_equal_cost_alternative_is_not_an_error_and_a_worse_one_is(world):
    engine, snap, dests, routes = world
    alts = alternatives(world)
    near = min(alts, key=lambda a: a[3])
    assert near[3] < TOLERANCE_MS + PER_HOP_MS, "the tiny grid has near-ties"
    hops = routes.next_hop_to_source.copy()
    i, v, alt, extra = near
    hops[i, v] = alt
    result = judge(world, hops)
    assert result.problems == 0 and result.other_next_hops == 1, result.report()
    worse = max(alts, key=lambda a: a[3])
    assert worse[3] > 1.0
    hops = routes.next_hop_to_source.copy()
    i, v, alt, extra = worse
    hops[i, v] = alt
    result = judge(world, hops)
    names = engine.nodes.names
    assert result.counts["detours"] >= 1 and result.counts["loops"] == result.counts["black_holes"] == 0
    assert any(line.startswith(f"detour: {names[v]} -> {names[int(dests[i])]}:") and f"+{extra:.3f} ms" in line
               for line in result.detours), result.detours
    # every node whose path to that destination passes through v takes the detour too
    assert result.counts["detours"] == sum(
        1 for u in range(len(names)) if u != dests[i] and v in _path(hops, i, u, int(dests[i])))


def _path(hops, i, start, dest):
    out, cur = [start], start
    while cur != dest and len(out) < 500:
        cur = int(hops[i, cur])
        out.append(cur)
    return out


def test_loops_and_black_holes(world):
    engine, snap, dests, routes = world
    names = engine.nodes.names
    hops = routes.next_hop_to_source.copy()
    i, v = 3, 40
    d = int(dests[i])
    nxt = int(hops[i, v])
    assert nxt >= 0 and nxt != d
    hops[i, nxt] = v  # v -> nxt -> v
    result = judge(world, hops)
    assert result.counts["loops"] >= 2 and any(line.startswith(f"loop: {names[v]} -> {names[d]}:")
                                               for line in result.loops), result.report()
    hops = routes.next_hop_to_source.copy()
    hops[i, nxt] = -1
    result = judge(world, hops)
    assert result.counts["black_holes"] >= 2 and result.counts["loops"] == 0
    assert any(f"{names[nxt]} has no route" in line for line in result.black_holes)
    far = next(u for u in range(engine.nodes.num_satellites) if u not in neighbours(snap, v) and u != v)
    hops = routes.next_hop_to_source.copy()
    hops[i, v] = far
    result = judge(world, hops)
    assert any(f"routes via {names[far]}, which is not its neighbour now" in line for line in result.black_holes)


def test_tables_read_across_a_tick_are_judged_against_both(world):
    """A route the run changed while the tables were read is right at one of the two ticks."""
    engine, snap, dests, routes = world
    later = engine.snapshot(120.0)
    new = later.routes(dests).next_hop_to_source
    mixed = routes.next_hop_to_source.copy()
    half = new.shape[1] // 2
    mixed[:, half:] = new[:, half:]
    alone = judge(world, mixed, [later])
    both = judge(world, mixed, [snap, later])
    assert both.problems <= alone.problems
    assert both.ticks == () and len(both.report()) >= 3
