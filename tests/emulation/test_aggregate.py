"""Prefix routes for a whole table (leonet.emulation.aggregate), without root: longest-prefix
match over the prefixes, resolved as the self-check resolves a node's dumped routes
(leonet.emulation.rtnl.longest_prefix), must give every destination exactly its object, and no
route to an address that is not a destination."""
import numpy as np
import pytest

from leonet.emulation.aggregate import MAX_OBJECTS, aggregate
from leonet.emulation.rtnl import longest_prefix


def resolve(prefixes, node, space):
    """The object (0: none) each address 0..space-1 gets at ``node``."""
    mine = prefixes.node == node
    covered, ids = longest_prefix(prefixes.first[mine], 32 - prefixes.bits[mine], prefixes.object_id[mine])
    got = np.zeros(max(space, int(covered.max(initial=0)) + 1), dtype=np.int64)
    got[covered.astype(np.int64)] = ids
    assert not got[space:].any(), "a route to an address beyond the table"
    return got[:space]


def _check(table, rows, columns, prefixes, space):
    addresses = np.arange(space)
    for c, node in enumerate(columns):
        got = resolve(prefixes, int(node), space)
        want = np.zeros(space, dtype=np.int64)
        want[rows] = table[:, c]
        mine = addresses != node          # the node's own address: delivered locally first
        assert (got[mine] == want[mine]).all(), (node, np.flatnonzero(got[mine] != want[mine])[:5])


@pytest.mark.parametrize("seed", range(6))
def test_prefixes_forward_every_destination_exactly(seed):
    rng = np.random.default_rng(seed)
    space = int(rng.integers(20, 300))
    rows = np.sort(rng.choice(space, size=int(rng.integers(5, space)), replace=False))
    columns = rng.choice(space, size=7, replace=False)
    # runs of equal objects (as routes over a neighbour are), some gaps without a route
    table = np.repeat(rng.integers(0, 6, size=(len(rows) // 4 + 1, len(columns))), 4, axis=0)[:len(rows)]
    table[rng.random(table.shape) < 0.1] = int(rng.integers(1, 9))
    prefixes = aggregate(table, rows, columns, chunk=3)
    _check(table, rows, columns, prefixes, space)
    assert set(prefixes.node) <= set(columns)
    assert ((prefixes.object_id == 0) | np.isin(prefixes.object_id, table)).all()


def test_runs_of_one_object_become_few_prefixes():
    rows = np.arange(1024)
    table = np.repeat(np.array([[3], [5], [7], [3]]), 256, axis=0)   # four aligned quarters
    prefixes = aggregate(table, rows, np.array([2000]))
    assert len(prefixes) == 3           # 3 over everything, 5 and 7 over their quarters
    _check(table, rows, np.array([2000]), prefixes, 2048)


def test_a_node_with_too_many_objects_is_left_to_host_routes():
    rows = np.arange(200)
    table = np.stack([np.arange(1, 201), np.full(200, 4)], axis=1)
    prefixes = aggregate(table, rows, np.array([300, 301]))
    assert MAX_OBJECTS < 200 and set(prefixes.node) == {301}
    _check(table[:, 1:], rows, np.array([301]), prefixes, 512)
