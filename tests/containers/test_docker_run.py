"""A scenario with Docker satellites and ground stations, end to end: reachability, the
info API and DNS from inside containers, workloads, runtime limits, faults observed by
ping, and bounding-box suspension. Real Docker, real namespaces (backend ``none``: no
delay; delays are checked in test_delay.py)."""
import copy
import json
import subprocess
import sys
import time

import pytest

from leonet.containers.docker_nodes import container_name
from leonet.emulation import netns
from leonet.launch import prepare_run
from leonet.waiting import wait_for

from .helpers import (DOCKER_SCENARIO, container_status, docker_exec, leonet_containers, ping_ok,
                      reachable_offset, require_docker, start_when_idle, write)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    require_docker()
    r = prepare_run(write(tmp_path_factory.mktemp("docker"), copy.deepcopy(DOCKER_SCENARIO)))
    off = reachable_offset(r.engine, "Berlin", "Prague")
    r.config = r.config.with_overrides(offset_s=off)
    try:
        start_when_idle(r)
        yield r
    finally:
        r.stop()
    assert not [c for c in leonet_containers() if c.startswith("leonet-n")], "containers left behind"
    assert not netns.list_namespaces(), "namespaces left behind"


def main(run, node):
    return container_name(run.node(node), "main")


def running_satellite_on_path(run, a, b):
    for hop in run.network.snapshot.path(a, b).hops[1:-1]:
        if container_status(main(run, hop)) == "running":
            return hop
    pytest.skip("every satellite on the path is paused (outside the box)")


def test_docker_nodes_are_containers_with_the_nodes_namespaces(run):
    ext = run.extensions
    assert ext.docker is not None and len(ext.docker.holders) == len(run.network.nodes)
    for n in run.network.nodes:
        holder = ext.docker.holders[n.name]
        assert holder.labels["leonet.node"] == n.name and holder.labels["leonet.run"] == ext.run_id
        pid = int(holder.attrs["State"]["Pid"])
        assert netns.path_of(n.netns).stat().st_ino == __import__("os").stat(f"/proc/{pid}/ns/net").st_ino
    for gs in ("Berlin", "Prague"):
        assert container_status(main(run, gs)) == "running"
    # (the route towards Prague may be a prefix over its address: ask for the route it takes)
    r = docker_exec(main(run, "Berlin"), f"ip -o addr show lo; ip route get {run.node('Prague').address}")
    assert run.node("Berlin").address in r.stdout and f"{run.node('Prague').address} via" in r.stdout, r.stdout


def test_docker_node_reachable_over_the_emulated_path(run):
    prague = run.node("Prague").address
    assert ping_ok(main(run, "Berlin"), prague)
    tr = docker_exec(main(run, "Berlin"), f"traceroute -n -q 1 -w 1 {prague}").stdout
    by_address = {n.address: n.name for n in run.network.nodes}
    hops = [by_address.get(line.split()[1], line.split()[1]) for line in tr.splitlines()[1:] if line.strip()]
    assert hops == list(run.network.snapshot.path("Berlin", "Prague").hops[1:])
    # the main application of a satellite answers over HTTP through the network
    sat = running_satellite_on_path(run, "Berlin", "Prague")
    page = docker_exec(main(run, "Berlin"), f"timeout 5 wget -q -O- http://{run.node(sat).address}/").stdout
    assert "leonet node" in page


def _get(run, node, path):
    r = docker_exec(main(run, node), f"timeout 5 wget -q -O- http://169.254.169.254{path}")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_info_api_from_inside_containers_equals_the_engine(run):
    off = run.config.offset_s
    engine_snap = run.engine.snapshot(off)
    me = _get(run, "Berlin", "/self")
    assert me["name"] == "Berlin" and me["address"] == run.node("Berlin").address and me["offset_s"] == off
    links = sorted((l["peer"]["name"], round(l["delay_ms"], 9)) for l in me["links"])
    i = run.node("Berlin").index
    expected = sorted((run.network.nodes[int(b if a == i else a)].name, round(float(d), 9))
                      for a, b, d in zip(engine_snap.links.a, engine_snap.links.b, engine_snap.links.delay_ms)
                      if i in (a, b))
    assert links == expected
    for a, b in (("Berlin", "Prague"), ("Prague", "s0p0n0")):
        p = engine_snap.path(a, b)
        body = _get(run, "Berlin", f"/path/{a}/{b}")
        assert body["reachable"] == p.reachable
        if p.reachable:
            assert body["hops"] == list(p.hops)
            assert body["delay_ms"] == pytest.approx(p.delay_ms, abs=1e-9)
            assert body["distance_km"] == pytest.approx(p.distance_km, abs=1e-9)
            assert len(body["segments"]) == len(p.hops) - 1
    sat = running_satellite_on_path(run, "Berlin", "Prague")
    s = _get(run, sat, "/self")
    assert s["name"] == sat and s["kind"] == "satellite" and s["active"] is True
    assert _get(run, sat, f"/shell/{s['shell']}/{s['id']}")["name"] == sat


