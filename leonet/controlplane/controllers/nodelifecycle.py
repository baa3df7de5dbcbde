"""Node lifecycle: Ready/NotReady/Unknown from Lease renewals and status posts, the
``node.kubernetes.io/unreachable`` and ``not-ready`` taints, taint-based eviction of pods, and
Kubernetes' TaintNodesByCondition: a node reporting ``MemoryPressure``, ``DiskPressure`` or
``PIDPressure`` True gets ``node.kubernetes.io/memory-pressure`` (``disk-pressure``, ``pid-pressure``)
with effect NoSchedule as soon as the status arrives (the scheduler then places no new pod there; the
node's agent evicts its running pods, as the kubelet's eviction manager does), removed when the condition
clears.

Heartbeats are timed by when this controller *observes* them change (as Kubernetes does), so clock
skew between an agent and the control plane does not matter. After a control plane (re)starts, every
node gets a full grace period.

Only nodes this plane manages (binding state ``Bound``, see :mod:`..binding`) are monitored: a node
another plane manages, or one being handed over, is never marked Unknown, tainted or evicted here.

Defaults are Kubernetes': node-monitor-period 5 s, node-monitor-grace-period 40 s; eviction follows the
pods' NoExecute tolerations (300 s added by default at pod creation).
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Dict, Optional, Set, Tuple

from ..binding import managed_here
from ..errors import ApiError
from ..timefmt import now_rfc3339, parse_time
from ..watch import DELETED, Event
from .events import record_event
from .scheduler import tolerates

log = logging.getLogger("leonet.controlplane.nodelifecycle")

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
#: node condition -> the NoSchedule taint Kubernetes puts on a node while the condition is True
PRESSURE_TAINTS = {"MemoryPressure": "node.kubernetes.io/memory-pressure",
                   "DiskPressure": "node.kubernetes.io/disk-pressure",
                   "PIDPressure": "node.kubernetes.io/pid-pressure"}
LEASE_NS = "kube-node-lease"


def _ready_status(node: dict) -> Optional[str]:
    for c in node.get("status", {}).get("conditions", []) or []:
        if c.get("type") == "Ready":
            return c.get("status")
    return None


def _pressure_taints(node: dict) -> Set[Tuple[str, str]]:
    """The (key, effect) pressure taints ``node``'s conditions call for."""
    conds = (node.get("status") or {}).get("conditions") or []   # runs on every node write: never raise
    on = {c.get("type") for c in conds if isinstance(c, dict) and c.get("status") == "True"}
    return {(taint, "NoSchedule") for cond, taint in PRESSURE_TAINTS.items() if cond in on}


