"""Node agents against live control planes over loopback: registration, leases, process pods with
probes, NotReady and eviction, scheduler names, hot swap and the TLS-bootstrap path."""
import asyncio
import contextlib
import os
import socket
import sys
from dataclasses import dataclass

import pytest

from leonet.controlplane import ControlPlane, ControlPlaneOptions
from leonet.controlplane.agent import AgentConfig, ApiConnection, NodeAgent
from leonet.waiting import wait_for_async

from .helpers import FAST, pod_manifest

FAST_AGENT = AgentConfig(renew_interval=0.5, status_update_frequency=0.5, jitter=False, sync_period=1.0,
                         orphan_grace=5.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_pod(name: str, port: int, **spec) -> dict:
    body = pod_manifest(name, [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], **spec)
    body["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 0.2}
    return body


def conds(obj: dict) -> dict:
    return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", []) or []}


async def start_cp(tmp_path, name="cp", **opts) -> ControlPlane:
    return await ControlPlane(tmp_path / name, name=name, options=ControlPlaneOptions(**{**FAST, **opts})).start()


def agent_for(cp: ControlPlane, name: str, **kw) -> NodeAgent:
    cert, key = cp.node_credentials(name)
    return NodeAgent(name, ApiConnection(cp.url, cp.ca_pem, cert_pem=cert, key_pem=key), config=FAST_AGENT, **kw)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


@dataclass
class TwoPlanes:
    """Control planes gs1 and gs2 on loopback, an admin connection to each (``a1``, ``a2``) and a node
    agent ``sat-1`` registered on gs1: a satellite about to move between ground stations."""
    cp1: ControlPlane
    cp2: ControlPlane
    a1: ApiConnection
    a2: ApiConnection
    agent: NodeAgent


@pytest.fixture
def two_planes(tmp_path):
    """``async with two_planes() as p:`` in a test's coroutine: :class:`TwoPlanes` on the test's event
    loop, stopped when the block ends (agent, connections, planes)."""
    @contextlib.asynccontextmanager
    async def planes():
        cp1 = await start_cp(tmp_path, "gs1")
        cp2 = await start_cp(tmp_path, "gs2")
        a1 = ApiConnection.from_kubeconfig(cp1.kubeconfig_path)
        a2 = ApiConnection.from_kubeconfig(cp2.kubeconfig_path)
        agent = await agent_for(cp1, "sat-1").start()
        try:
            await agent.wait_registered()
            yield TwoPlanes(cp1, cp2, a1, a2, agent)
        finally:
            await agent.stop()
            for c in (a1, a2):
                await c.close()
            await cp1.stop()
            await cp2.stop()
    return planes


def test_register_lease_and_http_pod_ready_by_probe(tmp_path):
    async def main():
        cp = await start_cp(tmp_path)
        admin = ApiConnection.from_kubeconfig(cp.kubeconfig_path)
        agent = await agent_for(cp, "sat-1", labels={"leonet.io/shell": "1"}).start()
        try:
            await agent.wait_registered()
            node = await admin.get("v1", "nodes", "sat-1")
            assert conds(node)["Ready"] == "True" and conds(node)["MemoryPressure"] in ("True", "False")
            assert node["metadata"]["labels"]["leonet.io/shell"] == "1"
            lease = await admin.get("coordination.k8s.io/v1", "leases", "sat-1", "kube-node-lease")
            first = lease["spec"]["renewTime"]
            await wait_for_async(lambda: _renewed(admin, first), what="lease renewal")
            port = free_port()
            await admin.create("v1", "pods", http_pod("web", port), "default")   # default scheduler binds it

            async def ready():
                p = await admin.get("v1", "pods", "web", "default")
                return p if conds(p).get("Ready") == "True" else None
            pod = await wait_for_async(ready, 20, what="pod Ready")
            assert pod["spec"]["nodeName"] == "sat-1" and pod["status"]["phase"] == "Running"
            assert pod["status"]["containerStatuses"][0]["containerID"].startswith("process://")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            assert (await reader.readline()).startswith(b"HTTP/1.0 200")
            writer.close()
            events = (await admin.list("v1", "events", "default", fieldSelector="reason=Scheduled"))["items"]
            assert events and "sat-1" in events[0]["message"]
            # deletion is graceful: the agent stops the process, then removes the pod
            pid = agent.pod_pid("default", "web")
            await admin.delete("v1", "pods", "web", "default")

            async def gone():
                try:
                    await admin.get("v1", "pods", "web", "default")
                except Exception:
                    return True
            await wait_for_async(gone, 15, what="pod deletion")
            await wait_for_async(lambda: _dead(pid), 5, what="process exit")
        finally:
            await agent.stop()
            await admin.close()
            await cp.stop()
    run(main())


async def _renewed(admin, first):
    lease = await admin.get("coordination.k8s.io/v1", "leases", "sat-1", "kube-node-lease")
    return lease["spec"]["renewTime"] != first


async def _dead(pid):
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except (ProcessLookupError, FileNotFoundError):
        return True


def test_exec_probe_custom_scheduler_and_restart_policy(tmp_path):
    async def main():
        cp = await start_cp(tmp_path)
        admin = ApiConnection.from_kubeconfig(cp.kubeconfig_path)
        agent = await agent_for(cp, "sat-1").start()
        try:
            await agent.wait_registered()
            # a pod for another scheduler stays pending until that scheduler binds it
            await admin.create("v1", "pods", pod_manifest("k", ["sleep", "30"], schedulerName="krios"), "default")
            await asyncio.sleep(1.0)
            assert not (await admin.get("v1", "pods", "k", "default"))["spec"].get("nodeName")
            await admin.create("v1", "pods", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "k"},
                                              "target": {"kind": "Node", "name": "sat-1"}}, "default",
                               subresource="binding", name="k")
            body = pod_manifest("e", ["sleep", "30"])
            body["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["test", "-e", "/"]},
                                                               "periodSeconds": 0.2}

            async def ready(name):
                p = await admin.get("v1", "pods", name, "default")
                return conds(p).get("Ready") == "True"
            await admin.create("v1", "pods", body, "default")
            await wait_for_async(lambda: ready("e"), 10, what="exec-probed pod Ready")
            await wait_for_async(lambda: ready("k"), 10, what="custom-scheduled pod running")
            # restartPolicy Never: a failing container makes the pod Failed
            await admin.create("v1", "pods", pod_manifest("f", ["sh", "-c", "exit 3"], restartPolicy="Never"),
                               "default")

            async def failed():
                p = await admin.get("v1", "pods", "f", "default")
                return p["status"].get("phase") == "Failed" and p
            p = await wait_for_async(failed, 10, what="pod Failed")
            assert p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
        finally:
            await agent.stop()
            await admin.close()
            await cp.stop()
    run(main())


