"""Continuous one-way delay validation, per direction, against the engine.

A round trip hides which direction was late. :class:`OneWayDelayProbe` sends small
UDP datagrams from node A to node B *and* from B to A every ``interval_s`` during a
live run. All namespaces share the host's clock, so the one-way delay is the receive
time minus the send time, both taken by the kernel: the send time is the datagram's
software transmit timestamp (``SO_TIMESTAMPING``, ``SCM_TSTAMP_SND``: when the veth
takes it, after the sender's own stack), the receive time the receiver's
``SO_TIMESTAMPNS`` (when the destination's veth hands it over, before the receiver
waits for CPU). No Python thread scheduling sits between either stamp and the wire;
where the kernel gives no transmit stamp, the time taken just before ``sendto`` is
used and the sample says so (``kernel_stamped``).

Each sample is compared with the delay the engine expects for *that direction* at the
tick in force when it was sent: the sum of the engine's link delays along the path the
kernel forwards it on (the installed next hops walked from the source; with
hop-by-hop forwarding and route hysteresis the two directions may take different
paths). ``installed_ms`` is the same path with the delays the backend was given
(a link is re-shaped only when its delay moved by more than
``emulation.delay_update_threshold_ms``), which splits the error into the update
threshold's part (``installed - expected``) and the backend's (``measured - installed``).

A sample whose flight overlaps the *apply* of a tick that changed its direction's
expected delay by more than ``straddle_tolerance_ms`` (or its reachability) is marked
``straddles`` and left out, as :class:`~leonet.emulation.validation.RttProbe` leaves
out round trips that span a route change. The apply window counts, not only its end:
routes and delays change while a tick is applied, so a datagram sent in it may already
take the new path.
"""
from __future__ import annotations

import bisect
import csv
import itertools
import os
import select
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .controller import TickInfo
from .validation import MeasuredAgainstExpected, TickProbe

#: payload: magic, probe id, direction index, sequence number, user-space send time (ns)
_PAYLOAD = struct.Struct("!IIHIQ")
_MAGIC = 0x4C454F57  # "LEOW"
_SO_TIMESTAMPNS = 35
_SO_TIMESTAMPING = 37
_SOF_TX_SOFTWARE = 1 << 1
_SOF_SOFTWARE = 1 << 4
_SOF_OPT_ID = 1 << 7
_SOF_OPT_TSONLY = 1 << 11
_SCM_TSTAMP_SND = 0
_EXTENDED_ERR = struct.Struct("=IBBBBII")     # struct sock_extended_err
#: a transmit stamp further than this from the user-space stamp is not the datagram's
_MAX_STAMP_SKEW_NS = 50_000_000
_ports = itertools.count(47000 + os.getpid() % 1000 * 2)

Direction = Tuple[str, str]


@dataclass(frozen=True)
class Expectation:
    """What the engine expects of one direction at one tick."""

    expected_ms: Optional[float]      #: engine link delays along the forwarding path (None: unreachable)
    installed_ms: Optional[float]     #: the delays the backend was given along the same path
    hops: int                         #: links on the path (0: unreachable)


@dataclass(frozen=True)
class TickMark:
    """One tick as the probe saw it: when its apply began and ended (unix ns)."""

    apply_start_ns: int
    applied_ns: int
    emulated_time: str
    expect: Mapping[Direction, Expectation]


@dataclass
class OwdSample(MeasuredAgainstExpected):
    sent_ns: int                      #: unix ns the datagram left (kernel stamp, else user space)
    emulated_time: str                #: emulated time of the tick in force then
    source: str
    target: str
    expected_ms: Optional[float]
    installed_ms: Optional[float]
    hops: int
    measured_ms: Optional[float]      #: None: lost
    straddles: bool = False
    kernel_stamped: bool = True
    #: the flight overlapped a tick's apply (whether or not it changed this direction)
    in_apply: bool = False

    @property
    def backend_error_ms(self) -> Optional[float]:
        """Measured minus the delays the backend was given (the update threshold's part removed)."""
        if self.installed_ms is None or self.measured_ms is None:
            return None
        return self.measured_ms - self.installed_ms


# ---------------------------------------------------------------------- pure parts
def tick_in_force(marks: Sequence[TickMark], at_ns: int) -> int:
    """Index of the last tick whose apply had ended by ``at_ns`` (0 if none had)."""
    ends = [m.applied_ns for m in marks]
    return max(0, bisect.bisect_right(ends, at_ns) - 1)


