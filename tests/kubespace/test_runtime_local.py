"""KubeSpace's handover runtime without the emulation (no root): real control planes with the plug-in
on loopback, a real agent with a pod and its daemon, the plane-to-plane channel over HTTPS; and the
pure parts (section, Pod CIDRs, schedules, clock). The same protocol over the emulated network, with
faults, is tests/kubespace/test_handover_over_emulation.py."""
from __future__ import annotations

import asyncio
import math
import socket
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from leonet.controlplane import ControlPlane, ControlPlaneOptions
from leonet.controlplane.agent import ApiConnection
from leonet.controlplane.agent_host import AgentHost
from leonet.controlplane.auth import TokenFile
from leonet.controlplane.binding import BOUND, RELEASED, RELEASING, binding_state
from leonet.controlplane.pki import ClusterCA, cert_pem, key_pem, write_private
from leonet.errors import ConfigError
from leonet.kubespace.assignment import ControlNode, cnaa
from leonet.kubespace.config import parse_kubespace_section
from leonet.kubespace.runtime import resources as R
from leonet.kubespace.runtime.clock import ClockWriter, EmulatedClock
from leonet.kubespace.runtime.plane import KubeSpacePlane
from leonet.kubespace.runtime.schedule import Params, align_up, sampled_schedules, straight_schedules
from leonet.kubespace.runtime.service import pod_cidr
from leonet.orbits import build_constellation, parse_scenario
from leonet.orbits.timeutil import parse_utc
from leonet.orbits.tle import format_tle

START = "2026-01-31T12:00:00Z"
PLANES = {"Berlin": (52.52, 13.405), "Madrid": (40.42, -3.70), "Nairobi": (-1.29, 36.82)}


def _constellation():
    return build_constellation(parse_scenario({
        "name": "local", "start": START,
        "shells": [{"name": "t", "walker": "delta", "planes": 6, "sats_per_plane": 8, "altitude_km": 800,
                    "inclination_deg": 53}],
        "ground_stations": [{"name": n, "lat_deg": la, "lon_deg": lo} for n, (la, lo) in PLANES.items()]}))


# ----------------------------------------------------------------------------- pure parts

def test_runtime_section_is_validated():
    cfg = parse_kubespace_section({"runtime": {"enabled": True, "planes": ["Berlin", "Madrid"]}})
    assert cfg.runtime.enabled and cfg.runtime.planes == ["Berlin", "Madrid"] and cfg.runtime.pod_cidr == "10.128.0.0/9"
    assert parse_kubespace_section({"runtime": {"planes": "cnpa"}}).runtime.planes == "cnpa"
    assert parse_kubespace_section(None).runtime.enabled is False
    for bad, field in [({"enabeld": True}, "kubespace.runtime.enabeld"),
                       ({"planes": 3}, "kubespace.runtime.planes"),
                       ({"planes": ["A", "A"]}, "kubespace.runtime.planes"),
                       ({"pod_cidr": "10.64.0.0/16"}, "kubespace.runtime.pod_cidr"),
                       ({"pod_cidr": "nonsense"}, "kubespace.runtime.pod_cidr"),
                       ({"pod_cidr_prefix": 8}, "kubespace.runtime.pod_cidr_prefix"),
                       ({"sync_port": 70000}, "kubespace.runtime.sync_port"),
                       ({"sync_timeout_s": 40}, "kubespace.runtime.binding_timeout_s"),
                       ({"recompute_before_s": 43200}, "kubespace.runtime.recompute_before_s"),
                       ({"auto": "yes"}, "kubespace.runtime.auto")]:
        with pytest.raises(ConfigError) as e:
            parse_kubespace_section({"runtime": bad})
        assert e.value.field == field, (bad, e.value)


def test_pod_cidrs_follow_the_satellite_index_without_overlap():
    cidrs = [pod_cidr("10.128.0.0/9", 24, i) for i in range(1584)]
    assert cidrs[0] == "10.128.0.0/24" and cidrs[1] == "10.128.1.0/24" and cidrs[1583] == "10.134.47.0/24"
    import ipaddress
    nets = [ipaddress.IPv4Network(c) for c in cidrs]
    assert len(set(nets)) == len(nets) and not any(n.overlaps(ipaddress.IPv4Network("10.64.0.0/10")) for n in nets)
    assert all(a.broadcast_address < b.network_address for a, b in zip(nets, nets[1:]))
    with pytest.raises(ConfigError):
        pod_cidr("10.128.0.0/22", 24, 4)   # room for 4 only


