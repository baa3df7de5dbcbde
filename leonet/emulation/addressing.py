"""The address plan: deterministic, documented, and independent of the topology.

* Every node has one IPv4 address, a /32 on its loopback: node ``i`` (satellites first,
  then ground stations, as in :class:`leonet.topology.Nodes`) is ``10.64.0.0 + i``
  (room for 4,194,304 nodes in 10.64.0.0/10).
* Links are *unnumbered*: the veth ends carry no address. Routes name the next hop by
  its loopback address with ``onlink``, and static neighbour entries give its MAC, so
  no ARP is needed and a GSL can be rewired without renumbering anything. Replies to
  traceroute come from the loopback address, so they name the node.
* The interface of node ``i`` towards node ``j`` is ``l<j>`` (short: IFNAMSIZ is 15),
  with MAC ``02:ii:ii:jj:jj:jj`` (locally administered, from the two indices).
"""
from __future__ import annotations

import ipaddress
import re
from typing import Tuple

BASE = ipaddress.IPv4Address("10.64.0.0")
NETWORK = ipaddress.IPv4Network("10.64.0.0/10")
MAX_NODES = NETWORK.num_addresses
_MAC_NODE_LIMIT = 1 << 16  # 2 bytes for the local node, 3 for the peer
#: Interface index of node i's interface towards node j is j + IFINDEX_OFFSET, so a
#: route's output interface follows from its next hop without any look-up.
IFINDEX_OFFSET = 16


def node_address(index: int) -> str:
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"node index {index} outside the address plan (max {MAX_NODES - 1})")
    return str(BASE + index)


def node_address_int(index: int) -> int:
    """The node's address as a host-order integer (for bulk netlink messages)."""
    return int(BASE) + index


def node_of_address(address: str) -> int:
    index = int(ipaddress.IPv4Address(address)) - int(BASE)
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"{address} is not a leonet node address")
    return index


def interface_name(peer: int) -> str:
    """Name of the interface towards node ``peer``."""
    return f"l{peer}"


def peer_of_interface(ifname: str) -> int:
    m = re.fullmatch(r"l(\d+)", ifname)
    if not m:
        raise ValueError(f"{ifname} is not a leonet link interface")
    return int(m.group(1))


def interface_mac(local: int, peer: int) -> str:
    """MAC of node ``local``'s interface towards ``peer``."""
    if local >= _MAC_NODE_LIMIT or peer >= 1 << 24:
        # Fall back to a hash-free but still unique-per-namespace layout for huge runs.
        local %= _MAC_NODE_LIMIT
    b = [0x02, (local >> 8) & 0xFF, local & 0xFF, (peer >> 16) & 0xFF, (peer >> 8) & 0xFF, peer & 0xFF]
    return ":".join(f"{x:02x}" for x in b)


_HOST_RE = re.compile(r"[^A-Za-z0-9_.-]+")


def host_name(name: str, taken: set) -> str:
    """A Mininet- and shell-safe host name for a node name (ASCII, no spaces), unique."""
    import unicodedata
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = _HOST_RE.sub("-", ascii_name).strip("-") or "node"
    candidate, k = base, 2
    while candidate in taken:
        candidate, k = f"{base}-{k}", k + 1
    taken.add(candidate)
    return candidate


def netns_name(host: str, prefix: str) -> str:
    return f"{prefix}{host}"


def pair(a: int, b: int) -> Tuple[int, int]:
    return (a, b) if a < b else (b, a)
