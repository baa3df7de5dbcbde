"""The nfqueue delay daemon: one process holding the packets of every namespace.

Started by :class:`~leonet.emulation.shaping.nfqueue.NfqueueShaper` as
``python -m leonet.emulation.shaping.nfqueue_daemon CONTROL_FD [--pdeathsig]``.

- One NETLINK_NETFILTER socket per namespace, created with the main thread setns'd
  into that namespace; it binds one queue per shaped interface.
- One epoll loop over all of them, the control socket and a ``timerfd``. The timerfd
  has nanosecond resolution (epoll's own timeout has only milliseconds), and the
  process's timer slack is set to 1 ns so the kernel does not defer the wake-up.
- Per queue a FIFO of ``(due, packet_id)``: ``due = max(arrival + hold, previous due)``,
  so a delay decrease never reorders a link. Due packets leave with one
  ``NFQNL_MSG_VERDICT_BATCH`` per queue (it accepts every id up to the given one).
- Loss is a drop verdict at arrival, with the link's probability.
- ``hold = delay - overhead``: the calibrated fixed cost of the userspace round trip.
- A packet's schedule is anchored along its path: when the daemon releases a packet
  it remembers the packet's *nominal* release time (without the daemon's own
  lateness), keyed by its IPv4 header (see :func:`.nfqueue_protocol.parse_packet`).
  At the next hop the packet is due at that nominal time plus the hop's delay plus
  whatever it spent in between (the kernel's forwarding, a tbf queue), instead of at
  its arrival plus the delay. A late release (a late timer wake-up, a busy CPU) is
  thus made up at the next hops rather than added to the path, and the fixed
  overhead is paid once per path, at its first hop. Without it, each hop's lateness
  and overhead add up (tens of hops: milliseconds of error on a busy or virtual
  machine); with it, only the last hop's lateness remains.
- The timer is armed ``lead`` early, then the loop polls without blocking until the
  due time; ``lead`` follows the measured timer lateness, and the busy polling is
  capped at a share of each second (``SPIN_BUDGET``).

The process exits when the control socket closes (its parent died or closed it), and
with ``--pdeathsig`` also by SIGTERM when the thread that started it dies.
"""
from __future__ import annotations

import ctypes
import errno
import gc
import heapq
import itertools
import json
import os
import random
import resource
import select
import signal
import socket
import struct
import sys
import time
from collections import deque
from typing import Dict, List, Optional, Tuple

from .. import netns
from . import nfqueue_control as ctl
from . import nfqueue_protocol as proto
from .health import BINS_PER_OCTAVE, bin_middle_ms, bin_of_ns

_libc = ctypes.CDLL(None, use_errno=True)
_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK, _TFD_CLOEXEC, _TFD_TIMER_ABSTIME = 0o4000, 0o2000000, 1
_PR_SET_PDEATHSIG, _PR_SET_TIMERSLACK = 1, 29
#: bounds of the early wake-up (and so of the busy polling before one release)
MIN_LEAD_NS, MAX_LEAD_NS = 20_000, 2_000_000
#: share of each second the loop may spend busy polling (demo preset, three flows
#: over 11-36 hops while ticking: 0.6 instead of 0.25 took 4 ms coverage from 93-98 %
#: to 98-99.7 %, for 10-25 % more of one core)
SPIN_BUDGET = 0.5
#: the early wake-up covers this quantile of the recent timer lateness
LEAD_QUANTILE = 0.99
#: packets read from one socket before releasing due packets again
RECV_BUDGET = 64
#: control records handled between two release passes
CONTROL_CHUNK = 256
#: histograms (release lateness = actual - due; transit between hops): log-linear
#: bins of microseconds, as the compiled daemon's (see :mod:`.health`)
HIST_BINS = BINS_PER_OCTAVE * 30
#: a remembered release not claimed by a next hop within this time is forgotten (the
#: packet was delivered, or dropped; a packet that waited longer, in a very long tbf
#: queue, is scheduled at its next hop like a first hop)
ANCHOR_TTL_NS = 1_000_000_000
#: the typical transit (median of the last FLOOR_WINDOW) is the daemon's own cost of
#: handing a packet on, not emulated time: anchored hops count only the transit beyond
#: it (bounded, so that real queueing in a tbf is never taken for it)
FLOOR_WINDOW, MAX_FLOOR_NS = 256, 200_000


