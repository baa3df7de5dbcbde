"""Which packets the nfqueue backend's NFQUEUE rules take, written as iptables rules;
and the crash cleanup of the former iptables backend.

The rules themselves are installed natively over nf_tables netlink by
:mod:`.nft_rules`; :func:`rule_spec` and :func:`split_rule_specs` are their reference
in iptables terms (a test decodes the native rules and compares them term by term).
Until the native rules, every rule sat in the mangle table with the comment
:data:`COMMENT`, installed by one ``nsenter`` + ``iptables-restore`` per namespace:

    -A PREROUTING -i IF -m comment --comment leonet -j NFQUEUE --queue-num N   (ingress)
    -A POSTROUTING -o IF -m comment --comment leonet -j NFQUEUE --queue-num N  (egress)

:func:`cleanup_namespace_rules` still removes such rules, should a namespace have
kept them. No ``--queue-bypass``: if the daemon dies, its links drop packets instead
of silently running without delay.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from typing import List

from .. import netns

COMMENT = "leonet"
INGRESS, EGRESS = "PREROUTING", "POSTROUTING"
#: hold forwarded packets at egress, and a node's own packets at the next node's ingress
SPLIT = "split"
CHAINS = (INGRESS, EGRESS)
TABLE = "mangle"


def rule_spec(ifname: str, queue: int, chain: str = INGRESS) -> str:
    match = "-i" if chain == INGRESS else "-o"
    return f"{chain} {match} {ifname} -m comment --comment {COMMENT} -j NFQUEUE --queue-num {queue}"


def split_rule_specs(ifname: str, queue: int) -> List[str]:
    """The four rules of the ``split`` mode for the link end ``ifname`` (towards peer P):

    1. forwarded packets leaving towards P wait here (egress);
    2. this node's own non-TCP packets *for P itself* wait here too (egress), so that
       P's receive timestamps (ping, SO_TIMESTAMP probes) include the link's delay;
    3. P's own packets that only pass through this node wait here, on arrival
       (ingress): held after they left P's namespace, they no longer count against
       the sending socket, so TCP small queues do not throttle P's TCP senders;
    4. P's own TCP packets *for this node* wait here on arrival too, for the same
       reason: held at P's egress, a bulk TCP transfer to a direct neighbour was
       throttled to a few Mbit/s by TCP small queues (about 1 ms of data may sit
       below the socket). TCP takes its own timestamps above the hold, so its RTT
       (and an application's) still includes the link's delay.

    Every packet crosses a link's delay exactly once.
    """
    from ..addressing import node_address, peer_of_interface
    peer = node_address(peer_of_interface(ifname))
    tail = f"-m comment --comment {COMMENT} -j NFQUEUE --queue-num {queue}"
    return [f"{EGRESS} -o {ifname} -m addrtype ! --src-type LOCAL {tail}",
            f"{EGRESS} -o {ifname} -d {peer}/32 ! -p tcp -m addrtype --src-type LOCAL {tail}",
            f"{INGRESS} -i {ifname} -s {peer}/32 -m addrtype ! --dst-type LOCAL {tail}",
            f"{INGRESS} -i {ifname} -s {peer}/32 -p tcp -m addrtype --dst-type LOCAL {tail}"]


def is_link_interface(ifname: str) -> bool:
    """Whether ``ifname`` is a leonet link's end (``l<peer>``), whose peer address is known."""
    return re.fullmatch(r"l\d+", ifname) is not None


def rule_specs(ifname: str, queue: int, chain: str) -> List[str]:
    """The rules of one link end in mode ``chain`` (:data:`INGRESS`, :data:`EGRESS` or :data:`SPLIT`)."""
    if chain == SPLIT:
        if is_link_interface(ifname):
            return split_rule_specs(ifname, queue)
        chain = EGRESS  # not a leonet link (e.g. a calibration network): no peer address to split on
    return [rule_spec(ifname, queue, chain)]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"`{name}` not found; scripts/install.sh installs iptables")
    return path


def _run_in(ns: str, argv: List[str], stdin: str = "") -> subprocess.CompletedProcess:
    cmd = [_tool("nsenter"), f"--net={netns.path_of(ns)}", *argv]
    return subprocess.run(cmd, input=stdin, text=True, capture_output=True)


def cleanup_namespace_rules(ns: str) -> int:
    """Remove every leonet NFQUEUE rule from namespace ``ns`` (IPv4 and IPv6), e.g.
    after the emulator was killed. Returns how many rules were removed."""
    removed = 0
    for tool, restore in (("iptables", "iptables-restore"), ("ip6tables", "ip6tables-restore")):
        if shutil.which(tool) is None:
            continue
        res = _run_in(ns, [_tool(tool), "-w", "-t", TABLE, "-S"])
        if res.returncode != 0:
            continue
        mine = [line for line in res.stdout.splitlines()
                if line.startswith("-A ") and f"--comment {COMMENT}" in line]
        if mine:
            script = f"*{TABLE}\n" + "".join("-D" + line[2:] + "\n" for line in mine) + "COMMIT\n"
            res = _run_in(ns, [_tool(restore), "--noflush", "-w"], script)
            if res.returncode != 0:
                raise RuntimeError(f"{restore} in {ns} failed: {res.stderr.strip()}")
            removed += len(mine)
    return removed
