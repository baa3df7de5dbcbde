"""ICMP echo probes with microsecond timing, sent from inside a namespace.

``ping`` prints RTTs of 10-100 ms with only 0.1 ms resolution, too coarse to check a
backend's sub-millisecond accuracy. :class:`Prober` sends echo requests from a raw
socket created in the namespace, stamps the send time just before ``sendto`` and takes
the receive time from the kernel (``SO_TIMESTAMPNS``). Requests are paced on a fixed
schedule, independent of the replies, so several can be in flight: reordering and
loss are visible.
"""
from __future__ import annotations

import itertools
import os
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from .. import netns

_ECHO_REQUEST, _ECHO_REPLY = 8, 0
_SO_TIMESTAMPNS = 35
_SCM_TIMESTAMPNS = _SO_TIMESTAMPNS
#: distinct echo identifiers for the probers of one process: a raw ICMP socket sees
#: every reply in its namespace, so two probers sharing an identifier would take each
#: other's replies (whichever arrives first)
_identifiers = itertools.count(os.getpid() * 257)


def _wait_readable(sock, timeout_s: float) -> bool:
    """select() for one socket, without select's limit of 1,024 file descriptors."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout_s * 1000.0))


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


@dataclass
class ProbeResult:
    """RTTs in ms by sequence number (None = no reply) and the order replies came in."""

    rtt_ms: List[Optional[float]]
    reply_order: List[int] = field(default_factory=list)
    sent_at: List[float] = field(default_factory=list)  #: monotonic seconds

    @property
    def received(self) -> List[float]:
        return [r for r in self.rtt_ms if r is not None]

    @property
    def lost(self) -> int:
        return sum(r is None for r in self.rtt_ms)

    @property
    def reordered(self) -> int:
        """Replies that came after a reply to a later request."""
        late, highest = 0, -1
        for i in self.reply_order:
            if i < highest:
                late += 1
            highest = max(highest, i)
        return late


class Prober:
    """Echo requests from namespace ``ns`` (the socket is created inside it)."""

    def __init__(self, ns: str, payload_bytes: int = 56) -> None:
        self.ns = ns
        self.ident = next(_identifiers) & 0xFFFF
        self.payload = bytes(range(256))[:max(8, payload_bytes)]

        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.setblocking(False)
            return s

        worker = netns.NetnsThread()
        try:
            self.sock = worker.run(ns, make)
        finally:
            worker.close()
        self._seq_base = 0

    def _request(self, seq: int) -> bytes:
        header = struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, self.ident, seq & 0xFFFF)
        return struct.pack("!BBHHH", _ECHO_REQUEST, 0, _checksum(header + self.payload),
                           self.ident, seq & 0xFFFF) + self.payload

    def run(self, dst: str, count: int, interval_s: float, timeout_s: float = 2.0,
            on_send: Optional[Callable[[int], None]] = None) -> ProbeResult:
        """Send ``count`` requests to ``dst`` every ``interval_s``; wait up to
        ``timeout_s`` after the last one. ``on_send(i)`` runs before request ``i``
        (to change link parameters mid-run, for instance)."""
        dst_bytes = socket.inet_aton(dst)
        base = self._seq_base
        self._seq_base = (base + count) & 0xFFFF
        sent_wall: List[Optional[int]] = [None] * count
        result = ProbeResult([None] * count, [], [0.0] * count)
        start = time.monotonic()
        nxt = 0
        done = 0
        deadline = None
        while done < count:
            now = time.monotonic()
            if nxt < count and now >= start + nxt * interval_s:
                if on_send is not None:
                    on_send(nxt)
                packet = self._request(base + nxt)
                result.sent_at[nxt] = time.monotonic()
                sent_wall[nxt] = time.time_ns()
                self.sock.sendto(packet, (dst, 0))
                nxt += 1
                if nxt == count:
                    deadline = time.monotonic() + timeout_s
                continue
            if deadline is not None and now > deadline:
                break
            wait = (start + nxt * interval_s - now) if nxt < count else (deadline - now)
            ready = _wait_readable(self.sock, max(0.0, wait))
            if not ready:
                continue
            while True:
                try:
                    data, anc, _flags, _addr = self.sock.recvmsg(2048, socket.CMSG_SPACE(16))
                except BlockingIOError:
                    break
                ihl = (data[0] & 0x0F) * 4
                kind, _code, _ck, ident, seq = struct.unpack_from("!BBHHH", data, ihl)
                if kind != _ECHO_REPLY or ident != self.ident or data[12:16] != dst_bytes:
                    continue
                i = (seq - base) & 0xFFFF
                if i >= count or sent_wall[i] is None or result.rtt_ms[i] is not None:
                    continue
                recv_ns = time.time_ns()
                for level, typ, payload in anc:
                    if level == socket.SOL_SOCKET and typ == _SCM_TIMESTAMPNS:
                        sec, nsec = struct.unpack("=qq", payload[:16])
                        recv_ns = sec * 1_000_000_000 + nsec
                result.rtt_ms[i] = (recv_ns - sent_wall[i]) / 1e6
                result.reply_order.append(i)
                done += 1
        return result

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Prober":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
