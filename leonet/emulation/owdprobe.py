"""One-way delay, per direction and per hop, through the emulated network.

A round trip cannot say which direction was late, nor on which link. This probe sends
UDP packets stamped with their send time (a small scapy layer, :class:`LeoStamp`) from
node A to node B and from B to A, and captures each packet as it *arrives* at every
node on the engine's path (an ``AF_PACKET`` socket on the node's ingress interface, in
the node's namespace, with the kernel's receive timestamp). All namespaces share the
host's clock, so ``arrival - sent`` is the one-way delay from the source to that hop;
it is compared with the sum of the engine's link delays up to that hop.

The packets are crafted with scapy and leave the source through a raw socket with a
documentation-range source address (:data:`PROBE_SOURCE`), so every delay backend
treats them like traffic passing through: the nfqueue backend holds a node's *own*
packets at the next node's ingress (docs/shaping.md, "split"), where an ingress tap
would see them before their delay; passing traffic is held before it leaves, as netem
holds everything. The one-way delay is the same either way: each link's once.

The legs are planned on the engine's path at the tick in force when the probe starts;
a packet that misses a hop (a route changed meanwhile) is reported as not seen there.
"""
from __future__ import annotations

import os
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scapy.fields import ByteEnumField, IntField, LongField, XIntField
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, bind_layers, raw

from ..topology import Snapshot
from . import netns as nsmod
from .addressing import interface_name

#: UDP port of the probe packets (both directions)
PORT = 47474
#: source address of the probe packets (TEST-NET-1: never a node's)
PROBE_SOURCE = "192.0.2.1"
_MAGIC = 0x4C454F31  # "LEO1"
_SO_TIMESTAMPNS = 35
_ETH_P_IP = 0x0800
DIRECTIONS = {0: "forward", 1: "reverse"}


class LeoStamp(Packet):
    """The probe's payload: which probe, which packet, which direction, and when it left."""

    name = "LeoStamp"
    # "way", not "direction": scapy packets have an attribute of that name
    fields_desc = [XIntField("magic", _MAGIC), IntField("probe", 0), IntField("seq", 0),
                   ByteEnumField("way", 0, DIRECTIONS), LongField("sent_ns", 0)]


bind_layers(UDP, LeoStamp, dport=PORT)


@dataclass(frozen=True)
class Leg:
    """One direction: the engine's path and what each hop should see."""

    direction: str
    hops: Tuple[str, ...]                     #: node names, source first
    netns: Tuple[str, ...]                    #: each hop's namespace
    ingress: Tuple[str, ...]                  #: each hop's interface from the previous hop ("" at the source)
    expected_ms: Tuple[float, ...]            #: engine delay from the source to each hop (0 at the source)
    source_address: str
    target_address: str


@dataclass(frozen=True)
class LegResult:
    """What the packets of one leg measured: per packet, the delay from the source to
    each hop (``None``: the packet was not seen there)."""

    leg: Leg
    sent: int
    arrivals_ms: Tuple[Tuple[Optional[float], ...], ...]   #: [packet][hop]

    def at_hop(self, k: int) -> np.ndarray:
        """Measured delays from the source to hop ``k`` of the packets seen there (ms)."""
        return np.array([row[k] for row in self.arrivals_ms if row[k] is not None], dtype=float)

    @property
    def one_way_ms(self) -> np.ndarray:
        return self.at_hop(len(self.leg.hops) - 1)

    @property
    def received(self) -> int:
        return len(self.one_way_ms)

    def hop_rows(self) -> List[Dict[str, object]]:
        """Per hop: node, expected and measured (median) delay from the source, the
        error, and the same for the link into the hop."""
        rows = []
        prev_expected, prev_measured = 0.0, 0.0
        for k in range(1, len(self.leg.hops)):
            seen = self.at_hop(k)
            measured = float(np.median(seen)) if len(seen) else None
            expected = self.leg.expected_ms[k]
            rows.append({"direction": self.leg.direction, "hop": k, "node": self.leg.hops[k],
                         "seen": len(seen), "expected_ms": expected, "measured_ms": measured,
                         "error_ms": None if measured is None else measured - expected,
                         "link_expected_ms": expected - prev_expected,
                         "link_measured_ms": None if measured is None else measured - prev_measured})
            prev_expected = expected
            prev_measured = measured if measured is not None else prev_measured
        return rows


