"""Create sockets inside a network namespace from a process that lives in another one.

A socket belongs to the network namespace its creating thread was in when ``socket()`` ran, and stays
there. So a single asyncio loop can own sockets in many namespaces: switch the loop's thread into the
namespace with ``setns(2)``, create the socket, switch back. Nothing else runs on the thread in between
(the loop is single-threaded and these calls never await), so this is safe in asyncio code.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import socket
import threading
from typing import Dict, Iterator, Optional

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_lock = threading.Lock()


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, CLONE_NEWNET)
        return
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def resolve_netns(netns: str) -> str:
    """Accept a path (``/proc/PID/ns/net``, ``/run/netns/NAME``) or an ``ip netns`` name."""
    if "/" in netns:
        return netns
    return f"/run/netns/{netns}"


class NetNS:
    """A handle on a network namespace that keeps its file open, for cheap repeated entries.

    ``NetNS(None)`` is the namespace of the process (no switching at all).
    """

    _self_fd: Optional[int] = None

    def __init__(self, path: Optional[str]):
        self.path = resolve_netns(path) if path else None
        self._fd: Optional[int] = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC) if self.path else None

    @classmethod
    def _own(cls) -> int:
        if cls._self_fd is None:
            cls._self_fd = os.open(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/ns/net",
                                   os.O_RDONLY | os.O_CLOEXEC)
        return cls._self_fd

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block with the calling thread in this namespace (no-op for the own namespace)."""
        if self._fd is None:
            yield
            return
        home = self._own()
        _setns(self._fd)
        try:
            yield
        finally:
            _setns(home)

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
        """A new socket that belongs to this namespace."""
        with self.entered():
            return socket.socket(family, type, proto)

    def socket_factory(self):
        """A ``socket_factory`` for aiohttp's ``TCPConnector`` that opens sockets in this namespace."""
        def factory(addr_info) -> socket.socket:
            family, type_, proto, _, _ = addr_info
            sock = self.socket(family, type_, proto)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        return factory

    def listening_socket(self, host: str, port: int, backlog: int = 1024) -> socket.socket:
        """A bound, listening TCP socket in this namespace (``host`` may be IPv4 or IPv6)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = self.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
        return sock

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __repr__(self) -> str:
        return f"NetNS({self.path!r})"


_cache: Dict[Optional[str], NetNS] = {}


def netns(path: Optional[str]) -> NetNS:
    """A shared :class:`NetNS` per path, so thousands of agents in one namespace share one fd."""
    key = resolve_netns(path) if path else None
    ns = _cache.get(key)
    if ns is None:
        ns = _cache[key] = NetNS(key)
    return ns


def forget(paths) -> None:
    """Close the cached handles of namespaces that are going away (``ip netns`` names or paths).

    A cached handle keeps its namespace alive after ``ip netns del``, and a namespace re-created under
    the same name would otherwise be entered through the stale handle."""
    for p in paths:
        ns = _cache.pop(resolve_netns(p), None)
        if ns is not None:
            ns.close()


def exec_prefix(path: Optional[str]) -> list:
    """argv prefix that runs a command inside the namespace (for pod processes and exec probes)."""
    if not path:
        return []
    return ["nsenter", f"--net={resolve_netns(path)}", "--"]
