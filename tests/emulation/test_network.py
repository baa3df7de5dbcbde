"""The emulated network against the topology engine: real namespaces, routes, packets.

These tests use the ``none`` shaping backend, so they check connectivity, routing and
rewiring; delay fidelity is tested with the real backends in test_delay_end_to_end.py.
"""
import gc
import os
import re
import subprocess

import numpy as np
import pytest

from leonet.emulation import netns
from leonet.emulation.cleanup import cleanup
from leonet.emulation.network import IFINDEX_OFFSET
from leonet.emulation.overrides import LinkOverride
from leonet.emulation.rtnl import IF_OPER_UP, dump_operstates
from leonet.emulation.run import EmulationRun

from conftest import require_binary, require_root
from . import scenarios


@pytest.fixture
def run(tmp_path):
    require_root()
    r = EmulationRun.from_scenario(scenarios.write(tmp_path), backend="none")
    yield r
    r.stop()
    assert not netns.list_namespaces(), "namespaces left behind"
    assert gc.get_freeze_count() == 0, "the run left the garbage collector frozen"


def _reachable_offset(run, a, b, start=0.0, step=30.0):
    for off in np.arange(start, start + 6 * 3600, step):
        if run.engine.snapshot(float(off)).path(a, b).reachable:
            return float(off)
    pytest.skip("no time with a path between the two stations in 6 hours")


def _in(run, node, cmd):
    return subprocess.run(["nsenter", f"--net=/run/netns/{run.node(node).netns}", "--"] + cmd,
                          capture_output=True, text=True, timeout=60)


def test_routes_follow_the_engine_and_traceroute_shows_its_hops(tmp_path, run):
    require_binary("traceroute")
    off = _reachable_offset(run, "Berlin", "Madrid")
    run.config = run.config.with_overrides(offset_s=off)
    run.start()
    # what bring-up built is kept out of the collector's full passes while the run lasts
    assert gc.get_freeze_count() > 0
    # every link end is usable when start returns (the kernel's link-watch work, which gives a
    # veth end its qdisc after the carrier came on, lags thousands of ends behind at bring-up)
    for node in run.network.nodes:
        states = dump_operstates(run.network._sockets[node.index])
        ends = [i for i in states if i >= IFINDEX_OFFSET]
        assert ends and all(states[i] == IF_OPER_UP for i in ends), (node.name, states)
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    path = run.network.snapshot.path("Berlin", "Madrid")
    ping = _in(run, "Berlin", ["ping", "-c", "2", "-i", "0.2", run.node("Madrid").address])
    assert ping.returncode == 0, ping.stdout + ping.stderr
    tr = _in(run, "Berlin", ["traceroute", "-n", "-q", "1", "-w", "1", run.node("Madrid").address])
    hops = re.findall(r"^\s*\d+\s+(\S+)", tr.stdout, re.M)
    by_address = {n.address: n.name for n in run.network.nodes}
    assert [by_address.get(h, h) for h in hops] == list(path.hops[1:])


def test_rewiring_follows_gsl_handovers(tmp_path, run):
    off = _reachable_offset(run, "Berlin", "Madrid")
    run.config = run.config.with_overrides(offset_s=off)
    run.start()
    first = run.network.snapshot.primary_satellite.copy()
    # advance until Berlin's serving satellite changes, applying every 10 s
    for k in range(1, 400):
        snap = run.engine.snapshot(off + 10 * k)
        report = run.network.apply(snap)
        assert report.errors == []
        if snap.primary_satellite[0] != first[0] and snap.path("Berlin", "Madrid").reachable:
            break
    else:
        pytest.skip("no handover within the searched window")
    assert report.links_added or report.links_removed or report.routes_changed
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    ping = _in(run, "Berlin", ["ping", "-c", "2", "-i", "0.2", run.node("Madrid").address])
    assert ping.returncode == 0
    # the interfaces in Berlin's namespace are exactly its GSLs in the engine
    links = _in(run, "Berlin", ["ip", "-o", "link", "show"]).stdout
    ifaces = sorted(re.findall(r"\d+: (l\d+)@", links))
    assert ifaces == sorted(i for i, _, _, _ in run.network.interfaces_of("Berlin"))


