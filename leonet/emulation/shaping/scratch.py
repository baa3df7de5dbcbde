"""Small throw-away networks of namespaces and veth links, for calibration, tests and
benchmarks of the shaping backends (the emulator proper builds its own).

Link ``k`` joins ``nodes[a]`` and ``nodes[b]`` with interfaces ``v{k}a`` (in ``a``)
and ``v{k}b`` (in ``b``) and the /31 ``10.64.0.0 + 2k`` (``a`` gets the even address).
Every node forwards; :meth:`ScratchNet.chain` adds the routes of a line.
"""
from __future__ import annotations

import ipaddress
import os
from typing import Dict, List, Optional, Sequence, Tuple

from pyroute2 import IPRoute

from .. import netns

_BASE = int(ipaddress.IPv4Address("10.64.0.0"))


def link_addresses(k: int) -> Tuple[str, str]:
    a = _BASE + 2 * k
    return str(ipaddress.IPv4Address(a)), str(ipaddress.IPv4Address(a + 1))


class ScratchNet:
    """Namespaces ``ln-{tag}-{i}`` joined by ``edges``; use as a context manager."""

    def __init__(self, tag: str, n_nodes: int, edges: Sequence[Tuple[int, int]],
                 routes: Optional[Dict[int, List[Tuple[str, int]]]] = None) -> None:
        self.names = [f"{netns.PREFIX}{tag}-{i}" for i in range(n_nodes)]
        self.edges = list(edges)
        self._routes = routes or {}
        self._worker: Optional[netns.NetnsThread] = None
        self.created: List[str] = []

    # ------------------------------------------------------------------ shapes
    @classmethod
    def chain(cls, tag: str, n_nodes: int) -> "ScratchNet":
        """A line 0 - 1 - ... - n-1 with routes to every link address."""
        edges = [(i, i + 1) for i in range(n_nodes - 1)]
        routes: Dict[int, List[Tuple[str, int]]] = {}
        for node in range(n_nodes):
            for k in range(n_nodes - 1):
                if k > node:        # to the right, via the right neighbour
                    routes.setdefault(node, []).append((f"{link_addresses(k)[0]}/31", node))
                elif k < node - 1:  # to the left, via the left neighbour
                    routes.setdefault(node, []).append((f"{link_addresses(k)[0]}/31", node - 1))
        return cls(tag, n_nodes, edges, routes)

    @classmethod
    def pairs(cls, tag: str, count: int) -> "ScratchNet":
        """``count`` separate two-node links (2 * count namespaces)."""
        return cls(tag, 2 * count, [(2 * i, 2 * i + 1) for i in range(count)])

    # ------------------------------------------------------------------ queries
    def end(self, k: int, side: str) -> Tuple[str, str]:
        """``(namespace, ifname)`` of link ``k``'s end ``"a"`` or ``"b"``."""
        a, b = self.edges[k]
        return (self.names[a if side == "a" else b], f"v{k}{side}")

    def ends(self) -> List[Tuple[str, str]]:
        return [self.end(k, s) for k in range(len(self.edges)) for s in "ab"]

    def address(self, k: int, side: str) -> str:
        return link_addresses(k)[0 if side == "a" else 1]

    # ------------------------------------------------------------------ life cycle
    def create(self) -> "ScratchNet":
        self._worker = netns.NetnsThread()
        self._worker.create(self.names)
        self.created = list(self.names)
        fds = [os.open(str(netns.path_of(n)), os.O_RDONLY) for n in self.names]
        try:
            with IPRoute() as ipr:
                for k, (a, b) in enumerate(self.edges):
                    ipr.link("add", ifname=f"v{k}a", kind="veth", net_ns_fd=fds[a],
                             peer={"ifname": f"v{k}b", "net_ns_fd": fds[b]})
        finally:
            for fd in fds:
                os.close(fd)
        per_node: Dict[int, List[Tuple[str, str]]] = {}
        for k, (a, b) in enumerate(self.edges):
            per_node.setdefault(a, []).append((f"v{k}a", link_addresses(k)[0]))
            per_node.setdefault(b, []).append((f"v{k}b", link_addresses(k)[1]))
        calls = []
        for i, name in enumerate(self.names):
            calls.append((name, (lambda i=i: self._configure(i, per_node.get(i, [])))))
        self._worker.run_many(calls)
        return self

    def _configure(self, node: int, ifaces: List[Tuple[str, str]]) -> None:
        with open("/proc/sys/net/ipv4/ip_forward", "w") as fh:
            fh.write("1")
        with IPRoute() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            for ifname, addr in ifaces:
                idx = ipr.link_lookup(ifname=ifname)[0]
                ipr.addr("add", index=idx, address=addr, prefixlen=31)
                ipr.link("set", index=idx, state="up")
            for dst, via_node in self._routes.get(node, []):
                gw = self._gateway(node, via_node)
                ipr.route("add", dst=dst, gateway=gw)

    def _gateway(self, node: int, via: int) -> str:
        """The address of the neighbour on the link towards ``via`` (a chain hop)."""
        if via == node:  # right neighbour: link ``node``, its b side
            return link_addresses(node)[1]
        return link_addresses(node - 1)[0]  # left neighbour: link node-1, its a side

    def destroy(self) -> None:
        for name in self.created:
            netns.delete(name)
        self.created = []
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def __enter__(self) -> "ScratchNet":
        try:
            return self.create()
        except BaseException:
            self.destroy()
            raise

    def __exit__(self, *exc) -> None:
        self.destroy()
