"""Routes through next-hop objects (leonet.emulation.nexthops), without root: the plans are
replayed on a model of the kernel (objects, and routes naming them) that forgets unused
objects the way the kernel deletes them with their links; after every tick the model must
forward exactly along the new table, with fewer operations than one per changed route when
many routes leave the same neighbour."""
import numpy as np
import pytest

from leonet.emulation.nexthops import NexthopSlots
from leonet.topology.groups import RouteGroups

from leonet.orbits import build_constellation, parse_scenario
from leonet.topology import TopologyEngine
from leonet.topology.groups import route_groups
from leonet.topology.stable import stable_next_hops


class KernelModel:
    """Objects (node, slot) -> target (-1: absent) and routes (row, node) -> slot, changed only by
    plans, in the order they are to be sent; a route cannot name an object the kernel lacks."""

    def __init__(self, rows, nodes):
        self.objects = np.full((nodes, 1), -1, dtype=np.int64)
        self.routes = np.full((rows, nodes), -1, dtype=np.int64)

    def _room(self, slots):
        if len(slots) and slots.max() >= self.objects.shape[1]:
            extra = int(slots.max()) + 1 - self.objects.shape[1]
            self.objects = np.pad(self.objects, ((0, 0), (0, extra)), constant_values=-1)

    def replay(self, plan):
        nodes, slots, targets = plan.fresh
        self._room(slots)
        self.objects[nodes, slots] = targets
        rows, nodes, slots = plan.puts
        self._room(slots)
        assert (self.objects[nodes, slots] >= 0).all(), "a route names an object that does not exist"
        self.routes[rows, nodes] = slots
        nodes, slots, targets = plan.repoints
        self._room(slots)
        assert (self.objects[nodes, slots] >= 0).all(), "a re-pointed object does not exist"
        self.objects[nodes, slots] = targets
        rows, nodes = plan.deletes
        self.routes[rows, nodes] = -1

    def forget_unused(self, rng):
        """The kernel deletes objects with their device: any object no route names may vanish."""
        used = np.zeros(self.objects.shape, dtype=bool)
        r, n = np.nonzero(self.routes >= 0)
        used[n, self.routes[r, n]] = True
        self.objects[~used & (rng.random(self.objects.shape) < 0.5)] = -1

    def forwarding(self):
        cols = np.broadcast_to(np.arange(self.routes.shape[1]), self.routes.shape)
        out = self.objects[cols, np.maximum(self.routes, 0)]
        assert (out[self.routes >= 0] >= 0).all(), "a route names a vanished object"
        return np.where(self.routes >= 0, out, -1)


@pytest.mark.parametrize("grouped", [False, True], ids=["per-node", "groups"])
def test_random_tables_are_installed_exactly(grouped):
    rng = np.random.default_rng(7)
    rows, nodes, neighbours = 30, 12, 5
    groups = RouteGroups(rng.integers(0, 4, rows), np.arange(nodes) >= 6) if grouped else None
    slots = NexthopSlots(rows, nodes, slots=2, groups=groups)   # small, so the slot table has to grow
    kernel = KernelModel(rows, nodes)
    old = np.full((rows, nodes), -1, dtype=np.int32)
    for tick in range(60):
        new = rng.integers(0, neighbours, size=(rows, nodes)).astype(np.int32) if tick == 0 else old.copy()
        if tick:
            # one neighbour of a few nodes vanishes: most of its routes go to one other neighbour
            for n in rng.choice(nodes, size=3, replace=False):
                lost, heir = rng.choice(neighbours, size=2, replace=False)
                col = new[:, n]
                col[col == lost] = np.where(rng.random((col == lost).sum()) < 0.8, heir,
                                            rng.integers(0, neighbours, (col == lost).sum()))
            new[rng.random((rows, nodes)) < 0.03] = -1                      # unreachable
            flip = rng.random((rows, nodes)) < 0.03
            new[flip] = rng.integers(0, neighbours, flip.sum())             # scattered changes
        plan = slots.plan(old, new)
        kernel.replay(plan)
        assert np.array_equal(kernel.forwarding(), new), f"tick {tick}: the kernel does not forward as the table"
        assert np.array_equal(slots.effective(), new)
        if groups is None:
            assert (slots.size == np.array([[np.sum(slots.slot[:, n] == k) for k in range(slots.capacity)]
                                            for n in range(nodes)])).all()
        else:   # a grouped node's routes use only their own group's objects
            ids = kernel.routes[:, 6:]
            has = ids >= 0
            assert (ids[has] % slots.groups == np.broadcast_to(groups.of_row[:, None], ids.shape)[has]).all()
            assert (kernel.routes[:, :6][kernel.routes[:, :6] >= 0] % slots.groups == 0).all()
        kernel.forget_unused(rng)
        old = new


def test_a_handover_that_moves_every_route_of_an_object_is_one_operation():
    """A station whose only satellite changes: every route moves, and no route operation at all
    is needed, only the object re-pointed (a tick with re-points and no route puts)."""
    rows, nodes = 6, 4
    old = np.full((rows, nodes), -1, dtype=np.int32)
    old[:, 3] = 1                                  # node 3 forwards everything to node 1
    old[1, 3] = -1
    slots = NexthopSlots(rows, nodes)
    kernel = KernelModel(rows, nodes)
    kernel.replay(slots.plan(np.full_like(old, -1), old))
    new = old.copy()
    new[new == 1] = 2                              # ... and now to node 2
    plan = slots.plan(old, new)
    kernel.replay(plan)
    assert np.array_equal(kernel.forwarding(), new)
    assert plan.operations == 1 and len(plan.repoints[0]) == 1 and plan.route_operations == 0