def plan_legs(snapshot: Snapshot, a: str, b: str, netns_of: Mapping[str, str],
              address_of: Mapping[str, str]) -> List[Leg]:
    """The forward (a to b) and reverse (b to a) legs on the engine's least-delay paths.
    Raises ValueError when there is no path."""
    delay = {(int(u), int(v)): float(d) for u, v, d in zip(snapshot.links.a, snapshot.links.b,
                                                         snapshot.links.delay_ms)}
    legs = []
    for direction, (src, dst) in (("forward", (a, b)), ("reverse", (b, a))):
        path = snapshot.path(src, dst)
        if not path.reachable:
            raise ValueError(f"no path from {src} to {dst} at {snapshot.time:%Y-%m-%dT%H:%M:%SZ}")
        idx = path.node_indices
        cumulative = [0.0]
        for u, v in zip(idx, idx[1:]):
            cumulative.append(cumulative[-1] + delay[(min(u, v), max(u, v))])
        legs.append(Leg(direction, tuple(path.hops), tuple(netns_of[h] for h in path.hops),
                        ("",) + tuple(interface_name(int(u)) for u in idx[:-1]), tuple(cumulative),
                        address_of[src], address_of[dst]))
    return legs


class OneWayProbe:
    """Sends ``count`` stamped packets each way, ``interval_s`` apart, and captures them
    at every hop of each leg."""

    def __init__(self, legs: Sequence[Leg], count: int = 20, interval_s: float = 0.05):
        self.legs = list(legs)
        self.count = count
        self.interval_s = interval_s
        self.probe_id = (os.getpid() << 8 ^ int(time.time() * 1000)) & 0x7FFFFFFF
        self._arrivals: Dict[Tuple[int, int, int], int] = {}     # (direction, seq, hop) -> ns
        self._sent: Dict[Tuple[int, int], int] = {}               # (direction, seq) -> ns
        self._stop = threading.Event()

    # ------------------------------------------------------------------ sockets
    @staticmethod
    def _in(netns: str, make):
        """Run ``make()`` with this thread in ``netns`` (sockets stay bound to it)."""
        out: List[object] = []
        errors: List[BaseException] = []

        def worker() -> None:
            try:
                with nsmod.entered(netns):
                    out.append(make())
            except BaseException as exc:  # re-raised in the caller
                errors.append(exc)
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        if errors:
            raise errors[0]
        return out[0]

    def _capture_socket(self, netns: str, ifname: str) -> socket.socket:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_IP))
            s.bind((ifname, _ETH_P_IP))
            s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            s.setblocking(False)
            return s
        return self._in(netns, make)

    def _raw_socket(self, netns: str) -> socket.socket:
        return self._in(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))

    def _udp_socket(self, netns: str, address: str, port: int) -> socket.socket:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((address, port))
            s.setblocking(False)
            return s
        return self._in(netns, make)

    # ------------------------------------------------------------------ run
    def run(self) -> List[LegResult]:
        sel = selectors.DefaultSelector()
        sockets: List[socket.socket] = []
        senders: List[socket.socket] = []
        try:
            for d, leg in enumerate(self.legs):
                for k in range(1, len(leg.hops)):
                    s = self._capture_socket(leg.netns[k], leg.ingress[k])
                    sockets.append(s)
                    sel.register(s, selectors.EVENT_READ, (d, k))
                sink = self._udp_socket(leg.netns[-1], leg.target_address, PORT)   # swallows the packets
                sockets.append(sink)
                sel.register(sink, selectors.EVENT_READ, None)
                senders.append(self._raw_socket(leg.netns[0]))
            reader = threading.Thread(target=self._read, args=(sel,), name="leonet-owd", daemon=True)
            reader.start()
            for seq in range(self.count):
                for d, leg in enumerate(self.legs):
                    # crafted first, then stamped (the stamp is the last 8 bytes; no UDP checksum)
                    packet = bytearray(raw(IP(src=PROBE_SOURCE, dst=leg.target_address, id=(seq * 2 + d) & 0xFFFF)
                                           / UDP(sport=PORT, dport=PORT, chksum=0)
                                           / LeoStamp(probe=self.probe_id, seq=seq, way=d)))
                    sent = time.time_ns()
                    packet[-8:] = sent.to_bytes(8, "big")
                    senders[d].sendto(packet, (leg.target_address, 0))
                    self._sent[(d, seq)] = sent
                time.sleep(self.interval_s)
            time.sleep(min(5.0, 1.0 + 2 * max(leg.expected_ms[-1] for leg in self.legs) / 1000.0))
            self._stop.set()
            reader.join()
        finally:
            for s in sockets + senders:
                s.close()
            sel.close()
        return [self._result(d, leg) for d, leg in enumerate(self.legs)]

    def _read(self, sel: selectors.BaseSelector) -> None:
        anc = socket.CMSG_SPACE(16)
        while not self._stop.is_set():
            for key, _ in sel.select(timeout=0.05):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                while True:
                    try:
                        data, ancdata, _, _ = sock.recvmsg(2048, anc)
                    except BlockingIOError:
                        break
                    if key.data is None:
                        continue  # the sink: only there so the target does not answer "port unreachable"
                    stamp = _kernel_ns(ancdata)
                    self._record(key.data[1], data, stamp)

    def _record(self, hop: int, frame: bytes, arrived_ns: Optional[int]) -> None:
        pkt = Ether(frame)
        if not pkt.haslayer(LeoStamp) or pkt.haslayer(ICMP):  # ICMP errors quote probe headers
            return
        stamp = pkt[LeoStamp]
        if (stamp.magic != _MAGIC or stamp.probe != self.probe_id or arrived_ns is None
                or stamp.sent_ns is None):
            return
        self._arrivals.setdefault((int(stamp.way), int(stamp.seq), hop), arrived_ns)

    def _result(self, d: int, leg: Leg) -> LegResult:
        rows = []
        for seq in range(self.count):
            sent = self._sent.get((d, seq))
            row: List[Optional[float]] = [0.0]
            for k in range(1, len(leg.hops)):
                t = self._arrivals.get((d, seq, k))
                row.append(None if t is None or sent is None else (t - sent) / 1e6)
            rows.append(tuple(row))
        return LegResult(leg, self.count, tuple(rows))


def _kernel_ns(ancdata) -> Optional[int]:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec * 1_000_000_000 + nsec
    return None


def probe_run(run, a: str, b: str, count: int = 20, interval_s: float = 0.05) -> List[LegResult]:
    """Probe between two nodes of a run started in this process (an ``EmulationRun``)."""
    network = run.network
    netns_of = {n.name: n.netns for n in network.nodes}
    address_of = {n.name: n.address for n in network.nodes}
    legs = plan_legs(network.snapshot, network.node(a).name, network.node(b).name, netns_of, address_of)
    return OneWayProbe(legs, count, interval_s).run()


def probe_active_run(a: str, b: str, count: int = 20, interval_s: float = 0.05) -> List[LegResult]:
    """Probe between two nodes of the active run (from any process on the machine)."""
    from .active import active_run
    run = active_run()
    netns_of = {n["name"]: n["netns"] for n in run.nodes}
    address_of = {n["name"]: n["address"] for n in run.nodes}
    legs = plan_legs(run.snapshot, run.node(a)["name"], run.node(b)["name"], netns_of, address_of)
    return OneWayProbe(legs, count, interval_s).run()
