"""Kernel settings of the host and of every node namespace."""
from __future__ import annotations

import logging
import resource
from pathlib import Path
from typing import Dict

from .rtnl import RtnlSocket, acked_request, address_message, describe_errors, link_up_message

log = logging.getLogger("leonet.emulation")

#: Per-namespace sysctls (relative to /proc/sys), set inside each node's namespace.
NODE_SYSCTLS: Dict[str, str] = {
    "net/ipv4/ip_forward": "1",
    "net/ipv4/conf/all/rp_filter": "0",       # asymmetric routes are normal here
    "net/ipv4/conf/default/rp_filter": "0",
    "net/ipv4/icmp_ratelimit": "0",           # ping/traceroute replies must not be throttled
    "net/ipv4/icmp_msgs_per_sec": "100000",
    "net/ipv6/conf/all/disable_ipv6": "1",    # no IPv6 chatter (RS/DAD) on thousands of links
    "net/ipv6/conf/default/disable_ipv6": "1",
    # TCP's buffers must hold a bandwidth-delay product: 1 Gbit/s over a 220 ms path is
    # 27 MB, and the default 16 MB capped such a flow at about 420 Mbit/s (issue 18)
    "net/ipv4/tcp_rmem": "4096 131072 67108864",
    "net/ipv4/tcp_wmem": "4096 16384 67108864",
}

#: Host-wide sysctls for large emulations (the neighbour table is shared by all
#: namespaces: two entries per link). Only raised, never lowered.
HOST_SYSCTLS: Dict[str, int] = {
    "net/ipv4/neigh/default/gc_thresh1": 16384,
    "net/ipv4/neigh/default/gc_thresh2": 32768,
    "net/ipv4/neigh/default/gc_thresh3": 65536,
    "fs/inotify/max_user_instances": 8192,
    "fs/inotify/max_user_watches": 1048576,
    "net/core/rmem_max": 8388608,
}


def write_sysctl(key: str, value: str) -> None:
    Path("/proc/sys", key).write_text(value)


def tune_host() -> None:
    """Raise host limits a large emulation needs: open files (one namespace handle and
    one netlink socket per node), neighbour table, inotify (for k3s-like agents)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    for key, value in HOST_SYSCTLS.items():
        path = Path("/proc/sys", key)
        try:
            if int(path.read_text().split()[0]) < value:
                path.write_text(str(value))
        except (OSError, ValueError) as exc:
            log.warning("could not raise %s to %d: %s", key, value, exc)


def configure_node(address_int: int) -> RtnlSocket:
    """Inside a node's namespace: sysctls, loopback up with the node's /32.

    Returns a netlink socket bound to this namespace, for later route changes.
    """
    for key, value in NODE_SYSCTLS.items():
        try:
            write_sysctl(key, value)
        except FileNotFoundError:  # e.g. IPv6 compiled out
            pass
    sock = RtnlSocket()
    errors = acked_request(sock, [link_up_message(1, seq=0), address_message(1, address_int, seq=1)])
    if errors:
        raise OSError(f"configuring the loopback failed: {describe_errors(errors)}")
    return sock