def _wait_readable(sock, timeout_s: float) -> bool:
    """select() for one socket, without select's limit of 1,024 file descriptors."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout_s * 1000.0))


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class Timer:
    """A one-shot CLOCK_MONOTONIC timerfd armed at absolute nanosecond times."""

    def __init__(self) -> None:
        self.fd = _libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create")
        self._spec = _Itimerspec()
        self.armed_at = 0

    def arm(self, at_ns: int) -> None:
        if at_ns == self.armed_at:
            return
        self.armed_at = at_ns
        self._spec.it_value.tv_sec, self._spec.it_value.tv_nsec = divmod(max(1, at_ns), 1_000_000_000)
        _libc.timerfd_settime(self.fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None)

    def clear(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass
        self.armed_at = 0


class Queue:
    """One shaped interface: a netfilter queue with one delay and loss."""

    __slots__ = ("ns", "num", "delay_ns", "hold_ns", "loss", "fifo", "last_due", "accept",
                 "accept_one", "drop_one", "alive", "packets", "dropped")

    def __init__(self, ns: "Namespace", num: int) -> None:
        self.ns = ns
        self.num = num
        self.delay_ns = 0
        self.hold_ns = 0
        self.loss = 0.0
        self.fifo: deque = deque()
        self.last_due = 0
        self.accept = proto.verdict_prefix(num, batch=True, verdict=proto.NF_ACCEPT)
        self.accept_one = proto.verdict_prefix(num, batch=False, verdict=proto.NF_ACCEPT)
        self.drop_one = proto.verdict_prefix(num, batch=False, verdict=proto.NF_DROP)
        self.alive = True
        self.packets = 0
        self.dropped = 0


class Namespace:
    __slots__ = ("id", "name", "sock", "queues", "acks")

    def __init__(self, ns_id: int, name: str, sock: socket.socket) -> None:
        self.id = ns_id
        self.name = name
        self.sock = sock
        self.queues: Dict[int, Queue] = {}
        self.acks: Dict[int, int] = {}


class Daemon:
    def __init__(self, control: socket.socket, rcvbuf: int = 8 << 20, maxlen: int = 10_000) -> None:
        self.control = control
        self.control.setblocking(False)
        self.rcvbuf = rcvbuf
        self.maxlen = maxlen
        self.overhead_ns = 0
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.ep = select.epoll()
        self.timer = Timer()
        self.ep.register(self.timer.fd, select.EPOLLIN)
        self.ep.register(self.control.fileno(), select.EPOLLIN)
        self.namespaces: Dict[int, Namespace] = {}
        self.by_fd: Dict[int, Namespace] = {}
        self.heap: List[Tuple[int, int, Queue]] = []
        self.tiebreak = itertools.count()
        self.lead_ns = MIN_LEAD_NS
        self.max_lead_ns = MAX_LEAD_NS
        self.spin_budget = SPIN_BUDGET
        self.lateness: deque = deque(maxlen=128)
        self.lead_quantile = LEAD_QUANTILE
        self.window_start = 0
        self.window_spin_ns = 0
        self.seq = 1
        self.running = True
        self.late_hist = [0] * HIST_BINS
        #: packet key -> (nominal release, actual release) at its last hop, ns
        self.anchors: Dict[bytes, Tuple[int, int]] = {}
        self.anchoring = True
        self.transit_floor_ns = 0
        self.recent_transits: List[int] = []
        self.transit_hist = [0] * HIST_BINS
        self.counters = {"packets": 0, "released": 0, "dropped_loss": 0, "batches": 0,
                         "enobufs": 0, "verdict_errors": 0, "unknown_queue": 0,
                         "anchored": 0}

    # ------------------------------------------------------------------ namespaces
    def add_namespace(self, ns_id: int, name: str) -> None:
        if ns_id in self.namespaces:
            return
        fd = os.open(str(netns.path_of(name)), os.O_RDONLY)
        try:
            netns.setns(fd)
            try:
                sock = proto.open_socket(self.rcvbuf)
            finally:
                netns.setns(self.home)
        finally:
            os.close(fd)
        ns = Namespace(ns_id, name, sock)
        self.namespaces[ns_id] = ns
        self.by_fd[sock.fileno()] = ns
        self.ep.register(sock.fileno(), select.EPOLLIN)

    def remove_namespace(self, ns_id: int) -> None:
        ns = self.namespaces.pop(ns_id, None)
        if ns is None:
            return
        for q in list(ns.queues.values()):
            self._flush(q)
        self.ep.unregister(ns.sock.fileno())
        del self.by_fd[ns.sock.fileno()]
        ns.sock.close()  # the kernel unbinds its queues

    def _config(self, ns: Namespace, messages: List[bytes], seqs: List[int]) -> None:
        """Send acked config messages and wait for their acks, handling packets that
        arrive on the same socket meanwhile."""
        for seq in seqs:
            ns.acks.pop(seq, None)
        ns.sock.send(b"".join(messages))
        deadline = time.monotonic() + 5.0
        while any(s not in ns.acks for s in seqs):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer from nfnetlink_queue in {ns.name}")
            _wait_readable(ns.sock, 0.05)
            self._receive(ns)
        failed = [ns.acks.pop(s) for s in seqs if ns.acks.get(s)]
        for s in seqs:
            ns.acks.pop(s, None)
        if failed:
            raise OSError(failed[0], f"nfqueue config in {ns.name}: {os.strerror(failed[0])}")

    def bind(self, ns_id: int, num: int, delay_ns: int, loss: float) -> None:
        ns = self.namespaces[ns_id]
        if num not in ns.queues:
            seq = self.seq
            self.seq += 2
            self._config(ns, proto.bind_messages(num, self.maxlen, seq), [seq, seq + 1])
            ns.queues[num] = Queue(ns, num)
        self.set(ns_id, num, delay_ns, loss)

    def set(self, ns_id: int, num: int, delay_ns: int, loss: float) -> None:
        q = self.namespaces[ns_id].queues[num]
        q.delay_ns = delay_ns
        q.hold_ns = max(0, delay_ns - self.overhead_ns)
        q.loss = loss

    def unbind(self, ns_id: int, num: int) -> None:
        ns = self.namespaces.get(ns_id)
        q = ns.queues.pop(num, None) if ns else None
        if q is None:
            return
        self._flush(q)
        seq = self.seq
        self.seq += 1
        try:
            self._config(ns, [proto.unbind_message(num, seq)], [seq])
        except OSError:
            pass  # already gone with its interface or namespace

    def _flush(self, q: Queue) -> None:
        """Release everything a queue holds (it is about to disappear)."""
        if q.fifo:
            last = q.fifo[-1][1]
            q.fifo.clear()
            self._send(q.ns, q.accept + struct.pack(">I", last))
        q.alive = False

    def _send(self, ns: Namespace, msg: bytes) -> None:
        try:
            ns.sock.send(msg)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.EBADF):
                self.counters["verdict_errors"] += 1

    # ------------------------------------------------------------------ packets
    def _receive(self, ns: Namespace) -> None:
        sock = ns.sock
        queues = ns.queues
        heap = self.heap
        counters = self.counters
        rnd = random.random
        clock = time.monotonic_ns
        unpack_packet = proto.parse_packet
        be32 = struct.Struct(">I").pack
        anchors = self.anchors
        anchoring = self.anchoring
        transit_hist = self.transit_hist
        for _ in range(RECV_BUDGET):
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    counters["enobufs"] += 1
                    continue
                raise
            now = clock()
            num, pid, kind, key = unpack_packet(data)
            if pid < 0:
                self._non_packet(ns, data)
                continue
            q = queues.get(num)
            counters["packets"] += 1
            if q is None:
                counters["unknown_queue"] += 1
                sock.send(proto.verdict_prefix(num, False, proto.NF_ACCEPT) + be32(pid))
                continue
            q.packets += 1
            if q.loss and rnd() < q.loss:
                q.dropped += 1
                counters["dropped_loss"] += 1
                sock.send(q.drop_one + be32(pid))
                anchors.pop(key, None)
                continue
            prev = anchors.pop(key, None) if anchors and key is not None else None
            if prev is not None:
                # due when the previous hop should have released it, plus this hop's
                # delay, plus its real time in between (forwarding, tbf queueing)
                transit = now - prev[1]
                nominal = prev[0] + (transit - self.transit_floor_ns) + q.delay_ns
                counters["anchored"] += 1
                transit_hist[min(HIST_BINS - 1, bin_of_ns(transit))] += 1
                recent = self.recent_transits
                recent.append(transit)
                if len(recent) == FLOOR_WINDOW:
                    self.transit_floor_ns = min(MAX_FLOOR_NS, sorted(recent)[FLOOR_WINDOW // 2])
                    recent.clear()
            else:
                nominal = now + q.hold_ns
            due = nominal if nominal > q.last_due else q.last_due
            q.last_due = due
            fifo = q.fifo
            if not fifo:
                if due <= now:
                    sock.send(q.accept_one + be32(pid))
                    if anchoring and key is not None:
                        anchors[key] = (nominal, now)
                    continue
                heapq.heappush(heap, (due, next(self.tiebreak), q))
            fifo.append((due, pid, key, nominal))

    def _non_packet(self, ns: Namespace, data: bytes) -> None:
        for off in proto.split_messages(data):
            kind = struct.unpack_from("=H", data, off + 4)[0]
            if kind == proto.NLMSG_ERROR:
                seq, err = proto.ack_error(data, off)
                if seq == 0:
                    if err:
                        self.counters["verdict_errors"] += 1
                else:
                    ns.acks[seq] = err

    def release(self) -> None:
        """Accept every packet whose due time has come (one batch verdict per queue)."""
        heap = self.heap
        if not heap:
            return
        now = time.monotonic_ns()
        if heap[0][0] > now:
            return
        be32 = struct.Struct(">I").pack
        hist = self.late_hist
        counters = self.counters
        anchors = self.anchors if self.anchoring else None
        while heap and heap[0][0] <= now:
            due, _, q = heapq.heappop(heap)
            fifo = q.fifo
            if not q.alive or not fifo:
                continue
            last = -1
            n = 0
            while fifo and fifo[0][0] <= now:
                _, last, key, nominal = fifo.popleft()
                n += 1
                if anchors is not None and key is not None:
                    anchors[key] = (nominal, now)
            if n:
                hist[min(HIST_BINS - 1, bin_of_ns(now - due))] += n
                counters["released"] += n
                counters["batches"] += 1
                self._send(q.ns, q.accept + be32(last))
            if fifo:
                heapq.heappush(heap, (fifo[0][0], next(self.tiebreak), q))
        if anchors:
            self._forget_old_anchors(now)

    def _forget_old_anchors(self, now: int) -> None:
        """Drop releases no next hop claimed (oldest first: dicts keep insertion order)."""
        anchors = self.anchors
        for key in list(itertools.islice(anchors, 64)):
            if now - anchors[key][1] < ANCHOR_TTL_NS:
                break
            del anchors[key]

    def _timer_fired(self, woke_ns: int, sampled: bool) -> None:
        """Learn the timer's lateness from wake-ups out of a blocking wait: the lead
        becomes a high quantile of the last 128 plus a margin, bounded by ``max_lead_ns``."""
        target = self.timer.armed_at
        self.timer.clear()
        if not target or not sampled:
            return
        lateness = self.lateness
        lateness.append(max(0, woke_ns - target))
        if len(lateness) >= 16:
            q = sorted(lateness)[min(len(lateness) - 1, int(len(lateness) * self.lead_quantile))]
            self.lead_ns = int(min(self.max_lead_ns, max(MIN_LEAD_NS, q + 20_000)))

    def _spin_allowed(self, now: int) -> bool:
        """Spinning (busy polling until a due time) is capped at ``spin_budget`` of
        each second; past that the loop sleeps on the timer alone."""
        if now - self.window_start >= 1_000_000_000:
            self.window_start = now
            self.window_spin_ns = 0
        return self.window_spin_ns < self.spin_budget * 1_000_000_000

    # ------------------------------------------------------------------ control
    def _control(self) -> None:
        try:
            data = self.control.recv(1 << 20)
        except BlockingIOError:
            return
        if not data:
            self.running = False
            return
        op, seq = ctl.HEADER.unpack_from(data)
        payload = memoryview(data)[ctl.HEADER.size:]
        status, text = 0, ""
        try:
            text = self._handle(op, payload) or ""
        except Exception as exc:  # report to the shaper, keep serving
            status = getattr(exc, "errno", None) or errno.EIO
            text = f"{type(exc).__name__}: {exc}"
        self.control.send(ctl.REPLY.pack(op, seq, status) + text.encode())

    def _handle(self, op: int, payload: memoryview) -> Optional[str]:
        if op == ctl.OP_NAMESPACE_ADD:
            (ns_id,) = ctl.NS_ID.unpack_from(payload)
            self.add_namespace(ns_id, bytes(payload[ctl.NS_ID.size:]).decode())
        elif op == ctl.OP_NAMESPACE_REMOVE:
            for i, (ns_id,) in enumerate(ctl.NS_ID.iter_unpack(payload)):
                self.remove_namespace(ns_id)
                self._between_records(i)
        elif op in (ctl.OP_BIND, ctl.OP_SET):
            fn = self.bind if op == ctl.OP_BIND else self.set
            for i, (ns_id, num, delay_ns, loss) in enumerate(ctl.QUEUE.iter_unpack(payload)):
                fn(ns_id, num, delay_ns, loss / 0xFFFFFFFF)
                self._between_records(i)
        elif op == ctl.OP_UNBIND:
            for i, (ns_id, num) in enumerate(ctl.KEY.iter_unpack(payload)):
                self.unbind(ns_id, num)
                self._between_records(i)
        elif op == ctl.OP_CONFIG:
            cfg = json.loads(bytes(payload).decode())
            if "overhead_ns" in cfg:
                self.overhead_ns = int(cfg["overhead_ns"])
                for ns in self.namespaces.values():
                    for q in ns.queues.values():
                        q.hold_ns = max(0, q.delay_ns - self.overhead_ns)
            if "max_lead_ns" in cfg:
                self.max_lead_ns = max(MIN_LEAD_NS, int(cfg["max_lead_ns"]))
                self.lead_ns = min(self.lead_ns, self.max_lead_ns)
            if "lead_quantile" in cfg:
                self.lead_quantile = min(1.0, max(0.0, float(cfg["lead_quantile"])))
            if "anchoring" in cfg:
                self.anchoring = bool(cfg["anchoring"])
                self.anchors.clear()
            if "spin_budget" in cfg:
                self.spin_budget = min(1.0, max(0.0, float(cfg["spin_budget"])))
        elif op == ctl.OP_RATE:
            pass  # the baseline keeps every hop-to-hop wait (no tbf model, no made-up waits)
        elif op == ctl.OP_STATS:
            return json.dumps(self.stats())
        elif op == ctl.OP_QUIT:
            self.running = False
        else:
            raise ValueError(f"unknown op {op}")
        return None

    def _between_records(self, i: int) -> None:
        if i % CONTROL_CHUNK == CONTROL_CHUNK - 1:
            self.release()

    @staticmethod
    def _quantiles(hist: List[int]) -> Dict[str, float]:
        """p50, p99 and max (ms, bin middles) of a histogram; empty if it is."""
        total = sum(hist)
        out: Dict[str, float] = {}
        for name, p in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            if total:
                acc, want = 0, p * total
                for i, n in enumerate(hist):
                    acc += n
                    if acc >= want and n:
                        out[name] = bin_middle_ms(i)
                        break
        return out

    def stats(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        quantiles = self._quantiles(self.late_hist)
        held = sum(len(q.fifo) for ns in self.namespaces.values() for q in ns.queues.values())
        return {
            "pid": os.getpid(),
            "implementation": "python",
            "namespaces": len(self.namespaces),
            "queues": sum(len(ns.queues) for ns in self.namespaces.values()),
            "held": held,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "max_rss_kb": usage.ru_maxrss,
            "overhead_ns": self.overhead_ns,
            "lead_ns": self.lead_ns,
            "spin_share": self.window_spin_ns / 1e9,
            "release_late_ms": quantiles,
            "transit_ms": self._quantiles(self.transit_hist),
            "late_hist": [[i, n] for i, n in enumerate(self.late_hist) if n],
            "transit_hist": [[i, n] for i, n in enumerate(self.transit_hist) if n],
            "hist_bins_per_octave": BINS_PER_OCTAVE,
            "transit_floor_ms": self.transit_floor_ns / 1e6,
            "anchoring": self.anchoring,
            "anchors_pending": len(self.anchors),
            **self.counters,
        }

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        """Block on epoll until the next due time is within ``lead``; from then on,
        poll without blocking (still taking packets and control messages) until it is
        due. The timer wakes the loop ``lead`` early, because timer wake-ups can be
        late by hundreds of microseconds to milliseconds on a busy or virtual machine."""
        poll = self.ep.poll
        timer_fd = self.timer.fd
        control_fd = self.control.fileno()
        by_fd = self.by_fd
        clock = time.monotonic_ns
        heap = self.heap
        spinning_since = 0
        while self.running:
            now = clock()
            timeout = -1
            if heap:
                due = heap[0][0]
                if due - now > self.lead_ns or not self._spin_allowed(now):
                    self.timer.arm(due - (self.lead_ns if self._spin_allowed(now) else 0))
                    if spinning_since:
                        self.window_spin_ns += now - spinning_since
                        spinning_since = 0
                else:
                    timeout = 0
                    if not spinning_since:
                        spinning_since = now
            elif spinning_since:
                self.window_spin_ns += now - spinning_since
                spinning_since = 0
            events = poll(timeout)
            for fd, _ in events:
                if fd == timer_fd:
                    self._timer_fired(clock(), sampled=timeout == -1)
                elif fd == control_fd:
                    self._control()
                else:
                    ns = by_fd.get(fd)
                    if ns is not None:
                        self._receive(ns)
                self.release()
            self.release()
        for ns_id in list(self.namespaces):
            self.remove_namespace(ns_id)


def _prepare_process(pdeathsig: bool, parent: int) -> None:
    _libc.prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0)
    if pdeathsig:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            sys.exit(0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    gc.disable()  # no collector pauses in the release path; the loop makes no cycles


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    fd = int(args[0])
    options = set(args[1:])
    parent = int(next((a.split("=", 1)[1] for a in options if a.startswith("--parent=")), os.getppid()))
    _prepare_process("--pdeathsig" in options, parent)
    if "--realtime" in options:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except OSError:
            pass
    maxlen = int(next((a.split("=", 1)[1] for a in options if a.startswith("--maxlen=")), 10_000))
    control = socket.socket(fileno=fd)
    Daemon(control, maxlen=maxlen).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
