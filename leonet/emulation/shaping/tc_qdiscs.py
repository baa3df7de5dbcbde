"""Per-namespace rtnetlink sockets and the tbf bandwidth qdiscs of link ends.

:class:`NamespaceTc` keeps one NETLINK_ROUTE socket per namespace (created once by a
thread setns'd into it) and the interface indexes it has looked up, so a tick's qdisc
changes cost one ``send`` per namespace and no namespace switching.
"""
from __future__ import annotations

import socket
from typing import Dict, Iterable, List, Sequence, Set, Tuple

from .. import netns
from . import tc_netlink as tc
from .base import LinkEnd
from .units import mbps_to_bytes_per_s


class NamespaceTc:
    """Cached rtnetlink sockets and ifindexes, one socket per namespace."""

    def __init__(self) -> None:
        self._worker = netns.NetnsThread()
        self._socks: Dict[str, tc.TcSocket] = {}
        self._ifindex: Dict[LinkEnd, int] = {}

    def prepare(self, ends: Iterable[LinkEnd]) -> None:
        """Open sockets and look up ifindexes for ``ends`` (one namespace hop each)."""
        todo: Dict[str, List[str]] = {}
        for ns, ifname in ends:
            if ns not in self._socks or (ns, ifname) not in self._ifindex:
                todo.setdefault(ns, []).append(ifname)
        if not todo:
            return
        calls = []
        for ns, names in todo.items():
            def work(ns=ns, names=names) -> Tuple[object, List[int]]:
                sock = self._socks.get(ns) or tc.TcSocket()
                return sock, [socket.if_nametoindex(n) for n in names]
            calls.append((ns, work))
        for (ns, names), (sock, indexes) in zip(todo.items(), self._worker.run_many(calls)):
            self._socks[ns] = sock
            for name, index in zip(names, indexes):
                self._ifindex[(ns, name)] = index

    def ifindex(self, end: LinkEnd) -> int:
        return self._ifindex[end]

    def known_ifindex(self, end: LinkEnd):
        """The cached ifindex of ``end`` if its namespace socket exists, else None."""
        return self._ifindex.get(end) if end[0] in self._socks else None

    def request(self, per_ns: Dict[str, List[bytes]]) -> Dict[str, List[tc.NetlinkError]]:
        """Send each namespace's messages on its socket; errors by namespace."""
        return {ns: errs for ns, msgs in per_ns.items() if msgs
                for errs in [self._socks[ns].request(msgs)] if errs}

    def forget(self, ends: Iterable[LinkEnd]) -> None:
        for end in ends:
            self._ifindex.pop(end, None)

    def forget_namespaces(self, names: Iterable[str]) -> None:
        names = set(names)
        for ns in names:
            sock = self._socks.pop(ns, None)
            if sock is not None:
                sock.close()
        for end in [e for e in self._ifindex if e[0] in names]:
            del self._ifindex[end]

    def close(self) -> None:
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()
        self._ifindex.clear()
        self._worker.close()


class QdiscTable:
    """tbf root qdiscs for link ends with a bandwidth; none for unlimited (0)."""

    def __init__(self) -> None:
        self.tc = NamespaceTc()
        self._rate: Dict[LinkEnd, int] = {}  # installed bytes/s
        self._seq = 0

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0x7FFFFFFF or 1
        return self._seq

    def apply(self, items: Sequence[Tuple[LinkEnd, float]]) -> None:
        """Set each end's bandwidth in Mbit/s (0 = unlimited): tbf is created,
        changed in place, or removed."""
        want = [(end, mbps_to_bytes_per_s(mbps) if mbps > 0 else 0) for end, mbps in items]
        want = [(end, rate) for end, rate in want if rate != self._rate.get(end, 0)]
        if not want:
            return
        self.tc.prepare(end for end, _ in want)
        per_ns: Dict[str, List[bytes]] = {}
        for end, rate in want:
            idx = self.tc.ifindex(end)
            old = self._rate.get(end, 0)
            if rate:
                msg = tc.qdisc_message("tbf", tc.tbf_options(rate), idx, self._next_seq(), create=not old)
            else:
                msg = tc.delete_root_message(idx, self._next_seq())
            per_ns.setdefault(end[0], []).append(msg)
        errors = self.tc.request(per_ns)
        for ns, errs in errors.items():
            tc.raise_on_errors(errs, f"tbf qdiscs in {ns}")
        for end, rate in want:
            if rate:
                self._rate[end] = rate
            else:
                self._rate.pop(end, None)

    def remove(self, ends: Sequence[LinkEnd]) -> None:
        """Delete the tbf of these ends, ignoring interfaces that are already gone."""
        mine = [end for end in ends if end in self._rate and netns.exists(end[0])]
        per_ns: Dict[str, List[bytes]] = {}
        for end in mine:
            idx = self.tc.known_ifindex(end)
            if idx is not None:
                per_ns.setdefault(end[0], []).append(tc.delete_root_message(idx, self._next_seq()))
        for ns, errs in self.tc.request(per_ns).items():
            tc.raise_on_errors(errs, f"removing tbf qdiscs in {ns}", ignore=tc.GONE)
        for end in ends:
            self._rate.pop(end, None)
        self.tc.forget(ends)

    def forget_namespaces(self, names: Set[str]) -> None:
        for end in [e for e in self._rate if e[0] in names]:
            del self._rate[end]
        self.tc.forget_namespaces(names)

    def installed(self) -> Dict[LinkEnd, int]:
        return dict(self._rate)

    def close(self) -> None:
        self.tc.close()
