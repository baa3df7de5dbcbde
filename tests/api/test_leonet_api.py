"""The public Python API on a live emulation: time, paths, pings, hooks, faults, hosts,
kubectl, and bad input -- each observed through the emulated network."""
import copy
import time

import numpy as np
import pytest

from leonet import ConfigError, LeoNet, build_scenario, Station, Walker
from leonet.emulation import netns
from leonet.errors import LeonetError

from conftest import require_root

SCENARIO = dict(
    name="api", start="2026-01-31T12:00:00Z", defaults={"min_elevation_deg": 10},
    shells=[Walker("shell", planes=8, sats_per_plane=10, altitude_km=1200, inclination_deg=53)],
    ground_stations=[Station("Berlin", 52.52, 13.405), Station("Madrid", 40.42, -3.70)],
    topology={"gsl": {"policy": "nearest"}})


@pytest.fixture(scope="module")
def net():
    require_root()
    n = LeoNet(build_scenario(**SCENARIO), clock="manual", backend="nfqueue")
    with n:
        yield n
    assert not netns.list_namespaces(), "namespaces left behind"


def test_the_manual_clock_moves_only_when_advanced(net):
    t0, off0 = net.time, net.offset_s
    time.sleep(1.5)
    assert net.offset_s == off0                         # nothing ticked on its own
    net.advance(5)
    assert net.offset_s == pytest.approx(off0 + 5)
    assert (net.time - t0).total_seconds() == pytest.approx(5)
    assert net.status()["tick"] >= 5


def test_ping_measures_the_engines_path(net):
    path = net.path("Berlin", "Madrid")
    assert path.reachable and path.hops[0] == "Berlin" and path.hops[-1] == "Madrid"
    result = net.ping("Berlin", "Madrid", count=10, interval_s=0.1)
    assert result.received >= 8
    assert result.expected_ms[0] == pytest.approx(path.rtt_ms, abs=1e-6)
    errors = sorted(result.errors_ms)
    assert errors[len(errors) // 4] < 1.5 and errors[0] > -0.5, errors


def test_hosts_run_commands_in_their_namespace_with_leonet_dns(net):
    berlin = net["Berlin"]
    assert net.address("Berlin") in berlin.cmd("ip -o -4 addr show dev lo")
    assert berlin.IP() == net.address("Berlin")
    assert net.address("Madrid") in berlin.cmd("getent hosts madrid.gst.leonet")
    assert net.get("Berlin", "Madrid")[1] is net["Madrid"]


def test_handover_callbacks_fire_when_the_primary_satellite_changes(net):
    engine = net.run.engine
    gs = engine.nodes.num_satellites  # Berlin's index among ground stations is 0
    start = net.offset_s
    primary = engine.snapshot(start).primary_satellite[0]
    change = next(off for off in np.arange(start + 1, start + 900) if engine.snapshot(float(off)).primary_satellite[0] != primary)
    seen = []
    net.on_handover(lambda h: seen.append(h) if h.ground_station == "Berlin" else None)
    net.advance(change - start)
    assert seen and seen[0].new == engine.nodes.names[engine.snapshot(float(change)).primary_satellite[0]]
    assert gs > 0


def test_a_failed_link_reroutes_and_a_restored_one_comes_back(net):
    before = net.path("Berlin", "Madrid")
    if len(before.hops) < 4:
        net.advance(180)
        before = net.path("Berlin", "Madrid")
    a, b = before.hops[1], before.hops[2]          # the first inter-satellite link
    event = net.fault("fail-link", a, b)
    assert event.action == "fail-link"
    net.advance(1)
    after = net.path("Berlin", "Madrid")
    assert (a, b) not in zip(after.hops, after.hops[1:])
    if after.reachable:
        assert net.ping("Berlin", "Madrid", count=3, interval_s=0.1).received >= 2
    net.fault("restore-link", a, b)
    net.advance(1)
    assert net.path("Berlin", "Madrid").reachable


def test_bad_calls_name_the_argument(net):
    with pytest.raises(ConfigError, match="seconds"):
        net.advance(-1)
    with pytest.raises(ConfigError, match="did you mean 'kill'"):
        net.fault("kil", "Berlin")
    with pytest.raises(ConfigError, match="takes 2 node"):
        net.fault("fail-link", "Berlin")
    with pytest.raises(ConfigError, match="Berlin"):
        net["Berlln"]


def test_bad_scenarios_fail_before_anything_starts():
    with pytest.raises(ConfigError, match="unknown preset"):
        LeoNet("no-such-preset")
    raw = copy.deepcopy(SCENARIO)
    raw["emulation"] = {"backend": "quantum"}
    with pytest.raises(ConfigError, match="emulation.backend"):
        LeoNet(build_scenario(**raw))
    with pytest.raises(ConfigError, match="clock"):
        LeoNet("demo", clock="fast")
    with pytest.raises(LeonetError, match="not started"):
        LeoNet(build_scenario(**SCENARIO)).path("Berlin", "Madrid")
    with pytest.raises(ConfigError, match="emulation.abort_on_overload"):
        LeoNet(build_scenario(**SCENARIO), abort_on_overload="sometimes")
    idle = LeoNet(build_scenario(**SCENARIO), abort_on_overload=True)
    assert idle.run.config.abort_on_overload and idle.aborted is None
    assert not idle.health().measured   # nothing to measure before start


def test_the_realtime_clock_ticks_at_the_chosen_speed():
    require_root()
    with LeoNet(build_scenario(**SCENARIO), speed=10, backend="none") as net:
        t0 = time.monotonic()
        net.advance(30)
        wall = time.monotonic() - t0
        assert net.offset_s >= 30
        assert 2.0 < wall < 12.0, wall          # 30 emulated s at 10x: 3 s, loaded machine allowed


def test_kubectl_reaches_the_ground_stations_control_plane():
    require_root()
    raw = copy.deepcopy(SCENARIO)
    raw["controlplane"] = {"ground_stations": ["Berlin"],
                           "agents": {"satellites": 3, "process": "inline"}}
    with LeoNet(build_scenario(**raw), clock="manual", backend="none") as net:
        net.cluster.wait_registered(timeout=120)
        out = net.kubectl("Berlin", "get nodes -o name")
        assert len([line for line in out.splitlines() if line.startswith("node/")]) == 3, out
        with pytest.raises(ConfigError, match="runs no control plane"):
            net.kubectl("Madrid", "get nodes")
