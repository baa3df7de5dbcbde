"""Bulk route and neighbour programming over raw rtnetlink.

Installing all-pairs routes for ~1,700 nodes means millions of routes, and routing
changes arrive every tick; a netlink library call per route costs ~100 us of Python.
Here the messages for a whole namespace are built at once as a numpy structured array
and written to a netlink socket that lives in that namespace, in 32 KiB batches. The
kernel replies only on errors (no NLM_F_ACK), which :meth:`RtnlSocket.drain_errors`
collects.
"""
from __future__ import annotations

import errno
import os
import select
import socket
import struct
from typing import Dict, Iterator, List, Tuple, Union

import numpy as np

from .addressing import node_address_int

NETLINK_ROUTE = 0
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29
RTM_NEWNEXTHOP, RTM_DELNEXTHOP, RTM_GETNEXTHOP = 104, 105, 106
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLMSG_ERROR = 2
RT_TABLE_MAIN = 254
#: rtm_protocol that marks leonet's routes (unassigned in /etc/iproute2/rt_protos)
RTPROT_LEONET = 0x4C
RTNH_F_ONLINK = 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE, RTA_NH_ID = 1, 4, 5, 7, 15, 30
RTN_UNICAST, RTN_THROW = 1, 9
NHA_ID, NHA_OIF, NHA_GATEWAY = 1, 5, 6
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT = 0x80

_ROUTE = np.dtype([
    ("len", "<u4"), ("type", "<u2"), ("flags", "<u2"), ("seq", "<u4"), ("pid", "<u4"),
    ("family", "u1"), ("dst_len", "u1"), ("src_len", "u1"), ("tos", "u1"),
    ("table", "u1"), ("protocol", "u1"), ("scope", "u1"), ("rtype", "u1"), ("rtflags", "<u4"),
    ("dst_hdr", "<u4"), ("dst", ">u4"),
    ("gw_hdr", "<u4"), ("gw", ">u4"),
    ("oif_hdr", "<u4"), ("oif", "<u4"),
    ("src_hdr", "<u4"), ("src", ">u4"),
])
_DEL_ROUTE = np.dtype([
    ("len", "<u4"), ("type", "<u2"), ("flags", "<u2"), ("seq", "<u4"), ("pid", "<u4"),
    ("family", "u1"), ("dst_len", "u1"), ("src_len", "u1"), ("tos", "u1"),
    ("table", "u1"), ("protocol", "u1"), ("scope", "u1"), ("rtype", "u1"), ("rtflags", "<u4"),
    ("dst_hdr", "<u4"), ("dst", ">u4"),
])

#: ``dst/32 nhid <id> src <self>``: a route through a next-hop object
_NH_ROUTE = np.dtype([
    ("len", "<u4"), ("type", "<u2"), ("flags", "<u2"), ("seq", "<u4"), ("pid", "<u4"),
    ("family", "u1"), ("dst_len", "u1"), ("src_len", "u1"), ("tos", "u1"),
    ("table", "u1"), ("protocol", "u1"), ("scope", "u1"), ("rtype", "u1"), ("rtflags", "<u4"),
    ("dst_hdr", "<u4"), ("dst", ">u4"),
    ("nh_hdr", "<u4"), ("nh", "<u4"),
    ("src_hdr", "<u4"), ("src", ">u4"),
])
#: ``ip nexthop replace id <id> via <gw> dev <oif> onlink``
_NEXTHOP = np.dtype([
    ("len", "<u4"), ("type", "<u2"), ("flags", "<u2"), ("seq", "<u4"), ("pid", "<u4"),
    ("family", "u1"), ("scope", "u1"), ("protocol", "u1"), ("resvd", "u1"), ("nhflags", "<u4"),
    ("id_hdr", "<u4"), ("id", "<u4"),
    ("oif_hdr", "<u4"), ("oif", "<u4"),
    ("gw_hdr", "<u4"), ("gw", ">u4"),
])


def _rta(length: int, kind: int) -> int:
    return length | (kind << 16)


def route_messages(dst_nodes: np.ndarray, via_nodes: np.ndarray, oifs: np.ndarray,
                   src_node) -> bytes:
    """RTM_NEWROUTE (create or replace) ``dst/32 via <via> dev <oif> onlink src <self>``;
    ``src_node`` is one node or one per message (messages for several nodes, built in
    one go and sent in slices)."""
    m = _new_routes(_ROUTE, dst_nodes, src_node)
    m["rtflags"] = RTNH_F_ONLINK
    m["gw_hdr"] = _rta(8, RTA_GATEWAY)
    m["gw"] = node_address_int(0) + np.asarray(via_nodes, dtype=np.uint32)
    m["oif_hdr"] = _rta(8, RTA_OIF)
    m["oif"] = oifs
    return m.tobytes()


