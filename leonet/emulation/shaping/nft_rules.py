"""The NFQUEUE rules of the nfqueue backend, installed in-process over nf_tables netlink.

Each namespace the shaper touches gets leonet's own table ``leonet`` (family ``ip``;
also ``ip6`` with ``ipv6=True``) with two base chains, ``prerouting`` and
``postrouting`` (type filter, priority -150, where iptables' mangle table sits). A link
end's rules are exactly those of :func:`.iptables_rules.split_rule_specs` /
:func:`.iptables_rules.rule_spec`, expressed natively, e.g. rule 2 of the split mode::

    oifname "l5" ip daddr 10.x.y.z meta l4proto != tcp fib saddr type local
        NFQUEUE num Q                                   comment "l5 queue Q"

``fib saddr/daddr type`` is iptables' ``addrtype`` match (both ask
``inet_dev_addr_type`` without an interface). The verdict is the ``NFQUEUE`` target
through nft's xtables compatibility expression, the same kernel code iptables-nft runs:
many kernels (this machine's included) lack the native ``queue`` expression
(CONFIG_NFT_QUEUE) but every kernel that runs iptables-nft has the target. No bypass
flag: if the daemon dies, its links drop packets instead of running without delay.

Every namespace is one netlink transaction (batch) over a NETLINK_NETFILTER socket
opened inside it: no process per namespace (one ``nsenter`` + ``iptables-restore``
each, 4 at a time, took 2.6 s of Starlink shell 1's bring-up). A rule carries its
link end as its comment; removing an end dumps the namespace's leonet rules once to
learn their handles. Crash cleanup deletes the table (:func:`cleanup_namespace_rules`),
and removes rules of the former iptables backend (comment ``leonet``) if a namespace
still has a ``mangle`` table.
"""
from __future__ import annotations

import errno
import functools
import os
import select
import socket
import struct
from typing import Dict, Iterable, List, Sequence, Tuple

from .. import netns
from ..rtnl import NLA_F_NESTED, _attr
from . import iptables_rules

TABLE = "leonet"
PREROUTING, POSTROUTING = "prerouting", "postrouting"

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
(NFT_MSG_NEWTABLE, NFT_MSG_GETTABLE, NFT_MSG_DELTABLE, NFT_MSG_NEWCHAIN, _, _,
 NFT_MSG_NEWRULE, NFT_MSG_GETRULE, NFT_MSG_DELRULE) = range(9)
NLM_F_REQUEST, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP = 0x1, 0x4, 0x800, 0x400, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NFPROTO_IPV4, NFPROTO_IPV6 = 2, 10
NF_INET_PRE_ROUTING, NF_INET_POST_ROUTING = 0, 4
PRIORITY_MANGLE = -150
_SO_SNDBUFFORCE, _SO_RCVBUFFORCE = 32, 33

NFTA_TABLE_NAME = 1
NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME, NFTA_CHAIN_HOOK, NFTA_CHAIN_TYPE = 1, 3, 4, 7
NFTA_HOOK_HOOKNUM, NFTA_HOOK_PRIORITY = 1, 2
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_HANDLE, NFTA_RULE_EXPRESSIONS, NFTA_RULE_USERDATA = 1, 2, 3, 4, 7
NFTA_LIST_ELEM, NFTA_EXPR_NAME, NFTA_EXPR_DATA = 1, 1, 2
NFT_REG_1 = 1
NFT_CMP_EQ, NFT_CMP_NEQ = 0, 1
NFT_META_IIFNAME, NFT_META_OIFNAME, NFT_META_L4PROTO = 6, 7, 16
NFT_PAYLOAD_NETWORK_HEADER = 1
NFTA_FIB_F_SADDR, NFTA_FIB_F_DADDR = 1, 2
NFT_FIB_RESULT_ADDRTYPE = 3
RTN_LOCAL = 2
NFTNL_UDATA_RULE_COMMENT = 0
#: xt_NFQ_info_v3: queuenum, queues_total, flags (no NFQ_FLAG_BYPASS), padded to 8 bytes
NFQUEUE_REVISION = 3
IFNAMSIZ = 16


