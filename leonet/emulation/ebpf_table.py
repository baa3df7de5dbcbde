"""Forwarding tables in one BPF map instead of kernel routes (``emulation.forwarding_table: ebpf``).

With kernel routes, every next-hop entry that changes is a netlink operation under the
RTNL lock: about 5,000 a tick at Starlink shell 1, 11,000 at phase I, and a /32 per
(node, destination) to install at bring-up. Those changes are the geometry's real path
changes (docs/benchmarks.md, "Route churn"), so no table that names a next hop per
destination can have fewer of them; what can go is their cost. Here all nodes' tables
are one BPF array map, ``hop[node * V + destination] = next hop + 1`` (0: no route), that
this process maps into its memory: a tick's changes are numpy writes, without a system call.

How a packet uses it, in every node:

- the main table has one route for the whole node range, ``10.64.0.0/10 encap bpf in ...
  xmit ... dev lo src <node>`` (a lightweight-tunnel BPF route): forwarded packets run its
  ``in`` program, the node's own packets (applications, ICMP errors) its ``xmit`` program;
- the program (one per node and hook: the node's row of the map is an immediate) looks up
  the packet's destination, puts ``next hop + 1`` in the packet's mark and asks the kernel
  to route the packet again (``BPF_LWT_REROUTE``); no entry: the packet is dropped;
- one policy rule per neighbour (``fwmark j+1 lookup <TABLE_BASE + j>``) sends the marked
  packet to a table that holds one route, ``default via <j> dev l<j> onlink``; a packet
  marked for a neighbour that is gone meets the catch-all rule after them (unreachable).

The kernel's paths are otherwise as with routes: forwarding decrements the TTL once and
sends ICMP errors, netfilter (the nfqueue backend's hooks) and qdiscs (netem) see the
packets on the ``l<j>`` interfaces; packets to the node's own address never reach the
program (the local table comes first). Per link only a rule and a table route are added:
nothing is attached to interfaces (a clsact qdisc per interface, the other way to run a
program per packet, costs time that grows with the number of qdiscs in the system: ~0.5 ms
each at shell 1 on Linux 6.18, measured).
"""
from __future__ import annotations

import ctypes
import mmap
import os
import socket
import struct
from typing import List, Tuple

import numpy as np

from ..errors import LeonetError
from .addressing import BASE, IFINDEX_OFFSET, NETWORK, node_address_int
from .rtnl import (IF_OPER_UP, NLA_F_NESTED, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
                   RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_TABLE, RTM_NEWROUTE, RTN_UNICAST, RTNH_F_ONLINK,
                   RTPROT_LEONET, RtnlSocket, _attr, _attributes, _dump, dump_operstates)

#: at most this many nodes: map keys are node * V + destination in 32 bits (memory: V^2 x 8 bytes)
MAX_NODES = 0xFFFF
#: the table that routes packets marked for neighbour j is TABLE_BASE + j
TABLE_BASE = 0x10000
RULE_PRIORITY, CATCH_ALL_PRIORITY = 100, 101

#: the bpf(2) system call's number per architecture (None: not known here)
_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "i686": 357}.get(os.uname().machine)
_BPF_MAP_CREATE, _BPF_PROG_LOAD, _BPF_MAP_GET_FD_BY_ID, _BPF_OBJ_GET_INFO_BY_FD = 0, 5, 14, 15
_BPF_MAP_TYPE_ARRAY = 2
_BPF_PROG_TYPE_LWT_IN, _BPF_PROG_TYPE_LWT_XMIT = 10, 12
_BPF_F_MMAPABLE = 1 << 10
_ELEMENT_BYTES = 8            # an array map rounds 4-byte values up to 8
_BPF_OK, _BPF_DROP, _BPF_LWT_REROUTE = 0, 2, 128
_HELPER_MAP_LOOKUP = 1
_SKB_MARK, _SKB_DATA, _SKB_DATA_END = 8, 76, 80     # struct __sk_buff offsets
_LWTUNNEL_ENCAP_BPF, _RTA_ENCAP_TYPE, _RTA_ENCAP = 6, 21, 22
_LWT_BPF_IN, _LWT_BPF_XMIT, _LWT_BPF_PROG_FD, _LWT_BPF_PROG_NAME = 1, 3, 1, 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class BpfError(LeonetError):
    """The kernel refused a BPF map, program or route."""


