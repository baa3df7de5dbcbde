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


def test_celestial_estimate_reproduces_the_papers_137_cores():
    """Celestial's section 4 configuration (preset celestial-meetup): its formula gives the
    paper's "137 required CPU cores" (0.013685 x 4,409 x 2 + 4 x 4 = 136.7)."""
    from leonet.containers.config import containers_config
    from leonet.containers.estimate import celestial_box_ratio, celestial_estimate
    from leonet.orbits import build_constellation, load_scenario
    scenario = load_scenario("celestial-meetup")
    engine = TopologyEngine(build_constellation(scenario))
    e = celestial_estimate(engine, containers_config(scenario), capacity_cores=96, capacity_memory_mb=96 * 1024)
    assert celestial_box_ratio(engine.config.bounding_box) == pytest.approx(0.013685, abs=1e-6)
    assert e.cores == 137 and e.ground_station_cores == 16
    assert e.satellite_cores == pytest.approx(120.67, abs=0.01)
    assert e.utilization == pytest.approx(120.67 / 80, abs=0.01)   # 96 cores minus the stations' 16
    assert "reduce the bounding box by at least 34 %" in " ".join(e.lines())


def test_celestial_box_ratio_wraps_the_antimeridian():
    from leonet.containers.estimate import celestial_box_ratio
    from leonet.topology.bbox import BoundingBox
    # Celestial's section 5 box [-63.1975, 112.3942, 78.1400, -64.0332] crosses 180 deg
    box = BoundingBox.parse({"lat_min_deg": -63.1975, "lat_max_deg": 78.14, "lon_min_deg": 112.3942,
                             "lon_max_deg": -64.0332})
    assert celestial_box_ratio(box) == pytest.approx((360 - 64.0332 - 112.3942) * 141.3375 / 64800)
    assert celestial_box_ratio(None) == 1.0
