"""The lookahead worker (leonet.emulation.lookahead) sends only the changed next-hop entries;
the table rebuilt from them here must be the worker's table at every tick, also across a
skipped tick, and must route every packet along a least-delay path. No root needed."""
import numpy as np
import pytest

from leonet.emulation.config import EmulationConfig
from leonet.emulation.lookahead import Lookahead
from leonet.emulation.network import LeoNetwork
from leonet.emulation.selfcheck import walk
from leonet.orbits import build_constellation, parse_scenario
from leonet.topology import TopologyEngine


@pytest.fixture(scope="module")
def engine():
    stations = [("Berlin", 52.5, 13.4), ("Lagos", 6.5, 3.4), ("Quito", -0.2, -78.5), ("Perth", -31.9, 115.9)]
    raw = dict(name="la", start="2026-01-31T12:00:00Z", defaults=dict(min_elevation_deg=25),
               shells=[dict(name="a", walker="delta", planes=12, sats_per_plane=12, altitude_km=550.0,
                            inclination_deg=53.0),
                       dict(name="b", walker="delta", planes=6, sats_per_plane=10, altitude_km=1100.0,
                            inclination_deg=70.0)],
               ground_stations=[dict(name=n, lat_deg=lat, lon_deg=lon) for n, lat, lon in stations])
    return TopologyEngine(build_constellation(parse_scenario(raw)))


def assert_least_delay(table, dest, snap):
    routes = snap.routes(dest)
    w = walk(table, dest, snap)
    reach = np.isfinite(routes.delay_ms)
    assert (w.end == dest[:, None])[reach].all(), "a walk did not arrive (loop or black hole)"
    assert np.allclose(w.delay_ms[reach], routes.delay_ms[reach], rtol=0, atol=1e-9)
    assert (table[~reach] == -1).all()


def test_the_table_rebuilt_from_changes_is_the_least_delay_table_each_tick(engine):
    V = len(engine.nodes)
    dest = np.arange(V)
    lookahead = Lookahead(engine, dest)
    try:
        previous = None
        offsets = [0.0, 20.0, 40.0, 60.0, 100.0, 120.0]   # 80 prefetched, then skipped
        for k, off in enumerate(offsets):
            lookahead.prefetch([off, off + 20.0])
            got = lookahead.get(off)
            assert got.next_hop is not None and got.next_hop.dtype == np.int32
            if k == 0:
                assert got.changes.base == -1          # the first table comes whole
            elif off != 100.0:
                assert got.changes.base == got.changes.seq - 1
                rebuilt = previous.copy()
                rebuilt[got.changes.rows, got.changes.cols] = got.changes.values
                assert np.array_equal(rebuilt, got.next_hop)
                assert 0 < len(got.changes) < V * V // 4   # changes, not the table
            assert_least_delay(got.next_hop, dest, got.snapshot)
            previous = got.next_hop.copy()
    finally:
        lookahead.close()


def test_the_apply_plans_the_same_routes_from_changes_as_from_whole_tables(engine):
    """Two networks that never start: one planning from the lookahead's changes, one from
    whole tables (as when a fault made it route itself); they install the same tables."""
    V = len(engine.nodes)
    sparse = LeoNetwork(engine, EmulationConfig(), None, None)
    dense = LeoNetwork(engine, EmulationConfig(), None, None)
    lookahead = Lookahead(engine, sparse.destinations)
    try:
        used_changes = 0
        for off in np.arange(0.0, 200.0, 20.0):
            got = lookahead.get(float(off))
            a = sparse.plan_routes(got.snapshot, got.next_hop, got.changes)
            b = dense.plan_routes(got.snapshot, got.next_hop, None)
            used_changes += not a.whole
            assert a.operations == b.operations
            assert np.array_equal(np.sort(a.pairs[0] * V + a.pairs[1]), np.sort(b.pairs[0] * V + b.pairs[1]))
            sparse.commit_routes(a)
            dense.commit_routes(b)
            assert np.array_equal(sparse.next_hop, got.next_hop) and np.array_equal(dense.next_hop, got.next_hop)
        assert used_changes == 9      # all but the first (a whole table)
    finally:
        lookahead.close()


def test_a_lookahead_that_lost_track_of_the_table_recovers_with_a_whole_one(engine, caplog):
    """Not expected (every job is absorbed in order), but if the table here and the worker's
    ever disagreed, the tick must route itself rather than install a wrong table, and the
    next job must send a whole table."""
    from leonet.emulation.lookahead import TableChanges
    dest = np.arange(len(engine.nodes))
    lookahead = Lookahead(engine, dest)
    try:
        lookahead.get(0.0)
        lookahead.prefetch([20.0])                       # submitted while the tables agree
        none = np.zeros(0, np.int32)
        lookahead._absorb(TableChanges(99, 42, none, none, none))   # changes that apply to no table here
        assert lookahead.get(20.0).next_hop is None      # routes itself
        assert "lost track" in caplog.text
        got = lookahead.get(40.0)                        # submitted after: a whole table
        assert got.changes.base == -1 and got.next_hop is not None
        assert_least_delay(got.next_hop, dest, got.snapshot)
        got = lookahead.get(60.0)                        # and changes again after it
        assert got.changes.base == got.changes.seq - 1
        assert_least_delay(got.next_hop, dest, got.snapshot)
    finally:
        lookahead.close()


def test_route_groups_reach_the_worker_and_the_planner(engine):
    """emulation.route_groups with hysteresis: the worker's table is the one the hysteresis
    gives with the run's groups, every walk stays within the 1 ms, and the apply plans its
    routes on the groups' objects."""
    from leonet.topology.stable import stable_next_hops
    V = len(engine.nodes)
    config = EmulationConfig(route_hysteresis_ms=1.0, route_groups="slot", route_group_slots=3)
    net = LeoNetwork(engine, config, None, None)
    assert net.route_groups is not None and net._slots.groups == net.route_groups.count > 1
    lookahead = Lookahead(engine, net.destinations, route_hysteresis_ms=1.0, route_groups=net.route_groups)
    try:
        here = None
        for off in np.arange(0.0, 12.0, 1.0):
            got = lookahead.get(float(off))
            snap = got.snapshot
            routes = snap.routes(net.destinations)
            here = stable_next_hops(here, routes, snap.links, V, 1.0, net.route_groups)
            assert np.array_equal(got.next_hop, here)
            w = walk(got.next_hop, net.destinations, snap)
            reach = np.isfinite(routes.delay_ms)
            assert (w.end == net.destinations[:, None])[reach].all()
            assert (w.delay_ms[reach] <= routes.delay_ms[reach] + 1.0 + 1e-9).all()
            net.commit_routes(net.plan_routes(snap, got.next_hop, got.changes))
            assert np.array_equal(net._slots.effective(), got.next_hop)
    finally:
        lookahead.close()