def test_handovers_re_point_next_hop_objects_instead_of_routes(tmp_path, run):
    """Routes name per-neighbour next-hop objects (the default): over handovers the kernel
    takes fewer operations than there are changed routes, and forwards exactly as the table."""
    off = _reachable_offset(run, "Berlin", "Madrid")
    run.config = run.config.with_overrides(offset_s=off)
    run.start()
    assert run.config.route_nexthops == "objects"
    changed = operations = handovers = 0
    first = run.network.snapshot.primary_satellite.copy()
    for k in range(1, 61):
        snap = run.engine.snapshot(off + 5.0 * k)
        report = run.network.apply(snap)
        assert report.errors == []
        changed += report.routes_changed
        operations += report.route_operations
        handovers += int(report.links_removed > 0)
    assert handovers and (run.network.snapshot.primary_satellite != first).any()
    assert operations < changed, (operations, changed)
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    # every route covering Madrid's address (a prefix from bring-up, maybe a /32 since) names an object
    routes = _in(run, "Berlin", ["ip", "route", "show", "match", run.node("Madrid").address]).stdout
    assert "nhid" in routes and "via" not in routes, routes
    nexthops = _in(run, "Berlin", ["ip", "nexthop", "show"]).stdout
    assert re.search(r"id \d+ via 10\.64\.", nexthops), nexthops
    ping = _in(run, "Berlin", ["ping", "-c", "2", "-i", "0.2", run.node("Madrid").address])
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_inline_routes_name_their_gateway_and_follow_handovers(tmp_path, run):
    off = _reachable_offset(run, "Berlin", "Madrid")
    run.config = run.config.with_overrides(offset_s=off, route_nexthops="inline")
    run.start()
    for k in range(1, 31):
        report = run.network.apply(run.engine.snapshot(off + 5.0 * k))
        assert report.errors == [] and report.route_operations == report.routes_changed
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    routes = _in(run, "Berlin", ["ip", "route", "show", run.node("Madrid").address]).stdout
    assert "nhid" not in routes and " via 10.64." in routes, routes


def test_cleanup_removes_a_killed_runs_leftovers(tmp_path):
    require_root()
    r = EmulationRun.from_scenario(scenarios.write(tmp_path), backend="none")
    r.start()
    sleeper = subprocess.Popen(["nsenter", f"--net=/run/netns/{r.node('Berlin').netns}", "--", "sleep", "600"])
    ours = {n.netns for n in r.network.nodes}
    assert len(ours) == 82 and ours <= set(netns.list_namespaces())
    # simulate a crash: nothing of the run's own teardown happens
    r.network._worker.close()
    report = cleanup(stop_run=False)
    assert report.namespaces_removed >= 82 and report.processes_killed >= 1
    assert sleeper.wait(timeout=10) != 0
    assert not ours & set(netns.list_namespaces())
    unrelated = subprocess.run(["ip", "netns", "add", "not-leonet"], capture_output=True)
    try:
        assert cleanup(stop_run=False).namespaces_removed == 0
        assert "not-leonet" in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    finally:
        if unrelated.returncode == 0:
            subprocess.run(["ip", "netns", "del", "not-leonet"])


