"""Pod runtimes. :class:`PodRuntime` is the interface an agent drives; :class:`ProcessRuntime` runs each
container's ``command`` + ``args`` as a process in the node's network namespace;
:class:`.docker_runtime.DockerRuntime` runs each container as a Docker container whose processes join
the node's network namespace. :func:`make_runtime` picks one by name.
"""
from __future__ import annotations

import abc
import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..launch_config import POD_RUNTIMES
from ..netns import exec_prefix
from ..timefmt import now_rfc3339

log = logging.getLogger("leonet.controlplane.runtime")
PodKey = Tuple[str, str]   # (namespace, name): stable across control planes, unlike the pod's uid


@dataclass
class ContainerState:
    """What the runtime knows about one container (mapped to a Kubernetes ``ContainerStatus``)."""

    name: str
    image: str = ""
    state: str = "waiting"          # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    pid: Optional[int] = None
    exit_code: Optional[int] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    restart_count: int = 0
    last_termination: Optional[dict] = None
    runtime_id: str = ""            # e.g. ``docker://<id>``; empty: the process runtime's ``process://<pid>``

    def k8s_state(self) -> dict:
        if self.state == "running":
            return {"running": {"startedAt": self.started_at}}
        if self.state == "terminated":
            return {"terminated": {"exitCode": self.exit_code, "reason": self.reason,
                                   "startedAt": self.started_at, "finishedAt": self.finished_at,
                                   "containerID": self.container_id}}
        w = {"reason": self.reason}
        if self.message:
            w["message"] = self.message
        return {"waiting": w}

    @property
    def container_id(self) -> str:
        return self.runtime_id or (f"process://{self.pid}" if self.pid else "")


@dataclass
class PodState:
    key: PodKey
    containers: Dict[str, ContainerState] = field(default_factory=dict)
    started_at: str = field(default_factory=now_rfc3339)
    stopping: bool = False


