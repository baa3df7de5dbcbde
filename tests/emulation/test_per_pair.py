"""Per-pair forwarding (Celestial's model) on a live run: every pair of active nodes has
one direct link with its path's delay, so a ping crosses one link whatever the path,
measures the engine's RTT, and satellites outside the bounding box are not reachable."""
import re
import subprocess

import numpy as np
import pytest

from leonet import ConfigError, LeoNet, Station, Walker, build_scenario
from leonet.emulation.network import MAX_PAIR_LINKS, check_per_pair_size
from leonet.orbits import build_constellation, load_scenario
from leonet.topology import TopologyEngine

from conftest import require_root
from .shaping_helpers import assert_delay_errors

BOX = {"lat_min_deg": 20, "lat_max_deg": 70, "lon_min_deg": -40, "lon_max_deg": 60}


def scenario(**emulation):
    return build_scenario(
        "perpair", start="2026-01-31T12:00:00Z", defaults={"min_elevation_deg": 10},
        shells=[Walker("shell", planes=8, sats_per_plane=10, altitude_km=1200, inclination_deg=53)],
        ground_stations=[Station("Berlin", 52.52, 13.405), Station("Madrid", 40.42, -3.70),
                         Station("New-York", 40.71, -74.0)],
        topology={"gsl": {"policy": "nearest"}, "bounding_box": BOX},
        emulation={"forwarding": "per-pair", **emulation})


def test_a_constellation_without_a_box_is_refused_before_anything_starts():
    engine = TopologyEngine(build_constellation(load_scenario("starlink-shell1")))
    with pytest.raises(ConfigError, match="emulation.forwarding.*bounding_box"):
        check_per_pair_size(engine, 0.0)
    assert MAX_PAIR_LINKS >= 10_000


def test_per_pair_links_carry_the_paths_delay():
    require_root()
    with LeoNet(scenario(), clock="manual", backend="nfqueue", progress=False) as net:
        network = net.run.network
        snap = network.snapshot
        active = [net.satellites[i] for i in np.flatnonzero(snap.active)]
        outside = [net.satellites[i] for i in np.flatnonzero(~snap.active)]
        # the kernel holds one link per connected pair of active nodes, and nothing else
        assert (network.links.kind == 2).all() and len(network.links) <= (len(active) + 3) * (len(active) + 2) // 2
        assert not network.interfaces_of(outside[0])
        path = net.path("Berlin", "New-York")
        assert path.reachable and len(path.hops) > 3            # several satellites in the constellation
        trace = subprocess.run(["ip", "netns", "exec", network.node("Berlin").netns, "busybox", "traceroute", "-n",
                                "-q", "1", "-w", "2", net.address("New-York")], capture_output=True, text=True)
        assert re.findall(r"^\s*\d+\s+(\S+)", trace.stdout, re.M) == [net.address("New-York")], trace.stdout  # one hop
        ping = net.ping("Berlin", "New-York", count=30, interval_s=0.05)
        assert ping.received >= 25
        assert ping.expected_ms[0] == pytest.approx(path.rtt_ms, abs=1e-6)
        # one shaped hop each way: the nfqueue backend's stated accuracy once per direction
        assert_delay_errors(sorted(ping.errors_ms), 2 * net.run.shaper.accuracy_ms)
        lost = subprocess.run(["ip", "netns", "exec", network.node("Berlin").netns, "ping", "-c", "1", "-W", "1",
                               net.address(outside[0])], capture_output=True)
        assert lost.returncode != 0                                # outside the box: no link, unreachable
        assert network.self_check().problems == 0
        before = len(network.links)
        net.advance(120)                                           # satellites cross the box's edges
        assert len(network.links) != before or not np.array_equal(network.snapshot.active, snap.active)
        assert network.self_check().problems == 0
        assert net.ping("Berlin", "Madrid", count=5, interval_s=0.1).received >= 4