def test_a_group_that_moves_alone_re_points_its_own_object():
    """A station forwards 8 destinations over satellite 1; 4 of them (one group) move to
    satellite 2, the others stay. Per node that is 4 routes put and an object for satellite 2;
    with the two groups it is one re-pointed object."""
    rows, nodes = 8, 4
    old = np.full((rows, nodes), -1, dtype=np.int32)
    old[:, 3] = 1
    new = old.copy()
    new[:4, 3] = 2
    groups = RouteGroups(np.array([0, 0, 0, 0, 1, 1, 1, 1]), np.array([False, False, False, True]))
    operations = {}
    for name, g in (("per-node", None), ("groups", groups)):
        slots, kernel = NexthopSlots(rows, nodes, groups=g), KernelModel(rows, nodes)
        kernel.replay(slots.plan(np.full_like(old, -1), old))
        plan = slots.plan(old, new)
        kernel.replay(plan)
        assert np.array_equal(kernel.forwarding(), new)
        operations[name] = plan.operations
    assert operations == {"per-node": 5, "groups": 1}


def grid_engine(planes: int, sats_per_plane: int) -> TopologyEngine:
    """A Walker-delta shell at 550 km, 53 deg, and six ground stations (minimum elevation 25 deg)."""
    stations = [("Berlin", 52.5, 13.4), ("Madrid", 40.4, -3.7), ("Lagos", 6.5, 3.4),
                ("Nairobi", -1.3, 36.8), ("Cairo", 30.0, 31.2), ("Oslo", 59.9, 10.7)]
    raw = dict(name="nh", start="2026-01-31T12:00:00Z", defaults=dict(min_elevation_deg=25),
               shells=[dict(name="s", walker="delta", planes=planes, sats_per_plane=sats_per_plane,
                            altitude_km=550.0, inclination_deg=53.0)],
               ground_stations=[dict(name=n, lat_deg=lat, lon_deg=lon) for n, lat, lon in stations])
    return TopologyEngine(build_constellation(parse_scenario(raw)))


@pytest.fixture(scope="module")
def ticks():
    eng = grid_engine(18, 18)
    V = len(eng.nodes)
    tables = [eng.snapshot(float(t)).routes(np.arange(V)).next_hop_to_source.astype(np.int32)
              for t in range(0, 240, 4)]
    return V, tables


def test_a_constellations_ticks_take_fewer_operations_than_changed_routes(ticks):
    V, tables = ticks
    slots = NexthopSlots(V, V)
    kernel = KernelModel(V, V)
    old = np.full((V, V), -1, dtype=np.int32)
    inline = objects = 0
    for k, new in enumerate(tables):
        plan = slots.plan(old, new)
        kernel.replay(plan)
        assert np.array_equal(kernel.forwarding(), new)
        if k:
            inline += int(np.count_nonzero(new != old))
            objects += plan.operations
        kernel.forget_unused(np.random.default_rng(k))
        old = new
    assert inline > 0
    assert objects < inline, f"{objects} operations with objects, {inline} route changes inline"


def test_planning_from_the_changed_pairs_equals_planning_from_whole_tables(ticks):
    """The apply plans from the lookahead's changed entries when it has them: the same plan
    as from comparing the whole tables."""
    from leonet.topology.stable import nonzero_pairs
    V, tables = ticks
    dense, sparse = NexthopSlots(V, V, slots=2), NexthopSlots(V, V, slots=2)
    old = np.full((V, V), -1, dtype=np.int32)
    for new in tables[:20]:
        a = dense.plan(old, new)
        b = sparse.plan(old, new, pairs=nonzero_pairs(new != old))
        for x, y in zip((a.fresh, a.puts, a.repoints, a.deletes), (b.fresh, b.puts, b.repoints, b.deletes)):
            assert all(np.array_equal(p, q) for p, q in zip(x, y))
        assert np.array_equal(sparse.effective(), new)
        old = new


def test_route_groups_with_hysteresis_take_fewer_operations():
    """Route hysteresis at 1 ms on a 24 x 22 grid with six stations, 40 ticks: with destination
    groups (objects per group, heirs per group, followers) the kernel gets fewer operations
    than with objects per node, and forwards exactly along the table (measured at shell 1:
    628 -> 482 operations per tick, benchmarks/bench_route_churn.py)."""
    eng = grid_engine(24, 22)
    V = len(eng.nodes)
    dests = np.arange(V)
    groups = route_groups(eng.constellation, dests, "slot", span=3)
    runs = {"per-node": (None, NexthopSlots(V, V), KernelModel(V, V)),
            "groups": (groups, NexthopSlots(V, V, groups=groups), KernelModel(V, V))}
    previous = {name: None for name in runs}
    operations = {name: 0 for name in runs}
    for t in range(40):
        snap = eng.snapshot(float(t))
        routes = snap.routes(dests)
        for name, (g, slots, kernel) in runs.items():
            hops = stable_next_hops(previous[name], routes, snap.links, V, 1.0, groups=g)
            plan = slots.plan(previous[name] if t else np.full_like(hops, -1), hops)
            kernel.replay(plan)
            assert np.array_equal(kernel.forwarding(), hops), f"{name}, tick {t}"
            if t:
                operations[name] += plan.operations
            previous[name] = hops
    assert operations["groups"] < 0.9 * operations["per-node"], operations
