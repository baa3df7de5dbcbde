"""`emulation.nodes: containernet`: Containernet's Docker hosts behind leonet's NodeFactory.

Containernet is not packaged for Debian; on machines without it the scenario is
refused before anything starts, and the live test skips with the reason."""
import copy
import inspect

import pytest

from leonet.containers.containernet_nodes import ContainernetNodeFactory, containernet_available
from leonet.containers.docker_nodes import DockerNodeFactory
from leonet.emulation.nodes import NamespaceNodeFactory, NodeFactory
from leonet.errors import ConfigError
from leonet.launch import prepare_run
from leonet.orbits import Scenario

from conftest import require_root

TINY = {
    "name": "cn", "start": "2026-01-31T12:00:00Z", "defaults": {"min_elevation_deg": 10},
    "shells": [{"name": "t", "planes": 4, "sats_per_plane": 4, "altitude_km": 1200, "inclination_deg": 53}],
    "ground_stations": [{"name": "Berlin", "lat_deg": 52.52, "lon_deg": 13.405}],
    "emulation": {"nodes": "containernet", "backend": "none"},
    "containers": {"satellite": {"host": "namespace"}, "ground_station": {"host": "docker"}},
}


def test_every_node_kind_is_made_through_the_same_interface():
    abstract = {name for name, m in inspect.getmembers(NodeFactory) if getattr(m, "__isabstractmethod__", False)}
    assert abstract == {"create", "destroy"}
    for factory in (NamespaceNodeFactory, DockerNodeFactory, ContainernetNodeFactory):
        assert issubclass(factory, NodeFactory)
        for name in abstract:
            assert getattr(factory, name) is not getattr(NodeFactory, name), f"{factory.__name__}.{name}"
            assert inspect.signature(getattr(factory, name)) == inspect.signature(getattr(NodeFactory, name))
    assert (DockerNodeFactory.kind, ContainernetNodeFactory.kind) == ("docker", "containernet")


def test_without_containernet_the_scenario_is_refused_before_anything_starts():
    if containernet_available():
        pytest.skip("Containernet is installed here")
    with pytest.raises(ConfigError) as err:
        prepare_run(Scenario.from_dict(copy.deepcopy(TINY)))
    assert err.value.field == "emulation.nodes" and "not installed" in str(err.value)


def test_containernet_hosts_run_in_the_emulated_network():
    require_root()
    if not containernet_available():
        pytest.skip("Containernet is not installed (not packaged for Debian; see docs/containers.md)")
    from leonet import LeoNet
    with LeoNet(Scenario.from_dict(copy.deepcopy(TINY)), clock="manual") as net:
        berlin = net["Berlin"]
        assert type(berlin).__name__ == "Docker"                 # Containernet's host class
        assert "eth0" not in berlin.cmd("ip -o link")             # no way around the emulated links
        sat = net.path("Berlin", net.satellites[0]).hops[1] if net.path("Berlin", net.satellites[0]).reachable \
            else None
        if sat:
            assert net.ping("Berlin", sat, count=3).received >= 2