def test_schedules_start_from_the_plane_a_satellite_is_on():
    c = _constellation()
    nodes = [ControlNode(n, la, lo) for n, (la, lo) in PLANES.items()]
    p = Params(3600.0, 60.0, 1.0, 0.9, "cubic")
    start = parse_utc(START)
    plain = cnaa(c.satrecs, start, nodes, 3600.0, 60.0, 1.0, 0.9)
    nearest = [nodes[int(i)].name for i in plain.initial]
    same = straight_schedules(c.satrecs, nodes, start, 0.0, nearest, p)
    for i, s in enumerate(same):   # starting on the nearest plane: exactly Algorithm 2's events
        assert s.initial == nearest[i]
        assert [(e[0], e[2]) for e in s.events] == [(off, nodes[t].name) for off, _, t in plain.events(i)]
    # a satellite put on its farthest plane moves at the first decision where the nearest is < 0.9 x
    far = []
    for i in range(c.num_satellites):
        from leonet.kubespace.runtime.schedule import nearest_plane
        d = nearest_plane(c.satrecs[i], nodes, start)
        far.append(max(d, key=d.get))
    moved = straight_schedules(c.satrecs, nodes, start, 0.0, far, p)
    assert all(s.events and s.events[0][0] == 0.0 and s.events[0][1] == far[i] for i, s in enumerate(moved)
               if min(nearest_plane(c.satrecs[i], nodes, start).values())
               < 0.9 * max(nearest_plane(c.satrecs[i], nodes, start).values()))
    # from a later start (not on the sample grid): offsets are absolute, decisions on the 1 s grid
    later = straight_schedules(c.satrecs, nodes, start, align_up(1234.5, 1.0), nearest, p)
    assert all(e[0] >= 1235.0 and float(e[0]).is_integer() for s in later for e in s.events)
    # sampled metric: events before the start are dropped
    samples = np.random.default_rng(0).uniform(1, 2, (4, 3, 61))
    sched = sampled_schedules(samples, 0.0, list(PLANES), 600.0, ["Berlin"] * 4, p)
    assert all(e[0] >= 600.0 for s in sched for e in s.events)


def test_emulated_clock_extrapolates_from_the_last_tick_and_never_runs_a_step_ahead(tmp_path):
    writer = ClockWriter(tmp_path / "clock.json", parse_utc(START), step_s=1.0, speed=2.0)
    clock = EmulatedClock(tmp_path / "clock.json")
    assert clock.offset() is None
    now = time.monotonic()
    writer.tick(100.0, mono=now)
    assert clock.offset(now) == 100.0
    assert math.isclose(clock.offset(now + 0.25), 100.5)
    assert clock.offset(now + 10.0) == 101.0   # the controller stalled: time holds one step ahead
    off, iso = clock.now()
    assert 100.0 <= off <= 101.0 and iso.startswith("2026-01-31T12:01:4")
    writer.tick(101.0, mono=now + 0.5)
    assert clock.offset(now + 0.5) == 101.0 and clock.speed == 2.0