def test_node_not_ready_when_agent_stops_then_pods_evicted(tmp_path):
    async def main():
        cp = await start_cp(tmp_path, default_toleration_seconds=1)
        admin = ApiConnection.from_kubeconfig(cp.kubeconfig_path)
        agent = await agent_for(cp, "sat-1").start()
        try:
            await agent.wait_registered()
            await admin.create("v1", "pods", pod_manifest("p", ["sleep", "60"]), "default")

            async def running():
                return (await admin.get("v1", "pods", "p", "default"))["status"].get("phase") == "Running"
            await wait_for_async(running, 10, what="pod running")
            await agent.stop(stop_pods=True)    # the agent disappears (as if its links were cut)

            async def unknown():
                n = await admin.get("v1", "nodes", "sat-1")
                return conds(n)["Ready"] == "Unknown" and n
            node = await wait_for_async(unknown, 10, what="node NotReady")
            assert {t["key"] for t in node["spec"]["taints"]} == {"node.kubernetes.io/unreachable"}

            async def terminating():
                return (await admin.get("v1", "pods", "p", "default"))["metadata"].get("deletionTimestamp")
            await wait_for_async(terminating, 10, what="taint-based eviction")
        finally:
            await admin.close()
            await cp.stop()
    run(main())


def test_node_pressure_taints_the_node_evicts_its_pod_and_the_replacement_runs_elsewhere(tmp_path):
    """Memory pressure, the Kubernetes way: the agent reports the condition and evicts its pod (killed,
    Failed/Evicted), the control plane taints the node NoSchedule, a replacement lands on the other
    node; once the pressure clears the taint goes."""
    async def main():
        cp = await start_cp(tmp_path)
        admin = ApiConnection.from_kubeconfig(cp.kubeconfig_path)
        a1 = await agent_for(cp, "sat-1", pressure={"MemoryPressure": False}).start()
        a2 = await agent_for(cp, "sat-2", pressure={"MemoryPressure": False}).start()
        try:
            await a1.wait_registered()
            await a2.wait_registered()
            await admin.create("v1", "pods", pod_manifest("work", ["sleep", "60"],
                                                          nodeSelector={"kubernetes.io/hostname": "sat-1"}), "default")

            async def running(name):
                p = await admin.get("v1", "pods", name, "default")
                return p["status"].get("phase") == "Running" and p
            await wait_for_async(lambda: running("work"), 10, what="pod running on sat-1")
            pid = a1.pod_pid("default", "work")
            assert pid and os.path.exists(f"/proc/{pid}")
            await a1.set_pressure({"MemoryPressure": True})

            async def evicted():
                p = await admin.get("v1", "pods", "work", "default")
                return p["status"].get("phase") == "Failed" and p
            pod = await wait_for_async(evicted, 10, what="the pod evicted")
            assert pod["status"]["reason"] == "Evicted" and "memory" in pod["status"]["message"]
            assert a1.pod_pid("default", "work") is None and not _alive(pid)

            async def tainted(want):
                n = await admin.get("v1", "nodes", "sat-1")
                keys = {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}
                return (("node.kubernetes.io/memory-pressure", "NoSchedule") in keys) == want and n
            node = await wait_for_async(lambda: tainted(True), 5, what="the pressure taint")
            assert conds(node)["MemoryPressure"] == "True"
            for i in range(3):   # the scheduler avoids the tainted node every time
                await admin.create("v1", "pods", pod_manifest(f"repl-{i}", ["sleep", "60"]), "default")
                p = await wait_for_async(lambda i=i: running(f"repl-{i}"), 10, what="the replacement running")
                assert p["spec"]["nodeName"] == "sat-2"
            assert (await admin.get("v1", "pods", "work", "default"))["status"]["phase"] == "Failed"  # not restarted
            await a1.set_pressure({"MemoryPressure": False})
            await wait_for_async(lambda: tainted(False), 5, what="the taint removed")
        finally:
            await admin.close()
            await a1.stop()
            await a2.stop()
            await cp.stop()
    run(main())


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_hot_swap_keeps_pod_process_and_node_visible(two_planes):
    async def main():
        visible = []
        stop = asyncio.Event()

        async def observe():   # is the node Ready on at least one plane, all along?
            while not stop.is_set():
                seen = []
                for a in (a1, a2):
                    try:
                        seen.append(conds(await a.get("v1", "nodes", "sat-1")).get("Ready") == "True")
                    except Exception:
                        seen.append(False)
                visible.append(any(seen))
                await asyncio.sleep(0.05)
        async with two_planes() as p:
            cp2, a1, a2, agent = p.cp2, p.a1, p.a2, p.agent
            port = free_port()
            await a1.create("v1", "pods", http_pod("app", port), "default")

            async def ready(a):
                try:
                    p = await a.get("v1", "pods", "app", "default")
                except Exception:
                    return False
                return conds(p).get("Ready") == "True" and p
            await wait_for_async(lambda: ready(a1), 20, what="pod Ready on gs1")
            pid = agent.pod_pid("default", "app")
            watcher = asyncio.get_running_loop().create_task(observe())
            await asyncio.sleep(0.3)
            # KubeSpace's handover: the target plane gets the pod (bound to the node), the agent swaps
            cert, key = cp2.node_credentials("sat-1")
            await a2.create("v1", "pods", http_pod("app", port, nodeName="sat-1"), "default")
            await agent.swap_connection(ApiConnection(cp2.url, cp2.ca_pem, cert_pem=cert, key_pem=key))
            p2 = await wait_for_async(lambda: ready(a2), 20, what="pod Ready on gs2")
            assert agent.pod_pid("default", "app") == pid
            assert p2["status"]["containerStatuses"][0]["containerID"] == f"process://{pid}"
            await asyncio.sleep(0.5)
            stop.set()
            await watcher
            assert visible and all(visible), "the node vanished from both control planes during the swap"
            # the old plane no longer hears from the agent
            async def stale():
                return conds(await a1.get("v1", "nodes", "sat-1"))["Ready"] == "Unknown"
            await wait_for_async(stale, 10, what="node Unknown on gs1")
            assert agent.pod_pid("default", "app") == pid
    run(main())   # a failure leaves the watcher to asyncio.run, which cancels it


