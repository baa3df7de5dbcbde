"""The emulated network: nodes, links, link shaping and routes, kept equal to the
topology engine's snapshots.

:class:`LeoNetwork` is an *actuator*: :meth:`apply` takes a :class:`Snapshot` and
changes the kernel until it matches, touching only what differs from what it installed
before. It works make-before-break: new links and their routes go in before old links
are removed.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..errors import LeonetError
from ..topology import Snapshot, TopologyEngine
from ..topology.links import KIND_NAMES, Links
from ..topology.pairwise import pairwise_plane, pairwise_snapshot
from ..topology.groups import route_groups
from ..topology.stable import nonzero_pairs, stable_next_hops
from . import netns as nsmod
from .addressing import (IFINDEX_OFFSET, host_name, interface_mac, interface_name, node_address,
                         node_address_int)
from .config import EmulationConfig
from .node_setup import configure_node, sysctls_to_write, tune_host, write_sysctl
from .nodes import EmulatedNode, NodeFactory
from .overrides import LinkOverride, LinkOverrides
from .lookahead import Computed, TableChanges
from .aggregate import aggregate
from . import ebpf_table
from .ebpf_table import ForwardingMap
from .nexthops import NexthopSlots, SlotPlan
from .rtnl import (IF_OPER_UP, RtnlSocket, acked_request, delete_link_message, delete_route_messages,
                   describe_errors, dump_operstates, link_up_message, neighbour_message, nexthop_messages,
                   nexthop_route_messages, route_messages, throw_route_messages, veth_message)
from .shaping.base import LinkParams, LinkShaper

if TYPE_CHECKING:
    from .selfcheck import RouteCheck

log = logging.getLogger("leonet.emulation")

#: Errors that are expected while converging (route already gone with its link, ...).
_BENIGN = {2, 3}  # ENOENT, ESRCH

Progress = Callable[[str, int, int], None]
#: per-pair forwarding refuses to start above this many virtual links (each is a veth
#: pair with two shaped ends): the nodes that take part must be limited by a bounding box
MAX_PAIR_LINKS = 50_000


def check_per_pair_size(engine: TopologyEngine, offset_s: float) -> int:
    """Refuse (ConfigError) a per-pair run whose first tick needs more than
    :data:`MAX_PAIR_LINKS` virtual links; returns the number of nodes taking part."""
    from ..errors import ConfigError
    from ..topology.pairwise import participants
    count = len(participants(engine.snapshot(offset_s)))
    links = count * (count - 1) // 2
    if links > MAX_PAIR_LINKS:
        raise ConfigError("emulation.forwarding", "per-pair", f"{count} nodes take part at the start, which needs "
                          f"up to {links:,} virtual links (limit {MAX_PAIR_LINKS:,})",
                          "limit the satellites that take part with topology.bounding_box, or use hop-by-hop")
    return count


def check_forwarding_table_size(engine: TopologyEngine, config: EmulationConfig) -> None:
    """Refuse (ConfigError) ``forwarding_table: ebpf`` for more nodes than its map can key."""
    from ..errors import ConfigError
    nodes = len(engine.nodes)
    if config.forwarding_table == "ebpf" and nodes > ebpf_table.MAX_NODES:
        raise ConfigError("emulation.forwarding_table", "ebpf", f"holds up to {ebpf_table.MAX_NODES:,} nodes, "
                          f"this scenario has {nodes:,}", "use forwarding_table: kernel")


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


class _NodeBatch:
    """Fixed-size netlink messages for many nodes in one buffer, sorted by node, sent a
    node's slice at a time (building them node by node cost more than the kernel's work)."""

    def __init__(self, nodes: np.ndarray, messages: bytes):
        self.nodes = nodes
        self.messages = memoryview(messages)
        self.record = len(messages) // max(1, len(nodes))
        self._first = self._last = np.zeros(0, dtype=np.int64)

    @classmethod
    def of(cls, nodes: np.ndarray, build: Callable[[np.ndarray], bytes]) -> "_NodeBatch":
        """The messages ``build(order)`` makes for entries taken in ``order`` (sorted by node)."""
        order = np.argsort(nodes, kind="stable")
        return cls(np.asarray(nodes)[order], build(order) if len(order) else b"")

    def index(self, nodes: np.ndarray) -> None:
        """Prepare :meth:`send` for node ``nodes[k]`` (``nodes`` sorted)."""
        self._first = np.searchsorted(self.nodes, nodes)
        self._last = np.searchsorted(self.nodes, nodes, side="right")

    def send(self, sock: RtnlSocket, k: int) -> None:
        first, last = int(self._first[k]), int(self._last[k])
        if last > first:
            sock.send(self.messages[first * self.record:last * self.record], record_size=self.record)


@dataclass
class ApplyReport:
    """What one :meth:`LeoNetwork.apply` changed, and how long it took."""

    links_added: int = 0
    links_removed: int = 0
    #: (node a, node b, kind) of the links added and removed
    added: List[Tuple[str, str, str]] = field(default_factory=list)
    removed: List[Tuple[str, str, str]] = field(default_factory=list)
    delays_updated: int = 0
    routes_changed: int = 0
    #: netlink messages that changed routing: routes put or deleted, next-hop objects written
    route_operations: int = 0
    errors: List[str] = field(default_factory=list)
    seconds: float = 0.0
    #: milliseconds spent per phase: links added, delays, routes, links removed
    phase_ms: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutePlan:
    """One tick's route changes as kernel messages (see :meth:`LeoNetwork.plan_routes`)."""

    new_hop: np.ndarray                     #: the table to install
    pairs: Tuple[np.ndarray, np.ndarray]    #: (destination row, node) of the entries that change
    whole: bool                             #: found by comparing whole tables
    seq: Optional[int]                      #: the lookahead's number of the table (None: routed here)
    batches: List["_NodeBatch"]
    operations: int                         #: kernel messages


