"""The containers: section and the resource estimate (no Docker needed)."""
import pytest

from leonet.containers.config import DEFAULT_IMAGE, parse_containers_section
from leonet.containers.estimate import CONTAINER_OVERHEAD_MB, estimate
from leonet.containers.images import _is_static_elf
from leonet.errors import ConfigError
from leonet.orbits import load_constellation
from leonet.topology import TopologyEngine

from .helpers import DOCKER_SCENARIO, write


def test_defaults_follow_emulation_nodes():
    ns = parse_containers_section(None, "namespace")
    assert not ns.uses_docker and ns.info_api and ns.suspend_outside_bounding_box
    d = parse_containers_section({"ground_station": {"host": "namespace"}}, "docker")
    assert d.satellite.docker and not d.ground_station.docker
    assert d.satellite.image == DEFAULT_IMAGE and d.images() == [DEFAULT_IMAGE]


@pytest.mark.parametrize("raw, nodes, field", [
    ({"satellite": {"host": "docker"}}, "namespace", "containers.satellite.host"),
    ({"satellite": {"host": "vm"}}, "docker", "containers.satellite.host"),
    ({"satellite": {"cpu": 1}}, "docker", "containers.satellite.cpu"),
    ({"satellite": {"cpus": -1}}, "docker", "containers.satellite.cpus"),
    ({"satellite": {"memory_mb": 1.5}}, "docker", "containers.satellite.memory_mb"),
    ({"satellite": {"command": 5}}, "docker", "containers.satellite.command"),
    ({"satellite": {"image": "a b"}}, "docker", "containers.satellite.image"),
    ({"info_api": "yes"}, "docker", "containers.info_api"),
    ({"satelite": {}}, "docker", "containers.satelite"),
])
def test_bad_input_names_the_field(raw, nodes, field):
    with pytest.raises(ConfigError) as err:
        parse_containers_section(raw, nodes)
    assert err.value.field == field and err.value.fix


def test_command_forms():
    c = parse_containers_section({"satellite": {"command": "httpd -f"}, "ground_station": {"command": ["a", 1]}},
                                 "docker")
    assert c.satellite.command == ("/bin/sh", "-c", "httpd -f") and c.ground_station.command == ("a", "1")


def test_estimate_counts_active_satellites_and_all_memory(tmp_path):
    c = load_constellation(write(tmp_path, DOCKER_SCENARIO))
    engine = TopologyEngine(c)
    cfg = parse_containers_section(DOCKER_SCENARIO["containers"], "docker")
    e = estimate(engine, cfg)
    assert 0 < e.active_peak < 20 and e.has_box
    assert e.cpu_cores == pytest.approx(e.active_peak * 0.2 + 2 * 0.5)
    assert e.memory_mb == pytest.approx(20 * 32 + 2 * 64 + 44 * CONTAINER_OVERHEAD_MB)
    assert any(line.startswith("CPU: needs") for line in e.lines())


def test_only_a_static_busybox_is_accepted():
    with open("/proc/self/exe", "rb") as fh:   # the (dynamic) Python interpreter
        assert not _is_static_elf(fh.read())


@pytest.mark.parametrize("argv, name, command, env", [
    (["Berlin", "img", "--name", "x", "-e", "A=1", "--", "sleep", "9"], "x", ["sleep", "9"], {"A": "1"}),
    (["--name", "y", "Berlin", "img", "--", "ping", "-c", "3", "h"], "y", ["ping", "-c", "3", "h"], {}),
    (["Berlin", "img"], "app", None, {}),
])
def test_workload_cli_arguments(argv, name, command, env):
    from leonet.cli.containers_cmds import workload_body
    from leonet.cli.main import build_parser
    args = build_parser().parse_args(["workload", "run"] + argv)
    body = workload_body(args)
    assert body["name"] == name and body["command"] == command and body["env"] == env and body["image"] == "img"