# ----------------------------------------------------------------------------- live parts on loopback

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Local:
    """Planes with the KubeSpace plug-in, one agent (with a pod) and its daemon, all on loopback."""

    def __init__(self, tmp: Path, planes: List[str], binding_timeout_s: float = 30.0):
        self.tmp, self.names = tmp, planes
        self.ca = ClusterCA.create()
        self.clock = ClockWriter(tmp / "clock.json", parse_utc(START), 1.0, 1.0)
        self.sync = {n: _free_port() for n in planes}
        self.api_port = {n: _free_port() for n in planes}
        self.binding_timeout_s = binding_timeout_s
        self.planes: Dict[str, ControlPlane] = {}
        self.admin: Dict[str, ApiConnection] = {}
        self.host = AgentHost()
        self.tokens: Dict[str, str] = {}

    async def start_plane(self, n: str) -> None:
        d = self.tmp / n
        if not d.exists():
            d.mkdir()
            write_private(d / "ca.key", key_pem(self.ca.key))
            (d / "ca.crt").write_bytes(cert_pem(self.ca.cert))
        cfg = {"name": n, "peers": {m: f"https://127.0.0.1:{self.sync[m]}" for m in self.names if m != n},
               "sync_port": self.sync[n], "sync_timeout_s": 1.0, "binding_timeout_s": self.binding_timeout_s,
               "clock": str(self.tmp / "clock.json")}
        self.tokens[n] = TokenFile(d / "tokens.json").add_bootstrap(ttl=None)   # as the run service does
        cp = ControlPlane(d, port=self.api_port[n], name=n, plugins=[KubeSpacePlane(cfg)],
                          options=ControlPlaneOptions(node_monitor_period=0.5, node_monitor_grace_period=3))
        self.planes[n] = await cp.start()
        self.admin[n] = ApiConnection.from_kubeconfig(cp.kubeconfig_path)

    async def stop_plane(self, n: str) -> None:
        await self.admin.pop(n).close()
        await self.planes.pop(n).stop()

    async def start(self, node: str = "s0p0n0", metric: str = "straight", samples: str = None,
                    auto: bool = False, platform: str = "kubespace") -> "Local":
        self.clock.tick(0.0, mono=time.monotonic() + 600)   # emulated time holds at 0 (no ticking here)
        for n in self.names:
            await self.start_plane(n)
        await self.host.op_init({n: f"https://127.0.0.1:{self.api_port[n]}" for n in self.names},
                                self.ca.pem.decode(), {"renew_interval": 0.5, "lease_duration_seconds": 3,
                                                       "status_update_frequency": 0.5, "jitter": False}, 2.0, 0)
        cert, key = self.ca.issue_client(f"system:node:{node}", ["system:nodes"])
        await self.host.op_add([{"name": node, "address": "127.0.0.1", "netns": None, "plane": self.names[0],
                                 "cert": cert.decode(), "key": key.decode(), "pod_cidr": "10.128.0.0/24"}])
        await self.host.op_wait_registered(20)
        c = _constellation()
        await self.host.op_plugin("leonet.kubespace.runtime.daemon_host:daemon_host", {
            "planes": {n: {"lat_deg": PLANES[n][0], "lon_deg": PLANES[n][1]} for n in self.names},
            "satellites": {node: {"satellite": node, "tle": format_tle(node, c.satrecs[0]).splitlines()[1:3]}},
            "scenario_start": START, "clock": str(self.tmp / "clock.json"), "log_path": str(self.tmp / "log"),
            "assignment": {"window_s": 3600, "sample_interval_s": 60, "decision_interval_s": 1, "threshold": 0.9,
                           "interpolation": "cubic"},
            "runtime": {"auto": auto, "binding_timeout_s": 5.0, "platform": platform}, "metric": metric,
            "samples": samples, "bootstrap_tokens": self.tokens})
        await self.admin[self.names[0]].create("v1", "pods", {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "m", "image": "process", "command": ["sleep", "300"]}]}},
            "default")
        await _until(lambda: self.host.agents[node].pod_pid("default", "web"), "the pod running")
        return self

    async def state(self, plane: str, node: str = "s0p0n0"):
        return binding_state(await self.admin[plane].get("v1", "nodes", node))

    async def close(self) -> None:
        await self.host.op_stop()
        for n in list(self.planes):
            await self.stop_plane(n)


