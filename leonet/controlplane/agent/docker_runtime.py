"""Pods as Docker containers in the node's network namespace.

Each container of a pod is a Docker container (its own image, filesystem, PID namespace and cgroup,
Docker's ``--init`` as PID 1) whose processes run in the satellite's network namespace, the role a
pod's sandbox (pause container) plays in Kubernetes: the container starts with no network of its own,
and its command runs under ``nsenter --net`` into the node's namespace, bind-mounted into the
container read-only. ``nsenter`` is the host's static busybox, bind-mounted too, so any image works.
``CAP_SYS_ADMIN`` is added for that one ``setns``.

Kubernetes semantics: ``command`` replaces the image's entrypoint and ``args`` its command (the image's
are read from Docker); restarts follow ``restartPolicy`` with the crash-loop back-off, each restart a
new container (its ``containerID`` changes, ``restartCount`` counts up). Containers carry leonet's
``leonet.run`` label, so ``leonet cleanup`` removes what a crashed agent left behind.

The Docker SDK blocks, so every call runs in a thread of the runtime's own pool (a container's wait for
its exit holds one thread: meant for tens of pods per process; thousands of pods use the process runtime).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
from typing import Any, Dict, List, Optional, Tuple

from ..netns import resolve_netns
from ..timefmt import now_rfc3339
from .runtime import ContainerState, PodKey, PodRuntime, PodState, backoff_delay

log = logging.getLogger("leonet.controlplane.docker_runtime")

RUN_LABEL = "leonet.run"            #: what ``leonet cleanup`` recognises
POD_LABEL = "leonet.io/pod"
NODE_LABEL = "leonet.io/node"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
BUSYBOX_IN, NETNS_IN = "/.leonet/busybox", "/.leonet/netns"


def host_busybox() -> str:
    for path in BUSYBOX_CANDIDATES:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError("no busybox on this machine (scripts/install.sh installs busybox-static)")


def pod_containers(node: Optional[str] = None) -> List[Any]:
    """The pod containers Docker runs (of one node, or all)."""
    from ...containers.docker_client import client
    labels = [POD_LABEL] + ([f"{NODE_LABEL}={node}"] if node else [])
    return client().containers.list(all=True, filters={"label": labels}, ignore_removed=True)


class DockerRuntime(PodRuntime):
    """Pod containers of node ``node`` (see the module docstring)."""

    def __init__(self, node: str = "", backoff_base: float = 10.0, backoff_max: float = 300.0,
                 threads: int = 64):
        self.node = node
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self._pods: Dict[PodKey, PodState] = {}
        self._containers: Dict[Tuple[PodKey, str], Any] = {}
        self._tasks: Dict[Tuple[PodKey, str], asyncio.Task] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="leonet-docker-pods")

    async def _call(self, fn, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def _notify(self, key: PodKey) -> None:
        if self.on_change:
            self.on_change(key)

    def pods(self) -> List[PodKey]:
        return list(self._pods)

    def pod_state(self, key: PodKey) -> Optional[PodState]:
        return self._pods.get(key)

    async def start_pod(self, pod: dict, netns: Optional[str]) -> None:
        md = pod["metadata"]
        key = (md.get("namespace", "default"), md["name"])
        if key in self._pods:
            return
        st = PodState(key)
        self._pods[key] = st
        for c in pod["spec"]["containers"]:
            st.containers[c["name"]] = ContainerState(c["name"], c.get("image", ""))
            self._tasks[(key, c["name"])] = asyncio.get_running_loop().create_task(
                self._supervise(key, c, pod["spec"].get("restartPolicy", "Always"), netns))
        self._notify(key)

    # ------------------------------------------------------------------ one container
    def _create(self, key: PodKey, c: dict, netns: Optional[str]) -> Any:
        """Create and start the container (blocking; in a pool thread)."""
        from ...containers.docker_client import client
        docker = client()
        image = c.get("image") or ""
        if not image:
            raise ValueError("the docker runtime needs spec.containers[].image")
        cfg = docker.images.get(image).attrs.get("Config") or {}
        argv = list(c.get("command") or cfg.get("Entrypoint") or []) + \
            [str(a) for a in (c.get("args") if c.get("args") is not None else
                              ([] if c.get("command") else cfg.get("Cmd") or []))]
        if not argv:
            raise ValueError(f"image {image} has no entrypoint or command and the pod gives none")
        volumes = {host_busybox(): {"bind": BUSYBOX_IN, "mode": "ro"}}
        if netns:
            volumes[resolve_netns(netns)] = {"bind": NETNS_IN, "mode": "ro"}
            argv = ["nsenter", f"--net={NETNS_IN}", "--"] + argv
        else:
            argv = ["env", "--"] + argv   # no namespace given: the container's own (no network)
        env = {e["name"]: str(e["value"]) for e in c.get("env") or [] if "value" in e}
        env.update(POD_NAMESPACE=key[0], POD_NAME=key[1])
        labels = {RUN_LABEL: "pods", POD_LABEL: f"{key[0]}.{key[1]}.{c['name']}", NODE_LABEL: self.node}
        container = docker.containers.run(
            image, entrypoint=[BUSYBOX_IN], command=argv, detach=True, network_mode="none", init=True,
            cap_add=["SYS_ADMIN"], volumes=volumes, environment=env, labels=labels,
            working_dir=c.get("workingDir") or None)
        container.reload()
        return container

    @staticmethod
    def _wait(container: Any) -> int:
        try:
            return int(container.wait().get("StatusCode", 137))
        except Exception as exc:   # removed behind our back
            log.debug("waiting for %s: %s", container.short_id, exc)
            return 137

    @staticmethod
    def _remove(container: Any) -> None:
        try:
            container.remove(force=True)
        except Exception as exc:
            log.debug("removing %s: %s", container.short_id, exc)

    async def _supervise(self, key: PodKey, c: dict, policy: str, netns: Optional[str]) -> None:
        st = self._pods[key].containers[c["name"]]
        failures = 0
        while True:
            try:
                container = await self._call(self._create, key, c, netns)
            except Exception as e:   # image missing, Docker down, bad spec
                st.state, st.reason, st.message = "waiting", "RunContainerError", str(e)
                self._notify(key)
                code, began = 128, time.monotonic()
            else:
                self._containers[(key, c["name"])] = container
                if self._pods.get(key) is None or self._pods[key].stopping:   # stopped while it started
                    await self._call(self._remove, container)
                    return
                st.state, st.reason, st.message = "running", "", ""
                st.pid = int(container.attrs["State"]["Pid"]) or None
                st.runtime_id = f"docker://{container.id}"
                st.started_at, st.exit_code, st.finished_at = now_rfc3339(), None, None
                began = time.monotonic()
                self._notify(key)
                code = await self._call(self._wait, container)
                st.state, st.exit_code, st.finished_at = "terminated", code, now_rfc3339()
                st.reason = "Completed" if code == 0 else "Error"
                self._notify(key)
                if self._pods.get(key) is None or self._pods[key].stopping:
                    return
                await self._call(self._remove, container)
            if self._pods.get(key) is None or self._pods[key].stopping:
                return
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                return
            failures = 0 if time.monotonic() - began > 600 else failures + 1
            delay = backoff_delay(failures, self.backoff_base, self.backoff_max)
            st.last_termination = {"terminated": {"exitCode": code, "reason": st.reason, "startedAt": st.started_at,
                                                  "finishedAt": st.finished_at, "containerID": st.runtime_id}}
            st.state, st.reason = "waiting", "CrashLoopBackOff"
            st.message = f"back-off {delay:.0f}s restarting failed container={c['name']}"
            self._notify(key)
            await asyncio.sleep(delay)
            if self._pods.get(key) is None or self._pods[key].stopping:
                return
            st.restart_count += 1

    async def restart_container(self, key: PodKey, name: str) -> None:
        container = self._containers.get((key, name))
        if container is not None:
            await self._call(lambda: container.stop(timeout=1))

    async def stop_pod(self, key: PodKey, grace: float) -> None:
        st = self._pods.get(key)
        if st is None:
            return
        st.stopping = True
        containers = [ct for (k, _), ct in self._containers.items() if k == key]

        def stop(ct: Any) -> None:
            try:
                ct.stop(timeout=max(int(round(grace)), 0))
            except Exception as exc:
                log.debug("stopping %s: %s", ct.short_id, exc)
            self._remove(ct)
        await asyncio.gather(*(self._call(stop, ct) for ct in containers))
        for (k, n), t in list(self._tasks.items()):
            if k == key:
                t.cancel()
                del self._tasks[(k, n)]
        for k2 in [k2 for k2 in self._containers if k2[0] == key]:
            del self._containers[k2]
        self._pods.pop(key, None)
        self._notify(key)

    async def close(self) -> None:
        await super().close()
        self._pool.shutdown(wait=False)
