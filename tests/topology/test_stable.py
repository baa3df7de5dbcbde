"""Route hysteresis (leonet.topology.stable): fewer route changes, loop-free tables, and every
walk within epsilon of the least delay, judged by walking the tables independently."""
import numpy as np
import pytest

from leonet.topology.groups import route_groups
from leonet.topology.stable import link_delays, stable_next_hops

from .helpers import engine, gs


@pytest.fixture(scope="module")
def grid():
    stations = [gs("Berlin", 52.5, 13.4), gs("Madrid", 40.4, -3.7), gs("Lagos", 6.5, 3.4),
                gs("Nairobi", -1.3, 36.8), gs("Cairo", 30.0, 31.2), gs("Oslo", 59.9, 10.7)]
    eng = engine(dict(walker="delta", planes=24, sats_per_plane=22, altitude_km=550.0, inclination_deg=53.0),
                 ground_stations=stations, defaults=dict(min_elevation_deg=25))
    V = len(eng.nodes)
    return eng, V, np.arange(V)


def walk_delays(hops, dests, snap, V):
    """Follow every (destination, node) walk hop by hop over a dense delay matrix built here;
    the delay of the walk, NaN if it loops or steps over a link that does not exist."""
    w = np.full((V, V), np.nan)
    w[snap.links.a, snap.links.b] = snap.links.delay_ms
    w[snap.links.b, snap.links.a] = snap.links.delay_ms
    out = np.full((len(dests), V), np.nan)
    for i, d in enumerate(dests):
        pos, total = np.arange(V), np.zeros(V)
        for _ in range(V):
            moving = pos != d
            if not moving.any():
                break
            nxt = np.where(moving, hops[i, pos], pos)
            broken = moving & (nxt < 0)
            total[broken] = np.nan
            nxt[broken] = d
            step = moving & ~broken
            total[step] += w[pos[step], nxt[step]]
            pos = nxt
        total[pos != d] = np.nan          # still walking after V steps: a loop
        out[i] = total
    return out


def test_hysteresis_cuts_changes_and_keeps_every_walk_within_epsilon(grid):
    eng, V, dests = grid
    eps = 0.5
    sample = dests
    previous_best = previous_stable = None
    best_changes = stable_changes = 0
    for t in range(0, 40, 2):
        snap = eng.snapshot(float(t))
        routes = snap.routes(dests)
        best = routes.next_hop_to_source
        stable = stable_next_hops(previous_stable, routes, snap.links, V, eps)
        if previous_best is not None:
            best_changes += int(np.count_nonzero(best != previous_best))
            stable_changes += int(np.count_nonzero(stable != previous_stable))
        previous_best, previous_stable = best, stable
        if t % 10 == 0:
            got = walk_delays(stable[sample], sample, snap, V)
            optimum = routes.delay_ms[sample]
            reach = np.isfinite(optimum)
            assert np.isfinite(got[reach]).all(), f"a walk loops or breaks at t={t}"
            assert (got[reach] <= optimum[reach] + eps + 1e-9).all()
            assert np.array_equal(stable[~np.isfinite(routes.delay_ms)], best[~np.isfinite(routes.delay_ms)])
    assert best_changes > 0
    assert stable_changes < best_changes


def test_zero_epsilon_is_the_least_delay_tree(grid):
    eng, V, dests = grid
    first = eng.snapshot(0.0).routes(dests)
    snap = eng.snapshot(30.0)
    routes = snap.routes(dests)
    assert np.array_equal(stable_next_hops(first.next_hop_to_source, routes, snap.links, V, 0.0),
                          routes.next_hop_to_source)


def test_a_previous_hop_that_is_no_neighbour_is_replaced(grid):
    eng, V, dests = grid
    snap = eng.snapshot(0.0)
    routes = snap.routes(dests)
    best = routes.next_hop_to_source
    previous = best.copy()
    i, v = 5, 100
    assert best[i, v] >= 0
    stranger = next(u for u in range(V) if u != v and np.isnan(link_delays(snap.links, V, np.array([v]),
                                                                            np.array([u]))[0]))
    previous[i, v] = stranger
    out = stable_next_hops(previous, routes, snap.links, V, 5.0)
    assert out[i, v] == best[i, v]



def test_groups_keep_every_walk_loop_free_and_within_epsilon(grid):
    """Destination groups (heirs per group, followers) keep the guarantee of the hysteresis."""
    eng, V, dests = grid
    eps = 1.0
    groups = route_groups(eng.constellation, dests, "slot", span=3)
    previous = None
    for t in range(27):
        snap = eng.snapshot(float(t))
        routes = snap.routes(dests)
        hops = stable_next_hops(previous, routes, snap.links, V, eps, groups=groups)
        if t % 13 == 0:
            got = walk_delays(hops, dests, snap, V)
            optimum = routes.delay_ms
            reach = np.isfinite(optimum)
            assert np.isfinite(got[reach]).all(), f"a walk loops or breaks at t={t}"
            assert (got[reach] <= optimum[reach] + eps + 1e-9).all()
        previous = hops
