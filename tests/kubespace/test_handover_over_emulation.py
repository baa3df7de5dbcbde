"""KubeSpace's handover over the emulated network (needs root).

One run of a small constellation (8 x 10 Walker shell at 1,200 km) with control planes on three ground
stations (Berlin, Madrid, Rome), agents and KubeSpace daemons on 8 satellites, the ``nfqueue`` delay
backend and the controller ticking in real time: every request of a handover (the daemon's, the
agent's, and the plane-to-plane transfer between two stations, which crosses satellites) pays the
emulated links' delay. Daemons act on request here (``auto: false``) except where a test turns CNAA's
schedule on.

The main test fails if a handover leaves a node invisible for a single 100 ms probe interval, restarts
its pod, or loses one HTTP request to it. The others inject the faults of the issue and check that each
ends with the node Bound on exactly one plane and visible there, its pod untouched, the request Failed
with a reason, and a later handover succeeding.
"""
from __future__ import annotations

import copy
import os
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
import yaml

from leonet.controlplane.binding import BINDING_STATE, BOUND, RELEASED, RELEASING
from leonet.controlplane.cluster import ControlPlaneCluster
from leonet.emulation.overrides import LinkOverride
from leonet.kubespace.runtime import resources as R
from leonet.kubespace.runtime.probes import HttpProbe, InvisibilityProbe, plane_endpoints
from leonet.kubespace.runtime.service import KubeSpaceRuntime
from leonet.waiting import wait_for

from tests.controlplane.test_over_emulation import Loop, wait_for_no_active_run

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]

PLANES = ["Berlin", "Madrid", "Rome"]
SCENARIO: Dict[str, Any] = {
    "name": "tiny-kubespace",
    "start": "2026-01-31T12:00:00Z",
    "defaults": {"min_elevation_deg": 10, "gsl_bandwidth_mbps": 100, "isl_bandwidth_mbps": 100},
    "shells": [{"name": "t", "walker": "delta", "planes": 8, "sats_per_plane": 10, "altitude_km": 1200,
                "inclination_deg": 53}],
    "ground_stations": [{"name": "Berlin", "lat_deg": 52.52, "lon_deg": 13.405},
                        {"name": "Madrid", "lat_deg": 40.42, "lon_deg": -3.70},
                        {"name": "Rome", "lat_deg": 41.90, "lon_deg": 12.50}],
    "topology": {"gsl": {"policy": "nearest"}},
    "controlplane": {"node_monitor_period": 0.5, "node_monitor_grace_period": 4, "orphan_pod_grace": 5,
                     "agents": {"satellites": 8, "lease_duration_seconds": 4, "renew_interval": 1,
                                "status_update_frequency": 1, "request_timeout": 4}},
    "kubespace": {"runtime": {"enabled": True, "planes": PLANES, "auto": False, "sync_timeout_s": 2,
                              "binding_timeout_s": 6, "retry_backoff_max_s": 4},
                  "assignment": {"window_s": 3600, "threshold": 0.9}},
}
HTTP_PORT = 8080


class Env:
    def __init__(self, run, loop: Loop):
        self.run = run
        self.cluster = ControlPlaneCluster.of(run)
        self.ks = KubeSpaceRuntime.of(run)
        self.loop = loop
        self.conns = {gs: self.cluster.connection(gs) for gs in PLANES}

    def api(self, gs: str, method: str, *args, **kw):
        return self.loop.run(getattr(self.conns[gs], method)(*args, **kw))

    def try_api(self, gs: str, method: str, *args, **kw):
        try:
            return self.api(gs, method, *args, **kw)
        except Exception:
            return None

    def state(self, gs: str, node: str) -> Optional[str]:
        n = self.try_api(gs, "get", "v1", "nodes", node)
        return None if n is None else n["metadata"].get("annotations", {}).get(BINDING_STATE, BOUND)

    def states(self, node: str) -> Dict[str, Optional[str]]:
        return {gs: self.state(gs, node) for gs in PLANES}

    def plane_of(self, sat: str) -> str:
        return self.cluster.current_assignment()[sat]

    def probe(self, nodes: List[str], mode: str = "list") -> InvisibilityProbe:
        return InvisibilityProbe(plane_endpoints(self.cluster.planes), nodes=nodes, interval=0.1, mode=mode).start()

    def reconnect(self, gs: str) -> None:
        self.loop.run(self.conns[gs].close())
        self.conns[gs] = self.cluster.connection(gs)


