"""Docker hosts: nodes whose network namespace belongs to a Docker container.

Each Docker node is a *pod*, as in Kubernetes:

* a **namespace holder** (``leonet-n<index>-<host>``, role ``node``): a container of the
  leonet-node image started with ``--network none`` that only sleeps. Its network
  namespace is bind-mounted at ``/run/netns/<node.netns>``, so the rest of leonet
  (links, shaping, routes, ``leonet exec``) treats it like any other node;
* the node's **main container** (``...-main``, role ``main``): the scenario's image and
  command with the node type's CPU and memory limits, joined to the holder's namespace
  with ``--network container:<holder>``;
* any **workload containers** added later (:mod:`.workloads`), joined the same way.

Killing and restarting a node acts on its main and workload containers; the holder
keeps the namespace, so the node's links and routes survive a restart. All containers
carry the labels ``leonet.run`` (cleanup), ``leonet.node`` and ``leonet.role``.

Nodes whose type is hosted as ``namespace`` are created as bare namespaces, so one
factory serves scenarios that mix the two.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterable, List, Optional, Sequence

from ..emulation import netns as nsmod
from ..emulation.cleanup import DOCKER_LABEL
from ..emulation.nodes import EmulatedNode, NodeFactory, kill_processes_in_namespaces
from ..infoapi.model import INFO_ADDRESS
from .config import DEFAULT_IMAGE, ContainersConfig, NodeTypeConfig
from .docker_client import client
from .images import ensure_images
from .netns_mount import attach

log = logging.getLogger("leonet.containers")

NODE_LABEL = "leonet.node"
ROLE_LABEL = "leonet.role"
#: the holder only sleeps; it never needs more than this
HOLDER_MEMORY = "16m"
HOLDER_COMMAND = ["/bin/sleep", "2147483647"]
#: parallel Docker API calls (the daemon serialises much of the work anyway)
PARALLEL = 4
CPU_PERIOD_US = 100_000


def container_name(node: EmulatedNode, role: str = "node") -> str:
    base = f"leonet-n{node.index}-{node.host}"
    return base if role == "node" else f"{base}-{role}"


def limit_kwargs(cpus: Optional[float], memory_mb: Optional[int]) -> Dict[str, Any]:
    """Docker SDK arguments for CPU (CFS quota, so it can be changed later) and memory
    (swap included, so the limit is a real limit)."""
    kw: Dict[str, Any] = {}
    if cpus is not None:
        kw.update(cpu_period=CPU_PERIOD_US, cpu_quota=max(1000, int(round(cpus * CPU_PERIOD_US))))
    if memory_mb is not None:
        kw.update(mem_limit=f"{memory_mb}m", memswap_limit=f"{memory_mb}m")
    return kw


class DockerNodeFactory(NodeFactory):
    """Creates Docker nodes (and bare-namespace nodes) for one run."""

    kind = "docker"

    def __init__(self, config: ContainersConfig, run_id: str, holder_image: str = DEFAULT_IMAGE):
        self.config = config
        self.run_id = run_id
        self.holder_image = holder_image
        self.holders: Dict[str, Any] = {}        #: node name -> holder container
        self.mains: Dict[str, Any] = {}          #: node name -> main container
        self.timings: Dict[str, float] = {}      #: seconds per stage (benchmarks read them)

    # ------------------------------------------------------------------ queries
    def is_docker(self, node: EmulatedNode) -> bool:
        return self.config.for_kind(node.kind).docker

    def labels(self, node: EmulatedNode, role: str) -> Dict[str, str]:
        return {DOCKER_LABEL: self.run_id, NODE_LABEL: node.name, ROLE_LABEL: role}

    # ------------------------------------------------------------------ NodeFactory
    def create(self, nodes: Sequence[EmulatedNode], worker: nsmod.NetnsThread) -> None:
        bare = [n for n in nodes if not self.is_docker(n)]
        docker_nodes = [n for n in nodes if self.is_docker(n)]
        worker.create([n.netns for n in bare])   # also prepares /run/netns
        if not docker_nodes:
            return
        t0 = time.perf_counter()
        ensure_images(sorted({self.holder_image} | set(self.config.images())))
        self.timings["images_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="leonet-docker") as pool:
            for node, holder in zip(docker_nodes, pool.map(self._start_holder, docker_nodes)):
                self.holders[node.name] = holder
        self.timings["holders_s"] = time.perf_counter() - t0

    def _start_holder(self, node: EmulatedNode) -> Any:
        c = client().containers.run(
            self.holder_image, HOLDER_COMMAND, name=container_name(node), hostname=_hostname(node.host),
            network_mode="none", dns=[INFO_ADDRESS], dns_search=["leonet"], labels=self.labels(node, "node"),
            detach=True, mem_limit=HOLDER_MEMORY, memswap_limit=HOLDER_MEMORY, init=False)
        c.reload()
        attach(int(c.attrs["State"]["Pid"]), node.netns)
        return c

    def start_main_containers(self, nodes: Sequence[EmulatedNode]) -> None:
        """Start every Docker node's main container (after the network is up, so that
        its software finds links, routes and the info API from its first instruction)."""
        todo = [n for n in nodes if n.name in self.holders and self.config.for_kind(n.kind).image]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="leonet-docker") as pool:
            for node, main in zip(todo, pool.map(self._start_main, todo)):
                self.mains[node.name] = main
        self.timings["mains_s"] = time.perf_counter() - t0

    def _start_main(self, node: EmulatedNode) -> Any:
        t: NodeTypeConfig = self.config.for_kind(node.kind)
        kw = limit_kwargs(t.cpus, t.memory_mb)
        if t.command is not None:
            kw["command"] = list(t.command)
        env = dict(t.env)
        env.update(LEONET_NODE=node.name, LEONET_ADDRESS=node.address, LEONET_INFO=f"http://{INFO_ADDRESS}")
        return client().containers.run(
            t.image, name=container_name(node, "main"), network_mode=f"container:{self.holders[node.name].id}",
            labels=self.labels(node, "main"), environment=env, detach=True, **kw)

    def destroy(self, nodes: Iterable[EmulatedNode]) -> None:
        nodes = list(nodes)
        kill_processes_in_namespaces(str(nsmod.path_of(n.netns)) for n in nodes)
        remove_run_containers(self.run_id)
        self.holders.clear()
        self.mains.clear()
        for n in nodes:
            nsmod.delete(n.netns)


def remove_run_containers(run_id: Optional[str] = None) -> int:
    """Force-remove the containers of one run (``run_id``) or of every leonet run."""
    label = DOCKER_LABEL if run_id is None else f"{DOCKER_LABEL}={run_id}"
    found = client().containers.list(all=True, filters={"label": label}, ignore_removed=True)

    def remove(c: Any) -> None:
        try:
            c.remove(force=True)
        except Exception as exc:  # already gone (NotFound) or being removed (409)
            if "No such container" not in str(exc) and "already in progress" not in str(exc):
                log.warning("removing container %s: %s", c.name, exc)
    # containers that share a holder's namespace go first, then the holders
    workloads = [c for c in found if c.labels.get(ROLE_LABEL) != "node"]
    holders = [c for c in found if c.labels.get(ROLE_LABEL) == "node"]
    with ThreadPoolExecutor(PARALLEL, thread_name_prefix="leonet-docker") as pool:
        list(pool.map(remove, workloads))
        list(pool.map(remove, holders))
    return len(found)


def _hostname(host: str) -> str:
    """A valid hostname (RFC 1123 label characters, at most 63)."""
    name = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in host).strip("-").lower()
    return (name or "node")[:63]


def node_containers(run_id: str, node_name: str, include_holder: bool = False) -> List[Any]:
    """The containers of one node (main and workloads; the holder too if asked)."""
    found = client().containers.list(all=True, ignore_removed=True,
                                     filters={"label": [f"{DOCKER_LABEL}={run_id}", f"{NODE_LABEL}={node_name}"]})
    return [c for c in found if include_holder or c.labels.get(ROLE_LABEL) != "node"]
