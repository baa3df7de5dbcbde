"""Celestial's per-pair model as a transform of a snapshot: one direct link per
connected pair of active nodes, with the least-delay path's delay, distance, narrowest
bandwidth and combined loss (checked against the snapshot's own paths)."""
import numpy as np
import pytest

from leonet.orbits import build_constellation, load_scenario
from leonet.topology import TopologyEngine
from leonet.topology.links import PAIR
from leonet.topology.pairwise import direct_next_hops, pairwise_links, pairwise_plane, participants

from tests.emulation.scenarios import TINY, write


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    raw = dict(TINY, defaults={"min_elevation_deg": 10, "gsl_bandwidth_mbps": 50, "isl_bandwidth_mbps": 200,
                               "gsl_loss_percent": 1.0},
               ground_stations=TINY["ground_stations"] + [{"name": "Cairo", "lat_deg": 30.0, "lon_deg": 31.2}],
               topology={"gsl": {"policy": "nearest"},
                         "bounding_box": {"lat_min_deg": 10, "lat_max_deg": 70, "lon_min_deg": -30, "lon_max_deg": 60}})
    engine = TopologyEngine(build_constellation(load_scenario(write(tmp_path_factory.mktemp("p"), raw))))
    return engine.snapshot(300.0)


def test_participants_are_the_box_satellites_and_every_station(snap):
    p = participants(snap)
    n = snap.nodes.num_satellites
    assert set(p[p < n]) == set(np.flatnonzero(snap.active)) and 0 < (p < n).sum() < n
    assert list(p[p >= n]) == [n, n + 1, n + 2]


def test_each_pair_link_is_its_shortest_path(snap):
    nodes = participants(snap)
    links = pairwise_links(snap, nodes)
    assert len(links) > 0 and (links.kind == PAIR).all() and (links.a < links.b).all()
    checked = 0
    for k in range(len(links)):
        p = snap.path(int(links.a[k]), int(links.b[k]))
        assert p.reachable
        assert links.delay_ms[k] == pytest.approx(p.delay_ms, abs=1e-9)
        assert links.distance_km[k] == pytest.approx(p.distance_km, abs=1e-6)
        segs = [snap.link_between(x, y) for x, y in zip(p.node_indices, p.node_indices[1:])]
        assert links.bandwidth_mbps[k] == min(snap.links.bandwidth_mbps[s] for s in segs)
        keep = np.prod([1 - snap.links.loss_percent[s] / 100 for s in segs])
        assert links.loss_percent[k] == pytest.approx(100 * (1 - keep))
        checked += 1
    reachable = sum(snap.path(int(a), int(b)).reachable for i, a in enumerate(nodes) for b in nodes[i + 1:])
    assert checked == reachable       # every connected pair has its link, and only those


def test_next_hops_are_direct(snap):
    links, hops = pairwise_plane(snap, np.arange(snap.num_nodes))
    V = snap.num_nodes
    assert hops.shape == (V, V)
    for a, b in zip(links.a[:50], links.b[:50]):
        assert hops[a, b] == a and hops[b, a] == b          # b sends traffic for a straight to a
    outside = np.setdiff1d(np.arange(V), participants(snap))
    assert (hops[outside] == -1).all() and (hops[:, outside] == -1).all()
    assert (direct_next_hops(links, np.array([V - 1]), V)[0] >= 0).sum() == \
        ((links.a == V - 1) | (links.b == V - 1)).sum()


def test_the_self_check_passes_direct_routes_and_finds_a_missing_one(snap):
    """`leonet check` under per-pair forwarding: the kernel's direct routes walked over the pair
    links are as short as the engine's paths; a dropped route is a black hole."""
    from leonet.emulation.addressing import node_address_int
    from leonet.emulation.selfcheck import check_tables
    from leonet.topology.pairwise import pairwise_snapshot
    base = node_address_int(0)
    dests = participants(snap)
    links, hops = pairwise_plane(snap, dests)
    plane = pairwise_snapshot(snap, links)

    def tables(h):
        return [((base + dests[h[:, v] >= 0]).astype(np.uint32), (base + h[h[:, v] >= 0, v]).astype(np.uint32))
                for v in range(h.shape[1])]
    names = snap.nodes.names
    good = check_tables(names, dests, tables(hops), [plane], 0.05, "t")
    assert good.problems == 0 and good.pairs == len(dests) * (snap.num_nodes - 1)
    assert good.max_excess_ms < 1e-6                           # a pair link's delay is its path's
    # the hop-by-hop tables of the same tick walk through links the per-pair kernel does not have
    assert check_tables(names, dests, tables(snap.routes(dests).next_hop_to_source), [plane], 0.05,
                        "t").counts["black_holes"] > 0
    broken = hops.copy()
    broken[0, dests[1]] = -1
    bad = check_tables(names, dests, tables(broken), [plane], 0.05, "t")
    assert bad.counts == {"loops": 0, "black_holes": 1, "detours": 0}