def test_route_hysteresis_changes_fewer_routes_and_the_check_accepts_its_paths(tmp_path, run):
    off = _reachable_offset(run, "Berlin", "Madrid")
    run.config = run.config.with_overrides(offset_s=off, route_hysteresis_ms=0.5)
    run.start()
    installed, least_delay = 0, 0
    previous = run.engine.snapshot(off).routes(run.network.destinations).next_hop_to_source
    for k in range(1, 31):
        snap = run.engine.snapshot(off + 2.0 * k)
        report = run.network.apply(snap)
        assert report.errors == []
        installed += report.routes_changed
        best = snap.routes(run.network.destinations).next_hop_to_source
        least_delay += int(np.count_nonzero(best != previous))
        previous = best
    assert installed < least_delay, (installed, least_delay)
    check = run.network.self_check()
    assert check.problems == 0, check.report()
    assert check.tolerance_ms >= 0.5
    ping = _in(run, "Berlin", ["ping", "-c", "2", "-i", "0.2", run.node("Madrid").address])
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_route_groups_give_a_station_objects_per_group_and_forward_within_the_hysteresis(tmp_path, run):
    """emulation.route_groups: slot with 1 ms of hysteresis: over handovers the kernel forwards
    within the hysteresis (the self-check resolves every route through its object), and a
    station's routes name more objects than it has satellites (one per group and uplink)."""
    off = _reachable_offset(run, "Berlin", "Madrid")
    run.config = run.config.with_overrides(offset_s=off, route_hysteresis_ms=1.0, route_groups="slot",
                                           route_group_slots=3)
    run.start()
    assert run.network.route_groups is not None
    for k in range(1, 31):
        report = run.network.apply(run.engine.snapshot(off + 2.0 * k))
        assert report.errors == []
    check = run.network.self_check()
    assert check.problems == 0, check.report()
    assert check.tolerance_ms >= 1.0
    routes = _in(run, "Berlin", ["ip", "route", "show"]).stdout
    objects = set(re.findall(r"nhid (\d+)", routes))
    uplinks = len(run.network.interfaces_of("Berlin"))
    assert len(objects) > uplinks, (objects, uplinks)
    ping = _in(run, "Berlin", ["ping", "-c", "2", "-i", "0.2", run.node("Madrid").address])
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_prefix_routes_from_bring_up_forward_exactly_and_a_lost_route_hides_them(tmp_path, run):
    """emulation.route_prefixes: aggregate (the default): the first table goes in as far fewer
    prefix routes than destinations, the kernel forwards exactly as the table; a station cut
    off gets a /32 throw route at the others (the prefix over its address would still carry
    packets towards it), and comes back as a /32 route through an object."""
    off = _reachable_offset(run, "Berlin", "Madrid")
    run.config = run.config.with_overrides(offset_s=off)
    run.start()
    assert run.config.route_prefixes == "aggregate"
    routes = _in(run, "Berlin", ["ip", "-o", "route", "show", "proto", "76"]).stdout.splitlines()
    assert 0 < len(routes) < len(run.network.destinations) // 2, len(routes)
    assert any(re.match(r"10\.64\.\d+\.\d+/(1\d|2\d|3[01]) nhid \d+", r) for r in routes), routes[:5]
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    madrid = run.node("Madrid")
    peers = [peer for _, peer, _, _ in run.network.interfaces_of("Madrid")]
    for peer in peers:
        report = run.network.set_link_override("Madrid", peer, LinkOverride(failed=True))
        assert report.errors == []
    assert run.network.interfaces_of("Madrid") == []
    match = _in(run, "Berlin", ["ip", "route", "show", "match", madrid.address]).stdout
    assert f"throw {madrid.address}" in match, match
    ping = _in(run, "Berlin", ["ping", "-c", "1", "-W", "1", madrid.address])
    assert ping.returncode != 0
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    for peer in peers:
        assert run.network.set_link_override("Madrid", peer, None).errors == []
    match = _in(run, "Berlin", ["ip", "route", "show", "match", madrid.address]).stdout
    assert "throw" not in match and re.search(rf"^{re.escape(madrid.address)} nhid \d+", match, re.M), match
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    ping = _in(run, "Berlin", ["ping", "-c", "2", "-i", "0.2", madrid.address])
    assert ping.returncode == 0, ping.stdout + ping.stderr