def straddles(marks: Sequence[TickMark], direction: Direction, sent_ns: int, received_ns: Optional[int],
              tolerance_ms: float) -> bool:
    """Whether a flight from ``sent_ns`` to ``received_ns`` (None: lost; then only the
    tick in force counts) overlaps the apply of a later tick that changed the direction's
    expected delay by more than ``tolerance_ms`` or its reachability."""
    i = tick_in_force(marks, sent_ns)
    if received_ns is None:
        return False
    base = marks[i].expect[direction].expected_ms
    for mark in marks[i + 1:]:
        if mark.apply_start_ns > received_ns:
            break
        now = mark.expect[direction].expected_ms
        if (now is None) != (base is None) or (now is not None and abs(now - base) > tolerance_ms):
            return True
    return False


def overlaps_apply(marks: Sequence[TickMark], sent_ns: int, received_ns: Optional[int]) -> bool:
    """Whether a flight overlaps any tick's apply window (the controller busy changing the kernel)."""
    end = sent_ns if received_ns is None else received_ns
    return any(m.apply_start_ns <= end and m.applied_ns >= sent_ns for m in marks[1:])


def make_samples(marks: Sequence[TickMark], sends: Mapping[Tuple[int, int], Tuple[int, bool]],
                 receipts: Mapping[Tuple[int, int], int], directions: Sequence[Direction],
                 tolerance_ms: float) -> List[OwdSample]:
    """Pair sends ``{(direction index, seq): (sent ns, kernel stamped)}`` with receipts
    ``{(direction index, seq): received ns}`` and each with its tick's expectation."""
    out: List[OwdSample] = []
    for (d, seq), (sent, kernel) in sends.items():
        direction = directions[d]
        received = receipts.get((d, seq))
        mark = marks[tick_in_force(marks, sent)]
        exp = mark.expect[direction]
        measured = None if received is None else (received - sent) / 1e6
        out.append(OwdSample(sent, mark.emulated_time, direction[0], direction[1], exp.expected_ms,
                             exp.installed_ms, exp.hops, measured,
                             straddles(marks, direction, sent, received, tolerance_ms), kernel,
                             overlaps_apply(marks, sent, received)))
    return sorted(out, key=lambda s: s.sent_ns)


def summarise_one_way(samples: Sequence[OwdSample]) -> Dict[str, float]:
    """Error figures of the samples that count (arrived, reachable, not straddling)."""
    counted = [s for s in samples if s.error_ms is not None and not s.straddles]
    errors = np.array([s.error_ms for s in counted])
    lost = sum(1 for s in samples if s.measured_ms is None and s.expected_ms is not None)
    out = {"samples": float(len(samples)), "counted": float(len(errors)), "lost": float(lost),
           "straddling": float(sum(s.straddles for s in samples)),
           "user_stamped": float(sum(not s.kernel_stamped for s in counted))}
    if len(errors):
        abs_err = np.abs(errors)
        backend = np.array([s.backend_error_ms for s in counted if s.backend_error_ms is not None])
        threshold = np.array([s.installed_ms - s.expected_ms for s in counted if s.installed_ms is not None])
        out.update({"error_p50_ms": float(np.median(errors)),
                    "abs_error_p95_ms": float(np.percentile(abs_err, 95)),
                    "abs_error_p99_ms": float(np.percentile(abs_err, 99)),
                    "abs_error_max_ms": float(abs_err.max()),
                    "within_0_5ms": float(np.mean(abs_err <= 0.5)),
                    "within_1ms": float(np.mean(abs_err <= 1.0)),
                    "hops_min": float(min(s.hops for s in counted)),
                    "hops_max": float(max(s.hops for s in counted))})
        if len(backend):
            out.update({"backend_error_p50_ms": float(np.median(backend)),
                        "backend_abs_error_p99_ms": float(np.percentile(np.abs(backend), 99)),
                        "backend_within_1ms": float(np.mean(np.abs(backend) <= 1.0)),
                        "threshold_error_p50_ms": float(np.median(threshold)),
                        "threshold_abs_error_max_ms": float(np.abs(threshold).max())})
    return out


