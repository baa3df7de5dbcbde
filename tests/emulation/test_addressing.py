"""The address plan (pure functions, no root needed)."""
import pytest

from leonet.emulation import addressing as a


def test_node_addresses_round_trip_and_stay_in_the_plan():
    assert a.node_address(0) == "10.64.0.0"
    assert a.node_address(1585) == "10.64.6.49"
    for i in (0, 1, 255, 256, 70000, a.MAX_NODES - 1):
        assert a.node_of_address(a.node_address(i)) == i
    with pytest.raises(ValueError):
        a.node_address(a.MAX_NODES)
    with pytest.raises(ValueError):
        a.node_of_address("192.0.2.1")


def test_interface_names_fit_ifnamsiz_and_macs_are_unique():
    assert a.interface_name(4_000_000) == "l4000000" and len("l4000000") <= 15
    assert a.peer_of_interface("l17") == 17
    macs = {a.interface_mac(i, j) for i in range(60) for j in range(60) if i != j}
    assert len(macs) == 60 * 59
    assert all(int(m.split(":")[0], 16) & 0x02 for m in macs)  # locally administered


def test_host_names_are_ascii_and_unique():
    taken = set()
    names = [a.host_name(n, taken) for n in ["São-Paulo", "New York", "New York", "s0p1n2", "Ürümqi"]]
    assert names == ["Sao-Paulo", "New-York", "New-York-2", "s0p1n2", "Urumqi"]
