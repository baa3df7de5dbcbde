"""A kubelet-like node agent. Many agents share one asyncio loop (and one process); each talks to its
control plane through its own :class:`ApiConnection`, whose sockets can live in the node's network
namespace.

Kubernetes' default intervals: Lease of 40 s renewed every 10 s; node status computed every 10 s and
posted when it changed or every 5 min; crash-loop back-off 10 s to 5 min.

Under node pressure the agent does what the kubelet's eviction manager does: while MemoryPressure,
DiskPressure or PIDPressure is True it evicts one running pod per ``eviction_interval`` (BestEffort
first, then Burstable, then Guaranteed; lower priority first): the pod is killed at once (hard
eviction) and reported ``Failed`` with reason ``Evicted``. It also refuses to start new pods the
kubelet would refuse (BestEffort under MemoryPressure, any pod under DiskPressure or PIDPressure).
Rescheduling is the control plane's part (the pressure taints keep new pods away from the node) and
the pod's owner's (it creates a replacement).
"""
from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from ..errors import ApiError
from ..timefmt import now_micro, now_rfc3339
from .bootstrap import request_node_certificate
from .connection import ApiConnection
from .nodestatus import conditions as node_conditions, host_pressure, node_info
from .probes import ProbeWorker
from .runtime import PodKey, PodRuntime, PodState, make_runtime

log = logging.getLogger("leonet.controlplane.agent")
LEASE_API, LEASE_NS = "coordination.k8s.io/v1", "kube-node-lease"


@dataclass
class AgentConfig:
    lease_duration_seconds: int = 40
    renew_interval: float = 10.0               # the kubelet renews at 1/4 of the lease duration
    status_update_frequency: float = 10.0      # nodeStatusUpdateFrequency
    status_report_frequency: float = 300.0     # nodeStatusReportFrequency (post even if unchanged)
    orphan_grace: float = 60.0                 # after a swap: keep pods the new plane does not know yet
    watch_timeout: int = 300
    retry_interval: float = 1.0
    max_retry_interval: float = 10.0
    sync_period: float = 10.0
    kubelet_version: str = "v1.31.0-leonet"
    capacity: Dict[str, str] = field(default_factory=lambda: {
        "cpu": "2", "memory": "4Gi", "pods": "110", "ephemeral-storage": "10Gi"})
    jitter: bool = True                        # spread the first beats of many agents
    eviction_interval: float = 10.0            # evictionMonitoringPeriod: one pod evicted per period
    pod_runtime: str = "process"               # process | docker (runtime.POD_RUNTIMES)


