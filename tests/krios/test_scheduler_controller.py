"""The Krios scheduler and LEO controller against a real embedded control plane over
HTTPS, with real node agents running pods as processes (loopback, no root).

Nodes are shell-1 satellites chosen around one moment: a satellite about to leave
the San Francisco zone, the satellites in the region when it leaves, and a few far
away. The clock starts shortly before that exit, so a proactive handover happens
within the test."""
import asyncio
import contextlib
import dataclasses

import numpy as np
import pytest

from leonet.controlplane import ControlPlane, ControlPlaneOptions
from leonet.controlplane.agent import AgentConfig, ApiConnection, NodeAgent
from leonet.infoapi.records import RecordTable
from leonet.krios.clock import FixedRateClock
from leonet.krios.config import krios_config
from leonet.krios.controller import LeoController
from leonet.krios.endpoints import RecordTableEndpoints
from leonet.krios.kube import ANN_EXIT, ANN_ZONE, LABEL_APP, LABEL_HANDOVER
from leonet.krios.manager import ZoneManager
from leonet.krios.scheduler import KriosScheduler
from leonet.waiting import wait_for_async

FAST = dict(node_monitor_period=0.5, node_monitor_grace_period=5.0, orphan_pod_grace=1.0)
FAST_AGENT = AgentConfig(renew_interval=0.5, status_update_frequency=0.5, jitter=False, sync_period=1.0)


