"""Property tests over constellation sizes, including 1xN and Nx1 and polar seams."""
import networkx as nx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leonet.topology.isl import plus_grid_candidates
from leonet.topology.config import IslRules

from .helpers import engine, gs, nx_graph, walker


def _expected_count(planes: int, sats: int, wraps: bool) -> int:
    intra = 0 if sats < 2 else (1 if sats == 2 else sats)
    inter = (planes - 1) * sats + (sats if wraps and planes >= 3 else 0)
    return planes * intra + inter


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planes=st.integers(1, 9), sats=st.integers(1, 9), star=st.booleans(), t=st.floats(0, 86400))
def test_grid_candidates_and_snapshot_invariants(planes, sats, star, t):
    e = engine(walker(planes, sats, altitude_km=1200, inclination_deg=86.0 if star else 53.0,
                      kind="star" if star else "delta"),
               ground_stations=[gs("A", 10.0, 20.0), gs("B", -30.0, 150.0)], defaults={"min_elevation_deg": 10})
    shell = e.constellation.shells[0]
    cand = plus_grid_candidates(e.constellation, IslRules())
    assert len(cand) == _expected_count(planes, sats, shell.wraps)
    assert shell.wraps == (not star)
    keys = set(zip(cand.a.tolist(), cand.b.tolist()))
    assert len(keys) == len(cand) and all(a < b for a, b in keys)

    snap = e.snapshot(t)
    links = snap.links
    n = snap.nodes.num_satellites
    assert n == planes * sats
    assert (links.a < links.b).all()
    assert len(set(zip(links.a.tolist(), links.b.tolist()))) == len(links)
    isl = links.kind == 0
    assert set(zip(links.a[isl].tolist(), links.b[isl].tolist())) <= keys
    assert (links.b[~isl] >= n).all() and (links.a[~isl] < n).all()
    deg = np.bincount(np.concatenate((links.a[isl], links.b[isl])), minlength=n)
    assert deg.max(initial=0) <= 4
    assert np.all(links.delay_ms > 0) and np.all(np.isfinite(links.delay_ms))

    routes = snap.routes_from_ground_stations()
    for i, src in enumerate(routes.sources):
        g = nx_graph(snap, keep_ground_stations={int(src)})
        lengths = nx.single_source_dijkstra_path_length(g, int(src))
        for v in range(n):
            want = lengths.get(v, np.inf)
            got = routes.delay_ms[i, v]
            assert (np.isinf(got) and np.isinf(want)) or abs(got - want) < 1e-9


@settings(max_examples=15, deadline=None)
@given(planes=st.integers(1, 6), sats=st.integers(1, 6))
def test_replay_on_small_sizes(planes, sats):
    from leonet.topology import TopologyState, timeline
    e = engine(walker(planes, sats, altitude_km=1500), ground_stations=[gs("A", 0.0, 0.0)],
               defaults={"min_elevation_deg": 5})
    state = TopologyState.empty(e)
    for d in timeline(e, 0.0, 3000.0, 300.0, delay_threshold_ms=0.0):
        state.apply(d)
    assert state.matches(TopologyState.of_snapshot(e, e.snapshot(3000.0)))