def _far_assignment(run) -> Dict[str, str]:
    """One agent's satellite assigned to a plane clearly farther than its nearest (so that CNAA hands it
    over at the first decision), chosen from the engine's positions at the run's start."""
    nodes = run.engine.nodes
    sats = list(nodes.names[:nodes.num_satellites])
    chosen = [sats[(k * len(sats)) // 8] for k in range(8)]
    snap = run.engine.snapshot(run.config.offset_s)
    pos = snap.positions_km
    best = None
    for s in chosen:
        d = {g: float(np.linalg.norm(pos[nodes.index(s)] - pos[nodes.index(g)])) for g in PLANES}
        near, far = min(d, key=d.get), max(d, key=d.get)
        ratio = d[near] / d[far]
        if best is None or ratio < best[0]:
            best = (ratio, s, far)
    assert best is not None and best[0] < 0.8
    return {best[1]: best[2]}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from leonet.launch import prepare_run
    tmp = tmp_path_factory.mktemp("kubespace-handover")
    raw = copy.deepcopy(SCENARIO)
    path = tmp / "tiny-kubespace.yaml"
    path.write_text(yaml.safe_dump(raw))
    probe = prepare_run(str(path), backend="none")
    raw["controlplane"]["agents"]["assign"] = _far_assignment(probe)
    path.write_text(yaml.safe_dump(raw))
    wait_for_no_active_run()
    run = prepare_run(str(path), backend="nfqueue")
    loop = Loop()
    ticker = None
    try:
        run.start()
        e = Env(run, loop)
        e.far = next(iter(raw["controlplane"]["agents"]["assign"]))
        e.cluster.wait_registered(120)
        e.ks.wait_ready(120)
        ticker = threading.Thread(target=run.controller.run, daemon=True)
        ticker.start()
        yield e
        for c in e.conns.values():
            loop.run(c.close())
    finally:
        if run.controller is not None:
            run.controller.stop()
        if ticker is not None:
            ticker.join(10)
        run.stop()
        loop.close()
    assert not Path("/run/leonet/kubespace").exists(), "KubeSpace state left behind"


def _web_pod(node: str) -> dict:
    cmd = ["busybox", "httpd", "-f", "-p", str(HTTP_PORT), "-h", "/etc"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"web-{node}", "namespace": "default"},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                     "containers": [{"name": "web", "image": "process", "command": cmd,
                                     "readinessProbe": {"httpGet": {"path": "/os-release", "port": HTTP_PORT},
                                                        "periodSeconds": 0.5}}]}}


def _ready_pod(env: Env, gs: str, name: str) -> Optional[dict]:
    p = env.try_api(gs, "get", "v1", "pods", name, "default")
    if p is None:
        return None
    ok = any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    return p if ok else None


def _start_web(env: Env, sat: str) -> int:
    node = env.cluster.node_names[sat]
    gs = env.plane_of(sat)
    if _ready_pod(env, gs, f"web-{node}") is None:
        env.api(gs, "create", "v1", "pods", _web_pod(node), "default")
        wait_for(lambda: _ready_pod(env, gs, f"web-{node}"), 30, "the web pod Ready")
    return env.cluster.pod_pid(sat, "default", f"web-{node}")


def _check_pod_untouched(env: Env, sat: str, pid: int) -> dict:
    node = env.cluster.node_names[sat]
    gs = env.plane_of(sat)
    pod = wait_for(lambda: _ready_pod(env, gs, f"web-{node}"), 15, f"the web pod Ready on {gs}")
    assert env.cluster.pod_pid(sat, "default", f"web-{node}") == pid and os.path.exists(f"/proc/{pid}")
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    assert pod["status"]["containerStatuses"][0]["containerID"] == f"process://{pid}"
    return pod


