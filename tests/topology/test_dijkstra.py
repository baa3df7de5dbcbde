"""The compiled multi-source Dijkstra (leonet.topology.dijkstra) against scipy's, and tree
repair from a previous tick against computing afresh: same delays, predecessors that form
least-delay trees, first hops that follow them."""
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

from leonet.topology.dijkstra import dijkstra
from leonet.topology.routing import first_hops

from .helpers import engine, gs


def random_graph(rng, n, arcs, unreachable=3):
    """A directed graph with positive weights; the last ``unreachable`` nodes have no in-arcs."""
    a = rng.integers(0, n, arcs)
    b = rng.integers(0, n - unreachable, arcs)
    keep = a != b
    a, b = a[keep], b[keep]
    w = rng.uniform(0.1, 5.0, len(a))
    g = csr_matrix((w, (a, b)), shape=(n, n))
    g.sum_duplicates()
    return g


def assert_least_delay_trees(graph, sources, dist, pred, first):
    """Every predecessor link exists and sums to the node's delay, and no link shortens any."""
    expected = scipy_dijkstra(graph, directed=True, indices=sources)
    assert np.array_equal(np.isinf(dist), np.isinf(expected))
    fin = np.isfinite(dist)
    assert np.allclose(dist[fin], expected[fin], rtol=0, atol=1e-9)
    dense = graph.toarray()
    rows, cols = np.nonzero(pred >= 0)
    w = dense[pred[rows, cols], cols]
    assert (w > 0).all()
    assert np.allclose(dist[rows, pred[rows, cols]] + w, dist[rows, cols], rtol=0, atol=1e-9)
    assert np.array_equal(first, first_hops(pred, sources))


@pytest.mark.parametrize("threads", [1, 2])
def test_equals_scipy_on_random_graphs(threads):
    rng = np.random.default_rng(3)
    g = random_graph(rng, 300, 1500)
    sources = rng.choice(297, 40, replace=False)
    dist, pred, first = dijkstra(g, sources, threads=threads)
    assert_least_delay_trees(g, sources, dist, pred, first)


def test_repairing_yesterdays_trees_gives_todays():
    rng = np.random.default_rng(5)
    g = random_graph(rng, 300, 1500)
    sources = rng.choice(297, 40, replace=False)
    _, pred, _ = dijkstra(g, sources)
    for step in range(6):
        coo = g.tocoo()
        w = coo.data * rng.uniform(0.97, 1.03, len(coo.data))     # every weight moves a little
        drop = rng.random(len(w)) < 0.03                            # some links go away
        extra = random_graph(rng, 300, 60)                          # and new ones appear
        g = csr_matrix((w[~drop], (coo.row[~drop], coo.col[~drop])), shape=g.shape) + extra
        dist, repaired, first = dijkstra(g, sources, previous=pred)
        assert_least_delay_trees(g, sources, dist, repaired, first)
        pred = repaired


def test_a_constellations_next_tick_from_the_last_equals_a_fresh_one():
    eng = engine(dict(walker="delta", planes=12, sats_per_plane=12, altitude_km=550.0, inclination_deg=53.0),
                 ground_stations=[gs("Berlin", 52.5, 13.4), gs("Lagos", 6.5, 3.4), gs("Quito", -0.2, -78.5)],
                 defaults=dict(min_elevation_deg=20))
    V = len(eng.nodes)
    sources = np.arange(V)
    last = None
    for t in range(0, 600, 30):   # 30 s apart: GSLs come and go between ticks
        snap = eng.snapshot(float(t))
        fresh = snap.routes(sources)
        warm = snap.routes(sources, previous=last)
        assert np.array_equal(np.isinf(warm.delay_ms), np.isinf(fresh.delay_ms))
        fin = np.isfinite(fresh.delay_ms)
        assert np.allclose(warm.delay_ms[fin], fresh.delay_ms[fin], rtol=0, atol=1e-9)
        assert np.array_equal(warm.first_hop_from_source, first_hops(warm.predecessor, sources))
        last = warm


def test_repair_from_nonsense_predecessors_still_gives_least_delay_trees():
    """``previous`` with cycles and links that do not exist (not trees at all): the repair
    must neither loop nor keep them."""
    rng = np.random.default_rng(11)
    g = random_graph(rng, 200, 1000)
    sources = rng.choice(197, 20, replace=False)
    previous = rng.integers(-1, 200, size=(len(sources), 200)).astype(np.int32)
    dist, pred, first = dijkstra(g, sources, previous=previous)
    assert_least_delay_trees(g, sources, dist, pred, first)