# ----------------------------------------------------------------------------- encoding

def _nested(kind: int, payload: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, payload)


def _be32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack(">i", value))


def _expr(name: str, data: bytes) -> bytes:
    return _nested(NFTA_LIST_ELEM, _attr(NFTA_EXPR_NAME, name.encode() + b"\0") + _nested(NFTA_EXPR_DATA, data))


def _cmp(op: int, value: bytes) -> bytes:
    return _expr("cmp", _be32(1, NFT_REG_1) + _be32(2, op) + _nested(3, _attr(1, value)))


def _meta(key: int) -> bytes:
    return _expr("meta", _be32(1, NFT_REG_1) + _be32(2, key))


@functools.lru_cache(maxsize=None)
def _interface(key: int, ifname: str) -> bytes:
    """``iifname/oifname "ifname"``: the whole IFNAMSIZ buffer, so the match is exact."""
    name = ifname.encode()
    if len(name) >= IFNAMSIZ:
        raise ValueError(f"interface name {ifname!r} longer than {IFNAMSIZ - 1} bytes")
    return _meta(key) + _cmp(NFT_CMP_EQ, name.ljust(IFNAMSIZ, b"\0"))


@functools.lru_cache(maxsize=None)
def _peer(offset: int, ifname: str) -> bytes:
    """``ip saddr`` (offset 12) or ``ip daddr`` (16) equal to the address of the node at
    the other end of link interface ``ifname``."""
    from ..addressing import node_address_int, peer_of_interface
    load = _expr("payload", _be32(1, NFT_REG_1) + _be32(2, NFT_PAYLOAD_NETWORK_HEADER)
                 + _be32(3, offset) + _be32(4, 4))
    return load + _cmp(NFT_CMP_EQ, struct.pack(">I", node_address_int(peer_of_interface(ifname))))


@functools.lru_cache(maxsize=None)
def _addrtype_local(flag: int, local: bool) -> bytes:
    """``fib saddr/daddr type [!=] local``: iptables' ``-m addrtype [!] --src/dst-type LOCAL``."""
    fib = _expr("fib", _be32(1, NFT_REG_1) + _be32(2, NFT_FIB_RESULT_ADDRTYPE) + _be32(3, flag))
    return fib + _cmp(NFT_CMP_EQ if local else NFT_CMP_NEQ, struct.pack("=I", RTN_LOCAL))


@functools.lru_cache(maxsize=None)
def _tcp(is_tcp: bool) -> bytes:
    return _meta(NFT_META_L4PROTO) + _cmp(NFT_CMP_EQ if is_tcp else NFT_CMP_NEQ, bytes([socket.IPPROTO_TCP]))


@functools.lru_cache(maxsize=None)
def _nfqueue(queue: int) -> bytes:
    info = struct.pack("=HHHxx", queue, 1, 0)
    return _expr("target", _attr(1, b"NFQUEUE\0") + _be32(2, NFQUEUE_REVISION) + _attr(3, info))


def _comment(ifname: str, queue: int) -> str:
    return f"{ifname} queue {queue}"


def end_rules(ifname: str, queue: int, mode: str, family: int = NFPROTO_IPV4) -> List[Tuple[str, bytes]]:
    """``(chain, expressions)`` of a link end's rules; ``mode`` is
    :data:`.iptables_rules.INGRESS`, ``EGRESS`` or ``SPLIT`` (see
    :func:`.iptables_rules.split_rule_specs` for what each split rule is for)."""
    verdict = _nfqueue(queue)
    out, into = _interface(NFT_META_OIFNAME, ifname), _interface(NFT_META_IIFNAME, ifname)
    if mode == iptables_rules.SPLIT and iptables_rules.is_link_interface(ifname):
        if family != NFPROTO_IPV4:
            raise ValueError("hold_at='split' matches IPv4 peer addresses; IPv6 needs 'ingress' or 'egress'")
        src, dst = NFTA_FIB_F_SADDR, NFTA_FIB_F_DADDR
        to_peer, from_peer = _peer(16, ifname), _peer(12, ifname)
        return [(POSTROUTING, out + _addrtype_local(src, False) + verdict),
                (POSTROUTING, out + to_peer + _tcp(False) + _addrtype_local(src, True) + verdict),
                (PREROUTING, into + from_peer + _addrtype_local(dst, False) + verdict),
                (PREROUTING, into + from_peer + _tcp(True) + _addrtype_local(dst, True) + verdict)]
    if mode == iptables_rules.INGRESS:
        return [(PREROUTING, into + verdict)]
    return [(POSTROUTING, out + verdict)]  # egress; in split mode an interface without a leonet peer


