"""Docker nodes with a real delay backend: ping RTT equals twice the engine's one-way
path delay, and degrading a link adds its extra delay (and loss) in both directions."""
import copy
import statistics

import pytest

from leonet.containers.docker_nodes import container_name
from leonet.launch import prepare_run

from .helpers import (DOCKER_SCENARIO, ping_ok, ping_rtts_ms, reachable_offset, require_docker, start_when_idle,
                      write)

#: what a userspace (nfqueue) hop may add on a busy 2-core machine, per round trip
TOLERANCE_MS = 4.0


def assert_rtt_near(rtts, expected: float) -> None:
    """The lower quartile (what the backend gives when the CPU is free: contention only
    adds delay) within the tolerance, and the median within a looser one. A missing or
    doubled link delay moves both by that delay."""
    ordered = sorted(rtts)
    low, mid = ordered[len(ordered) // 4], statistics.median(ordered)
    assert expected - 0.5 <= low <= expected + TOLERANCE_MS, (expected, rtts)
    assert mid <= expected + TOLERANCE_MS + 10.0, (expected, rtts)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    require_docker()
    try:
        from leonet.emulation.run import make_backend
        make_backend("auto").close()
    except Exception as exc:
        pytest.skip(f"no real delay backend here: {exc}")
    raw = copy.deepcopy(DOCKER_SCENARIO)
    raw["emulation"]["backend"] = "auto"
    raw["topology"].pop("bounding_box")          # every satellite runs: not what this test is about
    r = prepare_run(write(tmp_path_factory.mktemp("delay"), raw))
    r.config = r.config.with_overrides(offset_s=reachable_offset(r.engine, "Berlin", "Prague"))
    try:
        start_when_idle(r)
        yield r
    finally:
        r.stop()


def test_docker_node_rtt_equals_the_engine_delay(run):
    berlin, prague = container_name(run.node("Berlin"), "main"), run.node("Prague").address
    expected = run.expected_rtt_ms("Berlin", "Prague")
    rtts = ping_rtts_ms(berlin, prague, count=10)
    assert len(rtts) >= 8
    assert_rtt_near(rtts, expected)


def test_degraded_link_adds_its_delay_and_loss(run):
    berlin, prague = container_name(run.node("Berlin"), "main"), run.node("Prague").address
    path = run.network.snapshot.path("Berlin", "Prague")
    a, b = path.hops[0], path.hops[1]
    expected = run.expected_rtt_ms("Berlin", "Prague")
    faults = run.extensions.faults
    faults.degrade_link(a, b, extra_delay_ms=20.0)
    try:
        rtts = ping_rtts_ms(berlin, prague, count=10)
        assert len(rtts) >= 8
        assert_rtt_near(rtts, expected + 40.0)
        faults.degrade_link(a, b, extra_loss_percent=100.0)
        assert not ping_ok(berlin, prague)
    finally:
        faults.restore_link(a, b)
    assert ping_ok(berlin, prague)


def test_the_info_api_adds_no_emulated_delay(run):
    """A /self round trip from inside a shaped node is far below the delay of its links."""
    import http.client
    import time

    from leonet.emulation import netns

    def ask():
        out = []
        for _ in range(20):
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection("169.254.169.254", 80, timeout=5)
            conn.request("GET", "/self")
            conn.getresponse().read()
            conn.close()
            out.append((time.perf_counter() - t0) * 1000)
        return out
    worker = netns.NetnsThread()
    try:
        times = worker.run(run.node("Berlin").netns, ask)
    finally:
        worker.close()
    shortest_link = min(d for _, _, _, d in run.network.interfaces_of("Berlin"))
    assert statistics.median(times) < min(2 * shortest_link, 5.0), (times, shortest_link)