async def _until(pred, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if asyncio.iscoroutine(v):
            v = await v
        if v:
            return v
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _run(tmp_path, body, planes=("Berlin", "Madrid"), start=None, **kw):
    async def main():
        env = await Local(tmp_path, list(planes), **kw).start(**(start or {}))
        try:
            await body(env)
        finally:
            await env.close()
    asyncio.run(asyncio.wait_for(main(), 120))


def test_handover_moves_the_node_and_its_pod_with_all_17_steps(tmp_path):
    async def body(env: Local):
        pid = env.host.agents["s0p0n0"].pod_pid("default", "web")
        before = await env.admin["Berlin"].get("v1", "pods", "web", "default")
        rec = await env.host.handle("kubespace_handover", {"node": "s0p0n0", "target": "Madrid"})
        assert rec["outcome"] == "Finished", rec
        assert [s["step"] for s in rec["steps"]] == list(range(1, 18))
        assert env.host.plane_of["s0p0n0"] == "Madrid"
        assert await env.state("Berlin") == RELEASED and await env.state("Madrid") == BOUND
        after = await _until(lambda: _running(env.admin["Madrid"]), "the pod's status on Madrid")
        assert after["metadata"]["uid"] == before["metadata"]["uid"]           # the same pod, not a new one
        assert env.host.agents["s0p0n0"].pod_pid("default", "web") == pid
        assert (await env.admin["Berlin"].list("v1", "pods"))["items"] == []  # handed over, not duplicated
        node = await env.admin["Madrid"].get("v1", "nodes", "s0p0n0")
        assert node["spec"]["podCIDR"] == "10.128.0.0/24"
        hr = await env.admin["Berlin"].get(R.API_VERSION, R.PLURAL, rec["request"])
        assert R.phase(hr) == R.FINISHED and hr["status"]["transferredPods"] == [before["metadata"]["uid"]]
        log = (env.tmp / "log").read_text().splitlines()
        assert len(log) == 1 and '"Finished"' in log[0]
    _run(tmp_path, body)


def test_leave_rejoin_handover_drains_deletes_bootstraps_and_restarts_the_pod(tmp_path):
    """The Karmada-like baseline: the node leaves Berlin (drained, deleted), joins Madrid through a CSR
    with Madrid's bootstrap token as a new node, and its pod is recreated there and started anew."""
    async def body(env: Local):
        agent = env.host.agents["s0p0n0"]
        pid = agent.pod_pid("default", "web")
        node_before = await env.admin["Berlin"].get("v1", "nodes", "s0p0n0")
        rec = await env.host.handle("kubespace_handover", {"node": "s0p0n0", "target": "Madrid"})
        assert rec["outcome"] == "Finished" and rec["platform"] == "leave-rejoin", rec
        assert [s["step"] for s in rec["steps"]] == list(range(1, 14))
        assert rec["duration_s"] > 0 and env.host.plane_of["s0p0n0"] == "Madrid"
        assert (await env.admin["Berlin"].list("v1", "nodes"))["items"] == []       # left the source
        assert (await env.admin["Berlin"].list("v1", "pods"))["items"] == []
        node = await env.admin["Madrid"].get("v1", "nodes", "s0p0n0")
        assert node["metadata"]["uid"] != node_before["metadata"]["uid"]           # a newly joined node
        assert binding_state(node) == BOUND and not node["spec"].get("unschedulable")
        csrs = (await env.admin["Madrid"].list("certificates.k8s.io/v1", "certificatesigningrequests"))["items"]
        assert len(csrs) == 1 and csrs[0]["spec"]["username"].startswith("system:bootstrap:")
        assert agent.conn.cert_pem != env.host._creds["s0p0n0"][0]               # the CSR's certificate
        pod = await _until(lambda: _running(env.admin["Madrid"]), "the pod running on Madrid")
        assert pod["spec"]["nodeName"] == "s0p0n0" and pod["spec"]["nodeSelector"] == {
            "kubernetes.io/hostname": "s0p0n0"}                                    # scheduled again
        new_pid = agent.pod_pid("default", "web")
        assert new_pid and new_pid != pid                                           # restarted
        steps = {s["step"]: s["wall"] for s in rec["steps"]}
        assert steps[5] >= steps[4] >= steps[3] and steps[7] <= steps[11] <= steps[12] <= steps[13]
    _run(tmp_path, body, start={"platform": "leave-rejoin"})


def test_rejoin_handover_keeps_the_pod_running_from_the_local_cache(tmp_path):
    """The Multi-KubeEdge-like baseline: the node leaves Berlin and joins Madrid anew, the pod keeps its
    process and is recreated on Madrid from the agent's cache (adopted, not restarted)."""
    async def body(env: Local):
        agent = env.host.agents["s0p0n0"]
        pid = agent.pod_pid("default", "web")
        rec = await env.host.handle("kubespace_handover", {"node": "s0p0n0", "target": "Madrid"})
        assert rec["outcome"] == "Finished" and rec["platform"] == "rejoin", rec
        assert [s["step"] for s in rec["steps"]] == list(range(1, 10))
        assert (await env.admin["Berlin"].list("v1", "nodes"))["items"] == []
        assert (await env.admin["Berlin"].list("v1", "pods"))["items"] == []
        pod = await _until(lambda: _running(env.admin["Madrid"]), "the pod reported running on Madrid")
        assert pod["spec"]["nodeName"] == "s0p0n0"
        assert pod["status"]["containerStatuses"][0]["containerID"] == f"process://{pid}"
        assert agent.pod_pid("default", "web") == pid
        # and back: the second handover of the same node works the same way
        back = await env.host.handle("kubespace_handover", {"node": "s0p0n0", "target": "Berlin"})
        assert back["outcome"] == "Finished", back
        await _until(lambda: _running(env.admin["Berlin"]), "the pod reported running on Berlin")
        assert agent.pod_pid("default", "web") == pid
    _run(tmp_path, body, start={"platform": "rejoin"})


async def _running(admin):
    p = await admin.get("v1", "pods", "web", "default")
    return p if p.get("status", {}).get("phase") == "Running" else None


def test_target_down_fails_the_request_and_the_source_keeps_the_node(tmp_path):
    async def body(env: Local):
        await env.stop_plane("Madrid")
        rec = await env.host.handle("kubespace_handover", {"node": "s0p0n0", "target": "Madrid"})
        assert rec["outcome"] == "Failed" and rec["failure_reason"] == R.TARGET_UNREACHABLE, rec
        assert await env.state("Berlin") == BOUND and env.host.plane_of["s0p0n0"] == "Berlin"
        assert {s["step"] for s in rec["steps"]} >= {1, 2, 3, 4, 5, 6}
        # the retry at the next decision: the daemon scheduled one, not before its backoff
        status = (await env.host.handle("kubespace_status", {}))["s0p0n0"]
        assert status["failures"] == 1
        await env.start_plane("Madrid")
        again = await env.host.handle("kubespace_handover", {"node": "s0p0n0", "target": "Madrid"})
        assert again["outcome"] == "Finished", again
    _run(tmp_path, body)


def test_finished_request_never_bound_is_undone_after_the_binding_timeout(tmp_path):
    """A request created by hand (no daemon follows it up): the source transfers the node and finishes,
    nobody reports to the target; after the binding timeout the source asks the target, aborts there and
    takes the node back."""
    async def body(env: Local):
        await env.admin["Berlin"].create(R.API_VERSION, R.PLURAL, R.handover_request(
            "orphan", "s0p0n0", "Berlin", "Madrid", "test", None, None))
        await _until(lambda: _phase(env.admin["Berlin"], "orphan", R.FINISHED), "Finished")
        assert await env.state("Berlin") == RELEASING and await env.state("Madrid") == "Binding"
        hr = await _until(lambda: _phase(env.admin["Berlin"], "orphan", R.FAILED), "Failed", timeout=20)
        assert hr["status"]["reason"] == R.BINDING_TIMEOUT
        assert await env.state("Berlin") == BOUND and await env.state("Madrid") == RELEASED
        assert (await env.admin["Madrid"].list("v1", "pods"))["items"] == []
        assert env.host.agents["s0p0n0"].pod_pid("default", "web")
    _run(tmp_path, body, binding_timeout_s=3.0)


async def _phase(admin, name, phase):
    hr = await admin.get(R.API_VERSION, R.PLURAL, name)
    return hr if R.phase(hr) == phase else None


def test_plane_restart_fails_an_interrupted_request_and_takes_the_node_back(tmp_path):
    async def body(env: Local):
        plugin = env.planes["Berlin"].plugins[0]
        plugin.controller.set_faults({"hold_after_step": {6: 30}})
        await env.admin["Berlin"].create(R.API_VERSION, R.PLURAL, R.handover_request(
            "cut", "s0p0n0", "Berlin", "Madrid", "test", None, None))
        await _until(lambda: _is(env, "Berlin", RELEASING), "Releasing")
        await env.stop_plane("Berlin")      # the source goes away mid-handover
        await env.start_plane("Berlin")
        hr = await _until(lambda: _phase(env.admin["Berlin"], "cut", R.FAILED), "Failed")
        assert hr["status"]["reason"] == R.INTERRUPTED and [s["step"] for s in hr["status"]["steps"]] == [4, 5]
        assert await env.state("Berlin") == BOUND
    _run(tmp_path, body)


async def _is(env, plane, state):
    return await env.state(plane) == state


def test_second_request_and_unknown_names_fail_with_reasons(tmp_path):
    async def body(env: Local):
        env.planes["Berlin"].plugins[0].controller.set_faults({"hold_after_step": {6: 2}})
        task = asyncio.ensure_future(env.host.handle("kubespace_handover", {"node": "s0p0n0", "target": "Madrid"}))
        await _until(lambda: _is(env, "Berlin", RELEASING), "Releasing")
        for name, node, target in [("twice", "s0p0n0", "Madrid"), ("nowhere", "s0p0n0", "Atlantis"),
                                   ("nobody", "s9p9n9", "Madrid")]:
            await env.admin["Berlin"].create(R.API_VERSION, R.PLURAL, R.handover_request(
                name, node, "Berlin", target, "test", None, None))
        reasons = {}
        for name in ("twice", "nowhere", "nobody"):
            reasons[name] = (await _until(lambda: _phase(env.admin["Berlin"], name, R.FAILED), name))["status"]["reason"]
        assert reasons == {"twice": R.ALREADY_IN_HANDOVER, "nowhere": R.UNKNOWN_PLANE, "nobody": R.UNKNOWN_NODE}
        assert (await task)["outcome"] == "Finished"
        with pytest.raises(ValueError):
            await env.host.handle("kubespace_handover", {"node": "nobody"})
    _run(tmp_path, body, planes=("Berlin", "Madrid", "Nairobi"))


def test_the_plane_to_plane_channel_admits_planes_of_the_cluster_ca_only(tmp_path):
    async def body(env: Local):
        url = f"https://127.0.0.1:{env.sync['Madrid']}/kubespace/v1/nodes/s0p0n0"
        node_cert, node_key = env.ca.issue_client("system:node:s0p0n0", ["system:nodes"])
        as_node = ApiConnection(url.split("/kubespace")[0], env.ca.pem, cert_pem=node_cert, key_pem=node_key)
        plane_cert, plane_key = env.ca.issue_client("system:kubespace:plane:Berlin", ["kubespace:planes"])
        as_plane = ApiConnection(url.split("/kubespace")[0], env.ca.pem, cert_pem=plane_cert, key_pem=plane_key)
        other = ClusterCA.create("another-ca")
        o_cert, o_key = other.issue_client("system:kubespace:plane:Berlin", ["kubespace:planes"])
        as_stranger = ApiConnection(url.split("/kubespace")[0], env.ca.pem, cert_pem=o_cert, key_pem=o_key)
        try:
            with pytest.raises(Exception) as e:
                await as_node.request("GET", "/kubespace/v1/nodes/s0p0n0")
            assert getattr(e.value, "code", None) == 403
            assert (await as_plane.request("GET", "/kubespace/v1/nodes/s0p0n0")) == {"state": None, "handover": None}
            with pytest.raises(Exception) as e:   # a certificate of another CA: the TLS handshake fails
                await as_stranger.request("GET", "/kubespace/v1/nodes/s0p0n0")
            assert getattr(e.value, "code", None) == 503
        finally:
            for c in (as_node, as_plane, as_stranger):
                await c.close()
    _run(tmp_path, body)


def test_runtime_section_is_checked_against_the_run_before_anything_starts(tmp_path):
    import yaml
    from leonet.launch import prepare_run
    base = {"name": "cfg", "start": START,
            "shells": [{"name": "t", "walker": "delta", "planes": 4, "sats_per_plane": 4, "altitude_km": 800,
                        "inclination_deg": 53}],
            "ground_stations": [{"name": n, "lat_deg": la, "lon_deg": lo} for n, (la, lo) in PLANES.items()]}

    def prepare(kubespace, controlplane=None):
        raw = dict(base, kubespace=kubespace)
        if controlplane is not None:
            raw["controlplane"] = controlplane
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(raw))
        return prepare_run(str(path), backend="none")

    run = prepare({"runtime": {"enabled": True, "planes": ["Berlin", "Madrid"]}})
    from leonet.kubespace.runtime.service import KubeSpaceRuntime
    ks = KubeSpaceRuntime.of(run)
    assert ks.cluster_config.ground_stations == ("Berlin", "Madrid") and ks in ks.cluster.extensions
    assert prepare({"runtime": {"enabled": False}}).services[-1].__class__.__name__ != "KubeSpaceRuntime"
    for kubespace, controlplane, field in [
            ({"runtime": {"enabled": True, "planes": ["Berlin", "Paris"]}}, None, "kubespace.runtime.planes[1]"),
            ({"runtime": {"enabled": True}}, None, "kubespace.runtime.planes"),
            ({"runtime": {"enabled": True, "planes": ["Berlin"]}}, {"ground_stations": ["Madrid"]},
             "controlplane.ground_stations"),
            ({"runtime": {"enabled": True, "planes": ["Berlin"]}}, {"backend": "k3s"}, "controlplane.backend"),
            ({"runtime": {"enabled": False}}, {"backend": "embedded"}, "controlplane.ground_stations"),
            ({"runtime": {"enabled": True, "planes": ["Berlin"], "sync_port": 6443}}, None,
             "kubespace.runtime.sync_port"),
            ({"runtime": {"enabled": True, "planes": ["Berlin"], "pod_cidr": "10.128.0.0/28",
                          "pod_cidr_prefix": 30}}, None, "kubespace.runtime.pod_cidr")]:
        with pytest.raises(ConfigError) as e:
            prepare(kubespace, controlplane)
        assert e.value.field == field, (kubespace, controlplane, e.value)