def _bound_once(env: Env, sat: str) -> str:
    """The node is Bound on exactly one plane (the one its agent reports to); returns it."""
    node = env.cluster.node_names[sat]
    states = env.states(node)
    bound = [g for g, s in states.items() if s == BOUND]
    assert bound == [env.plane_of(sat)], states
    return bound[0]


def _other_sat(env: Env, exclude=()) -> str:
    sats = [s for s in env.cluster.node_names if s not in exclude and s != env.far]
    return sats[0]


def test_handover_is_seamless_over_the_emulated_network(env):
    """Handovers back and forth: no invisible 100 ms sample, no pod restart, no failed HTTP GET, and
    all 17 steps recorded; the plane-to-plane transfer crossed the emulated network."""
    sat = _other_sat(env)
    node = env.cluster.node_names[sat]
    pid = _start_web(env, sat)
    before = env.api(env.plane_of(sat), "get", "v1", "nodes", node)
    url = f"http://{env.run.node(sat).address}:{HTTP_PORT}/os-release"
    http = HttpProbe(env.run.node("Rome").netns, {sat: url}, interval=0.1, timeout=2.0).start()
    probe = env.probe([node])
    watching = env.probe([node], mode="watch")   # the experiments' mode at scale: it must agree
    records = []
    try:
        time.sleep(0.5)
        first = env.plane_of(sat)
        for target in [g for g in PLANES if g != first] + [first]:
            records.append(env.ks.handover(sat, target))
            assert records[-1]["outcome"] == "Finished", records[-1]
            time.sleep(0.5)
    finally:
        vis = probe.stop()
        watched = watching.stop()
        web = http.stop()
    print(f"\n{len(records)} handovers of {sat}: durations "
          f"{[round(r['duration_s'] * 1e3) for r in records]} ms; probe {vis['samples']} samples, "
          f"invisible {vis['invisible_total_s']} s; HTTP {web['sent']} GETs, {web['failures']} failed")
    assert vis["samples"] > 10 * len(records) and vis["invisible_total_s"] == 0, vis
    # a watch's first sample waits for every plane's first list: no plane counted as listing nothing
    assert watched["samples"] > 10 * len(records) and watched["invisible_total_s"] == 0, watched
    assert not any(watched["plane_down_samples"].values()), watched
    assert web["sent"] > 10 and web["failures"] == 0, web
    for rec in records:
        steps = {s["step"]: s for s in rec["steps"]}
        assert sorted(steps) == list(range(1, 18)), rec
        assert all(s["offset_s"] is not None and s["time"] for s in steps.values())
        order = [1, 2, 9, 10, 11, 13, 14, 15, 16, 17]   # the daemon's own sequence
        assert all(steps[a]["wall"] <= steps[b]["wall"] for a, b in zip(order, order[1:])), rec
        assert steps[4]["wall"] <= steps[5]["wall"] <= steps[6]["wall"] <= steps[7]["wall"] <= steps[8]["wall"]
        assert steps[1]["wall"] <= steps[4]["wall"] <= steps[9]["wall"] and steps[10]["wall"] <= steps[12]["wall"]
    # the transfer (step 6 -> 7) is at least a round trip between the two stations, through satellites
    rec = records[0]
    src, dst = rec["source"], rec["target"]
    path = env.run.network.snapshot.path(src, dst)
    assert path.reachable and len(path.hops) > 2   # station -> satellites -> station
    steps = {s["step"]: s["wall"] for s in rec["steps"]}
    assert (steps[7] - steps[6]) * 1e3 >= 2 * path.delay_ms - 1.0
    _check_pod_untouched(env, sat, pid)
    owner = _bound_once(env, sat)
    after = env.api(owner, "get", "v1", "nodes", node)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]            # not a newly joined node
    assert after["spec"]["podCIDR"] == before["spec"]["podCIDR"] and after["spec"]["podCIDR"].startswith("10.128.")
    for gs in PLANES:
        if gs != owner:
            assert env.state(gs, node) == RELEASED
            assert env.try_api(gs, "get", "v1", "pods", f"web-{node}", "default") is None  # handed over
    hr = env.api(records[-1]["source"], "get", R.API_VERSION, R.PLURAL, records[-1]["request"])
    assert R.phase(hr) == R.FINISHED


