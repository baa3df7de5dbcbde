"""Shortest paths: hand-computed rings, networkx on random snapshots, routing tables."""
import networkx as nx
import numpy as np
import pytest

from leonet.orbits.frames import ecef_to_geodetic
from leonet.topology import TopologyEngine

from .helpers import engine, gs, light_ms, nx_graph, walker


def ring_with_stations(over=(0, 3), min_elev=80.0, **topology):
    """12 satellites on the equator at 550 km and two stations right under satellites
    ``over`` at t=0 (an 80 deg mask lets each see only the satellite overhead)."""
    probe = engine(walker(1, 12, inclination_deg=0.0))
    lat, lon, _ = ecef_to_geodetic(probe.snapshot(0.0).positions_km[:12])
    stations = [gs(name, float(lat[i]), float(lon[i])) for name, i in zip("AB", over)]
    return engine(walker(1, 12, inclination_deg=0.0), ground_stations=stations,
                  defaults={"min_elevation_deg": min_elev}, topology=topology or None)


def test_equatorial_ring_path_between_two_ground_stations():
    e = ring_with_stations()
    snap = e.snapshot(0.0)
    p = snap.positions_km
    path = snap.path("A", "B")
    assert path.reachable
    assert path.hops == ("A", "s0p0n0", "s0p0n1", "s0p0n2", "s0p0n3", "B")
    r = np.linalg.norm(p[:12], axis=1).mean()
    chord = 2 * r * np.sin(np.radians(15.0))           # 30 deg between ring neighbours
    up_a = np.linalg.norm(p[0] - p[12])
    up_b = np.linalg.norm(p[3] - p[13])
    assert 540 < up_a < 560 and 540 < up_b < 560         # straight up to 550 km
    assert path.distance_km == pytest.approx(up_a + 3 * chord + up_b, abs=3.0)
    assert path.delay_ms == pytest.approx(light_ms(up_a + 3 * chord + up_b), abs=1e-2)
    back = snap.path("B", "A")
    assert back.hops == tuple(reversed(path.hops)) and back.delay_ms == pytest.approx(path.delay_ms)


def test_speed_of_light_factor_scales_delay_only():
    snap = ring_with_stations(speed_of_light_factor=0.5).snapshot(0.0)
    ref = ring_with_stations().snapshot(0.0)
    assert snap.path("A", "B").delay_ms == pytest.approx(2 * ref.path("A", "B").delay_ms)
    assert snap.path("A", "B").distance_km == pytest.approx(ref.path("A", "B").distance_km)


def test_unreachable_is_explicit():
    # 8 satellites on a ring: every ISL grazes below 80 km, so the stations are cut off.
    probe = engine(walker(1, 8, inclination_deg=0.0))
    lat, lon, _ = ecef_to_geodetic(probe.snapshot(0.0).positions_km[:8])
    e = engine(walker(1, 8, inclination_deg=0.0),
               ground_stations=[gs("A", float(lat[0]), float(lon[0])), gs("B", float(lat[4]), float(lon[4]))],
               defaults={"min_elevation_deg": 60})
    snap = e.snapshot(0.0)
    path = snap.path("A", "B")
    assert not path.reachable and path.delay_ms is None and path.hops == ()
    assert path.to_dict()["reachable"] is False
    routes = snap.routes(["A"])
    assert np.isinf(routes.delay_ms[0, snap.node_index("B")])
    assert routes.hops(snap.node_index("A"), snap.node_index("B")) is None
    assert routes.next_hop_to_source[0, snap.node_index("B")] == -1
    assert routes.first_hop_from_source[0, snap.node_index("B")] == -1


def test_ground_stations_do_not_relay_unless_configured():
    # Two single-satellite shells 10 deg apart on the equator (shells are not linked) and
    # a station between them that sees both: only a relaying station joins them.
    shells = (walker(1, 1, inclination_deg=0.0), walker(1, 1, inclination_deg=0.0, raan_offset_deg=10.0))
    probe = engine(*shells)
    lat, lon, _ = ecef_to_geodetic(probe.snapshot(0.0).positions_km)
    stations = [gs("M", 0.0, float(np.degrees(np.arctan2(np.sin(np.radians(lon)).sum(),
                                                         np.cos(np.radians(lon)).sum()))))]
    for relay in (False, True):
        e = engine(*shells, ground_stations=stations, topology={"ground_station_relay": relay})
        snap = e.snapshot(0.0)
        assert len(snap.links.of_kind(0)) == 0 and len(snap.links.of_kind(1)) == 2
        path = snap.path("s0p0n0", "s1p0n0")
        assert path.reachable == relay
        if relay:
            assert path.hops == ("s0p0n0", "M", "s1p0n0")
        assert snap.path("M", "s1p0n0").hops == ("M", "s1p0n0")


