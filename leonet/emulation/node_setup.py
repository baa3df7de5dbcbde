"""Kernel settings of the host and of every node namespace."""
from __future__ import annotations

import logging
import resource
from pathlib import Path
from typing import Dict, Mapping, Optional

from .rtnl import RtnlSocket, acked_request, address_message, describe_errors, link_up_message

log = logging.getLogger("leonet.emulation")

#: Per-namespace sysctls (relative to /proc/sys), set inside each node's namespace.
NODE_SYSCTLS: Dict[str, str] = {
    "net/ipv4/ip_forward": "1",
    "net/ipv4/conf/all/rp_filter": "0",       # asymmetric routes are normal here
    "net/ipv4/conf/default/rp_filter": "0",
    "net/ipv4/icmp_ratelimit": "0",           # ping/traceroute replies must not be throttled
    "net/ipv4/icmp_msgs_per_sec": "100000",
    # re-pointing a next-hop object would otherwise re-announce every route using it (~0.7 ms per
    # object at 1,700 routes, measured); route dumps then name the object, not its gateway
    "net/ipv4/nexthop_compat_mode": "0",
    # No IPv6 chatter (RS/DAD) on thousands of links: every link is made after this, so the
    # default is enough (conf/all would also take ::1 off the loopback, at ~0.3 ms per node
    # under the RTNL lock at shell 1, measured).
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


def read_sysctl(key: str) -> Optional[str]:
    """A sysctl's value with its whitespace normalised (None: not on this kernel)."""
    try:
        return " ".join(Path("/proc/sys", key).read_text().split())
    except FileNotFoundError:
        return None


def sysctls_to_write(sysctls: Mapping[str, str] = NODE_SYSCTLS) -> Dict[str, str]:
    """Called inside a new namespace: those of ``sysctls`` it does not start with. A new
    namespace's values are the kernel's defaults or, for IPv4's conf/all and conf/default
    (ip_forward among them), copies of the host's (net.core.devconf_inherit_init_net), so
    namespaces created alike start alike and need only these writes (at shell 1 each write
    skipped saves 20-100 us per node)."""
    return {k: v for k, v in sysctls.items() if read_sysctl(k) not in (None, " ".join(v.split()))}


def configure_node(address_int: int, sysctls: Mapping[str, str] = NODE_SYSCTLS) -> RtnlSocket:
    """Inside a node's namespace: ``sysctls``, loopback up with the node's /32.

    Returns a netlink socket bound to this namespace, for later route changes.
    """
    for key, value in sysctls.items():
        try:
            write_sysctl(key, value)
        except FileNotFoundError:  # e.g. IPv6 compiled out
            pass
    sock = RtnlSocket()
    errors = acked_request(sock, [link_up_message(1, seq=0), address_message(1, address_int, seq=1)])
    if errors:
        raise OSError(f"configuring the loopback failed: {describe_errors(errors)}")
    return sock