class NodeLifecycleController:
    def __init__(self, api, monitor_period: float = 5.0, grace_period: float = 40.0,
                 orphan_pod_grace: float = 20.0):
        self.api = api
        self.monitor_period = monitor_period
        self.grace_period = grace_period
        self.orphan_pod_grace = orphan_pod_grace
        self._seen: Dict[str, float] = {}        # node -> monotonic time of the last observed heartbeat
        self._orphans: Dict[tuple, float] = {}   # pod key -> first seen bound to a missing node

    def on_event(self, ev: Event) -> None:
        if ev.key == "leases.coordination.k8s.io" and ev.obj["metadata"].get("namespace") == LEASE_NS:
            if ev.type != DELETED and (ev.old is None or ev.old.get("spec", {}).get("renewTime")
                                       != ev.obj.get("spec", {}).get("renewTime")):
                self._seen[ev.obj["metadata"]["name"]] = time.monotonic()
        elif ev.key == "nodes":
            name = ev.obj["metadata"]["name"]
            if ev.type == DELETED:
                self._seen.pop(name, None)
            else:
                if ev.old is None or self._heartbeat(ev.old) != self._heartbeat(ev.obj):
                    self._seen[name] = time.monotonic()
                if _pressure_taints(ev.obj) != _pressure_taints(ev.old or {}):
                    self._taint_soon(name)

    def _taint_soon(self, name: str) -> None:
        """Sync a node's pressure taints right after this store event (not at the next monitor pass,
        up to 5 s later: a pod created meanwhile could be scheduled onto the node under pressure)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return   # no loop (a store used without the controller running): the next pass does it
        loop.call_soon(self._sync_pressure, name)

    def _sync_pressure(self, name: str) -> None:
        node = self.api.store.get("nodes", "", name)
        if node is not None and managed_here(node):
            self._sync_taints(node, _pressure_taints(node), set(PRESSURE_TAINTS.values()))

    @staticmethod
    def _heartbeat(node: dict) -> Optional[str]:
        for c in node.get("status", {}).get("conditions", []) or []:
            if c.get("type") == "Ready":
                return c.get("lastHeartbeatTime")
        return None

    async def run(self) -> None:
        start = time.monotonic()
        for node in self.api.store.list("nodes"):
            self._seen.setdefault(node["metadata"]["name"], start)
        while True:
            await asyncio.sleep(self.monitor_period)
            try:
                self.monitor()
            except Exception:  # keep monitoring whatever one node's object looks like
                log.exception("node lifecycle pass failed")

    def monitor(self) -> None:
        now = time.monotonic()
        for node in list(self.api.store.list("nodes")):
            name = node["metadata"]["name"]
            if not managed_here(node):
                self._seen[name] = now   # a full grace period from the moment it becomes Bound here
                continue
            seen = self._seen.setdefault(name, now)
            ready = _ready_status(node)
            if now - seen > self.grace_period and ready != "Unknown":
                self._mark_unknown(node)
                node = self.api.store.get("nodes", "", name) or node
                ready = "Unknown"
            want: Set[Tuple[str, str]] = set()
            if ready == "Unknown":
                want = {(UNREACHABLE, e) for e in ("NoSchedule", "NoExecute")}
            elif ready != "True":
                want = {(NOT_READY, e) for e in ("NoSchedule", "NoExecute")}
            want |= _pressure_taints(node)
            node = self._sync_taints(node, want, {UNREACHABLE, NOT_READY, *PRESSURE_TAINTS.values()})
            if ready != "True":
                self._evict(node)
        self._gc_orphans(now)

    def _mark_unknown(self, node: dict) -> None:
        new = copy.deepcopy(node)
        ts = now_rfc3339()
        conds = new.setdefault("status", {}).setdefault("conditions", [])
        if not any(c.get("type") == "Ready" for c in conds):
            conds.append({"type": "Ready", "lastHeartbeatTime": None})
        for c in conds:
            if c.get("status") != "Unknown":
                c["lastTransitionTime"] = ts
            c["status"] = "Unknown"
            c["reason"] = "NodeStatusUnknown"
            c["message"] = "Kubelet stopped posting node status."
        try:
            self.api.update(self.api.core("nodes"), None, node["metadata"]["name"], new, "status")
        except ApiError as e:
            log.debug("mark unknown %s: %s", node["metadata"]["name"], e)
            return
        record_event(self.api, node, "NodeNotReady", f"Node {node['metadata']['name']} status is now: "
                     "NodeNotReady", "Normal", "node-controller")
        for pod in self.api.store.list("pods"):
            if pod.get("spec", {}).get("nodeName") == node["metadata"]["name"]:
                conds = pod.get("status", {}).get("conditions", [])
                if any(c.get("type") == "Ready" and c.get("status") != "False" for c in conds):
                    p = copy.deepcopy(pod)
                    for c in p["status"]["conditions"]:
                        if c.get("type") in ("Ready", "ContainersReady"):
                            c["status"] = "False"
                            c["lastTransitionTime"] = ts
                    try:
                        self.api.update(self.api.core("pods"), p["metadata"]["namespace"], p["metadata"]["name"],
                                        p, "status")
                    except ApiError:
                        pass

    def _sync_taints(self, node: dict, want: Set[Tuple[str, str]], ours: Set[str]) -> dict:
        """Make the node's taints with a key in ``ours`` exactly ``want`` ((key, effect) pairs); others stay."""
        taints = node.get("spec", {}).get("taints") or []
        have = {(t.get("key"), t.get("effect")) for t in taints if t.get("key") in ours}
        if have == want:
            return node
        ts = now_rfc3339()
        kept = [t for t in taints if t.get("key") not in ours or (t.get("key"), t.get("effect")) in want]
        for k, e in sorted(want - have):
            t = {"key": k, "effect": e}
            if e == "NoExecute":
                t["timeAdded"] = ts
            kept.append(t)
        new = copy.deepcopy(node)
        new.setdefault("spec", {})["taints"] = kept
        if not kept:
            new["spec"].pop("taints")
        try:
            return self.api.update(self.api.core("nodes"), None, node["metadata"]["name"], new)
        except ApiError as e:
            log.debug("taint %s: %s", node["metadata"]["name"], e)
            return node

    def _evict(self, node: dict) -> None:
        """Delete pods that do not tolerate the node's NoExecute taints (or whose toleration expired)."""
        taints = [t for t in node.get("spec", {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return
        now = time.time()
        pods_rt = self.api.core("pods")
        for pod in list(self.api.store.list("pods")):
            if pod.get("spec", {}).get("nodeName") != node["metadata"]["name"] \
                    or pod["metadata"].get("deletionTimestamp"):
                continue
            tols = pod.get("spec", {}).get("tolerations") or []
            evict = False
            for t in taints:
                matching = [tol for tol in tols if tolerates([tol], t)]
                if not matching:
                    evict = True
                    break
                secs = [tol.get("tolerationSeconds") for tol in matching]
                if any(s is None for s in secs):
                    continue
                added = parse_time(t.get("timeAdded")) or now
                if now >= added + min(int(s) for s in secs):
                    evict = True
                    break
            if evict:
                try:
                    self.api.delete(pods_rt, pod["metadata"]["namespace"], pod["metadata"]["name"])
                    record_event(self.api, pod, "TaintManagerEviction",
                                 f"Marking for deletion Pod {pod['metadata']['namespace']}/"
                                 f"{pod['metadata']['name']}", "Normal", "taint-eviction-controller")
                except ApiError:
                    pass

    def _gc_orphans(self, now: float) -> None:
        """Pod GC: force-delete pods bound to nodes that no longer exist (after a short grace, so that
        a node re-registering, e.g. after a drain and TLS bootstrap, keeps its pods)."""
        nodes = {n["metadata"]["name"] for n in self.api.store.list("nodes")}
        pods_rt = self.api.core("pods")
        live = set()
        for pod in list(self.api.store.list("pods")):
            n = pod.get("spec", {}).get("nodeName")
            if not n or n in nodes:
                continue
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            live.add(key)
            first = self._orphans.setdefault(key, now)
            if now - first >= self.orphan_pod_grace:
                try:
                    self.api.delete(pods_rt, key[0], key[1], {"gracePeriodSeconds": 0})
                except ApiError:
                    pass
        self._orphans = {k: v for k, v in self._orphans.items() if k in live}
