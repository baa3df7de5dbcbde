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
from typing import Any, List, Optional, Tuple

from ..netns import resolve_netns
from .runtime import PodKey, SupervisedRuntime

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


class DockerRuntime(SupervisedRuntime):
    """Pod containers of node ``node`` (see the module docstring)."""

    launch_errors = (Exception,)   # image missing, Docker down, bad spec: RunContainerError, retried

    def __init__(self, node: str = "", backoff_base: float = 10.0, backoff_max: float = 300.0,
                 threads: int = 64):
        super().__init__(backoff_base, backoff_max)
        self.node = node
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="leonet-docker-pods")

    async def _call(self, fn, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

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

    async def _launch(self, key: PodKey, c: dict, netns: Optional[str]) -> Tuple[Any, Optional[int], str]:
        container = await self._call(self._create, key, c, netns)
        return container, int(container.attrs["State"]["Pid"]) or None, f"docker://{container.id}"

    @staticmethod
    def _wait_blocking(container: Any) -> int:
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

    async def _wait(self, container: Any) -> int:
        return await self._call(self._wait_blocking, container)

    async def _release(self, container: Any) -> None:
        await self._call(self._remove, container)

    async def _kill(self, container: Any, grace: float) -> None:
        def stop() -> None:
            try:
                container.stop(timeout=max(int(round(grace)), 0))
            except Exception as exc:
                log.debug("stopping %s: %s", container.short_id, exc)
            self._remove(container)
        await self._call(stop)

    async def close(self) -> None:
        await super().close()
        self._pool.shutdown(wait=False)