class NodeAgent:
    """One node's agent. ``address`` is the node's IP (InternalIP, and podIP of process pods);
    ``netns`` the node's network namespace (pods and probes run there; the connection's sockets are
    created there when the connection has no namespace of its own); ``pod_cidr`` the node's Pod CIDR,
    assigned in advance (``spec.podCIDR`` at registration) rather than by the control plane."""

    def __init__(self, name: str, connection: ApiConnection, runtime: Optional[PodRuntime] = None, *,
                 address: str = "127.0.0.1", netns: Optional[str] = None,
                 labels: Optional[Dict[str, str]] = None, taints: Optional[List[dict]] = None,
                 config: Optional[AgentConfig] = None, pressure: Optional[Dict[str, bool]] = None,
                 pod_cidr: Optional[str] = None):
        self.name, self.address, self.netns = name, address, netns
        self.pod_cidr = pod_cidr
        if connection.netns is None and netns is not None:
            connection.netns = netns
        self.conn = connection
        self.config = config or AgentConfig()
        self.runtime = runtime or make_runtime(self.config.pod_runtime, name)
        self.runtime.on_change = self._on_runtime_change
        self.labels = dict(labels or {})
        self.taints = list(taints or [])
        self.pressure_override = pressure
        self.ready, self.ready_message = True, "kubelet is posting ready status"
        self._desired: Dict[PodKey, dict] = {}
        self._posted: Dict[PodKey, dict] = {}
        self._dirty: Set[PodKey] = set()
        self._wake = asyncio.Event()
        self._lease: Optional[dict] = None
        self._pending_lease: Optional[dict] = None   # the lease on a plane reported to, before switching
        self._node_status: Optional[dict] = None
        self._last_report = 0.0
        self._lost_contact = False      # a heartbeat failed since the last status post
        self._last_eviction = -float("inf")
        self._failed_uids: Set[str] = set()   # pods this agent failed (evicted): never started again
        self._adopt_until = 0.0
        self._readiness: Dict[Tuple[PodKey, str], ProbeWorker] = {}
        self._liveness: Dict[Tuple[PodKey, str], ProbeWorker] = {}
        self._tasks: Dict[str, asyncio.Task] = {}
        self._watch_task: Optional[asyncio.Task] = None
        self.registered = asyncio.Event()
        self.stats = {"lease_renewals": 0, "status_posts": 0, "pod_status_posts": 0, "errors": 0,
                      "evictions": 0}

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> "NodeAgent":
        """Register the node (retrying until the control plane answers) and start the loops."""
        loop = asyncio.get_running_loop()
        self._tasks["register"] = loop.create_task(self._register_loop())
        self._tasks["sync"] = loop.create_task(self._sync_loop())
        return self

    async def wait_registered(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self.registered.wait(), timeout)

    async def _register_loop(self) -> None:
        delay = self.config.retry_interval
        while True:
            try:
                await self._register(self.conn)
                break
            except ApiError as e:
                self.stats["errors"] += 1
                log.debug("%s: register failed: %s", self.name, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.max_retry_interval)
        self.registered.set()
        loop = asyncio.get_running_loop()
        self._tasks["lease"] = loop.create_task(self._lease_loop())
        self._tasks["status"] = loop.create_task(self._status_loop())
        self._watch_task = loop.create_task(self._watch_loop())

    async def stop(self, stop_pods: bool = True, delete_node: bool = False) -> None:
        """Stop the loops (the node then goes NotReady on its control plane); optionally stop the pods
        and delete the Node."""
        for t in list(self._tasks.values()) + ([self._watch_task] if self._watch_task else []):
            t.cancel()
        await asyncio.gather(*self._tasks.values(), *([self._watch_task] if self._watch_task else []),
                             return_exceptions=True)
        self._tasks.clear()
        self._watch_task = None
        for w in list(self._readiness.values()) + list(self._liveness.values()):
            w.stop()
        if delete_node:
            await self._delete_node(self.conn)
        if stop_pods:
            await self.runtime.close()
        await self.conn.close()

    # --- registration, lease, status ------------------------------------------------------
    def _node_object(self) -> dict:
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": node_info("")["architecture"], **self.labels}
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": labels,
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
                "spec": {}, "status": self._status()}
        if self.taints:
            node["spec"]["taints"] = copy.deepcopy(self.taints)
        if self.pod_cidr:
            node["spec"]["podCIDR"] = self.pod_cidr
            node["spec"]["podCIDRs"] = [self.pod_cidr]
        return node

    def _status(self) -> dict:
        pressure = self.current_pressure()
        prev = (self._node_status or {}).get("conditions")
        return {"capacity": dict(self.config.capacity), "allocatable": dict(self.config.capacity),
                "conditions": node_conditions(prev, pressure, self.ready, self.ready_message),
                "addresses": [{"type": "InternalIP", "address": self.address},
                              {"type": "Hostname", "address": self.name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": node_info(self.config.kubelet_version)}

    async def _register(self, conn: ApiConnection) -> None:
        node = self._node_object()
        try:
            created = await conn.create("v1", "nodes", node)
            self._node_status = created.get("status")
        except ApiError as e:
            if e.reason != "AlreadyExists":
                raise
            # re-registration (agent restart or hot swap): reconcile labels and post fresh status
            await conn.patch("v1", "nodes", self.name, {"metadata": {"labels": node["metadata"]["labels"]}})
            st = await conn.patch("v1", "nodes", self.name, {"status": node["status"]}, subresource="status")
            self._node_status = st.get("status")
        self._last_report = time.monotonic()
        self.stats["status_posts"] += 1
        await self._renew_lease(conn, fresh=True)

    async def _renew_lease(self, conn: ApiConnection, fresh: bool = False) -> None:
        now = now_micro()
        lease = None if fresh else self._lease
        if lease is None:
            try:
                lease = await conn.get(LEASE_API, "leases", self.name, LEASE_NS)
            except ApiError as e:
                if e.code != 404:
                    raise
                body = {"apiVersion": LEASE_API, "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": LEASE_NS},
                        "spec": {"holderIdentity": self.name,
                                 "leaseDurationSeconds": self.config.lease_duration_seconds,
                                 "renewTime": now}}
                self._lease = await conn.create(LEASE_API, "leases", body, LEASE_NS)
                self.stats["lease_renewals"] += 1
                return
        lease = copy.deepcopy(lease)
        lease["spec"].update(holderIdentity=self.name, renewTime=now,
                             leaseDurationSeconds=self.config.lease_duration_seconds)
        try:
            self._lease = await conn.update(LEASE_API, "leases", lease, LEASE_NS)
        except ApiError as e:
            if e.code in (404, 409):   # someone else changed or deleted it: start over next beat
                self._lease = None
            raise
        self.stats["lease_renewals"] += 1

    async def _lease_loop(self) -> None:
        interval = self.config.renew_interval
        if self.config.jitter:
            await asyncio.sleep(random.uniform(0, interval))
        while True:
            conn = self.conn
            try:
                await self._renew_lease(conn)
                delay = interval
                if self._lost_contact:
                    # The control plane may have marked the node Unknown meanwhile; the kubelet would
                    # see that in the Node it reads before each status update. Post at once.
                    await self.post_status(force=True)
                    self._lost_contact = False
            except ApiError as e:
                self.stats["errors"] += 1
                self._lost_contact = True
                log.debug("%s: lease renewal failed: %s", self.name, e)
                delay = min(interval, 0.2 * self.config.lease_duration_seconds / 7)  # kubelet's retry pace
            await asyncio.sleep(delay)

    async def _status_loop(self) -> None:
        interval = self.config.status_update_frequency
        if self.config.jitter:
            await asyncio.sleep(random.uniform(0, interval))
        while True:
            try:
                await self.post_status()
                await self.evict_under_pressure()
            except ApiError as e:
                self.stats["errors"] += 1
                self._lost_contact = True
                log.debug("%s: status post failed: %s", self.name, e)
            await asyncio.sleep(interval)

    @staticmethod
    def _significant(status: Optional[dict]) -> object:
        if not status:
            return None
        s = dict(status)
        s["conditions"] = sorted((c["type"], c["status"], c.get("reason")) for c in status.get("conditions", []))
        return s

    async def post_status(self, force: bool = False) -> Optional[dict]:
        """Post node status when it changed, or when the report frequency has elapsed. Returns the
        Node as the control plane stored it, or None if nothing was posted. A node between control
        planes (:meth:`disconnect` until :meth:`join` registered it) posts once it has joined."""
        if not self.registered.is_set():
            await self.registered.wait()
        conn = self.conn
        status = self._status()
        due = time.monotonic() - self._last_report >= self.config.status_report_frequency
        if not force and not due and self._significant(status) == self._significant(self._node_status):
            return None
        try:
            res = await conn.patch("v1", "nodes", self.name, {"status": status}, subresource="status")
        except ApiError as e:
            if e.code == 404 and conn is self.conn:   # node deleted behind our back: register again
                await self._register(conn)
                return None
            raise
        self._node_status = res.get("status")
        self._last_report = time.monotonic()
        self.stats["status_posts"] += 1
        return res

    # --- node pressure (the kubelet's eviction manager) -------------------------------------
    def current_pressure(self) -> Dict[str, bool]:
        """{MemoryPressure, DiskPressure, PIDPressure}: the override if set, else measured on the host."""
        return dict(self.pressure_override) if self.pressure_override is not None else host_pressure()

    async def set_pressure(self, pressure: Optional[Dict[str, bool]]) -> Optional[dict]:
        """Override the node's pressure conditions (None: measure the host again); under pressure evict a
        pod now, then post the node status (the kubelet's eviction manager acts on its own observation,
        its status loop reports the condition after). Returns the Node as posted."""
        self.pressure_override = None if pressure is None else {k: bool(v) for k, v in pressure.items()}
        await self.evict_under_pressure(now=True)
        return await self.post_status(force=True)

    async def evict_under_pressure(self, now: bool = False) -> Optional[PodKey]:
        """Evict one running pod if the node is under pressure and ``eviction_interval`` has passed
        since the last eviction (``now``: regardless of it). Returns the evicted pod's key."""
        pressure = [t for t, on in self.current_pressure().items() if on]
        if not pressure:
            return None
        if not now and time.monotonic() - self._last_eviction < self.config.eviction_interval:
            return None
        running = [k for k in self.runtime.pods() if k in self._desired
                   and self._desired[k]["metadata"]["uid"] not in self._failed_uids]
        if not running:
            return None
        qos_rank = {"BestEffort": 0, "Burstable": 1, "Guaranteed": 2}

        def rank(key: PodKey) -> tuple:
            pod = self._desired[key]
            return (qos_rank.get(pod.get("status", {}).get("qosClass", "BestEffort"), 0),
                    int(pod.get("spec", {}).get("priority") or 0), key)
        victim = min(running, key=rank)
        resource = {"MemoryPressure": "memory", "DiskPressure": "ephemeral-storage", "PIDPressure": "pids"}
        await self._fail_pod(victim, "Evicted", "The node was low on resource: "
                             + ", ".join(resource[t] for t in pressure) + ". ")
        self._last_eviction = time.monotonic()
        self.stats["evictions"] += 1
        return victim

    def _refused_under_pressure(self, pod: dict) -> Optional[str]:
        """Why the kubelet would not admit ``pod`` now (None: admit)."""
        on = [t for t, v in self.current_pressure().items() if v]
        blocking = [t for t in on if t != "MemoryPressure"
                    or pod.get("status", {}).get("qosClass", "BestEffort") == "BestEffort"]
        return f"The node had condition: {blocking}. " if blocking else None

    async def _fail_pod(self, key: PodKey, reason: str, message: str) -> None:
        """Kill a pod's containers at once and report it Failed (it is never restarted here)."""
        pod = self._desired[key]
        self._failed_uids.add(pod["metadata"]["uid"])   # before any await: the sync loop must not restart it
        if self.runtime.pod_state(key) is not None:
            await self._stop_pod(key, 0)
        md = pod["metadata"]
        ts = now_rfc3339()
        status = {"phase": "Failed", "reason": reason, "message": message,
                  "conditions": [{"type": t, "status": "False", "lastProbeTime": None, "lastTransitionTime": ts,
                                  "reason": "PodFailed"} for t in ("Ready", "ContainersReady")]}
        res = await self.conn.patch("v1", "pods", md["name"], {"metadata": {"uid": md["uid"]}, "status": status},
                                    md["namespace"], "status")
        if self._desired.get(key, {}).get("metadata", {}).get("uid") == md["uid"]:
            self._desired[key] = res
        self.stats["pod_status_posts"] += 1

    def set_ready(self, ready: bool, message: str = "") -> None:
        """Report the node Ready or NotReady (posted with the next status update)."""
        self.ready = ready
        self.ready_message = message or ("kubelet is posting ready status" if ready else "node set not ready")

    async def _delete_node(self, conn: ApiConnection) -> None:
        for api, plural, ns in (("v1", "nodes", None), (LEASE_API, "leases", LEASE_NS)):
            try:
                await conn.delete(api, plural, self.name, ns)
            except ApiError as e:
                if e.code != 404:
                    log.debug("%s: delete %s: %s", self.name, plural, e)

    # --- pods -----------------------------------------------------------------------------
    async def _watch_loop(self) -> None:
        sel = f"spec.nodeName={self.name}"
        delay = self.config.retry_interval
        while True:
            conn = self.conn
            try:
                lst = await conn.list("v1", "pods", fieldSelector=sel)
                rv = lst["metadata"]["resourceVersion"]
                fresh = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in lst["items"]}
                self._dirty |= set(self._desired) | set(fresh) | set(self.runtime.pods())
                self._desired = fresh
                self._wake.set()
                delay = self.config.retry_interval
                while conn is self.conn:
                    async for etype, obj in conn.watch("v1", "pods", resource_version=rv, fieldSelector=sel,
                                                       timeout_seconds=self.config.watch_timeout):
                        rv = obj["metadata"].get("resourceVersion", rv)
                        if etype == "BOOKMARK":
                            continue
                        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
                        if etype == "DELETED":
                            self._desired.pop(key, None)
                        else:
                            self._desired[key] = obj
                        self._dirty.add(key)
                        self._wake.set()
            except ApiError as e:
                self.stats["errors"] += 1
                log.debug("%s: pod watch: %s", self.name, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.max_retry_interval)

    def _on_runtime_change(self, key: PodKey) -> None:
        self._dirty.add(key)
        self._wake.set()

    async def _sync_loop(self) -> None:
        while True:
            if not await _wait_event(self._wake, self.config.sync_period):
                self._dirty |= set(self._desired) | set(self.runtime.pods())
            self._wake.clear()
            keys, self._dirty = self._dirty, set()
            for key in keys:
                try:
                    await self._sync_pod(key)
                except ApiError as e:
                    self.stats["errors"] += 1
                    log.debug("%s: sync %s: %s", self.name, key, e)
                    self._dirty.add(key)
                except Exception:
                    log.exception("%s: sync %s failed", self.name, key)

    async def _sync_pod(self, key: PodKey) -> None:
        pod = self._desired.get(key)
        state = self.runtime.pod_state(key)
        if pod is None:
            if state is None:
                self._posted.pop(key, None)
                return
            if time.monotonic() < self._adopt_until:
                return   # after a swap: the new control plane may not know this pod yet
            await self._stop_pod(key, 0)
            return
        conn = self.conn
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            if state is not None:
                await self._stop_pod(key, float(md.get("deletionGracePeriodSeconds") or 0))
            try:
                await conn.delete("v1", "pods", md["name"], md["namespace"],
                                  {"gracePeriodSeconds": 0, "preconditions": {"uid": md["uid"]}})
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
            self._posted.pop(key, None)
            return
        if state is None:
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed") or md["uid"] in self._failed_uids:
                return
            refused = self._refused_under_pressure(pod)
            if refused:
                await self._fail_pod(key, "Evicted", refused)
                return
            await self.runtime.start_pod(pod, self.netns)
            self._start_probes(key, pod)
            state = self.runtime.pod_state(key)
        await self._post_pod_status(conn, pod, state)

    async def _stop_pod(self, key: PodKey, grace: float) -> None:
        for d in (self._readiness, self._liveness):
            for k in [k for k in d if k[0] == key]:
                d.pop(k).stop()
        await self.runtime.stop_pod(key, grace)

    def _start_probes(self, key: PodKey, pod: dict) -> None:
        for c in pod["spec"]["containers"]:
            ck = (key, c["name"])
            if c.get("readinessProbe") and ck not in self._readiness:
                w = ProbeWorker(c["readinessProbe"], c, "127.0.0.1", self.netns,
                                lambda ok, key=key: self._on_runtime_change(key), initial=False)
                self._readiness[ck] = w
                w.start()
            if c.get("livenessProbe") and ck not in self._liveness:
                def on_liveness(ok: bool, key=key, name=c["name"]) -> None:
                    if not ok:
                        asyncio.get_running_loop().create_task(self._restart_unhealthy(key, name))
                w = ProbeWorker(c["livenessProbe"], c, "127.0.0.1", self.netns, on_liveness, initial=True)
                self._liveness[ck] = w
                w.start()

    async def _restart_unhealthy(self, key: PodKey, name: str) -> None:
        await self.runtime.restart_container(key, name)
        w = self._liveness.get((key, name))
        if w:
            w.result = True

    def pod_status(self, pod: dict, state: PodState) -> dict:
        """The ``status`` to report for ``pod`` given the runtime's state."""
        spec = pod["spec"]
        css = []
        for c in spec["containers"]:
            cs = state.containers.get(c["name"])
            if cs is None:
                continue
            probe = self._readiness.get((state.key, c["name"]))
            ready = cs.state == "running" and (probe.result if probe else True)
            e = {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": ready,
                 "restartCount": cs.restart_count, "started": cs.state == "running", "state": cs.k8s_state()}
            if cs.container_id:
                e["containerID"] = cs.container_id
            if cs.last_termination:
                e["lastState"] = cs.last_termination
            css.append(e)
        states = [state.containers[c["name"]] for c in spec["containers"] if c["name"] in state.containers]
        policy = spec.get("restartPolicy", "Always")
        if states and all(s.state == "terminated" for s in states) and policy != "Always":
            ok = all(s.exit_code == 0 for s in states)
            phase = "Succeeded" if ok else ("Failed" if policy == "Never" else "Running")
        elif states and all(s.started_at for s in states):
            phase = "Running"
        else:
            phase = "Pending"
        all_ready = bool(css) and all(c["ready"] for c in css) and len(css) == len(spec["containers"])
        ts = now_rfc3339()
        prev = {c["type"]: c for c in pod.get("status", {}).get("conditions", []) or []}

        def cond(t: str, ok: bool, reason: str = "") -> dict:
            s = "True" if ok else "False"
            p = prev.get(t)
            c = {"type": t, "status": s, "lastProbeTime": None,
                 "lastTransitionTime": p["lastTransitionTime"] if p and p.get("status") == s else ts}
            if reason and not ok:
                c["reason"] = reason
            return c
        running = phase == "Running"
        conds = [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                 cond("Ready", all_ready and running, "ContainersNotReady"),
                 cond("ContainersReady", all_ready and running, "ContainersNotReady"),
                 cond("PodScheduled", True)]
        return {"phase": phase, "conditions": conds, "hostIP": self.address, "hostIPs": [{"ip": self.address}],
                "podIP": self.address, "podIPs": [{"ip": self.address}], "startTime": state.started_at,
                "containerStatuses": css, "qosClass": pod.get("status", {}).get("qosClass", "BestEffort")}

    async def _post_pod_status(self, conn: ApiConnection, pod: dict, state: Optional[PodState]) -> None:
        if state is None or pod["metadata"]["uid"] in self._failed_uids:
            return
        key = state.key
        status = self.pod_status(pod, state)
        sig = (pod["metadata"]["uid"], _strip_times(status))
        if self._posted.get(key) == sig:
            return
        md = pod["metadata"]
        res = await conn.patch("v1", "pods", md["name"], {"metadata": {"uid": md["uid"]}, "status": status},
                               md["namespace"], "status")
        self._posted[key] = sig
        if self._desired.get(key, {}).get("metadata", {}).get("uid") == md["uid"]:
            self._desired[key] = res
        self.stats["pod_status_posts"] += 1

    # --- control plane changes ------------------------------------------------------------
    async def swap_connection(self, new: ApiConnection, *, close_old: bool = True,
                              deregister_old: bool = False, orphan_grace: Optional[float] = None) -> ApiConnection:
        """Move this agent to another control plane without touching its pods (KubeSpace's hot swap).

        Make before break: the node and its lease are registered on the new plane first
        (:meth:`report_to`), then every loop switches to ``new`` (:meth:`switch_to`). Returns the old
        connection (closed unless ``close_old`` is false).
        """
        await self.report_to(new)
        return await self.switch_to(new, close_old=close_old, deregister_old=deregister_old,
                                    orphan_grace=orphan_grace)

    async def report_to(self, new: ApiConnection) -> dict:
        """Report this node's status and renew its lease on another control plane, while every loop
        keeps talking to the current one. Registers the node there if that plane does not know it.
        Returns the Node as the new plane stored it."""
        if new.netns is None and self.netns is not None:
            new.netns = self.netns
        status = self._status()

        async def post_status() -> dict:
            return await new.patch("v1", "nodes", self.name, {"status": status}, subresource="status")

        async def renew_lease() -> dict:
            spec = {"holderIdentity": self.name, "renewTime": now_micro(),
                    "leaseDurationSeconds": self.config.lease_duration_seconds}
            return await new.patch(LEASE_API, "leases", self.name, {"spec": spec}, LEASE_NS)

        results = await asyncio.gather(post_status(), renew_lease(), return_exceptions=True)
        if any(isinstance(r, ApiError) and r.code == 404 for r in results):
            current = self._lease
            await self._register(new)   # a plane that does not know the node yet: register it there
            self._pending_lease, self._lease = self._lease, current
            return await new.get("v1", "nodes", self.name)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        node, self._pending_lease = results
        self.stats["status_posts"] += 1
        self.stats["lease_renewals"] += 1
        return node

    async def switch_to(self, new: ApiConnection, *, close_old: bool = True, deregister_old: bool = False,
                        orphan_grace: Optional[float] = None) -> ApiConnection:
        """Point every loop at ``new`` (after :meth:`report_to`) and re-list pods there. Pods the new plane
        does not (yet) have keep running for ``orphan_grace`` seconds; a pod of the same namespace/name
        on the new plane, bound to this node, is adopted with its running processes."""
        if new.netns is None and self.netns is not None:
            new.netns = self.netns
        old = self.conn
        self._adopt_until = time.monotonic() + (self.config.orphan_grace if orphan_grace is None else orphan_grace)
        self.conn = new
        self._lease = self._pending_lease
        self._pending_lease = None
        self._posted.clear()
        if self._watch_task:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)
        self._watch_task = asyncio.get_running_loop().create_task(self._watch_loop())
        if deregister_old:
            await self._delete_node(old)
        if close_old:
            await old.close()
        return old

    async def disconnect(self) -> ApiConnection:
        """Stop talking to the control plane (registration, lease, status, pod watch) while the pods
        keep running; returns the connection that was in use (not closed). :meth:`join` resumes."""
        tasks = [self._tasks.pop(k) for k in ("register", "lease", "status") if k in self._tasks]
        if self._watch_task is not None:
            tasks.append(self._watch_task)
            self._watch_task = None
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.registered.clear()
        return self.conn

    async def join(self, new: ApiConnection, adopt_grace: float = 0.0, timeout: float = 60.0) -> None:
        """Register with a control plane through ``new`` as a node joining it (after :meth:`disconnect`)
        and resume every loop there. Running pods the plane does not list keep running for
        ``adopt_grace`` seconds (a pod of the same namespace/name created there meanwhile is adopted).
        Raises :class:`ApiError` (and stays disconnected) if it is not registered within ``timeout``."""
        if new.netns is None and self.netns is not None:
            new.netns = self.netns
        self.conn = new
        self._lease = self._pending_lease = None
        self._node_status = None
        self._posted.clear()
        self._adopt_until = time.monotonic() + adopt_grace
        self.registered.clear()
        task = self._tasks["register"] = asyncio.get_running_loop().create_task(self._register_loop())
        if not await _wait_event(self.registered, timeout):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._tasks.pop("register", None)
            raise ApiError(504, f"{self.name} did not register with {new.name} within {timeout:g} s", "Timeout")

    def cached_pods(self) -> List[dict]:
        """The agent's local copy of its pods' configuration (as last listed or watched)."""
        return [copy.deepcopy(p) for p in self._desired.values()]

    async def drain(self, timeout: float = 60.0) -> None:
        """Cordon the node and evict its pods (they stop here, as with ``kubectl drain``)."""
        conn = self.conn
        await conn.patch("v1", "nodes", self.name, {"spec": {"unschedulable": True}})
        for (ns, name) in list(self._desired):
            try:
                await conn.create("v1", "pods", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                 "metadata": {"name": name, "namespace": ns}},
                                  ns, subresource="eviction", name=name)
            except ApiError as e:
                if e.code != 404:
                    raise
        deadline = time.monotonic() + timeout
        while (self._desired or self.runtime.pods()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def rejoin_with_bootstrap_token(self, server: str, ca_pem: bytes, bootstrap_token: str,
                                          drain_timeout: float = 60.0) -> None:
        """The traditional path to another (or the same) control plane: drain, delete the node,
        authenticate with a bootstrap token, obtain a client certificate through a CSR, register anew."""
        await self.drain(drain_timeout)
        await self._delete_node(self.conn)
        boot = ApiConnection(server, ca_pem, token=bootstrap_token, netns=self.conn.netns or self.netns,
                             name=server)
        try:
            cert, key = await request_node_certificate(boot, self.name)
        finally:
            await boot.close()
        new = boot.with_credentials(cert_pem=cert, key_pem=key)
        await self.swap_connection(new, orphan_grace=0)
        await self.conn.patch("v1", "nodes", self.name, {"spec": {"unschedulable": None}})

    # --- introspection --------------------------------------------------------------------
    def pod_pid(self, namespace: str, name: str, container: Optional[str] = None) -> Optional[int]:
        st = self.runtime.pod_state((namespace, name))
        if st is None:
            return None
        cs = st.containers.get(container) if container else next(iter(st.containers.values()), None)
        return cs.pid if cs and cs.state == "running" else None


async def _wait_event(event: asyncio.Event, timeout: float) -> bool:
    """``wait_for(event.wait(), timeout)`` that never swallows a cancellation (Python 3.11's wait_for
    loses one that arrives as the event is set, and the agent's stop then waits forever)."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return bool(done)


def _strip_times(status: dict) -> str:
    s = copy.deepcopy(status)
    for c in s.get("conditions", []):
        c.pop("lastTransitionTime", None)
    import json
    return json.dumps(s, sort_keys=True)