def _bpf_descriptors() -> int:
    """BPF maps and programs this process holds open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("anon_inode:bpf")
        except OSError:
            pass
    return count


def test_bpf_forwarding_table_forwards_as_the_engine_without_route_operations(tmp_path, run):
    """emulation.forwarding_table: ebpf: one route for the node range in every node, through its
    BPF programs; packets (the node's own too: ping, traceroute) take the engine's hops; over
    handovers the map changes in place, with no kernel route operation, and forwards exactly as
    the table; a station cut off is unreachable and comes back; stopping lets go of the map."""
    require_binary("traceroute")
    held = _bpf_descriptors()
    off = _reachable_offset(run, "Berlin", "Madrid")
    run.config = run.config.with_overrides(offset_s=off, forwarding_table="ebpf")
    run.start()
    assert _bpf_descriptors() > held             # the map
    madrid = run.node("Madrid")
    routes = _in(run, "Berlin", ["ip", "-o", "route", "show", "table", "main"]).stdout.splitlines()
    assert len(routes) == 1 and re.match(r"10\.64\.0\.0/10 +encap bpf in leonet_fwd xmit leonet_fwd dev lo", routes[0]), \
        routes
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    assert check.entries > len(run.network.nodes)
    path = run.network.snapshot.path("Berlin", "Madrid")
    tr = _in(run, "Berlin", ["traceroute", "-n", "-q", "1", "-w", "1", madrid.address])
    hops = re.findall(r"^\s*\d+\s+(\S+)", tr.stdout, re.M)
    by_address = {n.address: n.name for n in run.network.nodes}
    assert [by_address.get(h, h) for h in hops] == list(path.hops[1:]), tr.stdout

    changed = handovers = 0
    first = run.network.snapshot.primary_satellite.copy()
    for k in range(1, 61):
        report = run.network.apply(run.engine.snapshot(off + 5.0 * k))
        assert report.errors == [] and report.route_operations == 0
        changed += report.routes_changed
        handovers += int(report.links_removed > 0)
    assert handovers and changed and (run.network.snapshot.primary_satellite != first).any()
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    ping = _in(run, "Berlin", ["ping", "-c", "2", "-i", "0.2", madrid.address])
    assert ping.returncode == 0, ping.stdout + ping.stderr

    peers = [peer for _, peer, _, _ in run.network.interfaces_of("Madrid")]
    for peer in peers:
        assert run.network.set_link_override("Madrid", peer, LinkOverride(failed=True)).errors == []
    ping = _in(run, "Berlin", ["ping", "-c", "1", "-W", "1", madrid.address])
    assert ping.returncode != 0
    rules = _in(run, "Madrid", ["ip", "rule"]).stdout
    assert not re.search(r"fwmark \S+ lookup", rules) and "unreachable" in rules, rules   # the catch-all is left
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    for peer in peers:
        assert run.network.set_link_override("Madrid", peer, None).errors == []
    check = run.network.self_check()
    assert check.problems == 0 and check.other_next_hops == 0, check.report()
    ping = _in(run, "Berlin", ["ping", "-c", "2", "-i", "0.2", madrid.address])
    assert ping.returncode == 0, ping.stdout + ping.stderr
    run.stop()
    assert _bpf_descriptors() == held


def test_a_killed_bpf_runs_map_goes_with_cleanup(tmp_path):
    """A run with the BPF forwarding table killed outright: its map outlives the process (the
    routes in its namespaces hold the programs that hold the map) until `leonet cleanup`
    removes the namespaces; then the kernel frees it."""
    import copy
    import sys
    import time

    from leonet.emulation import runstate
    from leonet.emulation.ebpf_table import BpfError, ForwardingMap
    require_root()
    raw = copy.deepcopy(scenarios.TINY)
    raw.setdefault("emulation", {})["forwarding_table"] = "ebpf"
    proc = subprocess.Popen([sys.executable, "-m", "leonet.cli.main", "run", scenarios.write(tmp_path, raw),
                             "--backend", "none", "--speed", "0.001"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (runstate.read_status() if runstate.STATUS_FILE.exists() else {}).get("forwarding_map_id"):
            assert proc.poll() is None and time.time() < deadline, "leonet run did not come up"
            time.sleep(0.2)
        map_id = int(runstate.read_status()["forwarding_map_id"])
        nodes = len(runstate.active_run()["nodes"])
    finally:
        proc.kill()
        proc.wait(timeout=30)

    def exists() -> bool:
        try:
            ForwardingMap(nodes, map_id).close()
            return True
        except BpfError:
            return False
    assert exists()
    cleanup(stop_run=False)
    deadline = time.time() + 20
    while exists():
        assert time.time() < deadline, f"BPF map {map_id} still there after cleanup"
        time.sleep(0.2)
    assert not netns.list_namespaces()
