"""The management namespace that carries the info API and DNS to every node.

``ln--info`` (a name no node can have: node host names never start with ``-``) holds
169.254.169.254 on its loopback. Each node gets its own point-to-point veth to it:

* in the node: interface ``info`` (ifindex 15, below leonet's link interfaces), a
  permanent neighbour entry for 169.254.169.254, and one route
  ``169.254.169.254/32 dev info scope link src <node address>``;
* in the management namespace: interface ``n<index>`` and one route
  ``<node address>/32 dev n<index>``.

Forwarding is off in the management namespace, so a node reaches the API and nothing
else through it; the source address of a request names the calling node. Strict
reverse-path filtering (``rp_filter=1``) accepts a packet on ``n<index>`` only from the
address whose route is that veth, i.e. node ``index``'s own: a node that puts another
node's address on its loopback and sends from it is dropped, so the answers can never
reach that other node around the emulated links. The veths are not shaped, so answers
come back without emulated delay.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from typing import List, Sequence

from ..emulation import netns as nsmod
from ..emulation.addressing import node_address_int
from ..emulation.nodes import EmulatedNode
from ..emulation.rtnl import (NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, RtnlSocket, acked_request,
                              address_message, describe_errors, link_up_message, veth_message)
from .model import INFO_ADDRESS

MGMT_NETNS = f"{nsmod.PREFIX}-info"
NODE_IFNAME = "info"
NODE_IFINDEX = 15           #: below leonet's link interfaces (16 + peer index)
MGMT_IFINDEX_OFFSET = 16
_RTM_NEWROUTE, _RTM_NEWNEIGH = 24, 28
_RTA_DST, _RTA_OIF, _RTA_PREFSRC = 1, 4, 7
_NDA_DST, _NDA_LLADDR = 1, 2
_RT_SCOPE_LINK, _RTPROT_STATIC, _RT_TABLE_MAIN = 253, 4, 254
# rp_filter: the kernel uses max(all, interface), so all=1 makes every n<index> strict
_MGMT_SYSCTLS = {"net/ipv4/ip_forward": "0", "net/ipv4/conf/all/forwarding": "0",
                 "net/ipv4/conf/all/rp_filter": "1", "net/ipv4/conf/default/rp_filter": "1",
                 "net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"}
INFO_INT = int(ipaddress.IPv4Address(INFO_ADDRESS))


def node_mac(index: int) -> str:
    return "06:" + ":".join(f"{b:02x}" for b in struct.pack(">I", index)) + ":01"


def mgmt_mac(index: int) -> str:
    return "06:" + ":".join(f"{b:02x}" for b in struct.pack(">I", index)) + ":02"


def _attr(kind: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def route_message(dst_int: int, oif: int, src_int: int = 0, seq: int = 0) -> bytes:
    """RTM_NEWROUTE ``dst/32 dev <oif> scope link [src <src>]``."""
    body = struct.pack("=BBBBBBBBI", socket.AF_INET, 32, 0, 0, _RT_TABLE_MAIN, _RTPROT_STATIC, _RT_SCOPE_LINK, 1, 0)
    body += _attr(_RTA_DST, struct.pack(">I", dst_int)) + _attr(_RTA_OIF, struct.pack("=i", oif))
    if src_int:
        body += _attr(_RTA_PREFSRC, struct.pack(">I", src_int))
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK
    return struct.pack("=IHHII", 16 + len(body), _RTM_NEWROUTE, flags, seq, 0) + body


def neighbour_message(ifindex: int, ip_int: int, mac: str, seq: int = 0) -> bytes:
    lladdr = bytes(int(x, 16) for x in mac.split(":"))
    body = struct.pack("=BxxxiHBB", socket.AF_INET, ifindex, 0x80, 0, 1)  # NUD_PERMANENT, RTN_UNICAST
    body += _attr(_NDA_DST, struct.pack(">I", ip_int)) + _attr(_NDA_LLADDR, lladdr)
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK
    return struct.pack("=IHHII", 16 + len(body), _RTM_NEWNEIGH, flags, seq, 0) + body


def _check(errors: List, what: str) -> None:
    if errors:
        raise OSError(f"{what}: {describe_errors(errors)}")


def _configure_mgmt() -> None:
    for key, value in _MGMT_SYSCTLS.items():
        try:
            with open(f"/proc/sys/{key}", "w") as fh:
                fh.write(value)
        except FileNotFoundError:
            pass
    rt = RtnlSocket()
    try:
        _check(acked_request(rt, [link_up_message(1, seq=0), address_message(1, INFO_INT, 32, seq=1)]),
               "management namespace loopback")
    finally:
        rt.close()


def _configure_node(index: int) -> None:
    rt = RtnlSocket()
    try:
        _check(acked_request(rt, [link_up_message(NODE_IFINDEX, seq=0),
                                  neighbour_message(NODE_IFINDEX, INFO_INT, mgmt_mac(index), seq=1),
                                  route_message(INFO_INT, NODE_IFINDEX, node_address_int(index), seq=2)]),
               f"info interface of node {index}")
    finally:
        rt.close()


def _configure_mgmt_links(nodes: Sequence[EmulatedNode]) -> None:
    rt = RtnlSocket()
    try:
        msgs: List[bytes] = []
        for n in nodes:
            ifindex = MGMT_IFINDEX_OFFSET + n.index
            msgs += [link_up_message(ifindex), neighbour_message(ifindex, node_address_int(n.index), node_mac(n.index)),
                     route_message(node_address_int(n.index), ifindex)]
        for start in range(0, len(msgs), 600):
            _check(acked_request(rt, msgs[start:start + 600]), "management namespace links")
    finally:
        rt.close()


def connect_nodes(nodes: Sequence[EmulatedNode], worker: nsmod.NetnsThread) -> None:
    """Create the management namespace and one veth from it to every node."""
    worker.create([MGMT_NETNS])
    worker.run(MGMT_NETNS, _configure_mgmt)
    import os
    mgmt_fd = os.open(str(nsmod.path_of(MGMT_NETNS)), os.O_RDONLY)
    root = RtnlSocket()
    try:
        for start in range(0, len(nodes), 256):
            chunk = nodes[start:start + 256]
            fds = [os.open(str(nsmod.path_of(n.netns)), os.O_RDONLY) for n in chunk]
            try:
                msgs = [veth_message(f"n{n.index}", MGMT_IFINDEX_OFFSET + n.index, mgmt_mac(n.index), mgmt_fd,
                                     NODE_IFNAME, NODE_IFINDEX, node_mac(n.index), fd, seq=k)
                        for k, (n, fd) in enumerate(zip(chunk, fds))]
                _check(acked_request(root, msgs), "creating the info veths")
            finally:
                for fd in fds:
                    os.close(fd)
    finally:
        root.close()
        os.close(mgmt_fd)
    worker.run_many([(n.netns, (lambda i=n.index: _configure_node(i))) for n in nodes])
    worker.run(MGMT_NETNS, lambda: _configure_mgmt_links(nodes))


def disconnect() -> None:
    """Remove the management namespace (its veths go with it)."""
    from ..emulation.nodes import kill_processes_in_namespaces
    kill_processes_in_namespaces([str(nsmod.path_of(MGMT_NETNS))])
    nsmod.delete(MGMT_NETNS)