def test_path_metric_schedule_from_the_ground_drives_an_automatic_handover(tmp_path):
    """With ``metric: path`` the daemons plan on samples from the ground: here Madrid is much nearer
    than Berlin from the start, so the daemon (auto) hands over at its first decision by itself."""
    samples = np.zeros((1, 2, 61))
    samples[0, 0, :] = 40.0          # Berlin: 40 ms
    samples[0, 1, :] = 10.0          # Madrid: 10 ms
    path = tmp_path / "samples.npz"
    np.savez(path, samples=samples, nodes=np.array(["s0p0n0"]), planes=np.array(["Berlin", "Madrid"]), start_s=0.0)

    async def body(env: Local):
        await _until(lambda: env.host.plane_of["s0p0n0"] == "Madrid", "the automatic handover")
        rec = (await _until(lambda: env.host.handle("kubespace_log", {}), "the handover's record"))[0]
        assert rec["outcome"] == "Finished" and rec["predicted_offset_s"] == 0.0 and "CNAA" in rec["reason"]
        assert rec["source"] == "Berlin" and rec["target"] == "Madrid"
        assert (await env.host.handle("kubespace_schedule", {"node": "s0p0n0"}))["events"] == []
    _run(tmp_path, body, start={"metric": "path", "samples": str(path), "auto": True})