def test_traditional_path_drain_delete_bootstrap_token_csr(two_planes):
    async def main():
        async with two_planes() as p:
            cp2, a1, a2, agent = p.cp2, p.a1, p.a2, p.agent
            await a1.create("v1", "pods", pod_manifest("p", ["sleep", "60"]), "default")

            async def running():
                return (await a1.get("v1", "pods", "p", "default"))["status"].get("phase") == "Running"
            await wait_for_async(running, 10, what="pod running")
            old_pid = agent.pod_pid("default", "p")
            token = cp2.create_bootstrap_token()
            await agent.rejoin_with_bootstrap_token(cp2.url, cp2.ca_pem, token)
            # drained and deleted on gs1
            assert (await a1.list("v1", "pods", "default"))["items"] == []
            with pytest.raises(Exception):
                await a1.get("v1", "nodes", "sat-1")
            assert await _dead(old_pid)
            # registered on gs2 with a certificate that gs2 signed through an approved CSR
            csrs = (await a2.list("certificates.k8s.io/v1", "certificatesigningrequests"))["items"]
            assert len(csrs) == 1 and csrs[0]["spec"]["username"].startswith("system:bootstrap:")
            assert any(c["type"] == "Approved" for c in csrs[0]["status"]["conditions"])
            assert csrs[0]["status"]["certificate"]
            assert agent.conn.cert_pem and not agent.conn.token
            node = await a2.get("v1", "nodes", "sat-1")
            assert conds(node)["Ready"] == "True" and not node["spec"].get("unschedulable")
            await a2.create("v1", "pods", pod_manifest("q", ["sleep", "60"]), "default")

            async def running2():
                return (await a2.get("v1", "pods", "q", "default"))["status"].get("phase") == "Running"
            await wait_for_async(running2, 10, what="pod running on gs2")
    run(main())