def _random_engine(seed: int, relay: bool) -> TopologyEngine:
    rng = np.random.default_rng(seed)
    stations = [gs(f"G{i}", float(rng.uniform(-55, 55)), float(rng.uniform(-180, 180))) for i in range(8)]
    return engine(walker(int(rng.integers(6, 14)), int(rng.integers(6, 14)), altitude_km=1200,
                         inclination_deg=float(rng.uniform(40, 90))),
                  ground_stations=stations, defaults={"min_elevation_deg": 10},
                  topology={"ground_station_relay": relay})


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("relay", [False, True])
def test_paths_equal_networkx_on_random_snapshots(seed, relay):
    e = _random_engine(seed, relay)
    snap = e.snapshot(float(np.random.default_rng(seed).uniform(0, 86400)))
    n, v = snap.nodes.num_satellites, snap.num_nodes
    routes = snap.routes_from_ground_stations()
    sats = np.random.default_rng(seed).choice(n, 5, replace=False)
    for i, src in enumerate(routes.sources):
        # Without relaying, paths from src may only touch other stations as endpoints.
        for dst in list(range(n, v)) + list(sats):
            keep = None if relay else {int(src), int(dst)}
            g = nx_graph(snap, keep_ground_stations=keep)
            try:
                want = nx.dijkstra_path_length(g, int(src), int(dst))
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                want = np.inf
            got = routes.delay_ms[i, dst]
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (src, dst)
            hops = routes.hops(int(src), int(dst))
            if np.isfinite(want):
                # the hop list is a real path of that delay
                total = sum(g[a][b]["weight"] for a, b in zip(hops[:-1], hops[1:]))
                assert total == pytest.approx(want, rel=1e-9)
                assert hops[0] == src and hops[-1] == dst
            else:
                assert hops is None


@pytest.mark.parametrize("relay", [False, True])
def test_routing_tables_are_consistent(relay):
    e = _random_engine(7, relay)
    snap = e.snapshot(4321.0)
    routes = snap.routes_from_ground_stations()
    nh, fh = routes.next_hop_to_source, routes.first_hop_from_source
    for i, src in enumerate(routes.sources):
        for v in range(snap.num_nodes):
            hops = routes.hops(int(src), v)
            if hops is None or v == src:
                assert nh[i, v] == -1 and fh[i, v] == -1
                continue
            assert fh[i, v] == hops[1]          # what the source installs for v
            assert nh[i, v] == hops[-2]         # what v installs for the source
            # following next hops from v reaches the source, hop by hop along links
            node, delay = v, 0.0
            for _ in range(snap.num_nodes):
                nxt = int(nh[i, node])
                k = snap.link_between(node, nxt)
                assert k is not None
                delay += snap.links.delay_ms[k]
                node = nxt
                if node == src:
                    break
            assert node == src
            assert delay == pytest.approx(routes.delay_ms[i, v], rel=1e-9)


def test_query_kinds_and_shared_satellite():
    # Two stations 30 km apart see the same overhead satellite: both attach to it and the
    # path between them is station -> satellite -> station.
    e = ring_with_stations(over=(0, 5))
    snap0 = e.snapshot(0.0)
    lat, lon, _ = ecef_to_geodetic(snap0.positions_km[:12])
    e = engine(walker(1, 12, inclination_deg=0.0),
               ground_stations=[gs("A", float(lat[0]), float(lon[0])), gs("A2", float(lat[0]), float(lon[0]) + 0.3),
                                gs("B", float(lat[5]), float(lon[5]))],
               defaults={"min_elevation_deg": 80})
    snap = e.snapshot(0.0)
    assert snap.path("A", "A2").hops == ("A", "s0p0n0", "A2")
    assert snap.path("A", "s0p0n2").hops == ("A", "s0p0n0", "s0p0n1", "s0p0n2")
    assert snap.path("s0p0n2", "s0p0n4").hops == ("s0p0n2", "s0p0n3", "s0p0n4")
    gsl = snap.links.of_kind(1)
    assert sorted(snap.nodes.names[b] for a, b in zip(gsl.a, gsl.b) if a == 0) == ["A", "A2"]
    self_path = snap.path("A", "A")
    assert self_path.reachable and self_path.delay_ms == 0.0 and self_path.hops == ("A",)


def test_multi_shell_has_no_links_between_shells_unless_configured():
    shells = (walker(10, 10, 550, 53), walker(10, 10, 1100, 53))
    stations = [gs("G", 10.0, 10.0, min_elevation_deg=10)]
    plain = engine(*shells, ground_stations=stations).snapshot(100.0)
    shell_of = plain.nodes.names
    isl = plain.links.of_kind(0)
    assert all(shell_of[a][:2] == shell_of[b][:2] for a, b in zip(isl.a, isl.b))
    linked = engine(*shells, ground_stations=stations,
                    topology={"isl": {"inter_shell": "nearest"}}).snapshot(100.0)
    isl2 = linked.links.of_kind(0)
    cross = [(a, b) for a, b in zip(isl2.a, isl2.b) if shell_of[a][:2] != shell_of[b][:2]]
    assert len(cross) > 0
    pos = linked.positions_km
    for a, b in cross:  # each is the lower satellite's nearest upper-shell satellite
        upper = np.arange(100, 200)
        assert b == upper[np.argmin(np.linalg.norm(pos[upper] - pos[a], axis=1))]
    # intra-shell links are the same in both
    intra2 = {(a, b) for a, b in zip(isl2.a, isl2.b) if shell_of[a][:2] == shell_of[b][:2]}
    assert intra2 == set(zip(isl.a.tolist(), isl.b.tolist()))
