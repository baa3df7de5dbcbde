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
from .records import RecordTable

TTL_S = 300
INFO_NAME = f"info.{ZONE}"


def answer(query: bytes, names: NodeNames, info_address: str,
           records: Optional[RecordTable] = None) -> Optional[bytes]:
    """The wire-format reply to a wire-format query (None for unparseable input).
    Names no node answers to are looked up in ``records`` (published names, their own TTL)."""
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
        ttl = TTL_S
        if qname == INFO_NAME:
            addresses = [info_address]
        else:
            index = names.lookup(qname)
            record = records.get(qname) if index is None and records is not None else None
            if index is not None:
                addresses = [node_address(index)]
            elif record is not None:
                addresses, ttl = list(record.addresses), record.ttl_s
            else:
                reply.header.rcode = RCODE.NXDOMAIN
                continue
        if q.qtype in (QTYPE.A, QTYPE.ANY):
            for address in addresses:
                reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(address), ttl=ttl))
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
