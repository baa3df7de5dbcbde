"""Answers to DNS queries about nodes (UDP, A and PTR records of the ``leonet`` zone).

Names come from :class:`NodeNames`; addresses never change during a run, and a name
resolves whatever the node's state (suspended, killed, unreachable), as in Celestial.
Other names are REFUSED: nodes have no upstream resolver.
"""
from __future__ import annotations

import ipaddress
from typing import Optional

from dnslib import PTR, QTYPE, RCODE, RR, A, DNSRecord

from ..emulation.addressing import node_address, node_of_address
from .names import ZONE, NodeNames

TTL_S = 300
INFO_NAME = f"info.{ZONE}"


def answer(query: bytes, names: NodeNames, info_address: str) -> Optional[bytes]:
    """The wire-format reply to a wire-format query (None for unparseable input)."""
    try:
        request = DNSRecord.parse(query)
    except Exception:
        return None
    reply = request.reply()
    for q in request.questions:
        qname = str(q.qname).rstrip(".").lower()
        if qname.endswith(".in-addr.arpa"):
            target = _reverse(qname, names)
            if target is None:
                reply.header.rcode = RCODE.NXDOMAIN
            elif q.qtype in (QTYPE.PTR, QTYPE.ANY):
                reply.add_answer(RR(q.qname, QTYPE.PTR, rdata=PTR(target + "."), ttl=TTL_S))
            continue
        if qname != ZONE and not qname.endswith("." + ZONE):
            reply.header.rcode = RCODE.REFUSED
            continue
        if qname == INFO_NAME:
            address = info_address
        else:
            index = names.lookup(qname)
            if index is None:
                reply.header.rcode = RCODE.NXDOMAIN
                continue
            address = node_address(index)
        if q.qtype in (QTYPE.A, QTYPE.ANY):
            reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(address), ttl=TTL_S))
    return reply.pack()


def _reverse(qname: str, names: NodeNames) -> Optional[str]:
    octets = qname[:-len(".in-addr.arpa")].split(".")
    if len(octets) != 4:
        return None
    try:
        address = str(ipaddress.IPv4Address(".".join(reversed(octets))))
        index = node_of_address(address)
    except ValueError:
        return None
    return names.dns[index] if index < len(names.dns) else None