def test_status_and_log_without_a_runtime_say_so():
    import subprocess
    import sys
    from leonet.emulation import runstate
    from leonet.kubespace.runtime.service import STATE_DIR
    if runstate.active_run() is not None and (STATE_DIR / "index.json").exists():
        pytest.skip("a KubeSpace run is active on this machine")
    for cmd in (["status"], ["log"]):
        out = subprocess.run([sys.executable, "-m", "leonet.cli.main", "kubespace", *cmd], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 2 and "no KubeSpace runtime is running" in out.stderr, out


def _single_plane_scenario(tmp_path, runtime: dict) -> str:
    import yaml
    raw = {"name": "single", "start": START,
           "shells": [{"name": "t", "walker": "delta", "planes": 6, "sats_per_plane": 8, "altitude_km": 800,
                       "inclination_deg": 53}],
           "ground_stations": [{"name": n, "lat_deg": la, "lon_deg": lo} for n, (la, lo) in {
               **PLANES, "city-Quito": (-0.18, -78.47), "city-Singapore": (1.35, 103.82),
               "city-Oslo": (59.91, 10.75)}.items()],
           "controlplane": {"agents": {"satellites": 4}},
           "kubespace": {"placement": {"metric": "straight", "period_s": 3600, "snapshot_interval_s": 300},
                         "runtime": {"enabled": True, "platform": "single-plane", **runtime}}}
    path = tmp_path / "single.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_single_plane_platform_runs_the_best_equatorial_city_alone(tmp_path):
    from leonet.kubespace.baselines import best_single
    from leonet.kubespace.metrics import delay_tensor
    from leonet.kubespace.runtime.service import KubeSpaceRuntime
    from leonet.launch import prepare_run
    run = prepare_run(_single_plane_scenario(tmp_path, {}), backend="none")
    planes = list(KubeSpaceRuntime.of(run).cluster_config.ground_stations)
    c = run.constellation
    cities = [c.ground_station(n).index for n in ("city-Quito", "city-Singapore")]   # Oslo: not equatorial
    metric = delay_tensor(c, np.arange(0.0, 3600.0, 300.0), "straight", cities)
    assert planes == [c.ground_stations[cities[best_single(metric, [0, 1])]].name]
    named = prepare_run(_single_plane_scenario(tmp_path, {"planes": ["Berlin"]}), backend="none")
    assert list(KubeSpaceRuntime.of(named).cluster_config.ground_stations) == ["Berlin"]
    with pytest.raises(ConfigError) as e:
        prepare_run(_single_plane_scenario(tmp_path, {"planes": ["Berlin", "Madrid"]}), backend="none")
    assert e.value.field == "kubespace.runtime.planes"