@dataclass(frozen=True)
class LinkDiff:
    """The installed links against a new set (see :meth:`LeoNetwork.diff_links`)."""

    added: np.ndarray               #: (new) mask: links to add
    removed: np.ndarray             #: (installed) mask: links to remove
    changed: np.ndarray             #: rows of new whose delay, bandwidth or loss is re-applied
    installed_delay: np.ndarray     #: (new) the delay each link has once applied


class LeoNetwork:
    """Nodes, links, shaping and routes of one emulation run."""

    def __init__(self, engine: TopologyEngine, config: EmulationConfig, shaper: LinkShaper,
                 factory: NodeFactory, prefix: str = nsmod.PREFIX):
        self.engine = engine
        self.config = config
        self.shaper = shaper
        self.factory = factory
        names = engine.nodes.names
        taken: set = set()
        self.nodes: List[EmulatedNode] = []
        for i, name in enumerate(names):
            host = host_name(name, taken)
            self.nodes.append(EmulatedNode(i, name, host, engine.nodes.kind(i), f"{prefix}{host}",
                                           node_address(i)))
        self.by_name: Dict[str, EmulatedNode] = {n.name: n for n in self.nodes}
        self.by_name.update({n.host: n for n in self.nodes})
        V = len(self.nodes)
        n = engine.nodes.num_satellites
        #: per-pair forwarding: the kernel holds a direct link per connected pair of active
        #: nodes (docs/forwarding.md) instead of the snapshot's ISLs and GSLs
        self.per_pair = config.forwarding == "per-pair"
        if config.routes == "all":
            self.destinations = np.arange(V)
        elif config.routes == "bounding-box":   # ground stations and the box's satellites
            horizon = config.offset_s + np.arange(0.0, config.routes_horizon_s + 1e-9, max(1.0, config.step_s))
            self.destinations = np.concatenate((np.flatnonzero(engine.ever_active(horizon)), np.arange(n, V)))
        else:
            self.destinations = np.arange(n, V)
        self._worker = nsmod.NetnsThread()
        self._netns_fds: List[int] = []
        self._sockets: List[RtnlSocket] = []
        self._root = None
        # installed state
        self.links = None                                   # topology Links as installed
        self._installed_delay = np.zeros(0)
        self.next_hop = np.full((len(self.destinations), V), -1, dtype=np.int32)
        #: which of the lookahead's tables ``next_hop`` is (None: one routed here)
        self._installed_seq: Optional[int] = None
        #: routes through next-hop objects (emulation.route_nexthops: objects, see nexthops.py)
        #: destination groups of a ground station's routes (emulation.route_groups; None: per node)
        self.route_groups = route_groups(engine.constellation, self.destinations, config.route_groups,
                                         config.route_group_slots)
        #: emulation.forwarding_table: ebpf: every node's next hops in one BPF map (ebpf_table.py),
        #: made at start; None: kernel routes
        self.forwarding_map: Optional[ForwardingMap] = None
        self._ebpf = config.forwarding_table == "ebpf" and not self.per_pair
        self._slots = (NexthopSlots(len(self.destinations), V, groups=self.route_groups)
                       if config.route_nexthops == "objects" and not self._ebpf else None)
        #: emulation.route_prefixes: aggregate: the first table goes in as prefix routes (aggregate.py),
        #: later changes as /32 routes over them, and a route that goes away as a /32 throw route
        self._aggregate = self._slots is not None and config.route_prefixes == "aggregate"
        self._routes_installed = False
        self.snapshot: Optional[Snapshot] = None
        self.started = False
        self._deleter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leonet-linkdel")
        self._deleter_sockets: Dict[int, RtnlSocket] = {}
        self._deleting: set = set()
        self._pending_deletion = None
        #: faults injected on links (see overrides.py); applied on every tick
        self.overrides = LinkOverrides()
        self._apply_lock = threading.RLock()  # ticks and fault injection may come from two threads
        self.engine_snapshot: Optional[Snapshot] = None   #: the last snapshot before overrides

    # ------------------------------------------------------------------ lifecycle
    def start(self, snapshot: Snapshot, progress: Progress = _no_progress,
              computed: Optional[Callable[[], Optional[Computed]]] = None) -> ApplyReport:
        """Create every node, then install ``snapshot``'s links, shaping and routes.
        ``computed``: called once the nodes are made, the lookahead's computation of
        ``snapshot`` (its routes, computed meanwhile in the worker), or None to route here."""
        tune_host()
        V = len(self.nodes)
        progress("namespaces", 0, V)
        self.factory.create(self.nodes, self._worker)
        self.started = True
        progress("namespaces", V, V)
        self._netns_fds = [os.open(str(nsmod.path_of(n.netns)), os.O_RDONLY) for n in self.nodes]
        self._configure_nodes(progress)
        self._root = RtnlSocket()
        if self._ebpf:
            self._install_forwarding_map()
        ahead = computed() if computed is not None else None
        if ahead is None:
            return self.apply(snapshot, progress)
        return self.apply(ahead.snapshot, progress, next_hop=ahead.next_hop, plane=ahead.plane, changes=ahead.changes)

    def _configure_nodes(self, progress: Progress) -> None:
        """Sysctls, loopback and a netlink socket in every node; only the sysctls the first
        node does not start with are written, and the last node is checked to start alike."""
        V = len(self.nodes)
        if not V:
            return
        first, last = self.nodes[0].netns, self.nodes[-1].netns
        sysctls = self._worker.run(first, sysctls_to_write)
        step = max(1, V // 20)
        for start in range(0, V, step):
            chunk = self.nodes[start:start + step]
            self._sockets.extend(self._worker.run_many(
                [(n.netns, (lambda a=node_address_int(n.index): configure_node(a, sysctls))) for n in chunk]))
            progress("node setup", min(V, start + step), V)
        unlike = self._worker.run(last, sysctls_to_write)
        if unlike:   # the host's settings changed meanwhile: write those everywhere
            log.warning("node namespaces did not all start with the same sysctls (%s); writing them in every node",
                        ", ".join(sorted(unlike)))
            self._worker.run_many([(n.netns, (lambda: [write_sysctl(k, v) for k, v in unlike.items()]))
                                   for n in self.nodes])

    def _install_forwarding_map(self) -> None:
        """The BPF map, and in every node its programs and the route of the node range through
        them (see :mod:`.ebpf_table`)."""
        fmap = self.forwarding_map = ForwardingMap(len(self.nodes))
        for v, sock in enumerate(self._sockets):
            programs = fmap.programs(v)
            try:     # the route holds the programs; these descriptors are not needed after
                errors = acked_request(sock, ebpf_table.node_messages(v, programs))
            finally:
                for fd in programs:
                    os.close(fd)
            if errors:
                raise ebpf_table.BpfError(
                    f"emulation.forwarding_table: ebpf: the kernel refused the BPF route in {self.nodes[v].name} "
                    f"({describe_errors(errors)}); it needs Linux >= 5.5 with CONFIG_LWTUNNEL_BPF. "
                    "Fix: use emulation.forwarding_table: kernel")

    def stop(self) -> None:
        """Remove everything this run created. Safe to call twice or after a failed start."""
        try:
            self._wait_for_deletions()
        except Exception as exc:
            log.warning("deleting links: %s", exc)
        self._deleter.shutdown(wait=True)
        for s in self._deleter_sockets.values():
            s.close()
        self._deleter_sockets = {}
        release = getattr(self.shaper, "release_namespaces", None)
        if self.started and release is not None:
            try:  # their rules and qdiscs go with the namespaces: do not undo them one by one
                release([n.netns for n in self.nodes])
            except Exception as exc:
                log.warning("releasing the %s backend's namespaces: %s", self.shaper.name, exc)
        try:
            self.shaper.close()
        except Exception as exc:  # keep tearing down; report it
            log.warning("closing the %s backend: %s", self.shaper.name, exc)
        for s in self._sockets:
            s.close()
        self._sockets = []
        if self._root is not None:
            self._root.close()
            self._root = None
        for fd in self._netns_fds:
            os.close(fd)
        self._netns_fds = []
        if self.started:
            self.factory.destroy(self.nodes)
            self.started = False
        if self.forwarding_map is not None:   # after the namespaces: nothing uses it any more
            self.forwarding_map.close()
            self.forwarding_map = None
        self._worker.close()

    # ------------------------------------------------------------------ queries
    def node(self, name: str) -> EmulatedNode:
        if name in self.by_name:
            return self.by_name[name]
        return self.nodes[self.engine.nodes.index(name)]  # raises a ConfigError with suggestions

    def interfaces_of(self, name: str) -> List[Tuple[str, str, str, float]]:
        """(interface, peer name, link kind, one-way delay ms) of a node's current links."""
        node = self.node(name)
        links = self.links
        out = []
        if links is None:
            return out
        for k in np.flatnonzero((links.a == node.index) | (links.b == node.index)):
            peer = int(links.b[k] if links.a[k] == node.index else links.a[k])
            out.append((interface_name(peer), self.nodes[peer].name, KIND_NAMES[int(links.kind[k])],
                        float(self._installed_delay[k])))
        return out

    # ------------------------------------------------------------------ apply
    def apply(self, snap: Snapshot, progress: Progress = _no_progress,
              next_hop: Optional[np.ndarray] = None, plane: Optional[Links] = None,
              changes: Optional[TableChanges] = None) -> ApplyReport:
        """Make the kernel match ``snap`` (make-before-break). ``next_hop`` is the
        snapshot's (destinations x nodes) next-hop table if already computed; with
        per-pair forwarding, ``plane`` its per-pair links (both computed here otherwise).
        ``changes``: ``next_hop`` as the lookahead's changes to its table number
        ``changes.base``; when that is the table installed, only they are looked at."""
        with self._apply_lock:
            return self._apply(snap, progress, next_hop, plane, changes)

    def plane_of(self, snap: Snapshot) -> Tuple[Links, Optional[np.ndarray]]:
        """The links the kernel should hold for ``snap`` and their next hops (None:
        shortest paths over those links, computed when routing)."""
        if not self.per_pair:
            return snap.links, None
        return pairwise_plane(snap, self.destinations, self.engine.config.speed_of_light_factor)

    def _apply(self, snap: Snapshot, progress: Progress, next_hop: Optional[np.ndarray],
               plane: Optional[Links], changes: Optional[TableChanges] = None) -> ApplyReport:
        t0 = time.perf_counter()
        self.engine_snapshot = snap
        if self.overrides:
            snap = self.overrides.apply(snap)
            next_hop, plane, changes = None, None, None  # computed without the faults: route again
        if next_hop is None:
            changes = None
        if self.per_pair and (plane is None or next_hop is None):
            plane, next_hop = self.plane_of(snap)
        report = ApplyReport()
        new = plane if self.per_pair else snap.links
        diff = self.diff_links(new)
        added, removed, changed = diff.added, diff.removed, diff.changed

        if self._deleting and added.any():
            # a link re-added before its old veth is gone (a GSL flapping at the horizon)
            readded = {(int(x), int(y)) for x, y in zip(new.a[added], new.b[added])} & self._deleting
            if readded:
                self._wait_for_deletions()
        t1 = time.perf_counter()
        added_rows = np.flatnonzero(added)
        if self.links is None:
            return self._bring_up(snap, new, added_rows, diff, next_hop, changes, report, progress, t0)
        self._add_links(new, added_rows, report, progress)
        # make before break: the routes below move onto the new links at once
        self._wait_operational(new, added_rows, report)
        t2 = time.perf_counter()
        if len(changed):
            self.shaper.update(self._ends(new, changed))
            report.delays_updated = int(len(changed))
        t3 = time.perf_counter()
        self._update_routes(snap, report, progress, next_hop, changes)
        t4 = time.perf_counter()
        if self.links is not None and removed.any():
            self._remove_links(self.links, np.flatnonzero(removed), report)
        t5 = time.perf_counter()
        report.phase_ms = {"diff": (t1 - t0) * 1e3, "links_added": (t2 - t1) * 1e3, "delays": (t3 - t2) * 1e3,
                           "routes": (t4 - t3) * 1e3, "links_removed": (t5 - t4) * 1e3}
        return self._installed(snap, new, diff, report, t0)

    def _installed(self, snap: Snapshot, links: Links, diff: "LinkDiff", report: ApplyReport,
                   t0: float) -> ApplyReport:
        self.links = links
        self._installed_delay = diff.installed_delay
        self.snapshot = snap
        report.seconds = time.perf_counter() - t0
        return report

    def _bring_up(self, snap: Snapshot, links: Links, rows: np.ndarray, diff: "LinkDiff",
                  next_hop: Optional[np.ndarray], changes: Optional[TableChanges], report: ApplyReport,
                  progress: Progress, t0: float) -> ApplyReport:
        """The first apply. Nothing is sent before start returns, so its three big parts overlap
        on two cores: the route plan (numpy) is made while the kernel creates the veths, and
        the links' shaping (nf_tables transactions, which do not take the RTNL lock the routes
        hold) is installed while the routes are; then it waits until every link is usable."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="leonet-bringup") as pool:
            planned = pool.submit(self.plan_routes, snap, next_hop, changes)
            try:
                self._add_links(links, rows, report, progress, attach=False)
                t1 = time.perf_counter()
                attached = pool.submit(self.shaper.attach, self._ends(links, rows))
                try:
                    self._update_routes(snap, report, progress, next_hop, changes, plan=planned.result())
                finally:
                    attached.result()
            finally:
                planned.cancel()
        self._wait_operational(links, rows, report)
        t2 = time.perf_counter()
        report.phase_ms = {"diff": 0.0, "links_added": (t1 - t0) * 1e3, "delays": 0.0,
                           "routes": (t2 - t1) * 1e3, "links_removed": 0.0}
        return self._installed(snap, links, diff, report, t0)

    def diff_links(self, new: Links) -> "LinkDiff":
        """How the installed links differ from ``new`` (no kernel call)."""
        V = len(self.nodes)
        new_keys = new.keys(V)
        if self.links is None:
            old_keys = np.zeros(0, dtype=new_keys.dtype)
            old_delay = np.zeros(0)
        else:
            old_keys = self.links.keys(V)
            old_delay = self._installed_delay
        added = ~np.isin(new_keys, old_keys)
        removed = ~np.isin(old_keys, new_keys)
        # delays of links that persist, compared with what is installed
        installed = np.array(new.delay_ms, dtype=float)
        common_new = np.flatnonzero(~added)
        if len(common_new):
            pos = np.searchsorted(old_keys, new_keys[common_new])
            prev = old_delay[pos]
            moved = np.abs(new.delay_ms[common_new] - prev) > self.config.delay_update_threshold_ms
            moved |= (new.bandwidth_mbps[common_new] != self.links.bandwidth_mbps[pos])
            moved |= (new.loss_percent[common_new] != self.links.loss_percent[pos])
            installed[common_new] = np.where(moved, new.delay_ms[common_new], prev)
            changed = common_new[moved]
        else:
            changed = np.zeros(0, dtype=int)
        return LinkDiff(added, removed, changed, installed)

    def prepare(self, upcoming: Snapshot, plane: Optional[Links] = None) -> None:
        """Let the shaper get ready, between ticks, for the links ``upcoming`` will add
        (see :meth:`LinkShaper.prepare`); with per-pair forwarding, for ``plane``'s."""
        links = plane if self.per_pair else upcoming.links
        with self._apply_lock:
            if self.links is None or links is None:
                return
            V = len(self.nodes)
            added = np.flatnonzero(~np.isin(links.keys(V), self.links.keys(V)))
            self.shaper.prepare([end for end, _ in self._ends(links, added)])

    def _ends(self, links, rows: np.ndarray) -> List[Tuple[Tuple[str, str], LinkParams]]:
        out = []
        for k in rows:
            a, b = int(links.a[k]), int(links.b[k])
            params = LinkParams(float(links.delay_ms[k]), float(links.bandwidth_mbps[k]),
                                float(links.loss_percent[k]))
            out.append(((self.nodes[a].netns, interface_name(b)), params))
            out.append(((self.nodes[b].netns, interface_name(a)), params))
        return out

    def _add_links(self, links, rows: np.ndarray, report: ApplyReport, progress: Progress,
                   attach: bool = True) -> None:
        """Create the veth pairs of ``rows``, set them up and (``attach``) shape them."""
        if not len(rows):
            return
        total = len(rows)
        a_all, b_all = links.a[rows].astype(int), links.b[rows].astype(int)
        batch = 512
        for start in range(0, total, batch):
            a, b = a_all[start:start + batch], b_all[start:start + batch]
            msgs = [veth_message(interface_name(int(y)), int(y) + IFINDEX_OFFSET, interface_mac(int(x), int(y)),
                                 self._netns_fds[x], interface_name(int(x)), int(x) + IFINDEX_OFFSET,
                                 interface_mac(int(y), int(x)), self._netns_fds[y], seq=i, up_a=True)
                    for i, (x, y) in enumerate(zip(a, b))]
            errors = acked_request(self._root, msgs)
            if errors:
                raise OSError(f"creating {len(errors)} veth pairs failed: {describe_errors(errors)}")
            progress("links", min(total, start + batch), total)
        # bring the peer ends up (the first ends were created up) and give each end its peer's
        # MAC (with BPF forwarding, the rule and table for its peer), one batch per namespace
        bpf = self.forwarding_map is not None
        per_ns: Dict[int, List[bytes]] = {}
        for x, y in zip(a_all, b_all):
            x, y = int(x), int(y)
            at_x, at_y = per_ns.setdefault(x, []), per_ns.setdefault(y, [])
            at_x.append(neighbour_message(y + IFINDEX_OFFSET, y, interface_mac(y, x)))
            at_y.extend((link_up_message(x + IFINDEX_OFFSET),
                         neighbour_message(x + IFINDEX_OFFSET, x, interface_mac(x, y))))
            if bpf:
                at_x.extend(ebpf_table.neighbour_messages(y))
                at_y.extend(ebpf_table.neighbour_messages(x))
        for me, msgs in per_ns.items():
            self._sockets[me].send(b"".join(msgs))
        for me in per_ns:
            self._check(self._sockets[me], report, f"link set-up in {self.nodes[me].name}")
        if attach:
            self.shaper.attach(self._ends(links, rows))
        report.links_added = int(total)
        report.added = self._describe(links, rows)

    def _wait_operational(self, links, rows: np.ndarray, report: ApplyReport, timeout_s: float = 20.0) -> None:
        """Wait until both ends of the links ``rows`` are operationally up. The kernel makes
        a veth end usable (state up, a working qdisc) in its link-watch work after the carrier
        came on, about 100 interfaces per pass with up to a second between passes when
        thousands wait (bring-up): until then packets sent on it are dropped (a first ping
        right after a start was lost so, now and then). A link still down after ``timeout_s``
        is reported in ``report.errors``."""
        pending: Dict[int, set] = {}
        for x, y in zip(links.a[rows].astype(int), links.b[rows].astype(int)):
            pending.setdefault(int(x), set()).add(int(y) + IFINDEX_OFFSET)
            pending.setdefault(int(y), set()).add(int(x) + IFINDEX_OFFSET)
        deadline = time.monotonic() + timeout_s
        while pending:
            for v in list(pending):
                states = dump_operstates(self._sockets[v])
                pending[v] = {i for i in pending[v] if states.get(i) != IF_OPER_UP}
                if not pending[v]:
                    del pending[v]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if pending:
            down = [f"{self.nodes[v].name}:{interface_name(i - IFINDEX_OFFSET)}" for v, ids in pending.items()
                    for i in sorted(ids)]
            report.errors.append(f"{len(down)} link ends not up {timeout_s:g} s after they were set up: "
                                 f"{', '.join(down[:5])}{' ...' if len(down) > 5 else ''}")

    def _remove_links(self, links, rows: np.ndarray, report: ApplyReport) -> None:
        """Detach shaping and delete the veths, in a background thread: the routes have
        already moved off these links (make-before-break), and both steps are slow
        (the backend's rule changes take a process per namespace; deleting a veth
        waits for an RCU grace period, ~10-20 ms). A link re-added before its removal
        finished waits for it (see :meth:`_apply`)."""
        ends = [end for end, _ in self._ends(links, rows)]
        per_ns: Dict[int, List[bytes]] = {}
        for k in rows:
            a, b = int(links.a[k]), int(links.b[k])
            if self.forwarding_map is not None:   # the table's route goes with the link, the rule not
                per_ns.setdefault(a, []).append(ebpf_table.forget_neighbour_message(b))
                per_ns.setdefault(b, []).append(ebpf_table.forget_neighbour_message(a))
            per_ns.setdefault(a, []).append(delete_link_message(b + IFINDEX_OFFSET, seq=int(k)))
            self._deleting.add((a, b))
        self._pending_deletion = self._deleter.submit(self._delete_links, ends, per_ns, set(self._deleting))
        report.links_removed = int(len(rows))
        report.removed = self._describe(links, rows)

    def _delete_links(self, ends: List[Tuple[str, str]], per_ns: Dict[int, List[bytes]], pairs: set) -> None:
        try:
            self.shaper.detach(ends)
        except Exception as exc:  # keep deleting the veths; their shaping goes with them
            log.warning("detaching shaping from removed links: %s", exc)
        for me, msgs in per_ns.items():
            errors = [e for e in acked_request(self._del_sockets(me), msgs) if e[1] not in _BENIGN | {19}]
            if errors:  # 19: ENODEV, already gone
                log.warning("deleting links in %s: %s", self.nodes[me].name, describe_errors(errors))
        self._deleting -= pairs

    def _del_sockets(self, node: int) -> RtnlSocket:
        # The deleter thread has its own sockets: netlink sockets are not shared across threads.
        sock = self._deleter_sockets.get(node)
        if sock is None:
            sock = self._deleter_sockets[node] = self._worker.run(self.nodes[node].netns, RtnlSocket)
        return sock

    def _wait_for_deletions(self) -> None:
        if self._pending_deletion is not None:
            self._pending_deletion.result()
            self._pending_deletion = None

    def _describe(self, links, rows: np.ndarray) -> List[Tuple[str, str, str]]:
        return [(self.nodes[int(links.a[k])].name, self.nodes[int(links.b[k])].name,
                 KIND_NAMES[int(links.kind[k])]) for k in rows]

    def plan_routes(self, snap: Snapshot, new_hop: Optional[np.ndarray],
                    changes: Optional[TableChanges] = None) -> "RoutePlan":
        """The kernel messages that take the installed routes to ``new_hop`` (computed from
        ``snap`` if None), without sending them; :meth:`commit_routes` records them as installed.
        ``changes``: see :meth:`apply`."""
        seq = changes.seq if changes is not None else None
        if new_hop is None:                          # (D, V): where v forwards for destination d
            new_hop = stable_next_hops(self.next_hop, snap.routes(self.destinations), snap.links,
                                       len(self.nodes), self.config.route_hysteresis_ms, self.route_groups)
            seq = None
        if changes is not None and changes.base == self._installed_seq:
            # the lookahead's changes to the very table installed: no 20-million-entry comparison
            pairs: Tuple[np.ndarray, np.ndarray] = (changes.rows.astype(np.int64), changes.cols.astype(np.int64))
            whole = False
        else:
            pairs, whole = nonzero_pairs(new_hop != self.next_hop), True
        if not len(pairs[0]) or self._ebpf:     # a BPF map is written in place (_update_routes)
            return RoutePlan(new_hop, pairs, whole, seq, [], 0)
        if self._slots is not None:
            batches, operations = self._object_batches(self._slots.plan(self.next_hop, new_hop, pairs=pairs))
        else:
            batches, operations = self._inline_batches(new_hop, pairs)
        return RoutePlan(new_hop, pairs, whole, seq, batches, operations)

    def commit_routes(self, plan: "RoutePlan") -> None:
        """Record ``plan``'s table as the one installed."""
        self._routes_installed = self._routes_installed or bool(plan.batches)
        if plan.whole:
            if len(plan.pairs[0]):
                self.next_hop = plan.new_hop.astype(np.int32, copy=True)
        else:
            self.next_hop[plan.pairs] = plan.new_hop[plan.pairs]
        self._installed_seq = plan.seq

    def _update_routes(self, snap: Snapshot, report: ApplyReport, progress: Progress,
                       new_hop: Optional[np.ndarray], changes: Optional[TableChanges] = None,
                       plan: Optional["RoutePlan"] = None) -> None:
        if plan is None:
            plan = self.plan_routes(snap, new_hop, changes)
        batches = plan.batches
        report.route_operations = plan.operations
        if self.forwarding_map is not None:
            rows, cols = plan.pairs
            self.forwarding_map.write(cols, self.destinations[rows], plan.new_hop[rows, cols])
            self.commit_routes(plan)
            report.routes_changed = int(len(rows))
            return
        if not batches:
            self.commit_routes(plan)
            return
        nodes = np.unique(np.concatenate([b.nodes for b in batches]))
        for b in batches:
            b.index(nodes)
        total = len(nodes)

        def program(k: int) -> Tuple[int, List[Tuple[int, int]]]:
            v = int(nodes[k])
            sock = self._sockets[v]
            for b in batches:
                b.send(sock, k)
            return v, [e for e in sock.drain_errors() if e[1] not in _BENIGN]

        def note(v: int, errors: List[Tuple[int, int]], done: int) -> None:
            if errors:
                report.errors.append(f"routes in {self.nodes[v].name}: {describe_errors(errors)}")
            if done % 64 == 0 or done == total:
                progress("routes", done, total)

        if report.route_operations < 50000:  # a tick's changes: threads would cost more than they save
            for done, k in enumerate(range(total), 1):
                note(*program(k), done)
        else:                    # bring-up: the kernel work runs in the sending thread
            with ThreadPoolExecutor(max_workers=2) as pool:
                for done, (v, errors) in enumerate(pool.map(program, range(total)), 1):
                    note(v, errors, done)
        self.commit_routes(plan)
        report.routes_changed = int(len(plan.pairs[0]))

    def _inline_batches(self, new_hop: np.ndarray, pairs: Tuple[np.ndarray, np.ndarray]
                        ) -> Tuple[List["_NodeBatch"], int]:
        """Messages for routes that name their gateway: one per changed entry (``pairs``:
        their rows and columns)."""
        d_rows, v_cols = pairs
        via = new_hop[d_rows, v_cols]
        put = via >= 0
        gone = (~put) & (self.next_hop[d_rows, v_cols] >= 0)
        puts = _NodeBatch.of(v_cols[put], lambda o: route_messages(self.destinations[d_rows[put][o]], via[put][o],
                                                                     via[put][o] + IFINDEX_OFFSET, v_cols[put][o]))
        dels = _NodeBatch.of(v_cols[gone], lambda o: delete_route_messages(self.destinations[d_rows[gone][o]]))
        return [puts, dels], int(put.sum() + gone.sum())

    def _object_batches(self, plan: SlotPlan) -> Tuple[List["_NodeBatch"], int]:
        """Messages for routes through next-hop objects, in the order :class:`SlotPlan` asks."""
        def objects(nodes, slots, targets) -> "_NodeBatch":
            return _NodeBatch.of(nodes, lambda o: nexthop_messages(slots[o] + 1, targets[o],
                                                                    targets[o] + IFINDEX_OFFSET))
        rows, nodes, slots = plan.puts
        operations = plan.operations
        if self._aggregate and not self._routes_installed:     # the first table: as few prefixes
            table = np.zeros(self.next_hop.shape, dtype=np.int32)
            table[rows, nodes] = slots + 1
            prefixes = aggregate(table, self.destinations, np.arange(table.shape[1]))
            # nodes with too many objects to aggregate keep a /32 per destination
            left = np.isin(nodes, prefixes.node, invert=True)
            first = np.concatenate((prefixes.first, self.destinations[rows[left]]))
            bits = np.concatenate((prefixes.bits, np.zeros(int(left.sum()), dtype=np.int64)))
            ids = np.concatenate((prefixes.object_id, slots[left] + 1))
            owner = np.concatenate((prefixes.node, nodes[left]))
            puts = _NodeBatch.of(owner, lambda o: nexthop_route_messages(first[o], ids[o], owner[o], 32 - bits[o]))
            operations += len(owner) - len(rows)
        else:
            puts = _NodeBatch.of(nodes, lambda o: nexthop_route_messages(self.destinations[rows[o]], slots[o] + 1,
                                                                         nodes[o]))
        del_rows, del_nodes = plan.deletes
        if self._aggregate:     # a prefix may cover the destination: hide it
            dels = _NodeBatch.of(del_nodes, lambda o: throw_route_messages(self.destinations[del_rows[o]],
                                                                           del_nodes[o]))
        else:
            dels = _NodeBatch.of(del_nodes, lambda o: delete_route_messages(self.destinations[del_rows[o]]))
        return [objects(*plan.fresh), puts, objects(*plan.repoints), dels], operations

    def _check(self, sock: RtnlSocket, report: ApplyReport, what: str) -> None:
        errors = [e for e in sock.drain_errors() if e[1] not in _BENIGN]
        if errors:
            report.errors.append(f"{what}: {describe_errors(errors)}")

    # ------------------------------------------------------------------ faults
    def set_link_override(self, a: str, b: str, override: Optional[LinkOverride]) -> ApplyReport:
        """Fail, degrade (``override``) or restore (None) the link between two nodes,
        and apply the change now. It persists across ticks until restored."""
        i, j = self.node(a).index, self.node(b).index
        if override is None:
            self.overrides.clear(i, j)
        else:
            self.overrides.set(i, j, override)
        if self.engine_snapshot is None:
            return ApplyReport()
        return self.apply(self.engine_snapshot)

    # ------------------------------------------------------------------ checks
    def self_check(self) -> "RouteCheck":
        """Walk every (node, destination) pair through the kernel's routing tables and judge the
        paths against the engine's least delay at the applied tick (see :mod:`.selfcheck`)."""
        from ..orbits.timeutil import format_utc
        from .rtnl import dump_host_routes
        from .selfcheck import TOLERANCE_MS, check_tables
        with self._apply_lock:  # tables and snapshot of the same tick
            snap = self.snapshot
            if snap is None:
                raise LeonetError("the network is not up yet")
            fmap = self.forwarding_map
            tables = ([ebpf_table.usable_table(fmap, v, s) for v, s in enumerate(self._sockets)]
                      if fmap is not None else [dump_host_routes(s) for s in self._sockets])
            if self.per_pair:   # the kernel's links are the pair links: judge the walks over them
                snap = pairwise_snapshot(snap, self.links)
        return check_tables(self.engine.nodes.names, self.destinations, tables, [snap],
                            self.config.delay_update_threshold_ms, format_utc(snap.time),
                            tolerance_ms=TOLERANCE_MS + self.config.route_hysteresis_ms)
