"""Root qdiscs (netem, tbf) over raw rtnetlink, batched per namespace.

Why not pyroute2's ``tc()``: its netem and tbf encoders (0.9.x) have no
``TCA_NETEM_RATE64``, ``TCA_NETEM_LATENCY64`` or ``TCA_TBF_RATE64``, so rates of
34.36 Gbit/s and more would wrap, and netem delays would be rounded to 64 ns ticks.
The messages here follow iproute2's ``tc`` byte for byte where they overlap (the tests
compare them), plus the 64-bit attributes, and are cheap enough to send thousands per
tick. pyroute2 remains the way to read qdiscs back (see the tests).

Qdiscs are always the root qdisc with handle ``1:``. Parameters change in place with
``RTM_NEWQDISC`` without create flags (``tc qdisc change``), which keeps the qdisc and
its queued packets; attaching uses create+replace (``tc qdisc replace``).
"""
from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple

from .units import U32_MAX, ns_to_ticks

NETLINK_ROUTE = 0
RTM_NEWQDISC, RTM_DELQDISC, RTM_GETQDISC = 36, 37, 38
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLMSG_ERROR = 2
TC_H_ROOT = 0xFFFFFFFF
ROOT_HANDLE = 0x00010000  # "1:"
TCA_KIND, TCA_OPTIONS = 1, 2
TCA_NETEM_RATE, TCA_NETEM_RATE64, TCA_NETEM_LATENCY64 = 6, 8, 10
TCA_TBF_PARMS, TCA_TBF_RATE64, TCA_TBF_BURST = 1, 4, 6
TC_LINKLAYER_ETHERNET = 1

#: netem queue limit in packets (netem's default of 1000 is too small at Gbit rates)
NETEM_LIMIT = 1_000_000
#: netem's rate for "unlimited": with any rate set, netem schedules each packet after
#: the previous one (FIFO), so an in-place delay decrease cannot reorder packets in
#: flight. 1 Tbit/s adds 0.7 ns per 84-byte packet.
NETEM_UNLIMITED_BYTES_PER_S = 125_000_000_000

_HDR = struct.Struct("=IHHII")          # nlmsghdr
_TCMSG = struct.Struct("=BxxxiIII")     # tcmsg: family, ifindex, handle, parent, info
_NLA = struct.Struct("=HH")
_NETEM_QOPT = struct.Struct("=IIIIII")  # latency(ticks) limit loss gap duplicate jitter
_NETEM_RATE = struct.Struct("=IiIi")    # rate(B/s) packet_overhead cell_size cell_overhead
_RATESPEC = struct.Struct("=BBHhHI")    # cell_log linklayer overhead cell_align mpu rate
_TBF_QOPT_TAIL = struct.Struct("=III")  # limit(bytes) buffer(ticks) mtu(ticks)


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    n = _NLA.size + len(payload)
    return _NLA.pack(n, kind) + payload + b"\0" * (_align(n) - n)


def _message(kind: int, flags: int, seq: int, ifindex: int, attrs: bytes,
             handle: int = ROOT_HANDLE) -> bytes:
    body = _TCMSG.pack(socket.AF_UNSPEC, ifindex, handle, TC_H_ROOT, 0) + attrs
    return _HDR.pack(_HDR.size + len(body), kind, flags, seq, 0) + body


def netem_options(delay_ns: int, loss_u32: int, rate_bytes_per_s: int,
                  limit: int = NETEM_LIMIT) -> bytes:
    """TCA_OPTIONS payload of netem: the fixed qopt, then netlink attributes."""
    rate = rate_bytes_per_s if rate_bytes_per_s > 0 else NETEM_UNLIMITED_BYTES_PER_S
    out = _NETEM_QOPT.pack(ns_to_ticks(delay_ns), limit, loss_u32, 0, 0, 0)
    out += _attr(TCA_NETEM_LATENCY64, struct.pack("=q", int(delay_ns)))
    if rate > U32_MAX:
        out += _attr(TCA_NETEM_RATE64, struct.pack("=Q", rate))
    out += _attr(TCA_NETEM_RATE, _NETEM_RATE.pack(min(rate, U32_MAX), 0, 0, 0))
    return out