def tx_stamps(ancillary: Sequence[Tuple[int, int, bytes]]) -> Optional[Tuple[int, int]]:
    """(send counter, unix ns) of a software transmit stamp read from a socket's error
    queue, None for any other message."""
    stamp, key = None, None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPING and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            stamp = sec * 1_000_000_000 + nsec
        elif len(data) >= _EXTENDED_ERR.size:
            _errno, origin, _type, _code, _pad, info, ee_data = _EXTENDED_ERR.unpack(data[:_EXTENDED_ERR.size])
            if origin == 4 and info == _SCM_TSTAMP_SND:     # SO_EE_ORIGIN_TIMESTAMPING
                key = ee_data
    return None if stamp is None or key is None or stamp == 0 else (key, stamp)


def rx_stamp(ancillary: Sequence[Tuple[int, int, bytes]]) -> Optional[int]:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec * 1_000_000_000 + nsec
    return None


# ---------------------------------------------------------------------- the probe
class OneWayDelayProbe(TickProbe):
    """Sends a stamped UDP datagram each way of every pair every ``interval_s`` for
    ``duration_s`` during a run (started with :meth:`start`, collected with :meth:`wait`)."""

    def __init__(self, run, pairs: Sequence[Tuple[str, str]], duration_s: float, interval_s: float = 0.1,
                 straddle_tolerance_ms: float = 0.1):
        super().__init__(run)
        names = [(run.node(a).name, run.node(b).name) for a, b in pairs]
        self.directions: List[Direction] = [d for a, b in names for d in ((a, b), (b, a))]
        self.count = max(1, int(duration_s / interval_s))
        self.interval_s = interval_s
        self.tolerance_ms = straddle_tolerance_ms
        self.probe_id = (os.getpid() << 12 ^ time.monotonic_ns() >> 10) & 0xFFFFFFFF
        self.port = next(_ports)
        self._marks: List[TickMark] = []
        self._sends: Dict[Tuple[int, int], Tuple[int, bool]] = {}
        self._receipts: Dict[Tuple[int, int], int] = {}
        self._senders: List[socket.socket] = []
        self._receivers: List[socket.socket] = []

    # ------------------------------------------------------------------ expectations
    def _expectation(self, source: str, target: str) -> Expectation:
        network = self.run.network
        snap = network.snapshot
        hops = self._forwarding_path(source, target)
        if hops is None:
            path = snap.path(source, target)
            if not path.reachable:
                return Expectation(None, None, 0)
            hops = list(path.hops)
        expected = installed = 0.0
        for u, v in zip(hops, hops[1:]):
            row = snap.link_between(u, v)
            if row is None:
                return Expectation(None, None, 0)
            expected += float(snap.links.delay_ms[row])
            given = next((d for _if, peer, _kind, d in network.interfaces_of(u) if peer == v), None)
            installed = None if given is None or installed is None else installed + given
        return Expectation(expected, installed, len(hops) - 1)

    def _forwarding_path(self, source: str, target: str) -> Optional[List[str]]:
        """The path the installed next hops give (None: not routed to ``target``, or a loop)."""
        network = self.run.network
        s, t = network.node(source).index, network.node(target).index
        rows = np.flatnonzero(network.destinations == t)
        if not len(rows) or network.per_pair:
            return None
        table = network.next_hop
        row, u, path = int(rows[0]), s, [s]
        while u != t:
            u = int(table[row, u])
            if u < 0 or len(path) > len(network.nodes):
                return None
            path.append(u)
        return [network.nodes[i].name for i in path]

    def _mark(self, apply_ms: float, emulated_time: str) -> None:
        end = time.time_ns()
        expect = {d: self._expectation(*d) for d in self.directions}
        with self._lock:
            self._marks.append(TickMark(end - int(apply_ms * 1e6), end, emulated_time, expect))

    def _on_tick(self, info: TickInfo) -> None:
        self._mark(info.apply_ms, info.time_iso)

    # ------------------------------------------------------------------ sockets
    def _open(self) -> None:
        from .netns import NetnsThread
        worker = NetnsThread()
        try:
            for source, _target in self.directions:
                def make() -> socket.socket:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPING,
                                 _SOF_TX_SOFTWARE | _SOF_SOFTWARE | _SOF_OPT_ID | _SOF_OPT_TSONLY)
                    s.setblocking(False)
                    return s
                self._senders.append(worker.run(self.run.node(source).netns, make))
            for target in dict.fromkeys(t for _s, t in self.directions):
                def bound() -> socket.socket:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                    s.bind(("0.0.0.0", self.port))
                    s.setblocking(False)
                    return s
                self._receivers.append(worker.run(self.run.node(target).netns, bound))
        finally:
            worker.close()

    def _close(self) -> None:
        for s in self._senders + self._receivers:
            s.close()

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        self._open()
        self._mark(0.0, self.run.controller.current_time_iso)
        self._hook_and_start([(self._send_loop, "leonet-owd-send"), (self._receive_loop, "leonet-owd-recv")])

    def _send_loop(self) -> None:
        addresses = [self.run.node(t).address for _s, t in self.directions]
        sent_order: List[List[Tuple[int, int]]] = [[] for _ in self.directions]   # per socket: (seq, user ns)
        start = time.monotonic()
        for seq in range(self.count):
            if self._stop.is_set():
                break
            delay = start + seq * self.interval_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for d, sock in enumerate(self._senders):
                user_ns = time.time_ns()
                try:
                    sock.sendto(_PAYLOAD.pack(_MAGIC, self.probe_id, d, seq, user_ns), (addresses[d], self.port))
                except OSError:
                    continue    # unreachable for now (a route change): not a sample
                sent_order[d].append((seq, user_ns))
                with self._lock:
                    self._sends[(d, seq)] = (user_ns, False)
            self._drain_tx(sent_order)
        time.sleep(0.05)
        self._drain_tx(sent_order)

    def _drain_tx(self, sent_order: List[List[Tuple[int, int]]]) -> None:
        """Replace user-space send times by the kernel's transmit stamps (the k-th
        stamp of a socket is its k-th datagram: ``SOF_TIMESTAMPING_OPT_ID``)."""
        for d, sock in enumerate(self._senders):
            while True:
                try:
                    _data, anc, _flags, _addr = sock.recvmsg(64, 1024, socket.MSG_ERRQUEUE)
                except (BlockingIOError, InterruptedError):
                    break
                got = tx_stamps(anc)
                if got is None or got[0] >= len(sent_order[d]):
                    continue
                seq, user_ns = sent_order[d][got[0]]
                if abs(got[1] - user_ns) <= _MAX_STAMP_SKEW_NS:
                    with self._lock:
                        self._sends[(d, seq)] = (got[1], True)

    def _receive_loop(self) -> None:
        poller = select.poll()
        by_fd = {s.fileno(): s for s in self._receivers}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        # the last datagrams may still be on their way when the sender ends
        linger = 2.0 + 2 * self.interval_s
        end_at = None
        while end_at is None or time.monotonic() < end_at:
            if end_at is None and not self._threads[0].is_alive():
                end_at = time.monotonic() + linger
            for fd, _ev in poller.poll(100):
                sock = by_fd[fd]
                while True:
                    try:
                        data, anc, _flags, _addr = sock.recvmsg(64, socket.CMSG_SPACE(16))
                    except (BlockingIOError, InterruptedError):
                        break
                    if len(data) < _PAYLOAD.size:
                        continue
                    magic, probe, d, seq, _user = _PAYLOAD.unpack_from(data)
                    stamp = rx_stamp(anc)
                    if magic != _MAGIC or probe != self.probe_id or stamp is None or d >= len(self.directions):
                        continue
                    with self._lock:
                        self._receipts.setdefault((d, seq), stamp)

    @property
    def marks(self) -> List[TickMark]:
        """The ticks seen so far: apply windows and each direction's expectation."""
        with self._lock:
            return list(self._marks)

    def _finish(self) -> List[OwdSample]:
        self._close()
        with self._lock:
            return make_samples(self._marks, self._sends, self._receipts, self.directions, self.tolerance_ms)


def write_one_way_csv(samples: Sequence[OwdSample], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sent_unix", "emulated_time", "source", "target", "hops", "expected_ms", "installed_ms",
                    "measured_ms", "error_ms", "straddles_tick", "kernel_stamped"])
        fmt = (lambda v: "" if v is None else f"{v:.3f}")
        for s in samples:
            w.writerow([f"{s.sent_ns / 1e9:.6f}", s.emulated_time, s.source, s.target, s.hops, fmt(s.expected_ms),
                        fmt(s.installed_ms), fmt(s.measured_ms), fmt(s.error_ms), int(s.straddles),
                        int(s.kernel_stamped)])