def _bpf(cmd: int, attr: bytes) -> int:
    if _NR_BPF is None:
        raise BpfError(f"BPF forwarding tables are not available on {os.uname().machine} here "
                       "(the bpf system call's number is not known). Fix: use emulation.forwarding_table: kernel")
    buf = ctypes.create_string_buffer(attr, 128)
    fd = _libc.syscall(_NR_BPF, cmd, buf, 128)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(fd)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def forwarding_program(map_fd: int, nodes: int, node: int) -> bytes:
    """Node ``node``'s program (eBPF instructions; the packet starts at its IPv4 header),
    as the module docstring describes, for a map of ``nodes`` x ``nodes`` entries."""
    code: List[object] = []
    labels = {}

    def op(*args) -> None:
        code.append(_insn(*args))

    def jump(opcode: int, dst: int, src: int, imm: int, label: str) -> None:
        code.append((opcode, dst, src, imm, label))

    op(0xBF, 6, 1)                                # r6 = skb
    op(0x61, 2, 6, _SKB_DATA)                     # r2 = data (the IPv4 header)
    op(0x61, 3, 6, _SKB_DATA_END)
    op(0xBF, 4, 2)
    op(0x07, 4, 0, 0, 20)
    jump(0x2D, 4, 3, 0, "pass")                   # shorter than an IPv4 header
    op(0x61, 8, 2, 16)                            # r8 = destination address - BASE
    op(0xDC, 8, 0, 0, 32)                         # to host order
    op(0x17, 8, 0, 0, int(BASE))
    jump(0x35, 8, 0, nodes, "drop")               # in the node range but no node (unsigned)
    op(0xB7, 9, 0, 0, node)                       # key = node * V + destination
    op(0x27, 9, 0, 0, nodes)
    op(0x0F, 9, 8)
    op(0x63, 10, 9, -4)
    code.append(_insn(0x18, 1, 1, 0, map_fd) + _insn(0))   # r1 = map (64-bit immediate: two slots)
    code.append(None)
    op(0xBF, 2, 10)
    op(0x07, 2, 0, 0, -4)
    op(0x85, 0, 0, 0, _HELPER_MAP_LOOKUP)
    jump(0x15, 0, 0, 0, "drop")
    op(0x61, 1, 0, 0)
    jump(0x15, 1, 0, 0, "drop")                   # no route
    op(0x63, 6, 1, _SKB_MARK)                     # mark = next hop + 1, and route again
    op(0xB7, 0, 0, 0, _BPF_LWT_REROUTE)
    op(0x95)
    labels["drop"] = len(code)
    op(0xB7, 0, 0, 0, _BPF_DROP)
    op(0x95)
    labels["pass"] = len(code)
    op(0xB7, 0, 0, 0, _BPF_OK)
    op(0x95)
    out = []
    for k, item in enumerate(code):
        if isinstance(item, tuple):
            opcode, dst, src, imm, label = item
            item = _insn(opcode, dst, src, labels[label] - k - 1, imm)
        if item is not None:
            out.append(item)
    return b"".join(out)


def _load(program: bytes, program_type: int) -> int:
    code = ctypes.create_string_buffer(program, len(program))
    licence = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(1 << 16)
    attr = struct.pack("=IIQQIIQII", program_type, len(program) // 8, ctypes.addressof(code),
                       ctypes.addressof(licence), 1, len(log), ctypes.addressof(log), 0, 0)
    try:
        return _bpf(_BPF_PROG_LOAD, attr)
    except OSError as exc:
        detail = log.value.decode(errors="replace").strip().splitlines()[-3:]
        raise BpfError(f"the kernel refused the BPF forwarding program: {exc.strerror}; " + " / ".join(detail)
                       + ". Fix: use emulation.forwarding_table: kernel") from None