_RULE_HEAD = {chain: _attr(NFTA_RULE_TABLE, TABLE.encode() + b"\0") + _attr(NFTA_RULE_CHAIN, chain.encode() + b"\0")
              for chain in (PREROUTING, POSTROUTING)}


_TABLE_AND_CHAINS = [(NFT_MSG_NEWTABLE, _attr(NFTA_TABLE_NAME, TABLE.encode() + b"\0"), f"adding table {TABLE}")] + [
    (NFT_MSG_NEWCHAIN, _attr(NFTA_CHAIN_TABLE, TABLE.encode() + b"\0") + _attr(NFTA_CHAIN_NAME, chain.encode() + b"\0")
     + _nested(NFTA_CHAIN_HOOK, _be32(NFTA_HOOK_HOOKNUM, hook) + _be32(NFTA_HOOK_PRIORITY, PRIORITY_MANGLE))
     + _attr(NFTA_CHAIN_TYPE, b"filter\0"), f"adding chain {chain}")
    for chain, hook in ((PREROUTING, NF_INET_PRE_ROUTING), (POSTROUTING, NF_INET_POST_ROUTING))]


class NftError(RuntimeError):
    """A request the kernel refused; ``errno`` is the first failing message's error."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.errno = code


class _Messages:
    """Builds the messages of one transaction (sequence numbers from 1)."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.parts: List[bytes] = []
        #: what each message does, for error messages: a string, or (comment, chain) of a rule
        self.what: List[object] = []

    def add(self, kind: int, flags: int, body: bytes, what: object) -> None:
        self.what.append(what)
        header = struct.pack("=IHHIIBBH", 20 + len(body), (NFNL_SUBSYS_NFTABLES << 8) | kind,
                             NLM_F_REQUEST | flags, len(self.what), 0, self.family, 0, 0)
        self.parts.append(header + body)

    def describe(self, seq: int) -> str:
        if not 1 <= seq <= len(self.what):
            return "batch"
        what = self.what[seq - 1]
        return what if isinstance(what, str) else "adding rule {} in {}".format(*what)

    def table_and_chains(self) -> None:
        """Create leonet's table and base chains unless they exist (idempotent)."""
        for kind, body, what in _TABLE_AND_CHAINS:
            self.add(kind, NLM_F_CREATE, body, what)

    def end(self, ifname: str, queue: int, mode: str) -> None:
        """Append the rules of one link end (built from cached pieces: a shell has
        tens of thousands of rules)."""
        comment = _comment(ifname, queue)
        udata = _attr(NFTA_RULE_USERDATA, struct.pack("=BB", NFTNL_UDATA_RULE_COMMENT, len(comment) + 1)
                      + comment.encode() + b"\0")
        for chain, expressions in end_rules(ifname, queue, mode, self.family):
            body = _RULE_HEAD[chain] + struct.pack("=HH", 4 + len(expressions), NFTA_RULE_EXPRESSIONS | NLA_F_NESTED)
            self.add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, body + expressions + udata, (comment, chain))

    def delete_rule(self, chain: str, handle: int, comment: str) -> None:
        body = (_attr(NFTA_RULE_TABLE, TABLE.encode() + b"\0") + _attr(NFTA_RULE_CHAIN, chain.encode() + b"\0")
                + _attr(NFTA_RULE_HANDLE, struct.pack(">Q", handle)))
        self.add(NFT_MSG_DELRULE, 0, body, f"deleting rule {comment} in {chain}")

    def delete_table(self) -> None:
        self.add(NFT_MSG_DELTABLE, 0, _attr(NFTA_TABLE_NAME, TABLE.encode() + b"\0"), f"deleting table {TABLE}")