def pod(name: str, zone: str = "sf", scheduler: str = "krios", handover: str = "proactive") -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {LABEL_APP: name, LABEL_HANDOVER: handover},
                         "annotations": {ANN_ZONE: zone}},
            "spec": {"schedulerName": scheduler, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": "none", "command": ["sleep", "600"],
                                     "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 0.2}}]}}


def pick_moment(c, zone):
    """(start offset, leaving satellite, successors in the region at its exit, far satellites)."""
    m = ZoneManager(c)
    for t in np.arange(0.0, 3600.0, 30.0):
        for s in m.members(zone, t):
            exit_s = m.exit_time(zone, int(s), t)
            if 40 < exit_s - t < 60:
                start = exit_s - 25.0
                now = set(int(x) for x in m.members(zone, start))
                others = [int(x) for x in m.members(zone, exit_s - 8.0) if int(x) not in now]
                if others and int(s) in now:
                    far = [k for k in range(0, c.num_satellites, 97) if k not in others and k != int(s)][:3]
                    return start, int(s), others, far
    pytest.skip("no suitable moment in the first hour")


def wait_for(pred, timeout=30.0, what="condition"):
    return wait_for_async(pred, timeout, what, interval=0.1)


def test_scheduler_binds_in_zone_and_controller_hands_over_before_the_exit(tmp_path, shell1):
    cfg = krios_config(shell1.scenario)
    cfg = dataclasses.replace(cfg, dns_ttl_s=1.0, drain_s=0.5)
    zone = cfg.zones["sf"]
    start, leaving, successors, far = pick_moment(shell1, zone)
    names = {s: shell1.satellites[s].name for s in [leaving, *successors, *far]}
    table = RecordTable()

    async def main():
        async with krios_stack(tmp_path, shell1, cfg, list(names.values()), start, table) as (admin, ctrl):
            await admin.create("v1", "pods", pod("web"), namespace="default")
            bound = await wait_for(lambda: _node_of(admin, "web"), what="web bound")
            assert bound == names[leaving]          # the only node in the region now
            web = await admin.get("v1", "pods", "web", "default")
            assert web["metadata"]["annotations"][ANN_EXIT].endswith("Z")

            # a zone whose region holds none of the nodes: pending, with a FailedScheduling event
            await admin.create("v1", "pods", pod("far", zone="smokies", handover="none"), namespace="default")
            await asyncio.sleep(2.0)
            assert await _node_of(admin, "far") is None
            events = await admin.list("v1", "events", "default")
            assert any(e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == "far"
                       for e in events["items"])

            # the endpoint is published once web is Ready
            await wait_for(lambda: _coro(table.get("web.default.krios.leonet")), what="endpoint")
            first = table.get("web.default.krios.leonet").addresses

            # the proactive handover: a successor on another in-zone satellite, then the old one goes
            rec = await wait_for(lambda: _coro(ctrl.records[0] if ctrl.records else None), timeout=60,
                                 what="handover")
            assert rec.outcome == "done", rec
            assert rec.new_node in {names[s] for s in successors}
            assert rec.switched_s < rec.exit_s              # switched before the host left the region
            assert rec.created_s >= rec.exit_s - rec.lead_s - 1.0
            assert table.get("web.default.krios.leonet").addresses != first
            await wait_for(lambda: _gone(admin, "web"), what="old pod deleted")
            new = await admin.get("v1", "pods", rec.new_pod, "default")
            assert new["metadata"]["labels"][LABEL_APP] == "web" and new["spec"]["nodeName"] == rec.new_node
            # make before break: the two instances overlapped for about t_i + TTL + drain
            assert rec.wall["created"] < rec.wall["ready"] <= rec.wall["switched"] < rec.wall["deleted"]
            overlap = rec.wall["deleted"] - rec.wall["created"]
            assert rec.init_s <= overlap < rec.init_s + cfg.dns_ttl_s + cfg.drain_s + 3.0
            assert ctrl.lead_s("proactive") == pytest.approx(rec.init_s + cfg.dns_ttl_s, abs=1e-3)

    asyncio.run(asyncio.wait_for(main(), 150))


def test_a_handover_due_while_another_runs_follows_it(tmp_path, shell1):
    """A lead longer than any pass: every instance is due for its handover as soon as
    it is Ready, i.e. while the handover that created it still switches the clients and
    deletes its predecessor. It must hand over right after that one (a Fig. 9 run
    dropped it and Krios stayed on its last satellite), so the app keeps moving between
    the region's satellites, one handover at a time, never two instances beyond the
    overlap."""
    cfg = dataclasses.replace(krios_config(shell1.scenario), dns_ttl_s=0.5, drain_s=0.2, lead_s=10_000.0)
    zone = cfg.zones["sf"]
    m = ZoneManager(shell1)
    start = next(t for t in np.arange(0.0, 3600.0, 30.0)
                 if sum(1 for s in m.members(zone, t) if m.exit_time(zone, int(s), t) - t > 120) >= 3)
    names = [shell1.satellites[int(s)].name for s in m.members(zone, start)]

    async def main():
        async with krios_stack(tmp_path, shell1, cfg, names, start, RecordTable()) as (admin, ctrl):
            await admin.create("v1", "pods", pod("web"), namespace="default")
            await wait_for(lambda: _coro(len(ctrl.records) >= 3 or None), timeout=90, what="three handovers")
            first, second, third = ctrl.records[:3]
            assert [r.outcome for r in (first, second, third)] == ["done"] * 3, ctrl.records
            assert second.old_pod == first.new_pod and third.old_pod == second.new_pod
            # one at a time: the next began only once the one before had deleted its old instance
            assert first.wall["deleted"] <= second.wall["trigger"] and second.wall["deleted"] <= third.wall["trigger"]
            assert {first.new_node, second.new_node, third.new_node} <= set(names)

    asyncio.run(asyncio.wait_for(main(), 150))


@contextlib.asynccontextmanager
async def krios_stack(tmp_path, shell1, cfg, names, start, table):
    """An embedded control plane, an agent per satellite ``names`` (pods as
    processes), the Krios scheduler and controller on a clock from ``start``."""
    cp = await ControlPlane(tmp_path / "cp", options=ControlPlaneOptions(**FAST)).start()
    admin = ApiConnection.from_kubeconfig(cp.kubeconfig_path)
    agents = []
    for k, name in enumerate(names):
        cert, key = cp.node_credentials(name)
        conn = ApiConnection(cp.url, cp.ca_pem, cert_pem=cert, key_pem=key)
        agents.append(await NodeAgent(name, conn, address=f"127.0.1.{k + 1}", config=FAST_AGENT).start())
    clock = FixedRateClock(start)
    sched = KriosScheduler(admin, shell1, cfg, clock)
    ctrl = LeoController(admin, shell1, cfg, clock, RecordTableEndpoints(table))
    tasks = [asyncio.ensure_future(sched.run()), asyncio.ensure_future(ctrl.run())]
    try:
        for a in agents:
            await a.wait_registered()
        yield admin, ctrl
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for a in agents:
            await a.stop()
        await admin.close()
        await cp.stop()


async def _coro(v):
    return v


async def _node_of(admin, name):
    p = await admin.get("v1", "pods", name, "default")
    return p["spec"].get("nodeName")


async def _gone(admin, name):
    from leonet.controlplane.errors import ApiError
    try:
        await admin.get("v1", "pods", name, "default")
    except ApiError as e:
        return e.code == 404
    return False


def test_bindings_run_beside_the_next_decisions_and_assumed_pods_fill_their_nodes(tmp_path, shell1):
    """A burst of pods on nodes that take one pod each: the scheduler decides the next
    pods while earlier bindings are in flight, and counts each pod it bound on its node
    until the watch shows it, so no node gets two (the no-op picks at random: without
    the assumption, 6 pods on 6 such nodes would collide with probability 98 %)."""
    cfg = dataclasses.replace(krios_config(shell1.scenario), scheduler_name="noop")
    names = [shell1.satellites[k].name for k in range(0, 600, 100)]

    async def main():
        cp = await ControlPlane(tmp_path / "cp", options=ControlPlaneOptions()).start()
        admin = ApiConnection.from_kubeconfig(cp.kubeconfig_path)
        sched = KriosScheduler(admin, shell1, cfg, FixedRateClock(0.0), noop=True, max_binds_in_flight=4)
        task = asyncio.ensure_future(sched.run())
        try:
            for name in names:
                await admin.create("v1", "nodes", {"metadata": {"name": name}})
                await admin.patch("v1", "nodes", name, {"status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "1"}}}, subresource="status")
            await asyncio.wait_for(sched.ready.wait(), 30)
            burst = [f"p{k}" for k in range(len(names) + 1)]
            await asyncio.gather(*(admin.create("v1", "pods", pod(n, scheduler="noop", handover="none"),
                                                namespace="default") for n in burst))
            await wait_for(lambda: _count_bound(admin, len(names)), what="one pod on every node")
            await asyncio.sleep(1.5)          # a retry (every retry_s = 1 s) finds no room either
            pods = (await admin.list("v1", "pods", "default"))["items"]
            placed = [p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")]
            assert sorted(placed) == sorted(names)                 # one on each, none on two
            assert len(pods) - len(placed) == 1 and not sched._assumed
            assert len(sched.stats.decisions) == len(names) and all(d.bind_s > 0 for d in sched.stats.decisions)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await admin.close()
            await cp.stop()

    asyncio.run(asyncio.wait_for(main(), 90))


async def _count_bound(admin, n):
    pods = (await admin.list("v1", "pods", "default"))["items"]
    return sum(1 for p in pods if p["spec"].get("nodeName")) >= n
