"""Sockets inside emulated nodes, for app processes that serve one node or many.

A leonet namespace node is a network namespace (``/run/netns/ln-<host>``). A process
started in it (``ip netns exec``, ``LeoNet[...].popen``) uses it for every socket. A
process that serves *many* nodes (one bridge per satellite, one sensor per buoy) opens
each node's sockets from a thread that has joined that node's namespace: the socket
stays bound to it, so its packets leave and arrive through that node's own links,
routes and delays exactly as if the process ran there. The same pattern runs the
control plane's agents (docs/controlplane.md). Standard library only.
"""
from __future__ import annotations

import ctypes
import os
import socket
import struct
import threading
from typing import Optional

CLONE_NEWNET = 0x40000000
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(node_or_netns: str) -> str:
    """``/run/netns/<name>``; a bare host name gets leonet's ``ln-`` prefix."""
    if node_or_netns.startswith("/"):
        return node_or_netns
    name = node_or_netns if node_or_netns.startswith("ln-") else f"ln-{node_or_netns}"
    return f"/run/netns/{name}"


def udp_socket(netns: Optional[str] = None, port: int = 0, timestamps: bool = True) -> socket.socket:
    """A UDP socket bound to ``0.0.0.0:port`` in ``netns`` (None: this process's own
    namespace), with kernel receive timestamps (``SO_TIMESTAMPNS``)."""
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        if timestamps:
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.bind(("0.0.0.0", port))
        return s
    return make() if netns is None else in_netns(netns, make)


def in_netns(netns: str, fn):
    """Call ``fn()`` in a thread that joined ``netns`` and return its result (sockets
    created there stay in that namespace)."""
    out: dict = {}

    def run() -> None:
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {netns}")
            finally:
                os.close(fd)
            out["value"] = fn()
        except BaseException as exc:  # handed to the caller
            out["error"] = exc

    t = threading.Thread(target=run, name=f"netns-{netns}")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def drain(sock: socket.socket):
    """Every datagram waiting on a non-blocking socket: (data, address, receive time ns)."""
    while True:
        try:
            yield recv_with_timestamp(sock)
        except BlockingIOError:
            return


def recv_with_timestamp(sock: socket.socket, size: int = 65535):
    """(data, address, kernel receive time in ns since the epoch)."""
    data, ancdata, _, addr = sock.recvmsg(size, socket.CMSG_SPACE(16))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
            sec, nsec = struct.unpack("qq", payload[:16])
            return data, addr, sec * 1_000_000_000 + nsec
    import time
    return data, addr, time.time_ns()
