"""Bare-namespace nodes: the info API and DNS reach them too (through `ip netns exec`,
which uses /etc/netns/<ns>/resolv.conf), kill and pause act on their processes (cgroup
freezer), and the management namespace gives no shortcut between nodes."""
import json
import subprocess
import time

import pytest

from leonet.emulation import netns
from leonet.launch import prepare_run
from leonet.infoapi.plumbing import MGMT_NETNS
from tests.conftest import require_binary, require_root
from tests.emulation import scenarios

from .helpers import reachable_offset, start_when_idle


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    require_root()
    require_binary("busybox")
    r = prepare_run(scenarios.write(tmp_path_factory.mktemp("ns")), backend="none")
    r.config = r.config.with_overrides(offset_s=reachable_offset(r.engine, "Berlin", "Madrid"))
    try:
        start_when_idle(r)
        yield r
    finally:
        r.stop()
    assert not netns.list_namespaces()
    assert not (netns.NETNS_DIR.parent.parent / "etc/netns/ln-Berlin").exists()


def in_node(run, node, cmd, timeout=30):
    return subprocess.run(["ip", "netns", "exec", run.node(node).netns] + cmd, capture_output=True, text=True,
                          timeout=timeout)


def test_info_api_and_dns_from_a_namespace_node(run):
    r = in_node(run, "Madrid", ["busybox", "wget", "-q", "-O-", "http://169.254.169.254/path/Madrid/Berlin"])
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    p = run.engine.snapshot(run.config.offset_s).path("Madrid", "Berlin")
    assert body["hops"] == list(p.hops) and body["delay_ms"] == pytest.approx(p.delay_ms, abs=1e-9)
    me = json.loads(in_node(run, "Madrid", ["busybox", "wget", "-q", "-O-", "http://169.254.169.254/self"]).stdout)
    assert me["name"] == "Madrid"
    r = in_node(run, "Madrid", ["busybox", "nslookup", "berlin.gst.leonet"])
    assert run.node("Berlin").address in r.stdout, r.stdout + r.stderr
    assert in_node(run, "Madrid", ["ping", "-c", "1", "-W", "2", "berlin.gst.leonet"]).returncode == 0


def test_the_management_namespace_is_no_shortcut(run):
    # forwarding is off there, and a node's only route through it is to the API address
    fwd = subprocess.run(["ip", "netns", "exec", MGMT_NETNS, "cat", "/proc/sys/net/ipv4/ip_forward"],
                         capture_output=True, text=True).stdout.strip()
    assert fwd == "0"
    routes = in_node(run, "Berlin", ["ip", "route", "show", "dev", "info"]).stdout.split("\n")
    assert [line.split()[0] for line in routes if line.strip()] == ["169.254.169.254"]
    # with Berlin's links failed, Madrid cannot reach Berlin, although both touch the management namespace
    faults = run.extensions.faults
    faults.kill("Berlin")
    try:
        assert in_node(run, "Madrid", ["ping", "-c", "1", "-W", "1", run.node("Berlin").address]).returncode != 0
        # the API still answers the dead node's neighbours
        assert in_node(run, "Madrid", ["busybox", "wget", "-q", "-O-", "http://169.254.169.254/self"]).returncode == 0
    finally:
        faults.restart("Berlin")
    assert in_node(run, "Madrid", ["ping", "-c", "1", "-W", "2", run.node("Berlin").address]).returncode == 0


def _rx_packets(run, node, ifname="info"):
    out = in_node(run, node, ["ip", "-j", "-s", "link", "show", ifname]).stdout
    return json.loads(out)[0]["stats64"]["rx"]["packets"]


def test_another_nodes_address_gets_no_answers_through_the_management_namespace(run):
    """The issue's reproduction: Berlin puts Madrid's address on its loopback and pings the info
    address from it. The management namespace must drop that (strict reverse-path filter): else
    Madrid receives the echo replies, with no emulated delay and whatever the links' faults."""
    madrid = run.node("Madrid").address
    assert in_node(run, "Berlin", ["ip", "addr", "add", f"{madrid}/32", "dev", "lo"]).returncode == 0
    try:
        before = _rx_packets(run, "Madrid")
        spoofed = in_node(run, "Berlin", ["ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", madrid,
                                          "169.254.169.254"])
        time.sleep(0.5)
        assert _rx_packets(run, "Madrid") == before, "Madrid received the answers to Berlin's spoofed pings"
        assert spoofed.returncode != 0 and " 0 received" in spoofed.stdout, spoofed.stdout
    finally:
        in_node(run, "Berlin", ["ip", "addr", "del", f"{madrid}/32", "dev", "lo"])
    # each node's own address still works, and the answers reach that node only
    for node in ("Berlin", "Madrid"):
        ok = in_node(run, node, ["ping", "-c", "2", "-i", "0.2", "-W", "2", "169.254.169.254"])
        assert ok.returncode == 0, ok.stdout + ok.stderr
    rp = subprocess.run(["ip", "netns", "exec", MGMT_NETNS, "sysctl", "-n", "net.ipv4.conf.all.rp_filter"],
                        capture_output=True, text=True).stdout.strip()
    assert rp == "1"


def test_pause_freezes_and_kill_ends_a_namespace_nodes_processes(run):
    ns = run.node("Berlin").netns
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "ping", "-i", "0.2", run.node("Madrid").address],
                            stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        faults = run.extensions.faults
        event = faults.pause("Berlin")
        assert "froze" in event.detail
        state = subprocess.run(["cat", f"/sys/fs/cgroup/freezer/leonet/{ns}/freezer.state"],
                               capture_output=True, text=True).stdout.strip()
        if state:  # cgroup v1 here; v2 machines use cgroup.freeze
            assert state == "FROZEN"
        faults.resume("Berlin")
        faults.kill("Berlin")
        assert proc.wait(timeout=10) != 0     # killed
        faults.restart("Berlin")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_clock_a_node_reads_waits_for_the_network_and_says_how_far_behind_it_is(run):
    """``/clock`` while the run ticks faster than it can (1,000 emulated s per wall s): never more than one step
    past the tick the network has, and ``offset_s + lag_s`` (the real-time pacing) never goes back. Last in
    the module: it moves the run's time."""
    c = run.controller
    applied = [c.current_offset_s]
    def on_tick(info):
        applied.append(info.offset_s)

    c.hooks.tick.append(on_tick)
    speed = c.speed
    reader = subprocess.Popen(["ip", "netns", "exec", run.node("Madrid").netns, "sh", "-c",
                               "for i in $(seq 60); do busybox wget -q -O- http://169.254.169.254/clock; echo =; done"],
                              stdout=subprocess.PIPE, text=True)
    try:
        c.speed = 1000.0
        c.run(500)
    finally:
        c.speed = speed
        c.hooks.tick.remove(on_tick)
        out, _ = reader.communicate(timeout=60)
    readings = [json.loads(body) for body in out.split("\n=\n") if body.strip()]
    ticking = [r for r in readings if r["ticking"]]
    assert len(ticking) >= 3, readings
    lagging = [r for r in ticking if r["lag_s"] > 0]
    assert lagging, ticking
    for r in lagging:   # held at one step past a tick the network applied
        assert any(abs(r["offset_s"] - r["step_s"] - a) < 1e-6 for a in applied), (r, applied)
    pacing = [r["offset_s"] + r["lag_s"] for r in ticking]
    assert all(b >= a - 2e-3 for a, b in zip(pacing, pacing[1:])), pacing   # lag_s is rounded to 1 ms
    assert all(r["lag_s"] >= 0 for r in readings)