def _new_routes(dtype: np.dtype, dst_nodes: np.ndarray, src_node) -> np.ndarray:
    """RTM_NEWROUTE records (create or replace) ``dst/32 ... src <self>`` in the main table,
    leonet's protocol; the caller fills the next hop. The constant fields are set once and
    the record repeated (field by field over millions of records, a bring-up's, cost seconds)."""
    n = len(dst_nodes)
    one = np.zeros(1, dtype=dtype)
    one["len"] = dtype.itemsize
    one["type"] = RTM_NEWROUTE
    one["flags"] = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE
    one["family"] = socket.AF_INET
    one["dst_len"] = 32
    one["table"] = RT_TABLE_MAIN
    one["protocol"] = RTPROT_LEONET
    one["rtype"] = 1  # RTN_UNICAST
    one["dst_hdr"] = _rta(8, RTA_DST)
    one["src_hdr"] = _rta(8, RTA_PREFSRC)
    m = np.repeat(one, n)
    m["seq"] = np.arange(n, dtype=np.uint32)
    m["dst"] = node_address_int(0) + np.asarray(dst_nodes, dtype=np.uint32)
    m["src"] = node_address_int(0) + np.asarray(src_node, dtype=np.uint32)
    return m


def nexthop_route_messages(dst_nodes: np.ndarray, nexthop_ids: np.ndarray, src_node,
                           prefix_len: Union[int, np.ndarray] = 32) -> bytes:
    """RTM_NEWROUTE (create or replace) ``dst/<prefix_len> nhid <id> src <self>``: the route
    follows whatever its next-hop object points at (see :func:`nexthop_messages`). Where an id
    is 0 the route is ``throw dst/<prefix_len>`` instead: forwarding to it fails as with no
    route, and it hides a shorter prefix (same record size: the table as its attribute)."""
    m = _new_routes(_NH_ROUTE, dst_nodes, src_node)
    m["dst_len"] = prefix_len
    ids = np.asarray(nexthop_ids)
    throw = ids == 0
    m["nh_hdr"] = np.where(throw, _rta(8, RTA_TABLE), _rta(8, RTA_NH_ID))
    m["nh"] = np.where(throw, RT_TABLE_MAIN, ids)
    m["rtype"] = np.where(throw, RTN_THROW, RTN_UNICAST)
    return m.tobytes()


def throw_route_messages(dst_nodes: np.ndarray, src_node) -> bytes:
    """RTM_NEWROUTE (create or replace) ``throw dst/32``: no route to these destinations
    even under a prefix route that covers them (see :mod:`.aggregate`)."""
    return nexthop_route_messages(dst_nodes, np.zeros(len(dst_nodes), dtype=np.uint32), src_node)


def nexthop_messages(nexthop_ids: np.ndarray, via_nodes: np.ndarray, oifs: np.ndarray) -> bytes:
    """RTM_NEWNEXTHOP (create or replace) ``id <id> via <via> dev <oif> onlink``. Replacing
    an object re-points every route that names it, in one operation."""
    n = len(nexthop_ids)
    m = np.zeros(n, dtype=_NEXTHOP)
    m["len"] = _NEXTHOP.itemsize
    m["type"] = RTM_NEWNEXTHOP
    m["flags"] = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE
    m["seq"] = np.arange(n, dtype=np.uint32)
    m["family"] = socket.AF_INET
    m["protocol"] = RTPROT_LEONET
    m["nhflags"] = RTNH_F_ONLINK
    m["id_hdr"] = _rta(8, NHA_ID)
    m["id"] = nexthop_ids
    m["oif_hdr"] = _rta(8, NHA_OIF)
    m["oif"] = oifs
    m["gw_hdr"] = _rta(8, NHA_GATEWAY)
    m["gw"] = node_address_int(0) + np.asarray(via_nodes, dtype=np.uint32)
    return m.tobytes()


