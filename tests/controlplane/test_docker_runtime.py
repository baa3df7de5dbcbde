"""The Docker pod runtime (needs root and Docker; run it under the live lock: its containers carry
leonet's label, which a run's start-up cleanup removes). A pod's container runs its image with its
processes in a node's network namespace, reports running/terminated with a docker:// ID, restarts
per restartPolicy counting restarts, and leaves nothing behind when stopped."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import pytest

from leonet.containers.docker_client import docker_available

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a network namespace)"),
              pytest.mark.skipif(docker_available() is not None, reason=f"Docker: {docker_available()}")]

IMAGE = "leonet-web:latest"


@pytest.fixture
def netns():
    from leonet.containers.images import ensure_images
    ensure_images([IMAGE])
    name = f"ksdocker-{uuid.uuid4().hex[:6]}"   # not ln-*: no run's cleanup owns it
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=False)


def _get(netns: str, url: str) -> str:
    code = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=2).read().decode())"
    out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=10)
    return out.stdout if out.returncode == 0 else ""


async def _until(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_web_pod_serves_in_the_namespace_restarts_and_stops_cleanly(netns):
    from leonet.controlplane.agent.docker_runtime import DockerRuntime, pod_containers

    async def main():
        rt = DockerRuntime("ksdocker-node", backoff_base=0.2, backoff_max=0.5)
        pod = {"metadata": {"name": "web", "namespace": "default"},
               "spec": {"containers": [{"name": "web", "image": IMAGE}]}}
        key = ("default", "web")
        try:
            await rt.start_pod(pod, netns)
            st = await _until(lambda: (lambda s: s if s and s.state == "running" else None)(
                rt.pod_state(key).containers["web"]), what="running")
            first_id = st.container_id
            assert first_id.startswith("docker://") and st.pid
            page = await _until(lambda: _get(netns, "http://127.0.0.1:8080/index.html"), 15, "the page")
            assert "Static content" in page                      # the image's file, from the namespace
            # the container's process is in the node's namespace, not Docker's
            assert os.readlink(f"/proc/{st.pid}/ns/net") != os.readlink("/proc/self/ns/net")
            os.kill(st.pid, 9)                                    # the container dies: a new one starts
            await _until(lambda: st.restart_count == 1 and st.state == "running", 30, "the restart")
            assert st.container_id != first_id and st.last_termination["terminated"]["exitCode"] != 0
            await _until(lambda: _get(netns, "http://127.0.0.1:8080/index.html"), 15, "the page again")
            # command overrides the entrypoint; Never: a failed container stays terminated
            await rt.start_pod({"metadata": {"name": "job", "namespace": "default"},
                                "spec": {"restartPolicy": "Never", "containers": [
                                    {"name": "j", "image": IMAGE, "command": ["sh", "-c", "exit 3"]}]}}, netns)
            job = await _until(lambda: (lambda s: s if s.state == "terminated" else None)(
                rt.pod_state(("default", "job")).containers["j"]), what="the job's end")
            assert job.exit_code == 3 and job.restart_count == 0
            t0 = time.monotonic()
            await rt.stop_pod(key, 5)
            assert time.monotonic() - t0 < 4                      # init forwards SIGTERM: no grace wait
            assert rt.pod_state(key) is None
        finally:
            await rt.close()
        assert pod_containers("ksdocker-node") == []

    asyncio.run(asyncio.wait_for(main(), 180))
