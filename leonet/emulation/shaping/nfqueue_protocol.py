"""The nfnetlink_queue wire protocol: just what a delay holder needs.

One ``NETLINK_NETFILTER`` socket per network namespace serves every queue of that
namespace (the kernel keeps queues per namespace; a socket stays in the namespace it
was created in). Layout of every message: ``nlmsghdr`` (host byte order), then
``nfgenmsg`` whose ``res_id`` is the queue number in network byte order, then netlink
attributes whose headers are host order and whose values are network order.
See ``include/uapi/linux/netfilter/nfnetlink_queue.h``.
"""
from __future__ import annotations

import socket
import struct
from typing import List, Optional, Tuple

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT_BATCH = 0, 1, 2, 3
MSG_PACKET = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4

NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD = 1, 2, 10
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND = 1, 2
NFQNL_COPY_META, NFQNL_COPY_PACKET = 1, 2
#: bytes of each packet copied to the daemon: the fixed IPv4 header, enough to tell a
#: packet apart from others at its next hop (see :func:`parse_packet`)
COPY_RANGE = 20
#: hand over GSO packets whole instead of segmenting them first (much less work per byte)
NFQA_CFG_F_GSO = 1 << 2
NF_DROP, NF_ACCEPT = 0, 1

SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5

_HDR = struct.Struct("=IHHII")
_NFGEN_ATTR = struct.Struct("=BBH")
_NLA = struct.Struct("=HH")
_BE32 = struct.Struct(">I")


def _attr(kind: int, payload: bytes) -> bytes:
    n = 4 + len(payload)
    return _NLA.pack(n, kind) + payload + b"\0" * (((n + 3) & ~3) - n)


def _message(msg: int, queue: int, flags: int, seq: int, attrs: bytes) -> bytes:
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack(">H", queue) + attrs
    kind = (NFNL_SUBSYS_QUEUE << 8) | msg
    return _HDR.pack(_HDR.size + len(body), kind, flags, seq, 0) + body


def bind_messages(queue: int, maxlen: int, seq: int) -> List[bytes]:
    """Bind ``queue`` to the sending socket, copies of the first :data:`COPY_RANGE`
    bytes of each packet, ``maxlen`` packets in flight at most, whole GSO packets.
    Acked: one reply per message."""
    flags = NLM_F_REQUEST | NLM_F_ACK
    cmd = _attr(NFQA_CFG_CMD, struct.pack("=BxH", NFQNL_CFG_CMD_BIND, 0))
    params = _attr(NFQA_CFG_PARAMS, struct.pack(">IB", COPY_RANGE, NFQNL_COPY_PACKET))
    maxlen_attr = _attr(NFQA_CFG_QUEUE_MAXLEN, _BE32.pack(maxlen))
    opt = _attr(NFQA_CFG_MASK, _BE32.pack(NFQA_CFG_F_GSO)) + _attr(NFQA_CFG_FLAGS, _BE32.pack(NFQA_CFG_F_GSO))
    return [
        _message(NFQNL_MSG_CONFIG, queue, flags, seq, cmd),
        _message(NFQNL_MSG_CONFIG, queue, flags, seq + 1, params + maxlen_attr + opt),
    ]


def unbind_message(queue: int, seq: int) -> bytes:
    cmd = _attr(NFQA_CFG_CMD, struct.pack("=BxH", NFQNL_CFG_CMD_UNBIND, 0))
    return _message(NFQNL_MSG_CONFIG, queue, NLM_F_REQUEST | NLM_F_ACK, seq, cmd)


def verdict_prefix(queue: int, batch: bool, verdict: int) -> bytes:
    """Everything of a (batch) verdict message but the trailing packet id, so that a
    verdict costs one concatenation: ``prefix + struct.pack('>I', packet_id)``."""
    msg = NFQNL_MSG_VERDICT_BATCH if batch else NFQNL_MSG_VERDICT
    full = _message(msg, queue, NLM_F_REQUEST, 0, _attr(NFQA_VERDICT_HDR, _BE32.pack(verdict) + b"\0\0\0\0"))
    return full[:-4]


def parse_packet(data: bytes, off: int = 0) -> Tuple[int, int, int, Optional[bytes]]:
    """``(queue, packet_id, message_type, key)`` of the message at ``off``; packet_id is
    -1 for anything but a packet. ``key`` identifies an IPv4 packet across hops (its
    length, identification, protocol, source and destination: the fixed header without
    what forwarding changes), or is None (no payload, IPv6, too short)."""
    kind = _HDR.unpack_from(data, off)[1]
    if kind != MSG_PACKET:
        return -1, -1, kind, None
    queue = struct.unpack_from(">H", data, off + 18)[0]
    end = off + _HDR.unpack_from(data, off)[0]
    pid, key = -1, None
    pos = off + 20
    while pos + 4 <= end:
        alen, atype = _NLA.unpack_from(data, pos)
        atype &= 0x3FFF
        if atype == NFQA_PACKET_HDR:
            pid = _BE32.unpack_from(data, pos + 4)[0]
        elif atype == NFQA_PAYLOAD:
            if alen >= 4 + 20 and data[pos + 4] >> 4 == 4:
                key = data[pos + 6:pos + 10] + data[pos + 13:pos + 14] + data[pos + 16:pos + 24]
            break  # the kernel puts the payload last
        if alen < 4:
            break
        pos += (alen + 3) & ~3
    return queue, pid, kind, key


def split_messages(data: bytes) -> List[int]:
    """Offsets of the netlink messages in one datagram."""
    out, off = [], 0
    while off + _HDR.size <= len(data):
        out.append(off)
        length = _HDR.unpack_from(data, off)[0]
        if length < _HDR.size:
            break
        off += (length + 3) & ~3
    return out


def ack_error(data: bytes, off: int) -> Tuple[int, int]:
    """``(seq, errno)`` of an NLMSG_ERROR at ``off`` (errno 0 = success)."""
    seq = _HDR.unpack_from(data, off)[3]
    return seq, -struct.unpack_from("=i", data, off + _HDR.size)[0]


def open_socket(rcvbuf: int) -> socket.socket:
    """A non-blocking NETLINK_NETFILTER socket in the calling thread's namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, NETLINK_NETFILTER)
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE (root)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((0, 0))
    return sock