def test_dns_resolves_inside_containers(run):
    r = docker_exec(main(run, "Prague"), "cat /etc/resolv.conf; nslookup berlin.gst.leonet; nslookup 3.0.leonet")
    assert "nameserver 169.254.169.254" in r.stdout
    assert run.node("Berlin").address in r.stdout and run.node("s0p0n3").address in r.stdout
    assert ping_ok(main(run, "Prague"), "berlin.gst.leonet")


def test_workload_container_shares_the_node_namespace(run):
    ext = run.extensions
    ext.add_workload("Berlin", {"image": "leonet-node:latest", "name": "probe",
                                "command": ["sh", "-c", "sleep 600"]})
    try:
        r = docker_exec(container_name(run.node("Berlin"), "probe"), "timeout 5 wget -q -O- http://169.254.169.254/self")
        assert json.loads(r.stdout)["name"] == "Berlin"
        names = {c["name"] for c in ext.workloads("Berlin")}
        assert container_name(run.node("Berlin"), "probe") in names
    finally:
        ext.remove_workload("Berlin", "probe")


def test_limits_change_at_runtime(run):
    event = run.extensions.set_limits("Prague", 0.3, 48)
    assert event.action == "limits" and event.params == {"cpus": 0.3, "memory_mb": 48}
    out = subprocess.run(["docker", "inspect", "-f", "{{.HostConfig.CpuQuota}} {{.HostConfig.Memory}}",
                          main(run, "Prague")], capture_output=True, text=True).stdout.split()
    assert out == ["30000", str(48 * 1024 * 1024)]


def test_kill_and_restart_are_observable_by_ping(run):
    berlin, prague = main(run, "Berlin"), run.node("Prague").address
    assert ping_ok(berlin, prague)
    run.extensions.faults.kill("Prague")
    assert container_status(main(run, "Prague")) == "exited"
    assert not ping_ok(berlin, prague, count=2)
    run.extensions.faults.restart("Prague")
    assert container_status(main(run, "Prague")) == "running"
    wait_for(lambda: ping_ok(berlin, prague, count=1), 15, "a ping from Berlin to Prague", interval=0.3)


def test_link_failure_and_restore_via_the_cli_are_observable_by_ping(run):
    berlin, prague = main(run, "Berlin"), run.node("Prague").address
    primary = int(run.network.snapshot.primary_satellite[0])
    serving = run.network.nodes[primary].name
    cli = [sys.executable, "-m", "leonet.cli.main", "fault"]
    out = subprocess.run(cli + ["fail-link", "Berlin", serving], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "fail-link Berlin~" in out.stdout and "emulated" in out.stdout
    assert not ping_ok(berlin, prague)          # Berlin's only GSL is down (nearest policy)
    out = subprocess.run(cli + ["restore-link", "Berlin", serving], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    wait_for(lambda: ping_ok(berlin, prague, count=1), 15, "a ping from Berlin to Prague", interval=0.3)
    log = subprocess.run(cli + ["log", "--format", "json"], capture_output=True, text=True)
    events = json.loads(log.stdout)
    assert [e["action"] for e in events][-2:] == ["fail-link", "restore-link"]
    assert all(e["emulated_time"] and e["wall_time"] for e in events)


def test_pause_and_resume_are_observable_by_ping(run):
    ext = run.extensions
    ext.add_workload("Berlin", {"image": "leonet-node:latest", "name": "pinger",
                                "command": ["ping", "-i", "0.2", run.node("Prague").address]})
    pinger = container_name(run.node("Berlin"), "pinger")

    def replies():
        logs = subprocess.run(["docker", "logs", pinger], capture_output=True, text=True).stdout
        return logs.count("bytes from")
    try:
        wait_for(lambda: replies() >= 3, 15, "3 replies", interval=0.3)
        ext.faults.pause("Berlin")
        assert container_status(pinger) == "paused"
        before = replies()
        time.sleep(1.5)
        assert replies() == before
        ext.faults.resume("Berlin")
        wait_for(lambda: replies() >= before + 3, 15, "3 more replies", interval=0.3)
    finally:
        ext.remove_workload("Berlin", "pinger")


def test_pause_and_resume_follow_the_bounding_box(run):
    ext = run.extensions
    c = run.controller
    nodes = run.network.nodes
    n_sat = run.constellation.num_satellites

    def states_match(active):
        return all((container_status(container_name(nodes[i], "main")) == "paused") == (not active[i])
                   for i in range(n_sat))
    first = run.network.engine_snapshot.active.copy()
    assert 0 < first.sum() < n_sat, "the test box should hold some satellites, not all"
    assert states_match(first)
    for gs in ("Berlin", "Prague"):
        assert container_status(main(run, gs)) == "running"      # ground stations are never paused
    for k in range(1, 40):  # advance the emulated clock until satellites cross the box's edges
        c.tick(k, run.config.offset_s + 60.0 * k, time.monotonic())
        now = run.network.engine_snapshot.active
        if (now != first).sum() >= 2:
            break
    ext.suspender.wait_idle()
    assert (now != first).any()
    assert states_match(now)
    assert set(ext.suspended_names()["bounding_box"]) == {nodes[i].name for i in range(n_sat) if not now[i]}