def test_requests_naming_an_unknown_plane_or_node_fail_with_a_reason(env):
    sat = _other_sat(env)
    node = env.cluster.node_names[sat]
    gs = env.plane_of(sat)
    cases = {"bad-plane": (node, "Atlantis", R.UNKNOWN_PLANE), "bad-node": ("s9p9n9", PLANES[0], R.UNKNOWN_NODE),
             "self": (node, gs, R.UNKNOWN_PLANE)}
    if cases["bad-node"][1] == gs:
        cases["bad-node"] = ("s9p9n9", PLANES[1], R.UNKNOWN_NODE)
    for name, (n, target, _) in cases.items():
        env.api(gs, "create", R.API_VERSION, R.PLURAL, R.handover_request(name, n, gs, target, "test", None, None))
    for name, (_, _, reason) in cases.items():
        hr = wait_for(lambda: (lambda h: h if R.phase(h) == R.FAILED else None)(
            env.api(gs, "get", R.API_VERSION, R.PLURAL, name)), 10, f"request {name} Failed")
        assert hr["status"]["reason"] == reason, hr
    assert _bound_once(env, sat) == gs


def test_a_second_request_for_a_node_in_handover_fails(env):
    sat = _other_sat(env)
    node = env.cluster.node_names[sat]
    src = env.plane_of(sat)
    target = next(g for g in PLANES if g != src)
    env.ks.set_plane_faults(src, {6: 3.0})   # the first handover pauses 3 s after Releasing
    result: Dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(env.ks.handover(sat, target)))
    t.start()
    try:
        wait_for(lambda: env.state(src, node) == RELEASING, 10, "the node Releasing on the source")
        env.api(src, "create", R.API_VERSION, R.PLURAL,
                R.handover_request("second", node, src, target, "test", None, None))
        hr = wait_for(lambda: (lambda h: h if R.phase(h) == R.FAILED else None)(
            env.api(src, "get", R.API_VERSION, R.PLURAL, "second")), 10, "the second request Failed")
        assert hr["status"]["reason"] == R.ALREADY_IN_HANDOVER
    finally:
        t.join(60)
        env.ks.set_plane_faults(src, {})
    assert result["outcome"] == "Finished", result
    assert _bound_once(env, sat) == target


def test_target_plane_down_fails_then_cnaa_retries_at_the_next_decision(env):
    """The CNAA schedule of the satellite started on a far plane hands it over at once; its target is
    down: the request fails, the node stays Bound on its plane; once the target is back, the retry
    succeeds."""
    sat = env.far
    node = env.cluster.node_names[sat]
    src = env.plane_of(sat)
    pid = _start_web(env, sat)
    target = env.ks.schedule(sat)["events"][0]["target"]
    assert target != src
    env.cluster.stop_plane(target)
    try:
        env.ks.set_auto(True)
        failed = wait_for(lambda: [r for r in env.ks.handover_log(satellite=sat) if r["outcome"] == "Failed"],
                          30, "a failed handover")
        assert failed[0]["failure_reason"] == R.TARGET_UNREACHABLE, failed[0]
        assert env.plane_of(sat) == src and env.state(src, node) == BOUND
        hr = env.api(src, "get", R.API_VERSION, R.PLURAL, failed[0]["request"])
        assert R.phase(hr) == R.FAILED and hr["status"]["reason"] == R.TARGET_UNREACHABLE
        _check_pod_untouched(env, sat, pid)
    finally:
        env.cluster.start_plane(target)
        env.reconnect(target)
    done = wait_for(lambda: [r for r in env.ks.handover_log(satellite=sat) if r["outcome"] == "Finished"],
                    60, "the retried handover")
    env.ks.set_auto(False)
    assert done[0]["target"] == target
    retries = [r for r in env.ks.handover_log(satellite=sat) if r["outcome"] == "Failed"]
    print(f"\n{sat}: {len(retries)} failed attempt(s) while {target} was down, then Finished")
    wait_for(lambda: env.plane_of(sat) == target, 10, "the agent on the target")
    assert _bound_once(env, sat) == target
    _check_pod_untouched(env, sat, pid)