#: smallest tbf bucket: one 64 KiB GSO packet *with* the headers of its up to 45
#: segments, which tbf counts (qdisc_pkt_len); a packet larger than the bucket is cut
#: into MTU-sized segments, and every later hop then handles up to 45 times as many
#: packets (with 64 KiB, TCP at 400 Mbit/s over 16 hops cost the nfqueue daemon
#: 57,000 instead of 26,000 packet-hops per second)
MIN_TBF_BURST = 96 * 1024


def tbf_burst_bytes(rate_bytes_per_s: int) -> int:
    """Bucket size: 1 ms at the rate, at least :data:`MIN_TBF_BURST` (so TCP's large
    segments pass whole) and at most 8 MiB."""
    return int(min(8 << 20, max(MIN_TBF_BURST, rate_bytes_per_s // 1000)))


def tbf_options(rate_bytes_per_s: int, queue_ms: float = 100.0) -> bytes:
    """TCA_OPTIONS of tbf: ``rate R burst B limit L`` with L = B + R * queue_ms."""
    burst = tbf_burst_bytes(rate_bytes_per_s)
    limit = min(U32_MAX, burst + int(rate_bytes_per_s * queue_ms / 1000.0))
    buffer_ticks = ns_to_ticks(burst * 1_000_000_000 // max(1, rate_bytes_per_s))
    rate_spec = _RATESPEC.pack(0, TC_LINKLAYER_ETHERNET, 0, -1, 0, min(rate_bytes_per_s, U32_MAX))
    peak_spec = _RATESPEC.pack(0, 0, 0, 0, 0, 0)
    parms = rate_spec + peak_spec + _TBF_QOPT_TAIL.pack(limit, buffer_ticks, 0)
    out = _attr(TCA_TBF_PARMS, parms) + _attr(TCA_TBF_BURST, struct.pack("=I", burst))
    if rate_bytes_per_s > U32_MAX:
        out += _attr(TCA_TBF_RATE64, struct.pack("=Q", rate_bytes_per_s))
    return out


def qdisc_message(kind: str, options: bytes, ifindex: int, seq: int, create: bool) -> bytes:
    """``tc qdisc replace`` (create=True) or ``tc qdisc change`` of the root qdisc."""
    flags = NLM_F_REQUEST | NLM_F_ACK
    if create:
        flags |= NLM_F_CREATE | NLM_F_REPLACE
    attrs = _attr(TCA_KIND, kind.encode() + b"\0") + _attr(TCA_OPTIONS, options)
    return _message(RTM_NEWQDISC, flags, seq, ifindex, attrs)


def delete_root_message(ifindex: int, seq: int) -> bytes:
    """``tc qdisc del dev X root``: back to the device's default qdisc."""
    return _message(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, seq, ifindex, b"", handle=0)


@dataclass
class NetlinkError:
    seq: int
    errno: int

    def __str__(self) -> str:
        return f"seq {self.seq}: {os.strerror(self.errno)}"


class TcSocket:
    """A NETLINK_ROUTE socket bound to the namespace it was created in."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))

    def request(self, messages: Sequence[bytes]) -> List[NetlinkError]:
        """Send acked messages (each with a distinct seq), wait for every ack and
        return the errors. Sends in chunks so the kernel's replies never overflow."""
        errors: List[NetlinkError] = []
        chunk = 256
        for start in range(0, len(messages), chunk):
            part = messages[start:start + chunk]
            self.sock.sendall(b"".join(part))
            pending = len(part)
            while pending:
                data = self.sock.recv(1 << 16)
                off = 0
                while off + _HDR.size <= len(data):
                    length, kind, _flags, seq, _pid = _HDR.unpack_from(data, off)
                    if kind == NLMSG_ERROR:
                        pending -= 1
                        (err,) = struct.unpack_from("=i", data, off + _HDR.size)
                        if err:
                            errors.append(NetlinkError(seq, -err))
                    off += _align(length) if length else len(data)
        return errors

    def close(self) -> None:
        self.sock.close()


def ifindex_of(ifname: str) -> int:
    """The index of ``ifname`` in the calling thread's namespace."""
    return socket.if_nametoindex(ifname)


def raise_on_errors(errors: Iterable[NetlinkError], what: str,
                    ignore: Tuple[int, ...] = ()) -> None:
    real = [e for e in errors if e.errno not in ignore]
    if real:
        raise OSError(real[0].errno, f"{what}: {len(real)} failed, first {real[0]}")


#: errors that mean "the interface or qdisc is already gone"
GONE = (errno.ENODEV, errno.ENOENT, errno.EINVAL)
