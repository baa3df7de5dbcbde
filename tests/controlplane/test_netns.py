"""Control plane and agents in real network namespaces joined by a veth pair (needs root)."""
import asyncio
import os
import shutil
import subprocess
import sys

import pytest

from leonet.controlplane import ControlPlane, ControlPlaneOptions
from leonet.controlplane.agent import ApiConnection, NodeAgent
from leonet.controlplane.server import ControlPlaneProcess
from leonet.waiting import wait_for_async

from .helpers import FAST
from .test_agents import FAST_AGENT, conds, http_pod

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create network namespaces (ip netns add)"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("nsenter") is None,
                       reason="needs iproute2 (ip) and util-linux (nsenter)"),
]


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def two_namespaces():
    """``gs`` (10.231.0.1) and ``sat`` (10.231.0.2), joined by a veth pair; neither reachable from here."""
    tag = f"{os.getpid() % 100000}"
    gs, sat = f"lcp-gs-{tag}", f"lcp-sat-{tag}"
    for ns in (gs, sat):
        sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", f"vg{tag}", "netns", gs, "type", "veth", "peer", "name", f"vs{tag}", "netns", sat)
        for ns, dev, addr in ((gs, f"vg{tag}", "10.231.0.1/24"), (sat, f"vs{tag}", "10.231.0.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield gs, sat
    finally:
        for ns in (gs, sat):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_control_plane_and_agent_in_their_own_namespaces(two_namespaces, tmp_path):
    gs, sat = two_namespaces

    async def main():
        cp = await ControlPlane(tmp_path / "gs", host="10.231.0.1", port=6443, netns=gs,
                                options=ControlPlaneOptions(**FAST)).start()
        cert, key = cp.node_credentials("sat-1")
        # from the test's own namespace the control plane is unreachable...
        outside = ApiConnection(cp.url, cp.ca_pem, cert_pem=cert, key_pem=key, request_timeout=2)
        with pytest.raises(Exception):
            await outside.get("v1", "nodes", "x")
        await outside.close()
        # ...while a connection whose sockets live in the satellite's namespace gets through the veth
        agent = NodeAgent("sat-1", ApiConnection(cp.url, cp.ca_pem, cert_pem=cert, key_pem=key),
                          address="10.231.0.2", netns=sat, config=FAST_AGENT)
        await agent.start()
        admin = ApiConnection.from_kubeconfig(cp.kubeconfig_path, netns=gs)
        try:
            await agent.wait_registered(10)
            assert agent.conn.netns == sat
            await admin.create("v1", "pods", http_pod("web", 8080), "default")

            async def ready():
                p = await admin.get("v1", "pods", "web", "default")
                return conds(p).get("Ready") == "True" and p
            pod = await wait_for_async(ready, 20, what="pod Ready inside the satellite namespace")
            assert pod["status"]["podIP"] == "10.231.0.2"
            # the pod process runs in the satellite's namespace: it is there, not here
            pid = agent.pod_pid("default", "web")
            assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{sat}").st_ino
        finally:
            await agent.stop()
            await admin.close()
            await cp.stop()
    asyncio.run(asyncio.wait_for(main(), 60))


def test_subprocess_entry_point_listens_in_namespace(two_namespaces, tmp_path):
    gs, sat = two_namespaces
    proc = ControlPlaneProcess(tmp_path / "gs", addr="10.231.0.1", port=6443, netns=gs).start()
    try:
        assert proc.url == "https://10.231.0.1:6443"
        out = subprocess.run(["nsenter", f"--net=/run/netns/{sat}", "--", sys.executable, "-m", "leonet.cli.main",
                              "kubectl", str(proc.kubeconfig), "--", "get", "namespaces", "-o", "name"],
                             capture_output=True, text=True, timeout=60)
        if "no kubectl found" in out.stderr:
            pytest.skip("no kubectl installed")
        assert "namespace/kube-system" in out.stdout, out.stderr
    finally:
        proc.stop()