def test_source_plane_lost_mid_handover(env):
    """The source plane dies after setting the node Releasing: on its restart it fails the request and
    takes the node back; the target keeps no Bound copy; the pod never stopped."""
    sat = _other_sat(env, exclude=())
    node = env.cluster.node_names[sat]
    pid = _start_web(env, sat)
    src = env.plane_of(sat)
    target = next(g for g in PLANES if g != src)
    env.ks.set_plane_faults(src, {6: 5.0})
    result: Dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(env.ks.handover(sat, target)))
    t.start()
    try:
        wait_for(lambda: env.state(src, node) == RELEASING, 10, "the node Releasing on the source")
        env.cluster.stop_plane(src)
        time.sleep(1.0)
    finally:
        env.cluster.start_plane(src)   # the fault hold is not persisted: the restarted plane has none
        env.reconnect(src)
        t.join(60)
    assert result["outcome"] == "Failed" and result["failure_reason"] in (R.INTERRUPTED, R.SOURCE_LOST), result
    hr = wait_for(lambda: (lambda h: h if h and R.phase(h) == R.FAILED else None)(
        env.try_api(src, "get", R.API_VERSION, R.PLURAL, result["request"])), 20, "the request Failed")
    assert hr["status"]["reason"] == R.INTERRUPTED
    wait_for(lambda: env.state(src, node) == BOUND, 10, "the node Bound on the restarted source")
    assert env.state(target, node) != BOUND
    assert _bound_once(env, sat) == src
    _check_pod_untouched(env, sat, pid)
    again = env.ks.handover(sat, target)     # and the next handover goes through
    assert again["outcome"] == "Finished", again
    assert _bound_once(env, sat) == target
    _check_pod_untouched(env, sat, pid)


def test_link_cut_during_the_sync(env):
    """The target station's links fail while the source transfers the node: the transfer times out, the
    request fails, the node never stopped being visible (Releasing, then Bound again on the source)."""
    sat = _other_sat(env)
    node = env.cluster.node_names[sat]
    pid = _start_web(env, sat)
    src = env.plane_of(sat)
    target = next(g for g in PLANES if g != src)
    t_idx = env.run.node(target).index
    sats = range(env.run.engine.nodes.num_satellites)
    env.ks.set_plane_faults(src, {6: 1.0})
    probe = env.probe([node])
    result: Dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(env.ks.handover(sat, target)))
    t.start()
    try:
        wait_for(lambda: env.state(src, node) == RELEASING, 10, "the node Releasing on the source")
        for s in sats:   # every link the target station has or could get, at once
            env.run.network.overrides.set(min(s, t_idx), max(s, t_idx), LinkOverride(failed=True))
        env.run.network.apply(env.run.network.engine_snapshot)
        t.join(60)
    finally:
        for s in sats:
            env.run.network.overrides.clear(min(s, t_idx), max(s, t_idx))
        env.run.network.apply(env.run.network.engine_snapshot)
        env.ks.set_plane_faults(src, {})
        vis = probe.stop()
    assert result["outcome"] == "Failed" and result["failure_reason"] == R.TARGET_UNREACHABLE, result
    assert vis["invisible_total_s"] == 0, vis
    assert _bound_once(env, sat) == src
    _check_pod_untouched(env, sat, pid)
    again = env.ks.handover(sat, target)
    assert again["outcome"] == "Finished", again
    _check_pod_untouched(env, sat, pid)


