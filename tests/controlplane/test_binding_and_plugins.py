"""The control plane's generic hooks for KubeSpace, over loopback: a plane schedules onto and monitors
only the nodes Bound to it (``leonet.io/binding-state``); plug-ins run inside a plane and inside an
agents host; an agent reports to a second plane before switching to it; a Pod CIDR given in advance is
registered."""
import asyncio
import json

from leonet.controlplane import ControlPlane, ControlPlaneOptions
from leonet.controlplane.agent import ApiConnection, NodeAgent
from leonet.controlplane.agent_host import AgentHost
from leonet.controlplane.binding import RELEASING, binding_patch, binding_state
from leonet.controlplane.controlplane import load_plugin
from leonet.controlplane.timefmt import now_micro
from leonet.waiting import wait_for_async

from .helpers import FAST, pod_manifest
from .test_agents import FAST_AGENT, agent_for, conds, run, start_cp


def test_plane_schedules_onto_and_monitors_only_nodes_bound_to_it(tmp_path):
    async def main():
        cp = await start_cp(tmp_path)
        admin = ApiConnection.from_kubeconfig(cp.kubeconfig_path)
        bound = await agent_for(cp, "bound").start()
        other = await agent_for(cp, "other").start()
        running = [bound, other]
        try:
            await bound.wait_registered()
            await other.wait_registered()
            await admin.patch("v1", "nodes", "other", binding_patch(RELEASING, now_micro(), "h1"))
            # no pod lands on a node that is not Bound here, even one that asks for it
            await admin.create("v1", "pods", pod_manifest("anywhere", ["sleep", "60"]), "default")
            await admin.create("v1", "pods", pod_manifest("there", ["sleep", "60"],
                                                          nodeSelector={"kubernetes.io/hostname": "other"}), "default")
            p = await wait_for_async(lambda: _scheduled(admin, "anywhere"), what="scheduling")
            assert p["spec"]["nodeName"] == "bound"
            there = await wait_for_async(lambda: _unschedulable(admin, "there"), what="FailedScheduling")
            assert "nodeName" not in there["spec"]
            # both agents stop heartbeating: only the Bound node goes Unknown and gets tainted
            while running:
                await running.pop().stop()
            await wait_for_async(lambda: _ready_is(admin, "bound", "Unknown"), timeout=15, what="bound NotReady")
            await asyncio.sleep(2 * FAST["node_monitor_grace_period"])
            n = await admin.get("v1", "nodes", "other")
            assert conds(n)["Ready"] == "True" and not n["spec"].get("taints")
            assert binding_state(n) == RELEASING
        finally:
            for agent in running:
                await agent.stop()
            await admin.close()
            await cp.stop()
    run(main())


async def _scheduled(admin, name):
    p = await admin.get("v1", "pods", name, "default")
    return p if p["spec"].get("nodeName") else None


async def _unschedulable(admin, name):
    p = await admin.get("v1", "pods", name, "default")
    return p if any(c.get("reason") == "Unschedulable" for c in p.get("status", {}).get("conditions", [])) else None


async def _ready_is(admin, name, status):
    return conds(await admin.get("v1", "nodes", name)).get("Ready") == status


class RecordingPlugin:
    """A control-plane plug-in that writes what it saw (used through ``load_plugin``)."""

    def __init__(self, path: str):
        self.path = path

    async def start(self, cp) -> None:
        with open(self.path, "w") as f:
            json.dump({"started": cp.name, "nodes": cp.store.count("nodes")}, f)

    async def stop(self) -> None:
        with open(self.path) as f:
            data = json.load(f)
        with open(self.path, "w") as f:
            json.dump(dict(data, stopped=True), f)


class Echo:
    """An agents-host plug-in with one command."""

    def __init__(self, host, greeting: str):
        self.host, self.greeting = host, greeting
        self.stopped = False

    async def op_echo(self, what: str) -> str:
        return f"{self.greeting} {what} ({len(self.host.agents)} agents)"

    async def stop(self) -> None:
        self.stopped = True


def test_plugins_run_inside_a_plane_and_an_agents_host(tmp_path):
    out = tmp_path / "plugin.json"
    plugin = load_plugin(f"{__name__}:RecordingPlugin={out}")

    async def main():
        cp = await ControlPlane(tmp_path / "cp", name="gs-a", options=ControlPlaneOptions(**FAST),
                                plugins=[plugin]).start()
        assert json.loads(out.read_text()) == {"started": "gs-a", "nodes": 0}
        host = AgentHost()
        assert await host.handle("plugin", {"spec": f"{__name__}:Echo", "args": {"greeting": "hello"}}) == "Echo"
        assert await host.handle("echo", {"what": "world"}) == "hello world (0 agents)"
        echo = host.plugins[0]
        await host.handle("stop", {})
        assert echo.stopped
        await cp.stop()
        assert json.loads(out.read_text())["stopped"] is True
    run(main())


def test_report_to_a_second_plane_then_switch_keeps_pods_and_pod_cidr(tmp_path):
    """Make before break in two calls: after ``report_to`` both planes have the node and the agent
    still talks to the first; ``switch_to`` moves every loop; the pod keeps its process."""
    async def main():
        a = await start_cp(tmp_path, "a")
        (tmp_path / "b").mkdir()
        for f in ("ca.crt", "ca.key"):   # one cluster CA for both planes, as KubeSpace's share
            (tmp_path / "b" / f).write_bytes((tmp_path / "a" / f).read_bytes())
        b = await ControlPlane(tmp_path / "b", name="b", options=ControlPlaneOptions(**FAST)).start()
        cert, key = a.node_credentials("sat-1")
        agent = await NodeAgent("sat-1", ApiConnection(a.url, a.ca_pem, cert_pem=cert, key_pem=key),
                                config=FAST_AGENT, pod_cidr="10.128.3.0/24").start()
        admin_a = ApiConnection.from_kubeconfig(a.kubeconfig_path)
        try:
            await agent.wait_registered()
            node = await admin_a.get("v1", "nodes", "sat-1")
            assert node["spec"]["podCIDR"] == "10.128.3.0/24" and node["spec"]["podCIDRs"] == ["10.128.3.0/24"]
            await admin_a.create("v1", "pods", pod_manifest("p", ["sleep", "60"], nodeName="sat-1"), "default")
            await wait_for_async(lambda: _pid(agent), what="the pod running")
            pid = agent.pod_pid("default", "p")
            new = ApiConnection(b.url, b.ca_pem, cert_pem=cert, key_pem=key)
            reported = await agent.report_to(new)
            assert reported["metadata"]["name"] == "sat-1" and agent.conn is not new
            admin_b = ApiConnection.from_kubeconfig(b.kubeconfig_path)
            assert conds(await admin_b.get("v1", "nodes", "sat-1"))["Ready"] == "True"
            await admin_b.get("coordination.k8s.io/v1", "leases", "sat-1", "kube-node-lease")
            moved = pod_manifest("p", ["sleep", "60"], nodeName="sat-1")
            await admin_b.create("v1", "pods", moved, "default")
            await agent.switch_to(new)
            assert agent.conn is new
            await wait_for_async(lambda: _pod_running_on(admin_b), what="the pod's status on b")
            assert agent.pod_pid("default", "p") == pid
            assert agent.stats["errors"] == 0
            await admin_b.close()
        finally:
            await agent.stop()
            await admin_a.close()
            await a.stop()
            await b.stop()
    run(main())


async def _pid(agent):
    return agent.pod_pid("default", "p")


async def _pod_running_on(admin):
    p = await admin.get("v1", "pods", "p", "default")
    return p.get("status", {}).get("phase") == "Running"
