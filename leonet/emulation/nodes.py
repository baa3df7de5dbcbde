"""Emulated nodes and the factory interface that creates their network namespaces.

A node factory makes each node's network namespace exist as ``/run/netns/<netns>``;
everything else (links, shaping, routes) is the same whatever the factory. The
namespace factory here creates bare namespaces; the Docker factory (containers whose
namespace is bind-mounted there, Containernet's model) plugs in through the same
interface.
"""
from __future__ import annotations

import abc
import os
import signal
from dataclasses import dataclass
from typing import Dict, Iterable, List, Sequence, Tuple

from . import netns as nsmod


@dataclass(frozen=True)
class EmulatedNode:
    index: int      #: topology node index (satellites first, then ground stations)
    name: str       #: scenario name: ``s0p12n5`` or the ground station's name
    host: str       #: shell- and Mininet-safe host name
    kind: str       #: "satellite" or "ground_station"
    netns: str      #: namespace name in /run/netns
    address: str    #: loopback /32

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class NodeFactory(abc.ABC):
    """Creates and destroys the network namespaces of nodes."""

    kind: str = ""

    @abc.abstractmethod
    def create(self, nodes: Sequence[EmulatedNode], worker: nsmod.NetnsThread) -> None:
        """Make ``/run/netns/<node.netns>`` exist for every node."""

    @abc.abstractmethod
    def destroy(self, nodes: Iterable[EmulatedNode]) -> None:
        """Stop everything running in the nodes and remove their namespaces."""


def processes_by_namespace(paths: Iterable[str]) -> Dict[str, List[int]]:
    """{namespace path: PIDs living in it} for namespaces bind-mounted at ``paths``,
    in one scan of /proc (this process excluded)."""
    by_inode: Dict[Tuple[int, int], str] = {}
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            continue
        by_inode[(st.st_dev, st.st_ino)] = p
    out: Dict[str, List[int]] = {}
    if not by_inode:
        return out
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        path = by_inode.get((st.st_dev, st.st_ino))
        if path is not None:
            out.setdefault(path, []).append(int(entry))
    return out


def processes_in_namespace(path: str) -> List[int]:
    """PIDs of processes whose network namespace is the one bind-mounted at ``path``."""
    return processes_by_namespace([path]).get(path, [])


def kill_processes_in_namespaces(paths: Iterable[str]) -> int:
    """SIGKILL every process living in any of the given namespaces (one /proc scan)."""
    killed = 0
    for pids in processes_by_namespace(paths).values():
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


class NamespaceNodeFactory(NodeFactory):
    """Nodes as bare named network namespaces (no process until one is needed)."""

    kind = "namespace"

    def create(self, nodes: Sequence[EmulatedNode], worker: nsmod.NetnsThread) -> None:
        worker.create([n.netns for n in nodes])

    def destroy(self, nodes: Iterable[EmulatedNode]) -> None:
        nodes = list(nodes)
        kill_processes_in_namespaces(str(nsmod.path_of(n.netns)) for n in nodes)
        for n in nodes:
            nsmod.delete(n.netns)