def test_cli_status_and_log(env):
    import subprocess
    import sys
    leonet = [sys.executable, "-m", "leonet.cli.main"]
    out = subprocess.run(leonet + ["kubespace", "status"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for gs in PLANES:
        assert gs in out.stdout
    bound = sum(int(line.split()[1]) for line in out.stdout.splitlines() if line.split()[:1] and
                line.split()[0] in PLANES)
    assert bound == len(env.cluster.node_names)   # every node Bound on exactly one plane
    log = subprocess.run(leonet + ["kubespace", "log", "-n", "3"], capture_output=True, text=True, timeout=60)
    assert log.returncode == 0 and "Finished" in log.stdout and "16:" in log.stdout, log.stdout + log.stderr
    text = env.ks.cli_commands()["bindings"]("")
    assert all(gs in text for gs in PLANES)


# ----------------------------------------------------------------------------- the baselines, same run
# (after the CLI test, whose log check expects KubeSpace records last)

def _baseline_handover(env: Env, sat: str, platform: str):
    """One handover of ``sat`` with ``platform``'s procedure, under the invisibility and HTTP probes."""
    node = env.cluster.node_names[sat]
    url = f"http://{env.run.node(sat).address}:{HTTP_PORT}/os-release"
    src = env.plane_of(sat)
    target = next(g for g in PLANES if g != src)
    http = HttpProbe(env.run.node("Rome").netns, {sat: url}, interval=0.1, timeout=2.0).start()
    probe = env.probe([node])
    try:
        time.sleep(0.5)
        env.ks.set_platform(platform)
        rec = env.ks.handover(sat, target)
        # until the service answers again (the pod's readiness probe runs every 0.5 s)
        wait_for(lambda: _ready_pod(env, target, f"web-{node}"), 30, f"the web pod Ready on {target}")
        time.sleep(1.0)
    finally:
        env.ks.set_platform("kubespace")
        vis = probe.stop()
        web = http.stop()
    print(f"\n{platform} handover of {sat} {src} -> {target}: {rec['outcome']} in {rec['duration_s']:.2f} s; "
          f"invisible {vis['invisible_total_s']} s; HTTP {web['failures']} of {web['sent']} failed")
    return rec, vis, web, target


def test_leave_rejoin_baseline_makes_the_node_invisible_and_restarts_its_pod(env):
    sat = [s for s in env.cluster.node_names if s != env.far][1]
    node = env.cluster.node_names[sat]
    pid = _start_web(env, sat)
    uid = env.api(env.plane_of(sat), "get", "v1", "nodes", node)["metadata"]["uid"]
    rec, vis, web, target = _baseline_handover(env, sat, "leave-rejoin")
    assert rec["outcome"] == "Finished" and rec["platform"] == "leave-rejoin", rec
    assert [s["step"] for s in rec["steps"]] == list(range(1, 14))
    assert vis["invisible_total_s"] >= 0.2, vis                  # deleted, then registered anew
    steps = {s["step"]: s["wall"] for s in rec["steps"]}
    assert vis["invisible_total_s"] <= steps[11] - steps[6] + 0.5, (vis, steps)
    assert web["failures"] >= 2, web                               # the pod stopped and started again
    new_pid = env.cluster.pod_pid(sat, "default", f"web-{node}")
    assert new_pid and new_pid != pid and not os.path.exists(f"/proc/{pid}")
    assert _bound_once(env, sat) == target
    assert env.api(target, "get", "v1", "nodes", node)["metadata"]["uid"] != uid   # a newly joined node


def test_rejoin_baseline_makes_the_node_invisible_but_keeps_its_pod(env):
    sat = [s for s in env.cluster.node_names if s != env.far][2]
    node = env.cluster.node_names[sat]
    pid = _start_web(env, sat)
    rec, vis, web, target = _baseline_handover(env, sat, "rejoin")
    assert rec["outcome"] == "Finished" and rec["platform"] == "rejoin", rec
    assert [s["step"] for s in rec["steps"]] == list(range(1, 10))
    assert vis["invisible_total_s"] >= 0.2, vis
    assert env.cluster.pod_pid(sat, "default", f"web-{node}") == pid       # never restarted
    pod = _ready_pod(env, target, f"web-{node}")
    assert pod["status"]["containerStatuses"][0]["containerID"] == f"process://{pid}"
    assert web["failures"] == 0, web
    assert _bound_once(env, sat) == target
    # and KubeSpace again from there: seamless
    back = env.ks.handover(sat, next(g for g in PLANES if g != target))
    assert back["outcome"] == "Finished", back
    _check_pod_untouched(env, sat, pid)