class ForwardingMap:
    """Every node's forwarding table in one BPF array map, mapped into this process.
    :attr:`hops` ``[node, destination]`` is next hop + 1 (0: no route); writing it changes
    forwarding at once."""

    def __init__(self, nodes: int, map_id: int = 0):
        """A new map for ``nodes`` nodes; with ``map_id``, the existing map of that id, to
        read (``leonet check`` in another process than the run's)."""
        if not 0 < nodes <= MAX_NODES:
            raise BpfError(f"BPF forwarding tables hold up to {MAX_NODES:,} nodes, not {nodes:,}")
        self.nodes = nodes
        entries = nodes * nodes
        try:
            if map_id:
                self.map_fd = _bpf(_BPF_MAP_GET_FD_BY_ID, struct.pack("=II", map_id, 0))
            else:
                self.map_fd = _bpf(_BPF_MAP_CREATE, struct.pack("=IIIII", _BPF_MAP_TYPE_ARRAY, 4, 4, entries,
                                                                _BPF_F_MMAPABLE))
        except OSError as exc:
            what = f"opening BPF map {map_id}" if map_id else f"creating a BPF map of {entries:,} entries"
            raise BpfError(f"{what} failed: {exc.strerror} (needs root, Linux >= 5.5). "
                           "Fix: use emulation.forwarding_table: kernel") from None
        try:
            size = -(-entries * _ELEMENT_BYTES // mmap.PAGESIZE) * mmap.PAGESIZE
            prot = mmap.PROT_READ if map_id else mmap.PROT_READ | mmap.PROT_WRITE
            self._memory = mmap.mmap(self.map_fd, size, mmap.MAP_SHARED, prot)
        except BaseException:
            os.close(self.map_fd)
            raise
        words = np.frombuffer(self._memory, dtype=np.uint32, count=2 * entries)
        self.hops = words[::2].reshape(nodes, nodes)

    @property
    def id(self) -> int:
        """The kernel's id of the map (for ``ForwardingMap(nodes, map_id)``)."""
        info = ctypes.create_string_buffer(88)
        _bpf(_BPF_OBJ_GET_INFO_BY_FD, struct.pack("=IIQ", self.map_fd, len(info), ctypes.addressof(info)))
        return struct.unpack_from("=I", info.raw, 4)[0]       # struct bpf_map_info: type, id, ...

    def programs(self, node: int) -> Tuple[int, int]:
        """File descriptors of node ``node``'s two programs (``in``, ``xmit``), for
        :func:`node_messages`; close them once the route holds them."""
        program = forwarding_program(self.map_fd, self.nodes, node)
        first = _load(program, _BPF_PROG_TYPE_LWT_IN)
        try:
            return first, _load(program, _BPF_PROG_TYPE_LWT_XMIT)
        except BaseException:
            os.close(first)
            raise

    def write(self, nodes: np.ndarray, destinations: np.ndarray, next_hops: np.ndarray) -> None:
        """Set node ``nodes[k]``'s next hop towards ``destinations[k]`` to ``next_hops[k]``
        (negative: no route)."""
        hops = np.asarray(next_hops)
        self.hops[np.asarray(nodes), np.asarray(destinations)] = np.where(hops >= 0, hops + 1, 0).astype(np.uint32)

    def table_of(self, node: int) -> Tuple[np.ndarray, np.ndarray]:
        """(destination, gateway) addresses (host-order uint32) of the node's entries, as
        :func:`.rtnl.dump_host_routes` gives them for kernel routes."""
        row = np.array(self.hops[node])
        dst = np.flatnonzero(row)
        return (dst + int(BASE)).astype(np.uint32), (row[dst] - 1 + int(BASE)).astype(np.uint32)

    def close(self) -> None:
        """Drop this process's references; the kernel frees the map once the routes whose
        programs use it are gone with their namespaces."""
        if self.map_fd < 0:
            return
        self.hops = np.zeros((0, 0), dtype=np.uint32)
        try:
            self._memory.close()
        except BufferError:   # a view of it is still alive somewhere: the mapping goes with the process
            pass
        os.close(self.map_fd)
        self.map_fd = -1


# ---------------------------------------------------------------- netlink messages
RTM_NEWRULE, RTM_DELRULE, RTM_GETROUTE, RTM_GETRULE = 32, 33, 26, 34
_FRA_PRIORITY, _FRA_FWMARK, _FRA_TABLE, _FRA_FWMASK = 6, 10, 15, 16
_FR_ACT_TO_TBL, _FR_ACT_UNREACHABLE = 1, 7
_FIB_RULE_INVERT = 0x2
_RT_TABLE_MAIN = 254


def _message(kind: int, flags: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, flags, 0, 0) + body


def _rule(kind: int, flags: int, action: int, priority: int, mark: int, table: int, invert: bool = False) -> bytes:
    header = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, action, _FIB_RULE_INVERT if invert else 0)
    attrs = (_attr(_FRA_PRIORITY, struct.pack("=I", priority)) + _attr(_FRA_FWMARK, struct.pack("=I", mark))
             + _attr(_FRA_FWMASK, struct.pack("=I", 0xFFFFFFFF)))
    if table:
        attrs += _attr(_FRA_TABLE, struct.pack("=I", table))
    return _message(kind, flags, header + attrs)


def node_messages(node: int, programs: Tuple[int, int]) -> List[bytes]:
    """Inside a new node (send through its socket, with ACKs): the node range's route through
    its programs, and the catch-all rule for marks without a neighbour."""
    def program(fd: int) -> bytes:
        return _attr(_LWT_BPF_PROG_FD, struct.pack("=I", fd)) + _attr(_LWT_BPF_PROG_NAME, b"leonet_fwd\0")
    encap = (_attr(_LWT_BPF_IN | NLA_F_NESTED, program(programs[0]))
             + _attr(_LWT_BPF_XMIT | NLA_F_NESTED, program(programs[1])))
    header = struct.pack("=BBBBBBBBI", socket.AF_INET, NETWORK.prefixlen, 0, 0, _RT_TABLE_MAIN, RTPROT_LEONET, 0,
                         RTN_UNICAST, 0)
    route = (header + _attr(RTA_DST, struct.pack(">I", int(BASE))) + _attr(RTA_OIF, struct.pack("=I", 1))
             + _attr(RTA_PREFSRC, struct.pack(">I", node_address_int(node)))
             + _attr(_RTA_ENCAP_TYPE, struct.pack("=H", _LWTUNNEL_ENCAP_BPF)) + _attr(_RTA_ENCAP | NLA_F_NESTED, encap))
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK
    return [_message(RTM_NEWROUTE, flags, route),
            _rule(RTM_NEWRULE, flags, _FR_ACT_UNREACHABLE, CATCH_ALL_PRIORITY, 0, 0, invert=True)]