class PodRuntime(abc.ABC):
    """What an agent needs from a runtime. ``on_change`` is called (on the loop) whenever a container's
    state changes, so the agent can report it."""

    on_change: Optional[Callable[[PodKey], None]] = None

    @abc.abstractmethod
    async def start_pod(self, pod: dict, netns: Optional[str]) -> None:
        """Start every container of ``pod`` (idempotent for a pod that is already running)."""

    @abc.abstractmethod
    async def stop_pod(self, key: PodKey, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; forget the pod."""

    @abc.abstractmethod
    def pod_state(self, key: PodKey) -> Optional[PodState]:
        """Current state, or ``None`` for a pod the runtime does not run."""

    @abc.abstractmethod
    def pods(self) -> List[PodKey]:
        """Pods the runtime runs (including exited containers it still reports)."""

    async def restart_container(self, key: PodKey, name: str) -> None:
        """Restart one container (liveness probe failure)."""

    async def close(self) -> None:
        for key in list(self.pods()):
            await self.stop_pod(key, 0)


class SupervisedRuntime(PodRuntime):
    """A runtime that runs each container under a supervisor task: launch it, wait for its exit, and
    restart it as the pod's ``restartPolicy`` says with Kubernetes' crash-loop back-off (10 s doubling to
    5 min, configurable). Subclasses say how to launch, wait for, kill and release one container."""

    #: exceptions of :meth:`_launch` reported as ``RunContainerError`` (the container is retried)
    launch_errors: Tuple[type, ...] = (OSError, ValueError)

    def __init__(self, backoff_base: float = 10.0, backoff_max: float = 300.0):
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self._pods: Dict[PodKey, PodState] = {}
        self._handles: Dict[Tuple[PodKey, str], Any] = {}
        self._tasks: Dict[Tuple[PodKey, str], asyncio.Task] = {}

    # --- what a subclass provides -----------------------------------------------------------
    async def _launch(self, key: PodKey, c: dict, netns: Optional[str]) -> Tuple[Any, Optional[int], str]:
        """Start one container: (handle, pid, runtime container ID or "")."""
        raise NotImplementedError

    async def _wait(self, handle: Any) -> int:
        """Its exit code, once it exited."""
        raise NotImplementedError

    async def _kill(self, handle: Any, grace: float) -> None:
        """SIGTERM, SIGKILL after ``grace`` seconds (and forget it)."""
        raise NotImplementedError

    async def _release(self, handle: Any) -> None:
        """After it exited on its own (before a restart): free what it holds."""

    # --- the supervisor ---------------------------------------------------------------------
    def _notify(self, key: PodKey) -> None:
        if self.on_change:
            self.on_change(key)

    def pods(self) -> List[PodKey]:
        return list(self._pods)

    def pod_state(self, key: PodKey) -> Optional[PodState]:
        return self._pods.get(key)

    def _gone(self, key: PodKey) -> bool:
        return self._pods.get(key) is None or self._pods[key].stopping

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

    async def _supervise(self, key: PodKey, c: dict, policy: str, netns: Optional[str]) -> None:
        st = self._pods[key].containers[c["name"]]
        failures = 0
        while True:
            try:
                handle, pid, runtime_id = await self._launch(key, c, netns)
            except self.launch_errors as e:
                st.state, st.reason, st.message = "waiting", "RunContainerError", str(e)
                self._notify(key)
                code, began = 128, time.monotonic()
            else:
                self._handles[(key, c["name"])] = handle
                if self._gone(key):   # stopped while it started
                    await self._kill(handle, 0)
                    return
                st.state, st.reason, st.message, st.pid, st.runtime_id = "running", "", "", pid, runtime_id
                st.started_at, st.exit_code, st.finished_at = now_rfc3339(), None, None
                began = time.monotonic()
                self._notify(key)
                code = await self._wait(handle)
                st.state, st.exit_code, st.finished_at = "terminated", code, now_rfc3339()
                st.reason = "Completed" if code == 0 else "Error"
                self._notify(key)
                if not self._gone(key):
                    await self._release(handle)
            if self._gone(key):
                return
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                return
            failures = 0 if time.monotonic() - began > 600 else failures + 1
            delay = backoff_delay(failures, self.backoff_base, self.backoff_max)
            st.last_termination = {"terminated": {"exitCode": code, "reason": st.reason,
                                                  "startedAt": st.started_at, "finishedAt": st.finished_at}}
            if st.runtime_id:
                st.last_termination["terminated"]["containerID"] = st.runtime_id
            st.state, st.reason = "waiting", "CrashLoopBackOff"
            st.message = f"back-off {delay:.0f}s restarting failed container={c['name']}"
            self._notify(key)
            await asyncio.sleep(delay)
            if self._gone(key):
                return
            st.restart_count += 1

    async def restart_container(self, key: PodKey, name: str) -> None:
        handle = self._handles.get((key, name))
        if handle is not None:
            await self._kill(handle, 1.0)

    async def stop_pod(self, key: PodKey, grace: float) -> None:
        st = self._pods.get(key)
        if st is None:
            return
        st.stopping = True
        handles = [h for (k, _), h in self._handles.items() if k == key]
        await asyncio.gather(*(self._kill(h, grace) for h in handles))
        for (k, n), t in list(self._tasks.items()):
            if k == key:
                t.cancel()
                del self._tasks[(k, n)]
        for k2 in [k2 for k2 in self._handles if k2[0] == key]:
            del self._handles[k2]
        self._pods.pop(key, None)
        self._notify(key)


class ProcessRuntime(SupervisedRuntime):
    """Containers as host processes (``command`` + ``args``, ``env``, ``workingDir``), run in the node's
    network namespace through ``nsenter``. The image is recorded but not used.
    """

    def __init__(self, log_dir: Optional[Path] = None, backoff_base: float = 10.0, backoff_max: float = 300.0):
        super().__init__(backoff_base, backoff_max)
        self.log_dir = Path(log_dir) if log_dir else None

    def pid(self, key: PodKey, container: str) -> Optional[int]:
        p = self._handles.get((key, container))
        return p.pid if p and p.returncode is None else None

    async def _launch(self, key: PodKey, c: dict, netns: Optional[str]) -> Tuple[Any, Optional[int], str]:
        argv = list(c.get("command") or []) + [str(a) for a in c.get("args") or []]
        if not argv:
            raise ValueError("the process runtime needs spec.containers[].command")
        env = dict(os.environ)
        for e in c.get("env") or []:
            if "value" in e:
                env[e["name"]] = str(e["value"])
        env.update({"POD_NAMESPACE": key[0], "POD_NAME": key[1]})
        out = asyncio.subprocess.DEVNULL
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{key[0]}_{key[1]}_{c['name']}.log", "ab")
        try:
            proc = await asyncio.create_subprocess_exec(
                *exec_prefix(netns), *argv, env=env, cwd=c.get("workingDir") or None, stdout=out,
                stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
        finally:
            if out is not asyncio.subprocess.DEVNULL:
                out.close()
        return proc, proc.pid, ""

    async def _wait(self, handle: asyncio.subprocess.Process) -> int:
        return await handle.wait()

    async def _kill(self, proc: asyncio.subprocess.Process, grace: float) -> None:
        if proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(proc.wait(), max(grace, 0.01))
        except asyncio.TimeoutError:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.wait()


def make_runtime(name: str, node: str = "") -> PodRuntime:
    """A new runtime: ``process`` (:class:`ProcessRuntime`) or ``docker``
    (:class:`.docker_runtime.DockerRuntime`, its containers labelled with ``node``)."""
    if name == "process":
        return ProcessRuntime()
    if name == "docker":
        from .docker_runtime import DockerRuntime
        return DockerRuntime(node)
    raise ValueError(f"unknown pod runtime {name!r} (known: {', '.join(POD_RUNTIMES)})")


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Kubernetes' crash-loop back-off: ``base`` doubling per consecutive failure, at most ``cap``."""
    return min(base * 2 ** max(failures - 1, 0), cap)