def _batch(messages: _Messages) -> bytes:
    """The messages between BATCH_BEGIN and BATCH_END; only the last asks for an ACK
    (the kernel reports every failing message anyway and keeps going to the end)."""
    parts = list(messages.parts)
    last = bytearray(parts[-1])
    struct.pack_into("=H", last, 6, struct.unpack_from("=H", last, 6)[0] | NLM_F_ACK)
    parts[-1] = bytes(last)
    begin = struct.pack("=IHHIIBBH", 20, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, 0, 0, 0,
                        socket.htons(NFNL_SUBSYS_NFTABLES))
    end = struct.pack("=IHHIIBBH", 20, NFNL_MSG_BATCH_END, NLM_F_REQUEST, len(parts) + 1, 0, 0, 0,
                      socket.htons(NFNL_SUBSYS_NFTABLES))
    return b"".join([begin, *parts, end])


# ----------------------------------------------------------------------------- sockets

class NftSocket:
    """A NETLINK_NETFILTER socket in namespace ``ns`` (opened inside it; the calling
    thread returns to its own namespace at once)."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        with netns.entered(ns):
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        for opt, fallback in ((_SO_SNDBUFFORCE, socket.SO_SNDBUF), (_SO_RCVBUFFORCE, socket.SO_RCVBUF)):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
            except OSError:
                self.sock.setsockopt(socket.SOL_SOCKET, fallback, 4 << 20)
        self.sock.bind((0, 0))
        #: families whose leonet table this socket created or saw (no need to send it again)
        self.tables_made: set = set()

    def __enter__(self) -> "NftSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def _messages(self, timeout_s: float = 10.0):
        poller = select.poll()  # not select: a large run has far more than 1,024 descriptors
        poller.register(self.sock, select.POLLIN)
        while True:
            if not poller.poll(timeout_s * 1000):
                raise TimeoutError(f"nftables in {self.ns}: no answer from the kernel within {timeout_s:.0f} s")
            data = self.sock.recv(1 << 20)
            pos = 0
            while pos + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, pos)
                if length < 16:
                    break
                yield kind, seq, data[pos:pos + length]
                pos += (length + 3) & ~3

    def transact(self, messages: _Messages) -> None:
        """Run the messages as one transaction; raise naming the namespace, the first
        failing message and the kernel's error."""
        if not messages.parts:
            return
        self.sock.send(_batch(messages))
        last = len(messages.parts)
        errors: List[Tuple[int, int]] = []
        for kind, seq, msg in self._messages():
            if kind != NLMSG_ERROR:
                continue
            code = -struct.unpack_from("=i", msg, 16)[0]
            if code:
                errors.append((seq, code))
            if seq in (last, 0):  # the ACK of the last message, or an error about the whole batch
                break
        if errors:
            seq, code = min(errors)
            what = messages.describe(seq)
            raise NftError(f"nftables in {self.ns}: {what}: {errno.errorcode.get(code, code)} ({os.strerror(code)})"
                           + (f" and {len(errors) - 1} more errors" if len(errors) > 1 else ""), code)

    def dump(self, kind: int, family: int, body: bytes = b"") -> List[bytes]:
        """The messages of a GET dump (none if the kernel answers ENOENT: no such table)."""
        header = struct.pack("=IHHIIBBH", 20 + len(body), (NFNL_SUBSYS_NFTABLES << 8) | kind,
                             NLM_F_REQUEST | NLM_F_DUMP, 0x7E57, 0, family, 0, 0)
        self.sock.send(header + body)
        out = []
        for msg_kind, _, msg in self._messages():
            if msg_kind == NLMSG_DONE:
                return out
            if msg_kind == NLMSG_ERROR:
                code = -struct.unpack_from("=i", msg, 16)[0]
                if code in (0, errno.ENOENT):
                    return out
                raise NftError(f"nftables in {self.ns}: listing: {errno.errorcode.get(code, code)} "
                               f"({os.strerror(code)})", code)
            out.append(msg)

    def rules(self, family: int = socket.AF_UNSPEC) -> List[Tuple[int, str, int, str]]:
        """``(family, chain, handle, comment)`` of every rule in leonet's tables (of one
        family, or of all). The kernel filters a dump by table name only within one
        family (with AF_UNSPEC it stops after the first table of that name), so a dump of
        all families reads every table's rules and filters here."""
        found = []
        ask = _attr(NFTA_RULE_TABLE, TABLE.encode() + b"\0") if family != socket.AF_UNSPEC else b""
        for msg in self.dump(NFT_MSG_GETRULE, family, ask):
            attrs = _parse(msg)
            if attrs.get(NFTA_RULE_TABLE, b"").rstrip(b"\0").decode() != TABLE:
                continue
            udata = attrs.get(NFTA_RULE_USERDATA, b"")
            comment = udata[2:2 + udata[1]].rstrip(b"\0").decode() if len(udata) >= 2 else ""
            found.append((msg[16], attrs[NFTA_RULE_CHAIN].rstrip(b"\0").decode(),
                          struct.unpack(">Q", attrs[NFTA_RULE_HANDLE])[0], comment))
        return found

    def tables(self) -> List[Tuple[int, str]]:
        """``(family, name)`` of every nf_tables table in the namespace."""
        return [(msg[16], _parse(msg)[NFTA_TABLE_NAME].rstrip(b"\0").decode())
                for msg in self.dump(NFT_MSG_GETTABLE, socket.AF_UNSPEC)]