def neighbour_messages(peer: int) -> List[bytes]:
    """In a node, for a new link to ``peer`` (set up by then): the rule and table that send
    packets marked for the peer out of that link."""
    table = TABLE_BASE + peer
    header = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, RTPROT_LEONET, 0, RTN_UNICAST, RTNH_F_ONLINK)
    route = header + b"".join((_attr(RTA_TABLE, struct.pack("=I", table)),
                               _attr(RTA_GATEWAY, struct.pack(">I", node_address_int(peer))),
                               _attr(RTA_OIF, struct.pack("=I", peer + IFINDEX_OFFSET))))
    return [_rule(RTM_NEWRULE, NLM_F_REQUEST | NLM_F_CREATE, _FR_ACT_TO_TBL, RULE_PRIORITY, peer + 1, table),
            _message(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, route)]


def forget_neighbour_message(peer: int) -> bytes:
    """In a node whose link to ``peer`` goes: its rule (the table's route goes with the link).
    Asks for an ACK, as the link deletions it is sent with."""
    return _rule(RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK, _FR_ACT_TO_TBL, RULE_PRIORITY, peer + 1, TABLE_BASE + peer)


# ---------------------------------------------------------------- reading back
def dump_neighbour_rules(sock: RtnlSocket) -> np.ndarray:
    """The peers ``j`` for which the socket's namespace has the rule ``fwmark j+1 lookup
    TABLE_BASE + j`` (sorted)."""
    peers = []
    body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
    for data, pos, length in _dump(sock, RTM_GETRULE, RTM_NEWRULE, body, "rule"):
        if data[pos + 23] != _FR_ACT_TO_TBL:                  # nlmsghdr (16) + fib_rule_hdr.action
            continue
        found = {}
        for atype, a, alen in _attributes(data, pos + 28, pos + length):   # + fib_rule_hdr (12)
            if alen == 8 and atype in (_FRA_FWMARK, _FRA_TABLE, _FRA_PRIORITY):
                found[atype] = struct.unpack_from("=I", data, a + 4)[0]
        mark = found.get(_FRA_FWMARK, 0)
        if found.get(_FRA_PRIORITY) == RULE_PRIORITY and mark and found.get(_FRA_TABLE) == TABLE_BASE + mark - 1:
            peers.append(mark - 1)
    return np.unique(np.array(peers, dtype=np.int64))


def has_node_route(sock: RtnlSocket) -> bool:
    """Whether the socket's namespace has the node range's BPF route in its main table."""
    body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, _RT_TABLE_MAIN, 0, 0, 0, 0)
    found = False
    for data, pos, length in _dump(sock, RTM_GETROUTE, RTM_NEWROUTE, body, "route"):
        dst_len, table = data[pos + 17], data[pos + 20]        # nlmsghdr (16) + rtmsg
        if found or dst_len != NETWORK.prefixlen or table != _RT_TABLE_MAIN:
            continue
        attrs = {t: (a, n) for t, a, n in _attributes(data, pos + 28, pos + length)}
        if _RTA_ENCAP_TYPE in attrs and RTA_DST in attrs:
            a, _ = attrs[_RTA_ENCAP_TYPE]
            dst = struct.unpack_from(">I", data, attrs[RTA_DST][0] + 4)[0]
            found = struct.unpack_from("=H", data, a + 4)[0] == _LWTUNNEL_ENCAP_BPF and dst == int(BASE)
    return found


def usable_table(fmap: ForwardingMap, node: int, sock: RtnlSocket) -> Tuple[np.ndarray, np.ndarray]:
    """A node's entries in the map as (destination, gateway) addresses, as
    :func:`.rtnl.dump_host_routes` gives kernel routes, without the entries the kernel
    cannot carry out: all of them without the node range's BPF route, else those with no rule
    for the gateway's mark or whose link to it is not up (its table's route comes and goes
    with the link). ``sock``: a netlink socket in the node's namespace."""
    dst, gw = fmap.table_of(node)
    if not has_node_route(sock):
        return dst[:0], gw[:0]
    states = dump_operstates(sock)
    peers = [p for p in dump_neighbour_rules(sock) if states.get(int(p) + IFINDEX_OFFSET) == IF_OPER_UP]
    keep = np.isin(gw.astype(np.int64) - int(BASE), np.array(peers, dtype=np.int64))
    return dst[keep], gw[keep]