def delete_route_messages(dst_nodes: np.ndarray) -> bytes:
    n = len(dst_nodes)
    m = np.zeros(n, dtype=_DEL_ROUTE)
    m["len"] = _DEL_ROUTE.itemsize
    m["type"] = RTM_DELROUTE
    m["flags"] = NLM_F_REQUEST
    m["seq"] = np.arange(n, dtype=np.uint32)
    m["family"] = socket.AF_INET
    m["dst_len"] = 32
    m["table"] = RT_TABLE_MAIN
    m["protocol"] = RTPROT_LEONET
    m["dst_hdr"] = _rta(8, RTA_DST)
    m["dst"] = node_address_int(0) + np.asarray(dst_nodes, dtype=np.uint32)
    return m.tobytes()


def neighbour_message(ifindex: int, peer_node: int, mac: str) -> bytes:
    """RTM_NEWNEIGH: a permanent entry ``<peer address> lladdr <mac> dev <ifindex>``."""
    lladdr = bytes(int(x, 16) for x in mac.split(":"))
    body = struct.pack("=BxxxiHBB", socket.AF_INET, ifindex, NUD_PERMANENT, 0, 1)  # ndmsg, type RTN_UNICAST
    body += struct.pack("=HH", 8, NDA_DST) + struct.pack(">I", node_address_int(peer_node))
    body += struct.pack("=HH", 4 + len(lladdr), NDA_LLADDR) + lladdr + b"\0" * (-(4 + len(lladdr)) % 4)
    header = struct.pack("=IHHII", 16 + len(body), RTM_NEWNEIGH,
                         NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, 0, 0)
    return header + body


def _readable(sock: "RtnlSocket", timeout_s: float) -> bool:
    # poll, not select: a large run has far more than 1,024 file descriptors
    poller = select.poll()
    poller.register(sock.sock, select.POLLIN)
    return bool(poller.poll(timeout_s * 1000))


class RtnlSocket:
    """A raw NETLINK_ROUTE socket; create it inside the namespace it should program."""

    BATCH_BYTES = 32 * 1024

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind((0, 0))
        self.sock.setblocking(False)

    def send(self, messages: bytes, record_size: int = 0) -> None:
        """Write concatenated messages in batches (splitting only on message bounds)."""
        step = self.BATCH_BYTES
        if record_size:
            step -= step % record_size
        view = memoryview(messages)
        offset = 0
        while offset < len(messages):
            if record_size:
                chunk = view[offset:offset + step]
            else:
                chunk = view[offset:]  # variable-size messages: send all at once
            try:
                sent = self.sock.send(chunk)
            except BlockingIOError:
                self.drain_errors()
                continue
            offset += sent

    def drain_errors(self) -> List[Tuple[int, int]]:
        """(seq, errno) of every error the kernel reported since the last call."""
        errors = []
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                return errors
            pos = 0
            while pos + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, pos)
                if kind == NLMSG_ERROR and length >= 20:
                    code = -struct.unpack_from("=i", data, pos + 16)[0]
                    if code:
                        errors.append((seq, code))
                pos += (length + 3) & ~3
                if length == 0:
                    break

    def close(self) -> None:
        self.sock.close()


def describe_errors(errors: List[Tuple[int, int]]) -> str:
    codes = {}
    for _, code in errors:
        codes[code] = codes.get(code, 0) + 1
    return ", ".join(f"{n}x {errno.errorcode.get(c, c)} ({os.strerror(c)})" for c, n in codes.items())


# ----------------------------------------------------------------------------- links

RTM_NEWLINK, RTM_DELLINK = 16, 17
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_TXQLEN, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 13, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
NLA_F_NESTED = 0x8000


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _ifinfo(index: int, up: bool) -> bytes:
    flags = IFF_UP if up else 0
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, IFF_UP)


def _mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def veth_message(name_a: str, index_a: int, mac_a: str, netns_fd_a: int,
                 name_b: str, index_b: int, mac_b: str, netns_fd_b: int,
                 txqueuelen: int = 1000, seq: int = 0, up_a: bool = False) -> bytes:
    """RTM_NEWLINK for a veth pair created directly in two namespaces, with chosen
    interface indices and MACs (so routes can name them without look-ups).

    The peer end (b) starts down: the kernel configures it before the pair is tied and
    refuses to open a veth end without its peer (ENOTCONN), so bring it up afterwards
    with :func:`link_up_message`. End a is configured after the pair is tied, so
    ``up_a`` may create it up (one message fewer per pair)."""
    peer = (_ifinfo(index_b, False) + _attr(IFLA_IFNAME, name_b.encode() + b"\0")
            + _attr(IFLA_ADDRESS, _mac_bytes(mac_b)) + _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd_b))
            + _attr(IFLA_TXQLEN, struct.pack("=I", txqueuelen)))
    info = (_attr(IFLA_INFO_KIND, b"veth")
            + _attr(IFLA_INFO_DATA | NLA_F_NESTED, _attr(VETH_INFO_PEER, peer)))
    body = (_ifinfo(index_a, up_a) + _attr(IFLA_IFNAME, name_a.encode() + b"\0")
            + _attr(IFLA_ADDRESS, _mac_bytes(mac_a)) + _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd_a))
            + _attr(IFLA_TXQLEN, struct.pack("=I", txqueuelen))
            + _attr(IFLA_LINKINFO | NLA_F_NESTED, info))
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK
    return struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, flags, seq, 0) + body