def _parse(msg: bytes) -> Dict[int, bytes]:
    """Top-level attributes of an nf_tables message (after nlmsghdr and nfgenmsg)."""
    attrs, pos = {}, 20
    while pos + 4 <= len(msg):
        length, kind = struct.unpack_from("=HH", msg, pos)
        if length < 4:
            break
        attrs[kind & 0x3FFF] = msg[pos + 4:pos + length]
        pos += (length + 3) & ~3
    return attrs


# ----------------------------------------------------------------------------- the API

class NftRules:
    """Installs and removes link ends' rules, one transaction per namespace, over
    netlink sockets it keeps per namespace: closing a socket right after a commit
    waits for the kernel to free the transaction (an RCU grace period, ~10 ms here),
    which would cost more than the rules themselves. A socket keeps its namespace
    alive, so :meth:`forget` the namespaces before deleting them; a namespace
    re-created under the same name is noticed (by its inode) and gets a new socket.
    Not thread-safe: the shaper serialises calls."""

    def __init__(self, mode: str = iptables_rules.SPLIT, ipv6: bool = False) -> None:
        if mode not in (iptables_rules.INGRESS, iptables_rules.EGRESS, iptables_rules.SPLIT):
            raise ValueError(f"unknown rule mode {mode!r}")
        if ipv6 and mode == iptables_rules.SPLIT:
            raise ValueError("hold_at='split' matches IPv4 peer addresses; with ipv6=True use 'ingress' or 'egress'")
        self.mode = mode
        self.families = [NFPROTO_IPV4] + ([NFPROTO_IPV6] if ipv6 else [])
        self._sockets: Dict[str, Tuple[Tuple[int, int], NftSocket]] = {}

    def _socket(self, ns: str) -> NftSocket:
        st = os.stat(netns.path_of(ns))
        cached = self._sockets.get(ns)
        if cached is not None:
            if cached[0] == (st.st_dev, st.st_ino):
                return cached[1]
            cached[1].close()
        sock = NftSocket(ns)
        self._sockets[ns] = ((st.st_dev, st.st_ino), sock)
        return sock

    def apply(self, changes: Dict[str, Tuple[List[Tuple[str, int]], List[Tuple[str, int]]]]) -> None:
        """For each namespace ``ns: (add, delete)`` with lists of ``(ifname, queue)``,
        delete then add those ends' rules in one transaction per namespace (and family)."""
        for ns, (add, delete) in changes.items():
            if add or delete:
                self._apply_in(ns, add, delete)

    def _apply_in(self, ns: str, add: Sequence[Tuple[str, int]], delete: Sequence[Tuple[str, int]]) -> None:
        sock = self._socket(ns)
        handles: Dict[Tuple[int, str], List[Tuple[str, int]]] = {}
        if delete:
            for family in self.families:
                for _, rule_chain, handle, comment in sock.rules(family):
                    handles.setdefault((family, comment), []).append((rule_chain, handle))
        for family in self.families:
            try:
                sock.transact(self._messages(ns, family, add, delete, handles, family not in sock.tables_made))
            except NftError as exc:
                if exc.errno != errno.ENOENT or family not in sock.tables_made:
                    raise
                # the table went behind our back (e.g. a crash cleanup): create it again
                sock.transact(self._messages(ns, family, add, delete, handles, True))
            if add:
                sock.tables_made.add(family)

    def _messages(self, ns: str, family: int, add: Sequence[Tuple[str, int]], delete: Sequence[Tuple[str, int]],
                  handles: Dict[Tuple[int, str], List[Tuple[str, int]]], with_table: bool) -> _Messages:
        messages = _Messages(family)
        for ifname, queue in delete:
            comment = _comment(ifname, queue)
            found = handles.get((family, comment))
            if not found:
                raise RuntimeError(f"nftables in {ns}: no leonet rule for {comment} to delete")
            for rule_chain, handle in found:
                messages.delete_rule(rule_chain, handle, comment)
        if add:
            if with_table:
                messages.table_and_chains()
            for ifname, queue in add:
                messages.end(ifname, queue, self.mode)
        return messages

    def delete_tables(self, names: Iterable[str]) -> None:
        """Delete leonet's tables (every rule) in those of ``names`` that have them."""
        for ns in names:
            sock = self._socket(ns)
            present = {family for family, name in sock.tables() if name == TABLE}
            for family in self.families:
                if family in present:
                    messages = _Messages(family)
                    messages.delete_table()
                    sock.transact(messages)
            sock.tables_made.clear()

    def forget(self, names: Iterable[str]) -> None:
        """Close the sockets of namespaces about to be deleted."""
        for ns in names:
            cached = self._sockets.pop(ns, None)
            if cached is not None:
                cached[1].close()

    def close(self) -> None:
        self.forget(list(self._sockets))


