"""The BPF forwarding map on its own (root: real BPF maps and programs; the forwarding itself is
tested on live runs in test_network.py and test_delay_end_to_end.py)."""
import os

import numpy as np
import pytest

from conftest import require_root
from leonet.emulation.addressing import node_address_int
from leonet.emulation.ebpf_table import MAX_NODES, BpfError, ForwardingMap


def test_entries_written_here_are_what_another_reader_of_the_map_sees():
    require_root()
    fmap = ForwardingMap(5)
    try:
        fmap.write(np.array([0, 0, 3]), np.array([4, 2, 1]), np.array([1, 3, -1]))
        fmap.write(np.array([2]), np.array([0]), np.array([4]))
        reader = ForwardingMap(5, fmap.id)      # as `leonet check` opens it, by id
        try:
            assert reader.hops.tolist() == fmap.hops.tolist()
            dst, gw = reader.table_of(0)
            assert (dst - node_address_int(0)).tolist() == [2, 4] and (gw - node_address_int(0)).tolist() == [3, 1]
            assert len(reader.table_of(3)[0]) == 0      # a negative next hop: no entry
            fmap.write(np.array([3]), np.array([1]), np.array([0]))
            assert (reader.table_of(3)[1] - node_address_int(0)).tolist() == [0]   # seen at once
        finally:
            reader.close()
    finally:
        fmap.close()


def test_each_nodes_programs_pass_the_verifier():
    require_root()
    fmap = ForwardingMap(7)
    try:
        for node in (0, 6):
            for fd in fmap.programs(node):
                assert fd >= 0
                os.close(fd)
    finally:
        fmap.close()


@pytest.mark.parametrize("nodes", [0, MAX_NODES + 1])
def test_a_map_for_no_nodes_or_too_many_is_refused(nodes):
    with pytest.raises(BpfError, match="hold up to"):
        ForwardingMap(nodes)