def link_up_message(index: int, seq: int = 0) -> bytes:
    """RTM_NEWLINK that sets an interface up (send it in the interface's namespace)."""
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
    return struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def delete_link_message(index: int, seq: int = 0) -> bytes:
    """RTM_DELLINK by index (send it in the namespace that holds the interface)."""
    body = _ifinfo(index, False)
    return struct.pack("=IHHII", 16 + len(body), RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def acked_request(sock: "RtnlSocket", messages: List[bytes]) -> List[Tuple[int, int]]:
    """Send messages that ask for ACKs (seq = position), wait for every ACK, and
    return (seq, errno) of the failures."""
    for start in range(0, len(messages), 256):
        sock.send(b"".join(messages[start:start + 256]))
    pending = len(messages)
    errors: List[Tuple[int, int]] = []
    while pending:
        if not _readable(sock, 10.0):
            raise TimeoutError(f"netlink: {pending} requests unanswered after 10 s")
        data = sock.sock.recv(1 << 20)
        pos = 0
        while pos + 16 <= len(data):
            length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, pos)
            if kind == NLMSG_ERROR:
                pending -= 1
                code = -struct.unpack_from("=i", data, pos + 16)[0]
                if code:
                    errors.append((seq, code))
            if length == 0:
                break
            pos += (length + 3) & ~3
    return errors


def address_message(index: int, address_int: int, prefixlen: int = 32, seq: int = 0) -> bytes:
    """RTM_NEWADDR: ``address/prefixlen`` on interface ``index``."""
    RTM_NEWADDR, IFA_ADDRESS, IFA_LOCAL = 20, 1, 2
    body = struct.pack("=BBBBI", socket.AF_INET, prefixlen, 0, 0, index)
    addr = struct.pack(">I", address_int)
    body += _attr(IFA_LOCAL, addr) + _attr(IFA_ADDRESS, addr)
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK
    return struct.pack("=IHHII", 16 + len(body), RTM_NEWADDR, flags, seq, 0) + body


def dump_host_routes(sock: RtnlSocket) -> Tuple[np.ndarray, np.ndarray]:
    """(destinations, gateways): host-order IPv4 integers (uint32), one per address that a
    route with a gateway in the main table of the socket's namespace covers, as
    longest-prefix match resolves it: /32 routes (leonet's, and any put there by other means,
    since they route packets just the same) and leonet's own prefix routes (:mod:`.aggregate`),
    under which a /32 throw route means no route. Read with one RTM_GETROUTE dump and parsed
    with numpy (a shell's tables hold millions of routes; a Python loop per route took
    seconds). A route through a next-hop object (``nhid``) gets the object's gateway, from one
    RTM_GETNEXTHOP dump (the kernel leaves it out of route dumps with
    ``net.ipv4.nexthop_compat_mode = 0``, which leonet's nodes set)."""
    RTM_GETROUTE = 26
    body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, 0, 0, 0, 0)
    try:  # let the kernel filter by table (Linux >= 4.20); filtered here in any case
        sock.sock.setsockopt(_SOL_NETLINK, _NETLINK_GET_STRICT_CHK, 1)
    except OSError:
        pass
    sock.drain_errors()
    sock.sock.send(struct.pack("=IHHII", 16 + len(body), RTM_GETROUTE, NLM_F_REQUEST | _NLM_F_DUMP, 0x7E57, 0)
                   + body)
    parts: List[Tuple[np.ndarray, ...]] = []
    while True:
        if not _readable(sock, 10.0):
            raise TimeoutError("netlink route dump did not finish within 10 s")
        if _parse_route_dump(sock.sock.recv(1 << 20), parts):
            break
    if not parts:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32)
    dst, length, gw, nh = (np.concatenate([p[k] for p in parts]) for k in range(4))
    via_object = (gw == 0) & (nh != 0)
    if via_object.any():
        ids, gateways = dump_nexthops(sock)
        pos = np.clip(np.searchsorted(ids, nh[via_object]), 0, max(0, len(ids) - 1))
        found = ids[pos] == nh[via_object] if len(ids) else np.zeros(int(via_object.sum()), dtype=bool)
        gw[via_object] = np.where(found, gateways[pos] if len(ids) else 0, 0)
    dst, gw = longest_prefix(dst, length, gw)
    keep = gw != 0   # no gateway (a throw route, an object without one or gone): forwards nowhere
    return dst[keep], gw[keep]