_FAMILY_NAMES = {NFPROTO_IPV4: "ip", NFPROTO_IPV6: "ip6"}


def list_rules(ns: str, ipv6: bool = False) -> List[str]:
    """leonet's rules in a namespace, one line each: ``family chain comment`` (the
    comment names the link end and its queue), e.g. ``ip postrouting l5 queue 3``."""
    del ipv6  # both families are listed
    with NftSocket(ns) as sock:
        return [f"{_FAMILY_NAMES.get(f, f)} {chain} {comment}" for f, chain, _, comment in sock.rules()]


def cleanup_namespace_rules(ns: str) -> int:
    """Remove leonet's NFQUEUE rules from namespace ``ns`` (its ``leonet`` tables, and
    rules the former iptables backend left), e.g. after the emulator was killed.
    Returns how many rules were removed."""
    with NftSocket(ns) as sock:
        tables = sock.tables()
        removed = 0
        leonet_tables = {family for family, name in tables if name == TABLE}
        if leonet_tables:
            removed = len(sock.rules())
            for family in sorted(leonet_tables):
                messages = _Messages(family)
                messages.delete_table()
                sock.transact(messages)
    # The iptables backend's rules (iptables-nft: a `mangle` table; legacy: ip_tables_names)
    if any(name == iptables_rules.TABLE for _, name in tables) or _legacy_mangle(ns):
        removed += iptables_rules.cleanup_namespace_rules(ns)
    return removed


def _legacy_mangle(ns: str) -> bool:
    with netns.entered(ns):
        for path in ("/proc/thread-self/net/ip_tables_names", "/proc/thread-self/net/ip6_tables_names"):
            try:
                with open(path) as fh:
                    if iptables_rules.TABLE in fh.read().split():
                        return True
            except OSError:
                pass
    return False