def test_bootstrap_token_cannot_do_more_than_request_certificates(tmp_path):
    async def main():
        cp = await start_cp(tmp_path)
        boot = ApiConnection(cp.url, cp.ca_pem, token=cp.create_bootstrap_token())
        try:
            with pytest.raises(Exception) as e:
                await boot.list("v1", "nodes")
            assert getattr(e.value, "code", None) == 403
        finally:
            await boot.close()
            await cp.stop()
    run(main())


def test_disconnect_and_join_another_plane_keep_pods_running_and_adopt_them(two_planes):
    """``disconnect`` stops every loop but the pods; ``join`` registers as a new node on another plane
    (Node and Lease created there) and adopts a pod of the same name created there, running."""
    async def main():
        async with two_planes() as p:
            cp2, a1, a2, agent = p.cp2, p.a1, p.a2, p.agent
            await a1.create("v1", "pods", pod_manifest("p", ["sleep", "60"], nodeName="sat-1"), "default")
            async def pid_of():
                return agent.pod_pid("default", "p")
            pid = await wait_for_async(pid_of, 10, what="pod running")
            cached = agent.cached_pods()
            assert [p["metadata"]["name"] for p in cached] == ["p"]
            old = await agent.disconnect()
            assert not agent.registered.is_set()
            lease = await a1.get("coordination.k8s.io/v1", "leases", "sat-1", "kube-node-lease")
            await asyncio.sleep(1.5)   # three renew intervals: nothing renews any more
            assert (await a1.get("coordination.k8s.io/v1", "leases", "sat-1", "kube-node-lease"))["spec"][
                "renewTime"] == lease["spec"]["renewTime"]
            await a1.delete("v1", "pods", "p", "default", {"gracePeriodSeconds": 0})
            await a1.delete("v1", "nodes", "sat-1")
            await asyncio.sleep(0.5)
            assert agent.pod_pid("default", "p") == pid            # nobody told the agent to stop it
            await old.close()
            report = asyncio.ensure_future(agent.post_status(force=True))   # made between the planes
            await asyncio.sleep(0.3)
            assert not report.done()                                          # it waits for the join
            cert, key = cp2.node_credentials("sat-1")
            await agent.join(ApiConnection(cp2.url, cp2.ca_pem, cert_pem=cert, key_pem=key), adopt_grace=30)
            assert (await asyncio.wait_for(report, 10))["metadata"]["name"] == "sat-1"   # posted to gs2
            node = await a2.get("v1", "nodes", "sat-1")
            assert conds(node)["Ready"] == "True"
            await a2.get("coordination.k8s.io/v1", "leases", "sat-1", "kube-node-lease")
            await a2.create("v1", "pods", pod_manifest("p", ["sleep", "60"], nodeName="sat-1"), "default")

            async def adopted():
                st = (await a2.get("v1", "pods", "p", "default")).get("status", {})
                return st.get("phase") == "Running" and \
                    st["containerStatuses"][0]["containerID"] == f"process://{pid}"
            await wait_for_async(adopted, 10, what="the pod adopted on gs2")
            assert agent.pod_pid("default", "p") == pid
            with pytest.raises(Exception):
                await a1.get("v1", "nodes", "sat-1")            # never re-registered on gs1
    run(main())


def test_join_an_unreachable_plane_times_out_and_stays_disconnected(tmp_path):
    async def main():
        cp1 = await start_cp(tmp_path, "gs1")
        agent = await agent_for(cp1, "sat-1").start()
        try:
            await agent.wait_registered()
            await agent.disconnect()
            cert, key = cp1.node_credentials("sat-1")
            dead = ApiConnection(f"https://127.0.0.1:{free_port()}", cp1.ca_pem, cert_pem=cert, key_pem=key,
                                 request_timeout=0.5)
            from leonet.controlplane.errors import ApiError
            with pytest.raises(ApiError):
                await agent.join(dead, timeout=1.0)
            assert "register" not in agent._tasks and not agent.registered.is_set()
        finally:
            await agent.stop()
            await cp1.stop()
    run(main())
