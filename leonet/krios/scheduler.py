"""The Krios scheduler (§5.2): a second Kubernetes scheduler, talking to the API server
only over HTTPS, for pods with ``spec.schedulerName: krios``.

For each pending pod it:

1. resolves the pod's zone (:func:`.kube.pod_zone`);
2. **filters** the nodes, the zone first: on a satellite in the zone's projected
   region *now* (``get_zone_nodes``, one vectorised test of the cluster's satellites;
   about 8 of shell 1's 1,584 pass for a 50 km zone), then of those: Ready,
   schedulable, taints tolerated, ``nodeSelector`` matched, cpu/memory/pod count
   within allocatable, not the node named in the ``krios.leonet.io/exclude-node``
   annotation (a handover's old host). (kube-scheduler likewise stops running a node
   through the filter plugins at the first that rejects it.)
3. **scores** them by the policy (``get_best_node``; default ``v . (c - p)``);
4. **binds** the pod with a ``pods/binding`` POST whose ``metadata.annotations`` carry
   the host's predicted exit from the region (the API server sets a Binding's
   annotations on the pod in the same write, as kube-apiserver does), so placing a pod
   costs Krios the same one request as the no-op. As in kube-scheduler, the binding
   runs beside the next decisions (at most ``max_binds_in_flight`` at a time): the pod
   is *assumed* on its node, counted in that node's resources, until the watch shows
   it bound, or the binding fails and the pod goes back to the queue.

A pod no node fits stays pending; it gets a ``FailedScheduling`` event and is retried
every ``retry_s`` seconds (satellites enter the region all the time). With
``noop=True`` the same loop binds to a uniformly random feasible node of all nodes,
without any zone work: the paper's no-op baseline of Fig. 13.

A decision costs no more than the no-op one (Fig. 13): what a node object says (its
satellite, readiness, taints, allocatable) is parsed once per version of the object,
not once per pod; the zone filter leaves a handful of nodes for the others; the zones
manager propagates the cluster's satellites once per emulated second
(:data:`POSITION_KNOT_S`), the next second's while the scheduler is idle, and every
pod decided within that second reuses the state; the exit prediction costs one SGP4
run of one satellite (:meth:`.ZoneManager.exit_time`). Before it reports ready
(:attr:`KriosScheduler.ready`) the scheduler warms up (:meth:`KriosScheduler.warm_up`):
node facts parsed, and for Krios the zones manager built and every configured zone's
region evaluated once, so the first pods after start-up do not pay for it.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from ..controlplane.controllers.scheduler import parse_quantity, pod_requests, tolerates
from ..controlplane.errors import ApiError
from ..controlplane.timefmt import now_rfc3339
from ..errors import ConfigError
from ..orbits import Constellation
from ..orbits.timeutil import add_seconds, format_utc
from .clock import Clock
from .config import KriosConfig
from .kube import (ANN_EXCLUDE, ANN_EXIT, LABEL_POLICY, Cache, SatelliteMap, node_ready, pod_key, pod_zone)
from .manager import ZoneManager
from .policies import POLICIES

log = logging.getLogger("leonet.krios.scheduler")

#: the zones manager propagates the satellites once per this many emulated seconds and
#: advances them linearly in between (metres off; see :mod:`.manager`)
POSITION_KNOT_S = 1.0
#: how often (real s) an idle Krios scheduler checks that the next knot's positions are ready
PREPARE_EVERY_S = 0.25
_NOTHING_USED = (0.0, 0.0, 0.0)      # cpu, memory, pods of a node no pod uses


@dataclass(frozen=True)
class NodeFacts:
    """What the filter needs from one version of a node object, parsed once."""

    name: str
    satellite: Optional[int]
    schedulable: bool                 #: Ready and not cordoned
    taints: Tuple[dict, ...]          #: NoSchedule / NoExecute taints
    labels: Dict[str, str]
    max_pods: Optional[float]
    cpu: Optional[float]
    memory: Optional[float]


@dataclass
class Decision:
    """One scheduling decision (for logs and Fig. 13)."""

    pod: Tuple[str, str]
    node: Optional[str]
    satellite: Optional[str]
    satellite_index: Optional[int]
    candidates: int          #: satellites the policy chose among (Krios: in the region, with a feasible node)
    feasible: int            #: nodes that passed the resource and placement filters, of those checked
    decide_s: float          #: filter + score time
    bind_s: float            #: the binding request's round trip
    exit_s: float = 0.0      #: predicting the host's exit for the binding's annotation (Krios only)
    created_to_bound_s: Optional[float] = None
    exit_offset_s: Optional[float] = None
    reason: str = ""
    checked: int = 0         #: nodes run through the filters (Krios: those in the region; no-op: all)


@dataclass
class SchedulerStats:
    decisions: List[Decision] = field(default_factory=list)
    failures: int = 0


class KriosScheduler:
    def __init__(self, conn, constellation: Constellation, cfg: KriosConfig, clock: Clock,
                 namespace: Optional[str] = None, noop: bool = False, retry_s: float = 1.0, seed: int = 0,
                 max_binds_in_flight: int = 16):
        self.conn, self.constellation, self.cfg, self.clock = conn, constellation, cfg, clock
        self.namespace, self.noop, self.retry_s = namespace, noop, retry_s
        self.name = cfg.scheduler_name
        self.sats = SatelliteMap(constellation)
        self.rng = np.random.default_rng(seed)
        self.stats = SchedulerStats()
        self._queue: "asyncio.Queue[Tuple[str, str]]" = asyncio.Queue()
        self._queued: Set[Tuple[str, str]] = set()
        self._manager: Optional[ZoneManager] = None
        self._manager_version = -1
        self._nodes_on_sat: Dict[int, List[Tuple[str, str]]] = {}   # satellite -> keys of its nodes
        self._sat_of_node: Dict[Tuple[str, str], Optional[int]] = {}   # as the manager was built
        self._node_set_version = 0      # bumped when a node comes, goes or names another satellite
        self._facts: Dict[str, Tuple[dict, NodeFacts]] = {}     # node name -> (the object parsed, its facts)
        self._warned: Set[Tuple[str, str]] = set()
        #: pods whose binding is in flight or not yet seen in the watch -> their node
        self._assumed: Dict[Tuple[str, str], str] = {}
        self._binds = asyncio.Semaphore(max_binds_in_flight)
        self._background: Set[asyncio.Task] = set()
        self._idle = asyncio.Event()     # set while no pod waits for a decision
        #: set once the caches are in sync and the scheduler has warmed up (:meth:`warm_up`)
        self.ready = asyncio.Event()
        self.nodes = Cache(conn, "v1", "nodes", on_change=self._node_event)
        self.pods = Cache(conn, "v1", "pods", namespace, on_change=self._pod_event)

    # ------------------------------------------------------------------ watch
    def _responsible(self, pod: dict) -> bool:
        spec = pod.get("spec") or {}
        return spec.get("schedulerName") == self.name and not spec.get("nodeName") \
            and not pod["metadata"].get("deletionTimestamp") and pod_key(pod) not in self._assumed \
            and (pod.get("status") or {}).get("phase", "Pending") == "Pending"

    def _enqueue(self, key: Tuple[str, str]) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def _pod_event(self, typ: str, pod: dict) -> None:
        if typ == "DELETED" or (pod.get("spec") or {}).get("nodeName"):
            self._assumed.pop(pod_key(pod), None)      # the watch shows it bound (or gone) now
        if typ != "DELETED" and self._responsible(pod):
            self._enqueue(pod_key(pod))

    def _node_event(self, typ: str, node: dict) -> None:
        if typ == "DELETED":
            self._facts.pop(node["metadata"]["name"], None)
        if typ != "MODIFIED" or self.sats.satellite_of(node) != self._sat_of_node.get(Cache.key(node)):
            self._node_set_version += 1

    async def run(self) -> None:
        """Watch nodes and pods and schedule until cancelled."""
        tasks = [asyncio.ensure_future(self.nodes.run()), asyncio.ensure_future(self.pods.run())]
        try:
            await self.nodes.synced.wait()
            await self.pods.synced.wait()
            self.warm_up()
            self.ready.set()
            if not self.noop:
                tasks.append(asyncio.ensure_future(self._keep_positions_ready()))
            for pod in list(self.pods.objects.values()):
                if self._responsible(pod):
                    self._enqueue(pod_key(pod))
            while True:
                if self._queue.empty():
                    self._idle.set()
                key = await self._queue.get()
                self._idle.clear()
                self._queued.discard(key)
                pod = self.pods.objects.get(key)
                if pod is None or not self._responsible(pod):
                    continue
                if not await self.schedule_one(pod):
                    asyncio.get_running_loop().call_later(self.retry_s, self._retry, key)
        finally:
            for t in tasks:
                t.cancel()

    async def _keep_positions_ready(self) -> None:
        """While no pod waits for a decision, have the zones manager propagate the next
        emulated second's positions (and rebuild itself after the node set changed), so
        a decision finds them ready instead of paying for an SGP4 run of the cluster."""
        while True:
            await asyncio.sleep(PREPARE_EVERY_S)
            if self._idle.is_set():
                try:
                    self.manager().prepare(self.clock.offset_s())
                except Exception as exc:      # only an optimisation: decisions propagate on demand
                    log.warning("preparing the next positions: %s", exc)

    def _retry(self, key: Tuple[str, str]) -> None:
        pod = self.pods.objects.get(key)
        if pod is not None and self._responsible(pod):
            self._enqueue(key)

    def warm_up(self) -> None:
        """Do once, before the first pod, what the first decisions would otherwise pay
        for: parse every node's facts and, for Krios, build the zones manager, propagate
        the satellites at now and evaluate each configured zone's region."""
        t0 = time.perf_counter()
        for node in list(self.nodes.objects.values()):
            self.facts(node)
        if not self.noop:
            manager, now = self.manager(), self.clock.offset_s()
            for zone in self.cfg.zones.values():
                manager.members(zone, now)
        log.info("warmed up in %.1f ms (%d nodes)", 1000 * (time.perf_counter() - t0), len(self.nodes.objects))

    # ------------------------------------------------------------------ decide
    def facts(self, node: dict) -> NodeFacts:
        """The node's :class:`NodeFacts`, parsed again only when the object changed."""
        name = node["metadata"]["name"]
        memo = self._facts.get(name)
        if memo is not None and memo[0] is node:
            return memo[1]
        spec, status = node.get("spec") or {}, node.get("status") or {}
        alloc = status.get("allocatable") or {}

        def quantity(key: str) -> Optional[float]:
            return parse_quantity(alloc[key]) if alloc.get(key) is not None else None
        facts = NodeFacts(name, self.sats.satellite_of(node), node_ready(node) and not spec.get("unschedulable"),
                          tuple(t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")),
                          dict(node["metadata"].get("labels") or {}), quantity("pods"), quantity("cpu"),
                          quantity("memory"))
        if memo is not None and memo[1].satellite != facts.satellite:
            self._node_set_version += 1
        self._facts[name] = (node, facts)
        return facts

    def manager(self) -> ZoneManager:
        """A zones manager over the satellites that are nodes of the cluster."""
        if self._manager is None or self._manager_version != self._node_set_version:
            on_sat: Dict[int, List[Tuple[str, str]]] = {}
            self._sat_of_node = {}
            for key, node in self.nodes.objects.items():
                sat = self._sat_of_node[key] = self.facts(node).satellite
                if sat is not None:
                    on_sat.setdefault(sat, []).append(key)
            self._manager = ZoneManager(self.constellation, sorted(on_sat), knot_s=POSITION_KNOT_S)
            self._nodes_on_sat = on_sat
            self._manager_version = self._node_set_version
        return self._manager

    def feasible(self, pod: dict, nodes: Optional[List[dict]] = None) -> List[NodeFacts]:
        """Of ``nodes`` (default: every node), those that pass the resource and placement
        filters (not the zone filter)."""
        names = None if nodes is None else {n["metadata"]["name"] for n in nodes}
        used: Dict[str, List[float]] = {}

        def count(n: str, p: dict) -> None:
            u = used.setdefault(n, [0.0, 0.0, 0.0])
            r = pod_requests(p)
            u[0] += r["cpu"]
            u[1] += r["memory"]
            u[2] += 1
        for p in self.pods.objects.values():
            n = (p.get("spec") or {}).get("nodeName")
            if n and (names is None or n in names) and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                count(n, p)
        for key, n in self._assumed.items():         # bound by us, not yet in the cache as bound
            p = self.pods.objects.get(key)
            if p is not None and (names is None or n in names) and not (p.get("spec") or {}).get("nodeName"):
                count(n, p)
        spec = pod.get("spec") or {}
        want = pod_requests(pod)
        exclude = set(((pod["metadata"].get("annotations") or {}).get(ANN_EXCLUDE) or "").split(","))
        selector = (spec.get("nodeSelector") or {}).items()
        tolerations = spec.get("tolerations")
        out = []
        for node in self.nodes.objects.values() if nodes is None else nodes:
            f = self.facts(node)
            if not f.schedulable or f.name in exclude:
                continue
            if f.taints and any(not tolerates(tolerations, t) for t in f.taints):
                continue
            if any(f.labels.get(k) != v for k, v in selector):
                continue
            cpu, memory, count_ = used.get(f.name, _NOTHING_USED)
            if f.max_pods is not None and count_ + 1 > f.max_pods:
                continue
            if want["cpu"] and f.cpu is not None and cpu + want["cpu"] > f.cpu:
                continue
            if want["memory"] and f.memory is not None and memory + want["memory"] > f.memory:
                continue
            out.append(f)
        return out

    def decide(self, pod: dict) -> Decision:
        """Filter and score for one pod at the clock's now (no API call).

        Krios filters by zone first: only the nodes on satellites in the zone's
        projected region now (a vectorised test of the cluster's satellites, about 8 of
        shell 1's 1,584 for a 50 km zone) go through the resource and placement filters,
        as in kube-scheduler a node that fails the first filter plugin is not run through
        the others. The no-op filters every node and picks one at random."""
        t0 = time.perf_counter()
        key = pod_key(pod)
        if self.noop:
            nodes = self.feasible(pod)
            pick = nodes[int(self.rng.integers(len(nodes)))] if nodes else None
            return Decision(key, pick.name if pick else None, None, None, len(nodes), len(nodes),
                            time.perf_counter() - t0, 0.0, reason="" if pick else "no feasible node",
                            checked=len(self.nodes.objects))
        zone = pod_zone(pod, self.cfg)
        policy = (pod["metadata"].get("labels") or {}).get(LABEL_POLICY) or self.cfg.policy
        if policy not in POLICIES:
            raise ConfigError(f"metadata.labels.{LABEL_POLICY}", policy, "unknown policy", "use " + ", ".join(POLICIES))
        manager = self.manager()
        now = self.clock.offset_s()
        in_region = [self.nodes.objects[k] for s in manager.members(zone, now)
                     for k in self._nodes_on_sat.get(int(s), ()) if k in self.nodes.objects]
        nodes = self.feasible(pod, in_region)
        by_sat = {f.satellite: f.name for f in nodes if f.satellite is not None}
        members = list(by_sat)
        best = manager.best(zone, now, members, policy, self.rng)
        if best is not None:
            reason = ""
        elif in_region:
            reason = (f"0/{len(self.nodes.objects)} nodes are available: {len(in_region)} on satellites in zone "
                      f"{zone.name}'s projected region now, none of them fits (readiness, taints, node selector, "
                      f"resources or the excluded node)")
        else:
            reason = (f"0/{len(self.nodes.objects)} nodes are available: none of them on a satellite in zone "
                      f"{zone.name}'s projected region now")
        return Decision(key, by_sat[best] if best is not None else None,
                        self.constellation.satellites[best].name if best is not None else None, best,
                        len(members), len(nodes), time.perf_counter() - t0, 0.0, reason=reason, checked=len(in_region))

    async def schedule_one(self, pod: dict) -> bool:
        key = pod_key(pod)
        try:
            d = self.decide(pod)
        except ConfigError as exc:
            if key not in self._warned:
                self._warned.add(key)
                self._spawn(self._event(pod, "FailedScheduling", str(exc), "Warning"))
            return False
        if d.node is None:
            self.stats.failures += 1
            if key not in self._warned:
                self._warned.add(key)
                self._spawn(self._event(pod, "FailedScheduling", d.reason, "Warning"))
            return False
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": key[1], "namespace": key[0]},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": d.node}}
        if d.satellite_index is not None:
            t0 = time.perf_counter()
            d.exit_offset_s = self.manager().pass_exit_time(pod_zone(pod, self.cfg), d.satellite_index,
                                                            self.clock.offset_s())
            if math.isfinite(d.exit_offset_s):
                binding["metadata"]["annotations"] = {
                    ANN_EXIT: format_utc(add_seconds(self.constellation.start, round(d.exit_offset_s, 3)))}
            d.exit_s = time.perf_counter() - t0
        await self._binds.acquire()
        self._assumed[key] = d.node
        self._spawn(self._bind(pod, d, binding))
        # let the binding go out now, while the next pod is decided (a queue with pods in
        # it hands them over without ever yielding to the binding tasks)
        await asyncio.sleep(0)
        return True

    async def _bind(self, pod: dict, d: Decision, binding: dict) -> None:
        """The binding cycle, beside the next decisions; a failure puts the pod back."""
        key = pod_key(pod)
        t0 = time.perf_counter()
        try:
            await self.conn.create("v1", "pods", binding, namespace=key[0], name=key[1], subresource="binding")
        except asyncio.CancelledError:
            self._assumed.pop(key, None)
            raise
        except Exception as exc:      # an API error or a broken connection: forget the assumption
            log.warning("binding %s/%s to %s: %s", key[0], key[1], d.node, exc)
            self._assumed.pop(key, None)
            if not (isinstance(exc, ApiError) and exc.code in (404, 409)):   # gone, or bound by someone else
                asyncio.get_running_loop().call_later(self.retry_s, self._retry, key)
            return
        finally:
            self._binds.release()
        d.bind_s = time.perf_counter() - t0
        self.stats.decisions.append(d)
        self._warned.discard(key)
        log.info("bound %s/%s to %s (%s; %d feasible of %d checked; decided in %.1f ms)", key[0], key[1], d.node,
                 d.satellite or "noop", d.feasible, d.checked, d.decide_s * 1000)
        self._spawn(self._after_bind(pod, d))

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _after_bind(self, pod: dict, d: Decision) -> None:
        key = pod_key(pod)
        await self._idle.wait()      # a burst of pods is decided first
        await self._event(pod, "Scheduled", f"Successfully assigned {key[0]}/{key[1]} to {d.node}")

    async def _event(self, pod: dict, reason: str, message: str, type_: str = "Normal") -> None:
        md = pod["metadata"]
        now = now_rfc3339()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": f"{md['name']}.{uuid.uuid4().hex[:12]}", "namespace": md.get("namespace", "default")},
              "involvedObject": {"kind": "Pod", "apiVersion": "v1", "name": md["name"],
                                 "namespace": md.get("namespace", "default"), "uid": md.get("uid", "")},
              "reason": reason, "message": message, "type": type_, "count": 1, "firstTimestamp": now,
              "lastTimestamp": now, "source": {"component": self.name}, "reportingComponent": self.name}
        try:
            await self.conn.create("v1", "events", ev, namespace=md.get("namespace", "default"))
        except ApiError as exc:
            log.debug("event: %s", exc)
