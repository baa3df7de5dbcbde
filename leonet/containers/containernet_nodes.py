"""Containernet hosts: ``emulation.nodes: containernet`` makes the Docker-hosted nodes
Containernet ``Docker`` hosts, created with ``Containernet.addDocker``.

Containernet is the Mininet fork whose hosts are Docker containers; users who know its
``addDocker(name, dimage=..., dcmd=...)`` keep its host class (``cmd()`` runs inside
the container, ``updateCpuLimit`` and friends work). leonet adds what Containernet
does not have: the links, their delays from the orbit, routes, the info API. The
factory implements the same :class:`~leonet.emulation.nodes.NodeFactory` interface as
leonet's own Docker nodes, so everything above the nodes is shared:

* each node's container is created by ``addDocker`` with the node type's image,
  command, CPU and memory limits and the info API's DNS;
* the container's network namespace is bind-mounted at ``/run/netns/<netns>`` like
  any leonet node, and Docker's default ``eth0`` is deleted from it, so the node's
  only way out is through leonet's emulated links;
* the containers carry Containernet's label, not leonet's, so their IDs are recorded
  in ``/run/leonet`` for ``leonet cleanup`` after a crash.

Containernet is not packaged for Debian and is not installed on the development
machine; the factory is selected only when ``import mininet.net.Containernet`` works.
"""
from __future__ import annotations

import logging
import subprocess
from typing import Any, Dict, Iterable, Optional, Sequence

from ..emulation import netns as nsmod
from ..emulation import runstate
from ..emulation.nodes import EmulatedNode, NodeFactory, kill_processes_in_namespaces
from ..errors import ConfigError
from ..infoapi.model import INFO_ADDRESS
from .config import ContainersConfig
from .netns_mount import attach

log = logging.getLogger("leonet.containers")

OWNED_CONTAINERS = runstate.OWNED_CONTAINERS


def containernet_available() -> bool:
    """Whether the Containernet fork of Mininet is importable here."""
    try:
        from mininet.net import Containernet  # noqa: F401
        from mininet.node import Docker  # noqa: F401
    except ImportError:
        return False
    return True


def require_containernet() -> None:
    if not containernet_available():
        raise ConfigError("emulation.nodes", "containernet", "Containernet is not installed here",
                          "install Containernet (github.com/containernet/containernet), or use "
                          "`nodes: docker` (leonet's own Docker hosts, same features)")


class ContainernetNodeFactory(NodeFactory):
    """Creates the run's Docker-hosted nodes with ``Containernet.addDocker``, the others
    as bare namespaces."""

    kind = "containernet"

    def __init__(self, config: ContainersConfig):
        require_containernet()
        from mininet.net import Containernet
        self.config = config
        self.net = Containernet(controller=None, build=False)
        #: node name -> Containernet Docker host (``net[name]`` of the Python API)
        self.hosts: Dict[str, Any] = {}

    def is_docker(self, node: EmulatedNode) -> bool:
        return self.config.for_kind(node.kind).docker

    def create(self, nodes: Sequence[EmulatedNode], worker: nsmod.NetnsThread) -> None:
        bare = [n for n in nodes if not self.is_docker(n)]
        worker.create([n.netns for n in bare])   # also prepares /run/netns
        for node in nodes:
            if self.is_docker(node):
                self.hosts[node.name] = self._add(node)

    def _add(self, node: EmulatedNode) -> Any:
        t = self.config.for_kind(node.kind)
        params: Dict[str, Any] = {"dimage": t.image, "dns": [INFO_ADDRESS],
                                  "environment": {**dict(t.env), "LEONET_NODE": node.name,
                                                  "LEONET_ADDRESS": node.address}}
        if t.command is not None:
            params["dcmd"] = " ".join(t.command)
        if t.cpus is not None:
            params.update(cpu_period=100_000, cpu_quota=int(t.cpus * 100_000))
        if t.memory_mb is not None:
            params.update(mem_limit=f"{t.memory_mb}m", memswap_limit=f"{t.memory_mb}m")
        host = self.net.addDocker(node.host, **params)
        _record_owned(host.did)
        attach(int(host.dcinfo["State"]["Pid"]), node.netns)
        # Docker's bridge interface would be a path around the emulated links
        subprocess.run(["ip", "-n", node.netns, "link", "delete", "eth0"], capture_output=True, timeout=30)
        return host

    def destroy(self, nodes: Iterable[EmulatedNode]) -> None:
        nodes = list(nodes)
        kill_processes_in_namespaces(str(nsmod.path_of(n.netns)) for n in nodes)
        for name, host in list(self.hosts.items()):
            try:
                host.terminate()
            except Exception as exc:  # keep tearing down
                log.warning("removing Containernet host %s: %s", name, exc)
        self.hosts.clear()
        OWNED_CONTAINERS.unlink(missing_ok=True)
        for n in nodes:
            nsmod.delete(n.netns)

    def host(self, name: str) -> Optional[Any]:
        return self.hosts.get(name)


def _record_owned(container_id: str) -> None:
    runstate.STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(OWNED_CONTAINERS, "a", encoding="utf-8") as fh:
        fh.write(container_id + "\n")
