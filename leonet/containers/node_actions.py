"""What kill, restart, pause and resume do to a node's software, per host kind.

* Docker nodes: the node's main and workload containers are killed (``docker kill``),
  restarted (``docker restart``), paused and unpaused (``docker pause``: the cgroup
  freezer). The namespace holder is never touched, so the node's namespace, links and
  routes survive. Processes started in the node from outside any container (``leonet
  exec``) are killed too on kill.
* Namespace nodes: every process in the namespace is killed, or frozen and thawed with
  the cgroup freezer. A namespace node has no software of its own to restart.
"""
from __future__ import annotations

import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

from ..emulation import netns as nsmod
from ..emulation.nodes import EmulatedNode, processes_by_namespace, processes_in_namespace
from .docker_nodes import PARALLEL, DockerNodeFactory, node_containers
from .freezer import Freezer

log = logging.getLogger("leonet.containers")


class HostActions:
    """:class:`leonet.emulation.faults.NodeActions` for Docker and namespace nodes."""

    def __init__(self, docker: Optional[DockerNodeFactory] = None, freezer: Optional[Freezer] = None):
        self.docker = docker
        self.freezer = freezer or Freezer()

    def _is_docker(self, node: EmulatedNode) -> bool:
        return self.docker is not None and self.docker.is_docker(node)

    def _containers(self, node: EmulatedNode) -> List[Any]:
        assert self.docker is not None
        return node_containers(self.docker.run_id, node.name)

    def _holder_pid(self, node: EmulatedNode) -> Optional[int]:
        assert self.docker is not None
        holder = self.docker.holders.get(node.name)
        return None if holder is None else int(holder.attrs["State"]["Pid"])

    # ------------------------------------------------------------------ actions
    def kill(self, node: EmulatedNode) -> str:
        done = []
        if self._is_docker(node):
            for c in self._containers(node):
                c.reload()
                if c.status == "paused":
                    c.unpause()
                if c.status in ("running", "paused"):
                    c.kill()
                    done.append(c.name)
        keep = self._holder_pid(node) if self._is_docker(node) else None
        killed = 0
        for pid in processes_in_namespace(str(nsmod.path_of(node.netns))):
            if pid not in (keep, os.getpid()):
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
        if not self._is_docker(node):
            self.freezer.remove(node.netns)
        parts = [f"killed containers {', '.join(done)}"] if done else []
        if killed:
            parts.append(f"killed {killed} processes")
        return "; ".join(parts) or "nothing was running"

    def restart(self, node: EmulatedNode) -> str:
        if not self._is_docker(node):
            self.freezer.remove(node.netns)
            return "a namespace node has no software of its own to start"
        done = []
        for c in self._containers(node):
            c.reload()
            if c.status == "paused":
                c.unpause()
            c.restart(timeout=0)
            done.append(c.name)
        return f"restarted {', '.join(done)}" if done else "the node has no containers to start"

    def pause(self, node: EmulatedNode) -> str:
        if self._is_docker(node):
            done = []
            for c in self._containers(node):
                c.reload()
                if c.status == "running":
                    c.pause()
                    done.append(c.name)
            return f"paused {', '.join(done)}" if done else "no running container to pause"
        pids = [p for p in processes_in_namespace(str(nsmod.path_of(node.netns))) if p != os.getpid()]
        if not pids:
            return "no process to freeze"
        moved = self.freezer.freeze(node.netns, pids)
        return f"froze {moved} processes"

    def resume(self, node: EmulatedNode) -> str:
        if self._is_docker(node):
            done = []
            for c in self._containers(node):
                c.reload()
                if c.status == "paused":
                    c.unpause()
                    done.append(c.name)
            return f"unpaused {', '.join(done)}" if done else "nothing was paused"
        self.freezer.thaw(node.netns)
        return "thawed"

    # ------------------------------------------------------------------ batches (bounding box)
    def pause_many(self, nodes: List[EmulatedNode]) -> int:
        """Pause many nodes with one Docker listing and one /proc scan; returns how many
        containers or process groups were frozen."""
        return self._batch(nodes, True)

    def resume_many(self, nodes: List[EmulatedNode]) -> int:
        return self._batch(nodes, False)

    def _batch(self, nodes: List[EmulatedNode], pause: bool) -> int:
        done = 0
        docker_nodes = {n.name for n in nodes if self._is_docker(n)}
        if docker_nodes:
            assert self.docker is not None
            from ..emulation.cleanup import DOCKER_LABEL
            from .docker_client import client
            want, verb = ("running", "pause") if pause else ("paused", "unpause")
            todo = [c for c in client().containers.list(all=True, ignore_removed=True,
                                                        filters={"label": f"{DOCKER_LABEL}={self.docker.run_id}"})
                    if c.labels.get("leonet.node") in docker_nodes and c.labels.get("leonet.role") != "node"
                    and c.status == want]

            def act(c: Any) -> int:
                try:
                    getattr(c, verb)()
                    return 1
                except Exception as exc:  # it changed state meanwhile
                    log.debug("%s %s: %s", verb, c.name, exc)
                    return 0
            with ThreadPoolExecutor(PARALLEL, thread_name_prefix="leonet-pause") as pool:
                done += sum(pool.map(act, todo))
        bare = [n for n in nodes if not self._is_docker(n)]
        if bare and self.freezer.available:
            if pause:
                by_ns = processes_by_namespace([str(nsmod.path_of(n.netns)) for n in bare])
                for n in bare:
                    pids = by_ns.get(str(nsmod.path_of(n.netns)))
                    if pids:
                        self.freezer.freeze(n.netns, pids)
                        done += 1
            else:
                for n in bare:
                    self.freezer.thaw(n.netns)
        return done

    def set_limits(self, node: EmulatedNode, cpus: Optional[float], memory_mb: Optional[int]) -> str:
        """Change the CPU and/or memory limit of the node's main container at runtime."""
        from ..errors import LeonetError
        from .docker_nodes import limit_kwargs
        if not self._is_docker(node):
            raise LeonetError(f"{node.name} is a namespace node; CPU and memory limits apply to Docker nodes")
        main = [c for c in self._containers(node) if c.labels.get("leonet.role") == "main"]
        if not main:
            raise LeonetError(f"{node.name} has no main container")
        kw: Dict[str, Any] = limit_kwargs(cpus, memory_mb)
        if not kw:
            raise LeonetError("give --cpus and/or --memory")
        main[0].update(**kw)
        return ", ".join(f"{k}={v}" for k, v in kw.items())

    def close(self) -> None:
        self.freezer.remove_all()
