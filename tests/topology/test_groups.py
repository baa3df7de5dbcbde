"""Destination groups of routes (leonet.topology.groups): a ground station's routes towards
satellites grouped by the destination's position in its orbit, everything else per node."""
import numpy as np
import pytest

from leonet.topology.groups import route_groups

from .helpers import engine, gs


@pytest.fixture(scope="module")
def two_shells():
    return engine(dict(walker="delta", planes=4, sats_per_plane=7, altitude_km=550.0, inclination_deg=53.0),
                  dict(walker="delta", planes=3, sats_per_plane=5, altitude_km=1100.0, inclination_deg=70.0),
                  ground_stations=[gs("Berlin", 52.5, 13.4), gs("Lagos", 6.5, 3.4)])


def test_satellites_share_a_group_exactly_when_shell_and_slot_run_agree(two_shells):
    c = two_shells.constellation
    V = len(two_shells.nodes)
    groups = route_groups(c, np.arange(V), "slot", span=3)
    sats = c.satellites
    for i, a in enumerate(sats):
        for j, b in enumerate(sats):
            same = (a.shell, a.slot // 3) == (b.shell, b.slot // 3)
            assert (groups.of_row[i] == groups.of_row[j]) == same, (a.name, b.name)
    # 7 slots in runs of 3 -> 3 groups, 5 slots -> 2 groups, and one for the ground stations
    assert groups.count == 3 + 2 + 1
    stations = groups.of_row[c.num_satellites:]
    assert len(set(stations.tolist())) == 1 and stations[0] not in groups.of_row[:c.num_satellites]


def test_only_ground_stations_group_their_routes(two_shells):
    c = two_shells.constellation
    V = len(two_shells.nodes)
    groups = route_groups(c, np.arange(V), "slot", span=1)
    assert groups.nodes.tolist() == [False] * c.num_satellites + [True] * 2
    rows = np.arange(V)
    sat_keys = groups.key(rows, np.full(V, 3))
    assert (sat_keys == 3 * groups.count).all()              # a satellite: one group
    gs_keys = groups.key(rows, np.full(V, V - 1))
    assert np.array_equal(gs_keys - (V - 1) * groups.count, groups.of_row)


def test_a_subset_of_destinations_and_no_grouping(two_shells):
    c = two_shells.constellation
    V = len(two_shells.nodes)
    dest = np.array([V - 1, 0, 1, 2, 3])        # a station first, then slots 0..3 of plane 0
    groups = route_groups(c, dest, "slot", span=2)
    assert groups.of_row[1] == groups.of_row[2] != groups.of_row[3] == groups.of_row[4] != groups.of_row[0]
    assert route_groups(c, dest, "none") is None
    with pytest.raises(ValueError):
        route_groups(c, dest, "plane")
    with pytest.raises(ValueError):
        route_groups(c, dest, "slot", span=0)