def longest_prefix(dst: np.ndarray, length: np.ndarray, gw: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Every address the routes (``dst/length`` via ``gw``) cover, with the gateway of the
    longest route covering it (longest-prefix match, as the kernel forwards)."""
    if not (length < 32).any():
        return dst, gw
    counts = np.left_shift(np.int64(1), 32 - length.astype(np.int64))
    starts = dst.astype(np.int64) & ~(counts - 1)
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    addr = np.repeat(starts, counts) + offsets
    order = np.lexsort((np.repeat(length, counts), addr))    # by address, then longest last
    addr, via = addr[order], np.repeat(gw, counts)[order]
    last = np.r_[addr[1:] != addr[:-1], True]
    return addr[last].astype(np.uint32), via[last].astype(np.uint32)


def dump_nexthops(sock: RtnlSocket) -> Tuple[np.ndarray, np.ndarray]:
    """(ids, gateways) of the IPv4 next-hop objects with a gateway in the socket's namespace,
    sorted by id (gateways as host-order integers)."""
    ids: List[int] = []
    gws: List[int] = []
    body = struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0)
    for data, pos, length in _dump(sock, RTM_GETNEXTHOP, RTM_NEWNEXTHOP, body, "next-hop"):
        nh_id = gw = None
        for atype, a, alen in _attributes(data, pos + 24, pos + length):    # nlmsghdr (16) + nhmsg (8)
            if atype == NHA_ID and alen == 8:
                nh_id = struct.unpack_from("=I", data, a + 4)[0]
            elif atype == NHA_GATEWAY and alen == 8:
                gw = struct.unpack_from(">I", data, a + 4)[0]
        if nh_id is not None and gw is not None:
            ids.append(nh_id)
            gws.append(gw)
    order = np.argsort(np.array(ids, dtype=np.uint32), kind="stable")
    return np.array(ids, dtype=np.uint32)[order], np.array(gws, dtype=np.uint32)[order]


#: IFLA_OPERSTATE and its "up" value (RFC 2863)
IFLA_OPERSTATE, IF_OPER_UP = 16, 6


def dump_operstates(sock: RtnlSocket) -> Dict[int, int]:
    """{interface index: operational state} of every interface in the socket's namespace
    (one RTM_GETLINK dump). The kernel sets a link's state, and gives its transmit queue a
    working qdisc, in its link-watch work after the carrier comes on, i.e. some time after
    the interface was set up: until then packets sent on it are dropped."""
    RTM_GETLINK = 18
    states: Dict[int, int] = {}
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)
    for data, pos, length in _dump(sock, RTM_GETLINK, RTM_NEWLINK, body, "link"):
        index = struct.unpack_from("=i", data, pos + 20)[0]      # nlmsghdr (16) + family, type
        for atype, a, alen in _attributes(data, pos + 32, pos + length):     # nlmsghdr (16) + ifinfomsg (16)
            if atype == IFLA_OPERSTATE and alen >= 5:
                states[index] = data[a + 4]
    return states


def _dump(sock: RtnlSocket, request: int, reply: int, body: bytes, what: str) -> Iterator[Tuple[bytes, int, int]]:
    """Send one dump request and yield (datagram, offset, length) of each ``reply`` message."""
    sock.drain_errors()
    sock.sock.send(struct.pack("=IHHII", 16 + len(body), request, NLM_F_REQUEST | _NLM_F_DUMP, 0x7E58, 0) + body)
    while True:
        if not _readable(sock, 10.0):
            raise TimeoutError(f"netlink {what} dump did not finish within 10 s")
        data = sock.sock.recv(1 << 20)
        pos = 0
        while pos + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, pos)
            if kind in (_NLMSG_DONE, NLMSG_ERROR) or length < 16:
                return
            if kind == reply:
                yield data, pos, length
            pos += (length + 3) & ~3


def _attributes(data: bytes, start: int, end: int) -> Iterator[Tuple[int, int, int]]:
    """(type, offset, length) of the netlink attributes in ``data[start:end]``."""
    a = start
    while a + 4 <= end:
        alen, atype = struct.unpack_from("=HH", data, a)
        if alen < 4:
            return
        yield atype, a, alen
        a += (alen + 3) & ~3


_SOL_NETLINK, _NETLINK_GET_STRICT_CHK = 270, 12
_NLM_F_DUMP, _NLMSG_DONE = 0x300, 3


def _parse_route_dump(data: bytes, parts: List[Tuple[np.ndarray, ...]]) -> bool:
    """Append the routes of one datagram of a route dump that :func:`_routes_of_block` keeps;
    True at its end (NLMSG_DONE). Runs of equally long route messages (leonet's routes all have
    the same attributes) are parsed as one numpy array; anything else message by message."""
    pos = 0
    while pos + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, pos)
        if kind == _NLMSG_DONE:
            return True
        if length < 16:
            break
        run = _uniform_run(data, pos, length) if kind == RTM_NEWROUTE else 0
        if run:
            block = np.frombuffer(data, dtype=np.uint8, count=run * length, offset=pos).reshape(run, length)
            _routes_of_block(block, parts)
            pos += run * length
        else:
            pos += (length + 3) & ~3
    return False


def _uniform_run(data: bytes, pos: int, length: int) -> int:
    """How many consecutive messages from ``pos`` are RTM_NEWROUTE of exactly ``length`` bytes
    (at least 1: the one at ``pos`` is)."""
    count = (len(data) - pos) // length
    if length % 4 or count <= 1:
        return 1
    words = np.frombuffer(data, dtype="<u4", count=count * length // 4, offset=pos).reshape(count, length // 4)
    ok = (words[:, 0] == length) & ((words[:, 1] & 0xFFFF) == RTM_NEWROUTE)
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if len(bad) else count


def _routes_of_block(block: np.ndarray, parts: List[Tuple[np.ndarray, ...]]) -> None:
    """Append (destinations, prefix lengths, gateways (0: none), next-hop object ids (0: none))
    of the main-table routes among equally long route messages (rows) that are unicast /32
    routes, or leonet's prefix and throw routes (:mod:`.aggregate`)."""
    # nlmsghdr (16 bytes), then rtmsg: dst_len at 1, table at 4, protocol at 5, type at 7
    leonet = block[:, 21] == RTPROT_LEONET
    rtype = block[:, 23]
    mine = block[(block[:, 20] == RT_TABLE_MAIN) & ((block[:, 17] == 32) | (leonet & (block[:, 17] >= 10)))
                 & ((rtype == RTN_UNICAST) | (leonet & (rtype == RTN_THROW)))]
    if not len(mine):
        return
    first = mine[0].tobytes()
    throw = first[23] == RTN_THROW
    at = {}
    a = 28
    while a + 8 <= len(first):  # the attribute layout of the first row; every row is checked against it
        alen, atype = struct.unpack_from("=HH", first, a)
        if alen < 4:
            break
        if atype in (RTA_DST, RTA_GATEWAY, RTA_NH_ID) and alen == 8:
            at[atype] = a + 4
        a += (alen + 3) & ~3
    if RTA_DST not in at or not (throw or RTA_GATEWAY in at or RTA_NH_ID in at):
        return
    same = (mine[:, 23] == RTN_THROW) == throw
    if len(mine) > 1:  # rows of a uniform run: their length is a multiple of 4
        types = np.ascontiguousarray(mine).view("<u2")
        for atype, offset in at.items():
            same &= types[:, (offset - 2) // 2] == atype
    if not same.all():  # another layout among them: each of those on its own
        for row in mine[~same]:
            _routes_of_block(row.reshape(1, -1), parts)
        mine = mine[same]

    def column(atype: int, order: str) -> np.ndarray:
        if atype not in at or (throw and atype != RTA_DST):   # a throw route forwards nowhere
            return np.zeros(len(mine), dtype=np.uint32)
        return np.ascontiguousarray(mine[:, at[atype]:at[atype] + 4]).view(order).ravel().astype(np.uint32)

    parts.append((column(RTA_DST, ">u4"), mine[:, 17].copy(), column(RTA_GATEWAY, ">u4"), column(RTA_NH_ID, "<u4")))
