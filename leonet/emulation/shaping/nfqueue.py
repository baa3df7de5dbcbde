"""The ``nfqueue`` backend: link delay in userspace, for kernels without sch_netem.

Per link end, NFQUEUE rules (nf_tables, installed in-process over netlink by
:mod:`.nft_rules`) queue the end's packets to a netfilter queue of its namespace;
one daemon process holds the packets of every namespace and releases each after
the link's delay: by default the compiled, multi-threaded
``leonet-nfqd`` (``nfqd/nfqd.c``, built on first use or by the installer, see
:mod:`.nfqd_build`), or the original Python one (:mod:`.nfqueue_daemon`) on request.
Both speak the same control protocol (:mod:`.nfqueue_control`), so this class is the
control plane of either. Loss is a drop verdict in the daemon; bandwidth is a tbf
qdisc on the interface (the packet meets it after its delay). The daemon measures
its own lateness and backlog (:meth:`NfqueueShaper.health_counters`, judged by
:mod:`.health`). See docs/shaping.md for accuracy, capacity and limits.

Kernel state this backend creates, and how it goes away:

- an nf_tables table ``leonet`` per namespace holding the rules: its rules removed by
  :meth:`detach`, the table by :meth:`close`; after a crash by
  :func:`cleanup_namespace_rules` (or by deleting the namespace);
- root tbf qdiscs on interfaces with a bandwidth: the same;
- the daemon process: exits when this object closes it or the creating process dies.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

import leonet

from .. import netns
from . import nfqueue_control as ctl
from .base import LinkEnd, LinkParams, LinkShaper
from .iptables_rules import EGRESS, INGRESS, SPLIT
from .nft_rules import NftRules, cleanup_namespace_rules  # noqa: F401 (re-exported for crash cleanup)
from .tc_netlink import tbf_burst_bytes
from .tc_qdiscs import QdiscTable
from .units import mbps_to_bytes_per_s, ms_to_ns, percent_to_u32

log = logging.getLogger(__name__)

#: per-hop overhead subtracted when no calibration was run (measured here; docs/shaping.md)
DEFAULT_OVERHEAD_MS = 0.05
#: the daemon that holds the packets: "c" (compiled, multi-threaded; the default) or
#: "python" (the original single-threaded one, kept as the baseline of the benchmarks)
IMPLEMENTATIONS = ("c", "python")


@dataclass
class _End:
    queue: int
    params: LinkParams


class NfqueueShaper(LinkShaper):
    """Delay and loss in one userspace daemon for all namespaces, bandwidth by tbf.

    ``overhead_ms``: fixed per-hop cost of the userspace path, subtracted from every
    delay; ``None`` measures it now with :func:`calibrate` (about 1 s) unless
    ``calibrate=False``, in which case :data:`DEFAULT_OVERHEAD_MS` applies.
    ``queue_maxlen``: packets one link end may hold at once (beyond: dropped, like a
    full netem queue). ``realtime``: run the daemon SCHED_FIFO (steadier under CPU
    contention, at the risk of starving other work if it saturates a core).

    ``hold_at``: ``"split"`` (default) holds forwarded packets, and a node's own
    packets for its direct neighbour, at egress; a node's own packets that go further
    wait at the next node's ingress (see :func:`.iptables_rules.split_rule_specs`;
    the rules themselves: :mod:`.nft_rules`). It combines the good sides of the two
    modes below: kernel receive timestamps see every hop's delay, and multi-hop TCP
    senders are not throttled by TCP small queues (only TCP to a direct neighbour
    still is). ``"egress"`` holds the packets
    leaving the link end's interface, exactly the netem semantics. ``"ingress"`` holds the packets *arriving*
    on it instead, which for a link whose two ends have equal parameters (every leonet
    link) gives the same one-way delays. Trade-off (docs/shaping.md): at egress, a
    held packet still belongs to its sending socket, so TCP small queues throttle TCP
    senders *in the namespace itself* once its first hop holds more than ~1-2 ms (one
    flow over a 5 ms first hop: ~9 Mbit/s; forwarded traffic is not affected). At
    ingress, the receiver's kernel timestamp is taken before the hold, so tools that
    use SO_TIMESTAMP (ping) do not see the last hop's delay.

    ``ipv6``: also hold IPv6 packets (an ``ip6`` table beside the ``ip`` one); only with
    ``hold_at="ingress"`` or ``"egress"``, since the split rules match IPv4 peer addresses
    (:class:`ValueError` otherwise).

    ``anchoring``: at each hop after the first, a packet (recognised by its IPv4
    header) is due at its previous hop's *nominal* release plus the time it really
    spent in between plus this hop's delay, so the daemon's lateness and overhead do
    not add up over long paths (see :mod:`.nfqueue_daemon`).

    ``implementation``: ``"c"`` (default) runs the compiled daemon, with ``workers``
    threads (default: one per CPU); building it needs a C compiler and
    libnetfilter_queue's headers, and a missing toolchain raises
    :class:`~leonet.emulation.shaping.nfqd_build.BuildError` naming the packages.
    ``"python"`` runs the original single-threaded daemon (about 10x less throughput;
    kept as the benchmarks' baseline).
    """

    name = "nfqueue"
    accuracy_ms = 0.5

    def __init__(self, overhead_ms: Optional[float] = None, calibrate: bool = True,
                 queue_maxlen: int = 10_000, realtime: bool = True, ipv6: bool = False,
                 hold_at: str = "split", anchoring: bool = True, implementation: str = "c",
                 workers: Optional[int] = None) -> None:
        if hold_at not in ("ingress", "egress", "split"):
            raise ValueError(f"hold_at must be 'split', 'ingress' or 'egress', not {hold_at!r}")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, not {implementation!r}")
        self.implementation = implementation
        self.ipv6 = ipv6
        self.chain = {"ingress": INGRESS, "egress": EGRESS, "split": SPLIT}[hold_at]
        self._rules = NftRules(self.chain, ipv6)
        #: namespaces where this shaper installed rules (its table goes at close)
        self._tables: set = set()
        self._lock = threading.RLock()
        self._ends: Dict[LinkEnd, _End] = {}
        #: ends whose queue is bound and rules installed ahead of their interface
        self._prepared: Dict[LinkEnd, int] = {}
        self._ns_ids: Dict[str, int] = {}
        self._last_ns_id = 0
        self._free_queues: Dict[str, List[int]] = {}
        self._next_queue: Dict[str, int] = {}
        self._qdiscs = QdiscTable()
        self._proc, self._client = self._start_daemon(queue_maxlen, realtime, implementation, workers)
        self.overhead_ms = DEFAULT_OVERHEAD_MS
        self._closed = False
        self.set_anchoring(anchoring)
        if overhead_ms is not None:
            self.set_overhead(overhead_ms)
        elif calibrate:
            from .calibration import calibrate as run_calibration
            self.set_overhead(run_calibration(self).overhead_ms)
        else:
            self.set_overhead(DEFAULT_OVERHEAD_MS)

    # ------------------------------------------------------------------ daemon
    @staticmethod
    def _start_daemon(queue_maxlen: int, realtime: bool, implementation: str,
                      workers: Optional[int]) -> Tuple[subprocess.Popen, ctl.ControlClient]:
        if implementation == "c":
            from .nfqd_build import PROCESS_MARKER, ensure_built
            program, marker = [str(ensure_built())], [PROCESS_MARKER]
        else:
            program, marker = [sys.executable, "-m", "leonet.emulation.shaping.nfqueue_daemon"], []
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for s in (mine, theirs):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        argv = [*program, str(theirs.fileno()), *marker, f"--parent={os.getpid()}", f"--maxlen={queue_maxlen}"]
        if workers is not None:
            argv.append(f"--workers={int(workers)}")
        # PR_SET_PDEATHSIG fires when the *thread* that forked dies, so ask for it only
        # from the main thread; the closed control socket ends the daemon in any case.
        if threading.current_thread() is threading.main_thread():
            argv.append("--pdeathsig")
        if realtime:
            argv.append("--realtime")
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(leonet.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        client = ctl.ControlClient(mine)
        client.request(ctl.OP_STATS, timeout=30.0)  # wait until it serves
        return proc, client

    @property
    def daemon_pid(self) -> int:
        return self._proc.pid

    def set_overhead(self, overhead_ms: float) -> None:
        """Set the per-hop overhead subtracted from every delay (applies at once)."""
        self.overhead_ms = max(0.0, float(overhead_ms))
        self._config(overhead_ns=ms_to_ns(self.overhead_ms))

    def set_anchoring(self, on: bool) -> None:
        """Anchor each packet's schedule along its path (the default), so that the
        daemon's lateness and overhead do not add up over multi-hop paths; off: every
        hop on its own (see :mod:`.nfqueue_daemon`)."""
        self.anchoring = bool(on)
        self._config(anchoring=self.anchoring)

    def _config(self, **settings) -> None:
        self._client.request(ctl.OP_CONFIG, json.dumps(settings).encode())

    def stats(self) -> dict:
        """The daemon's counters: pid, namespaces, queues, packets held/released/dropped,
        CPU seconds, release lateness and transit quantiles (ms) and histograms, the
        kernel's backlog and drops (compiled daemon), overhead."""
        return self._client.stats()

    def health_counters(self) -> dict:
        return self.stats()

    # ------------------------------------------------------------------ LinkShaper
    def attach(self, ends: Iterable[Tuple[LinkEnd, LinkParams]]) -> None:
        with self._lock:
            ends = list(ends)
            known = [(e, p) for e, p in ends if e in self._ends]
            new = [(e, p) for e, p in ends if e not in self._ends]
            if known:
                self.update(known)
            if not new:
                return
            self._add_namespaces(sorted({ns for (ns, _), _ in new}))
            records, ready, rules = [], [], {}
            for (ns, ifname), params in new:
                q = self._prepared.pop((ns, ifname), None)
                if q is not None:           # rules and queue are in place already
                    ready.append(self._record(ns, q, params))
                else:
                    q = self._take_queue(ns)
                    records.append(self._record(ns, q, params))
                    rules.setdefault(ns, ([], []))[0].append((ifname, q))
                self._ends[(ns, ifname)] = _End(q, params)
            self._client.records(ctl.OP_SET, ready)
            self._client.records(ctl.OP_BIND, records)
            self._apply_rules(rules)
            self._set_rates([(end, p.bandwidth_mbps) for end, p in new])

    def prepare(self, ends: Iterable[LinkEnd]) -> None:
        """Bind queues and install rules for ends a later :meth:`attach` will bring
        (rules match interface names, so the interfaces need not exist); forget the
        previously prepared ends that are not in ``ends``."""
        with self._lock:
            wanted = {e for e in ends if e not in self._ends}
            stale = [e for e in self._prepared if e not in wanted]
            new = [e for e in sorted(wanted) if e not in self._prepared]
            rules: Dict[str, Tuple[list, list]] = {}
            for end in stale:
                q = self._prepared.pop(end)
                if netns.exists(end[0]) and end[0] in self._ns_ids:
                    rules.setdefault(end[0], ([], []))[1].append((end[1], q))
            if stale:
                self._client.records(ctl.OP_UNBIND, [ctl.KEY.pack(self._ns_ids[ns], q)
                                                     for ns, (_, gone) in rules.items() for _, q in gone])
                for ns, (_, gone) in rules.items():
                    self._free_queues.setdefault(ns, []).extend(q for _, q in gone)
            self._add_namespaces(sorted({ns for ns, _ in new}))
            records = []
            for ns, ifname in new:
                q = self._take_queue(ns)
                self._prepared[(ns, ifname)] = q
                records.append(self._record(ns, q, LinkParams(0.0)))
                rules.setdefault(ns, ([], []))[0].append((ifname, q))
            self._client.records(ctl.OP_BIND, records)
            self._apply_rules(rules)

    def update(self, ends: Iterable[Tuple[LinkEnd, LinkParams]]) -> None:
        with self._lock:
            records, rates = [], []
            for end, params in ends:
                state = self._ends.get(end)
                if state is None:
                    raise KeyError(f"update of a link end that is not attached: {end}")
                if (params.delay_ms, params.loss_percent) != (state.params.delay_ms, state.params.loss_percent):
                    records.append(self._record(end[0], state.queue, params))
                if params.bandwidth_mbps != state.params.bandwidth_mbps:
                    rates.append((end, params.bandwidth_mbps))
                state.params = params
            if records:
                self._client.records(ctl.OP_SET, records)
            if rates:
                self._set_rates(rates)

    def detach(self, ends: Iterable[LinkEnd]) -> None:
        with self._lock:
            gone = [(end, self._ends.pop(end)) for end in ends if end in self._ends]
            if not gone:
                return
            rules: Dict[str, Tuple[list, list]] = {}
            for (ns, ifname), state in gone:
                if netns.exists(ns):
                    rules.setdefault(ns, ([], []))[1].append((ifname, state.queue))
            try:
                self._apply_rules(rules)
            except RuntimeError as exc:  # e.g. the interface's rules went with its namespace
                log.debug("removing nfqueue rules: %s", exc)
            self._client.records(ctl.OP_UNBIND, [ctl.KEY.pack(self._ns_ids[ns], s.queue) for (ns, _), s in gone])
            for (ns, _), state in gone:
                self._free_queues.setdefault(ns, []).append(state.queue)
            self._qdiscs.remove([end for end, _ in gone])

    def release_namespaces(self, names: Iterable[str]) -> None:
        """Stop shaping in namespaces the caller is about to delete, without undoing
        their rules and qdiscs one by one (they go with the namespace). Optional
        fast path for teardown: the daemon's sockets would otherwise keep the
        namespaces alive in the kernel."""
        with self._lock:
            names = set(names)
            ids = [self._ns_ids.pop(ns) for ns in names if ns in self._ns_ids]
            for end in [e for e in self._ends if e[0] in names]:
                del self._ends[end]
            for end in [e for e in self._prepared if e[0] in names]:
                del self._prepared[end]
            for ns in names:
                self._free_queues.pop(ns, None)
                self._next_queue.pop(ns, None)
            self._qdiscs.forget_namespaces(names)
            self._rules.forget(names)
            self._tables -= names
            if ids:
                self._client.records(ctl.OP_NAMESPACE_REMOVE, [ctl.NS_ID.pack(i) for i in ids])

    def close(self, remove_kernel_state: bool = True) -> None:
        """Remove rules and qdiscs (unless ``remove_kernel_state`` is False, for a
        caller that deletes every namespace next), then stop the daemon."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if remove_kernel_state:
                    try:  # one table per namespace holds all of this shaper's rules there
                        self._rules.delete_tables(sorted(ns for ns in self._tables if netns.exists(ns)))
                    except (RuntimeError, OSError) as exc:
                        log.warning("removing nfqueue rules: %s; `leonet cleanup` removes leftovers", exc)
                    self._qdiscs.remove(list(self._ends))
                self._ends.clear()
                self._prepared.clear()
                self._tables.clear()
            finally:
                self._rules.close()
                self._qdiscs.close()
                self._stop_daemon()

    def _stop_daemon(self) -> None:
        try:
            self._client.request(ctl.OP_QUIT, timeout=5.0)
        except ctl.DaemonError:
            pass
        self._client.sock.close()
        try:
            self._proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    # ------------------------------------------------------------------ helpers
    def _add_namespaces(self, names: List[str]) -> None:
        for ns in names:
            if ns in self._ns_ids:
                continue
            self._last_ns_id += 1
            ns_id = self._last_ns_id
            self._client.request(ctl.OP_NAMESPACE_ADD, ctl.NS_ID.pack(ns_id) + ns.encode())
            self._ns_ids[ns] = ns_id

    def _take_queue(self, ns: str) -> int:
        free = self._free_queues.get(ns)
        if free:
            return free.pop()
        q = self._next_queue.get(ns, 0)
        self._next_queue[ns] = q + 1
        return q

    def _apply_rules(self, changes: Dict[str, Tuple[List[Tuple[str, int]], List[Tuple[str, int]]]]) -> None:
        self._tables.update(ns for ns, (add, _) in changes.items() if add)
        self._rules.apply(changes)

    def _set_rates(self, items: List[Tuple[LinkEnd, float]]) -> None:
        """Install the ends' tbf qdiscs and tell the daemon their rates: it models each
        tbf to tell a wait in a bandwidth queue (emulated time, kept) from a wait for
        the daemon or the kernel (not emulated, made up at the next hop)."""
        self._qdiscs.apply(items)
        records = []
        for end, mbps in items:
            rate = mbps_to_bytes_per_s(mbps) if mbps > 0 else 0
            records.append(ctl.RATE.pack(self._ns_ids[end[0]], self._ends[end].queue, rate,
                                         tbf_burst_bytes(rate) if rate else 0))
        self._client.records(ctl.OP_RATE, records)

    def set_absorb_waits(self, on: bool) -> None:
        """Make up, at the next hop, hop-to-hop waits that no tbf queue explains (the
        default; compiled daemon only), or add every wait to the path (as before)."""
        self._config(absorb_waits=bool(on))

    def _record(self, ns: str, queue: int, params: LinkParams) -> bytes:
        return ctl.QUEUE.pack(self._ns_ids[ns], queue, ms_to_ns(params.delay_ms), percent_to_u32(params.loss_percent))

    def __enter__(self) -> "NfqueueShaper":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
