"""The HRController: KubeSpace's handover controller, one per control plane (paper §IV-A, steps 4-8
and 12).

As the **source** of a handover it reacts to a new ``HandoverRequest`` (through the store's event
stream, the in-process equivalent of a watch): it validates the request, sets it ``Processing``, sets
the node ``Releasing``, sends the node, its pods (with their status), its lease and their namespaces to
the target plane over the plane-to-plane channel, and once the target has persisted them and
acknowledged, sets the request ``Finished``. When the daemon later sets the node ``Released`` here, it
removes its copies of the pods it handed over and the node's lease (the node's Released copy stays as a
record).

As the **target** it persists a transfer with the node ``Binding`` (keeping every object's uid, spec and
status: the node is not treated as newly joined) and sets the node ``Bound`` as soon as the node's agent
reports to it.

Failures end consistently: a request that cannot be carried out is ``Failed`` with a reason and the node
stays ``Bound`` here. Interrupted requests (this plane restarted) are failed and undone at start; a
finished request whose node the target never binds is resolved with the target after
``binding_timeout_s`` (Released here if the target bound it, otherwise aborted there and Bound here).
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from ...controlplane.agent import ApiConnection
from ...controlplane.binding import (BINDING, BINDING_HANDOVER, BINDING_STATE, BINDING_TIME, BOUND, RELEASED,
                                      RELEASING, binding_handover, binding_patch, binding_state)
from ...controlplane.errors import ApiError
from ...controlplane.timefmt import now_micro, parse_time
from ...controlplane.watch import ADDED, MODIFIED, Event
from . import resources as R
from .clock import EmulatedClock
from .sync import PREFIX

log = logging.getLogger("leonet.kubespace.hrcontroller")

MERGE = "application/merge-patch+json"
LEASES = "leases.coordination.k8s.io"
LEASE_NS = "kube-node-lease"


class TransferError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


class HRController:
    """Runs on a control plane's loop; ``peers`` maps the other planes' names to their channel URLs,
    ``channel`` makes a connection to one of them (an :class:`ApiConnection` with this plane's
    certificate)."""

    def __init__(self, control_plane: Any, name: str, peers: Dict[str, str], channel, clock: EmulatedClock,
                 sync_timeout_s: float = 5.0, binding_timeout_s: float = 30.0, request_ttl_s: float = 3600.0):
        self.cp = control_plane
        self.api = control_plane.api
        self.store = control_plane.store
        self.name = name
        self.peers = dict(peers)
        self._channel = channel
        self.clock = clock
        self.sync_timeout_s = sync_timeout_s
        self.binding_timeout_s = binding_timeout_s
        self.request_ttl_s = request_ttl_s
        self._conns: Dict[str, ApiConnection] = {}
        self._active: Set[str] = set()
        self._tasks: Set[asyncio.Task] = set()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.hold_after_step: Dict[int, float] = {}
        self.stats = {"requests": 0, "finished": 0, "failed": 0, "transfers_received": 0, "bound": 0,
                      "released": 0, "aborted": 0}

    # ------------------------------------------------------------------ plumbing
    @property
    def rt(self):
        return self.api.resource(R.GROUP, R.VERSION, R.PLURAL)

    def _offset(self, wall: Optional[float] = None) -> Optional[float]:
        return self.clock.offset_of_wall(time.time() if wall is None else wall)

    def _spawn(self, coro) -> None:
        task = (self._loop or asyncio.get_running_loop()).create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _conn(self, peer: str) -> ApiConnection:
        c = self._conns.get(peer)
        if c is None or c.closed:
            c = self._conns[peer] = self._channel(peer)
        return c

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for c in self._conns.values():
            await c.close()

    def set_faults(self, faults: Dict[str, Any]) -> Dict[str, Any]:
        """Fault injection for tests: pause after the given steps (``{"hold_after_step": {6: 3.0}}``)."""
        self.hold_after_step = {int(k): float(v) for k, v in (faults.get("hold_after_step") or {}).items()}
        return {"hold_after_step": self.hold_after_step}

    async def _hold(self, step: int) -> None:
        if self.hold_after_step.get(step):
            await asyncio.sleep(self.hold_after_step[step])

    # ------------------------------------------------------------------ events
    def on_event(self, ev: Event) -> None:
        """Store listener (called synchronously inside writes: it only schedules work)."""
        if ev.key == R.RESOURCE_KEY and ev.type in (ADDED, MODIFIED):
            name = ev.obj["metadata"]["name"]
            if R.phase(ev.obj) in R.ACTIVE_PHASES and name not in self._active:
                self._active.add(name)
                self._spawn(self._handle(name, time.time()))
        elif ev.key == "nodes" and ev.type == MODIFIED and ev.old is not None:
            new, old = binding_state(ev.obj), binding_state(ev.old)
            h = binding_handover(ev.obj)
            if new == BINDING and old == BINDING and h and h == binding_handover(ev.old):
                # a write to a Binding node that is not the transfer itself: its agent reported here
                self._spawn(self._bind(ev.obj["metadata"]["name"], h))
            elif new == RELEASED and old == RELEASING and h:
                self._spawn(self._cleanup_released(ev.obj["metadata"]["name"], h))

    async def run(self) -> None:
        """Reconcile what a restart interrupted, then check timeouts and expire old requests."""
        self._loop = asyncio.get_running_loop()
        self._spawn(self._keep_channels_open())
        await self._reconcile_interrupted()
        period = max(0.5, min(5.0, self.binding_timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            try:
                await self._check_timeouts()
                self._expire_requests()
            except Exception:   # keep checking whatever one object looks like
                log.exception("HRController periodic check failed")

    async def _keep_channels_open(self, period: float = 30.0) -> None:
        """Keep a connection to every peer open (a query every ``period`` s, within the servers' 75 s
        keep-alive), so that a transfer takes one round trip between the stations, not three."""
        while True:
            await asyncio.gather(*(self._conn(p).request("GET", f"{PREFIX}/nodes/-", timeout=self.sync_timeout_s)
                                   for p in self.peers), return_exceptions=True)
            await asyncio.sleep(period)

    # ------------------------------------------------------------------ source: steps 4-8
    def _request(self, name: str) -> Optional[dict]:
        return self.store.get(R.RESOURCE_KEY, "", name)

    def _set_status(self, name: str, status: Dict[str, Any]) -> dict:
        return self.api.update(self.rt, None, name, {"metadata": {"name": name}, "status": status}, "status")

    def _node(self, node: str) -> Optional[dict]:
        return self.store.get("nodes", "", node)

    def _set_binding(self, node: str, state: str, handover: Optional[str]) -> Tuple[dict, float]:
        wall = time.time()
        obj = self.api.patch(self.api.core("nodes"), None, node, MERGE, binding_patch(state, now_micro(wall), handover))
        return obj, wall

    def _validate(self, hr: dict) -> Optional[Tuple[str, str]]:
        spec = hr.get("spec") or {}
        node, target = spec.get("nodeName"), spec.get("targetPlane")
        if spec.get("sourcePlane") and spec["sourcePlane"] != self.name:
            return R.UNKNOWN_PLANE, f"the request names source plane {spec['sourcePlane']!r}; this is {self.name!r}"
        if not target or target == self.name or target not in self.peers:
            return R.UNKNOWN_PLANE, f"target plane {target!r} is not a peer of {self.name!r} " \
                                    f"(peers: {', '.join(sorted(self.peers))})"
        obj = self._node(node) if node else None
        if obj is None:
            return R.UNKNOWN_NODE, f"node {node!r} is not registered on {self.name!r}"
        for other in self.store.list(R.RESOURCE_KEY):
            o = other["metadata"]["name"]
            if o == hr["metadata"]["name"] or (other.get("spec") or {}).get("nodeName") != node:
                continue
            if R.phase(other) in R.ACTIVE_PHASES or (R.phase(other) == R.FINISHED and binding_state(obj) == RELEASING
                                                     and binding_handover(obj) == o):
                return R.ALREADY_IN_HANDOVER, f"node {node!r} is already in handover {o!r}"
        state = binding_state(obj)
        if state != BOUND:
            return R.NOT_BOUND_HERE, f"node {node!r} is {state} on {self.name!r}, not Bound"
        return None

    async def _handle(self, name: str, received: float) -> None:
        try:
            hr = self._request(name)
            if hr is None or R.phase(hr) not in R.ACTIVE_PHASES:
                return
            self.stats["requests"] += 1
            steps = [R.step_entry(4, received, self._offset(received))]
            bad = self._validate(hr)
            if bad is not None:
                self._fail(name, steps, *bad)
                return
            node = hr["spec"]["nodeName"]
            target = hr["spec"]["targetPlane"]
            steps.append(R.step_entry(5, time.time(), self._offset()))
            self._set_status(name, {"phase": R.PROCESSING, "steps": steps})
            await self._hold(5)
            _, wall = self._set_binding(node, RELEASING, name)
            steps.append(R.step_entry(6, wall, self._offset(wall)))
            await self._hold(6)
            payload = self._snapshot(node, name)
            try:
                ack = await self._transfer(target, payload)
            except TransferError as e:
                self._revert(node, name)
                self._spawn(self._abort_at(target, name, node))
                self._fail(name, steps, e.reason, e.message)
                return
            acked = time.time()
            steps.append(R.step_entry(7, acked, self._offset(acked)))
            await self._hold(7)
            if binding_handover(self._node(node) or {}) != name:   # undone meanwhile (should not happen)
                self._fail(name, steps, R.INTERRUPTED, "the node's binding changed during the transfer")
                return
            steps.append(R.step_entry(8, time.time(), self._offset()))
            self._set_status(name, {"phase": R.FINISHED, "steps": steps,
                                    "targetPersistedTime": ack.get("persistedTime"),
                                    "transferredPods": [p["metadata"]["uid"] for p in payload["pods"]],
                                    "finishedTime": now_micro()})
            self.stats["finished"] += 1
        except Exception as e:  # an API error, or a bug: never leave a request Processing
            log.warning("handover request %s: %s", name, e, exc_info=not isinstance(e, ApiError))
            hr = self._request(name)
            if hr is not None and R.phase(hr) in R.ACTIVE_PHASES:
                node = (hr.get("spec") or {}).get("nodeName")
                if node:
                    self._revert(node, name)
                self._fail(name, (hr.get("status") or {}).get("steps") or [], R.REQUEST_FAILED, str(e))
        finally:
            self._active.discard(name)

    def _fail(self, name: str, steps: List[dict], reason: str, message: str) -> None:
        log.info("handover request %s failed: %s: %s", name, reason, message)
        self.stats["failed"] += 1
        try:
            self._set_status(name, {"phase": R.FAILED, "reason": reason, "message": message, "steps": steps,
                                    "failedTime": now_micro()})
        except ApiError as e:   # deleted meanwhile
            log.debug("failing %s: %s", name, e)

    def _revert(self, node: str, handover: str) -> None:
        """Give the node back to this plane if this handover took it (Releasing -> Bound)."""
        obj = self._node(node)
        if obj is not None and binding_state(obj) == RELEASING and binding_handover(obj) == handover:
            self._set_binding(node, BOUND, handover)

    def _snapshot(self, node: str, handover: str) -> Dict[str, Any]:
        """The node, its pods (with status), its lease and the pods' namespaces, as stored here."""
        pods = [copy.deepcopy(p) for p in self.store.list("pods", predicate=lambda p: (p.get("spec") or {})
                                                               .get("nodeName") == node)]
        namespaces = sorted({p["metadata"]["namespace"] for p in pods})
        ns_objs = [copy.deepcopy(self.store.get("namespaces", "", ns)) for ns in namespaces]
        lease = self.store.get(LEASES, LEASE_NS, node)
        return {"handover": handover, "source": self.name, "node": copy.deepcopy(self._node(node)),
                "pods": pods, "lease": copy.deepcopy(lease) if lease else None,
                "namespaces": [n for n in ns_objs if n is not None]}

    async def _transfer(self, target: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        try:
            return await self._conn(target).request("POST", PREFIX + "/transfers", payload,
                                                    timeout=self.sync_timeout_s)
        except ApiError as e:
            if e.code in (503, 504):
                raise TransferError(R.TARGET_UNREACHABLE, f"{target}: {e.message}") from None
            raise TransferError(R.TRANSFER_REJECTED, f"{target}: {e.message}") from None

    async def _abort_at(self, target: str, handover: str, node: str) -> Optional[str]:
        """Ask the target to drop a transfer it may have persisted; returns its answer or None."""
        try:
            r = await self._conn(target).request("POST", PREFIX + "/aborts", {"handover": handover, "node": node},
                                                 timeout=self.sync_timeout_s)
            return r.get("result")
        except ApiError as e:
            log.debug("abort of %s at %s: %s", handover, target, e)
            return None

    # ------------------------------------------------------------------ source: after Finished
    async def _cleanup_released(self, node: str, handover: str) -> None:
        """The daemon released the node here (step 16): drop the pods handed over, and the lease."""
        hr = self._request(handover)
        uids = set((hr or {}).get("status", {}).get("transferredPods") or [])
        for pod in list(self.store.list("pods", predicate=lambda p: (p.get("spec") or {}).get("nodeName") == node)):
            if pod["metadata"]["uid"] in uids:
                self.store.remove("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if self.store.get(LEASES, LEASE_NS, node) is not None:
            self.store.remove(LEASES, LEASE_NS, node)
        self.stats["released"] += 1

    async def _check_timeouts(self) -> None:
        now = time.time()
        for hr in list(self.store.list(R.RESOURCE_KEY)):
            if R.phase(hr) != R.FINISHED:
                continue
            name = hr["metadata"]["name"]
            node = hr["spec"]["nodeName"]
            obj = self._node(node)
            if obj is None or binding_state(obj) != RELEASING or binding_handover(obj) != name:
                continue
            finished = parse_time((hr.get("status") or {}).get("finishedTime")) or now
            if now - finished > self.binding_timeout_s and name not in self._active:
                self._active.add(name)
                self._spawn(self._resolve_unbound(hr))
        self._gc_stale_bindings(now)

    async def _resolve_unbound(self, hr: dict) -> None:
        """A finished handover whose node the daemon never released here: ask the target."""
        name, node, target = hr["metadata"]["name"], hr["spec"]["nodeName"], hr["spec"]["targetPlane"]
        try:
            try:
                state = await self._conn(target).request("GET", f"{PREFIX}/nodes/{node}",
                                                         timeout=self.sync_timeout_s)
            except ApiError:
                return   # target unreachable: the node stays Releasing (visible here); try again later
            if state.get("state") == BOUND and state.get("handover") == name:
                self._set_binding(node, RELEASED, name)   # the target has it: finish the daemon's step 15
                log.info("handover %s: %s is Bound on %s; released it here", name, node, target)
                return
            answer = await self._abort_at(target, name, node)
            if answer == "bound":
                self._set_binding(node, RELEASED, name)
            elif answer in ("aborted", "unknown"):
                self._revert(node, name)
                steps = (hr.get("status") or {}).get("steps") or []
                self._fail(name, steps, R.BINDING_TIMEOUT, f"{node} was not bound on {target} within "
                           f"{self.binding_timeout_s:g} s; handover undone")
        finally:
            self._active.discard(name)

    async def _reconcile_interrupted(self) -> None:
        """Requests left Pending/Processing by a restart of this plane: undo and fail them."""
        for hr in list(self.store.list(R.RESOURCE_KEY)):
            if R.phase(hr) not in R.ACTIVE_PHASES or not (hr.get("status") or {}).get("steps"):
                continue   # never started: it is handled as new
            name, spec = hr["metadata"]["name"], hr.get("spec") or {}
            self._active.add(name)
            try:
                if spec.get("nodeName"):
                    self._revert(spec["nodeName"], name)
                if spec.get("targetPlane") in self.peers and spec.get("nodeName"):
                    self._spawn(self._abort_at(spec["targetPlane"], name, spec["nodeName"]))
                self._fail(name, hr["status"]["steps"], R.INTERRUPTED,
                           f"the control plane on {self.name} restarted during the handover; undone")
            finally:
                self._active.discard(name)

    def _expire_requests(self) -> None:
        now = time.time()
        for hr in list(self.store.list(R.RESOURCE_KEY)):
            st = hr.get("status") or {}
            if R.phase(hr) not in (R.FINISHED, R.FAILED):
                continue
            done = parse_time(st.get("failedTime") or st.get("finishedTime"))
            if done is None or now - done < self.request_ttl_s:
                continue
            node = self._node(hr["spec"].get("nodeName", ""))
            if node is not None and binding_state(node) == RELEASING and binding_handover(node) == \
                    hr["metadata"]["name"]:
                continue
            try:
                self.api.delete(self.rt, None, hr["metadata"]["name"])
            except ApiError:
                pass

    # ------------------------------------------------------------------ target
    def receive_transfer(self, payload: Dict[str, Any], peer: str) -> Dict[str, Any]:
        """Persist a node handed over by ``peer`` as Binding, with its pods, lease and namespaces."""
        handover, node = str(payload["handover"]), copy.deepcopy(payload["node"])
        name = node["metadata"]["name"]
        existing = self._node(name)
        if existing is not None and binding_state(existing) in (BOUND, RELEASING):
            raise ApiError(409, f"node {name} is {binding_state(existing)} on {self.name}", "Conflict")
        for pod in payload.get("pods") or []:
            md = pod["metadata"]
            have = self.store.get("pods", md["namespace"], md["name"])
            if have is not None and have["metadata"]["uid"] != md["uid"] \
                    and (have.get("spec") or {}).get("nodeName") != name:
                raise ApiError(409, f"pod {md['namespace']}/{md['name']} exists on {self.name} as another pod",
                               "Conflict")
        for ns in payload.get("namespaces") or []:
            if self.store.get("namespaces", "", ns["metadata"]["name"]) is None:
                self.store.put("namespaces", _fresh(ns))
        wall = time.time()
        md = node["metadata"]
        md.setdefault("annotations", {}).update({BINDING_STATE: BINDING, BINDING_TIME: now_micro(wall),
                                                 BINDING_HANDOVER: handover})
        stored = self.store.put("nodes", _fresh(node))
        for pod in payload.get("pods") or []:
            self.store.put("pods", _fresh(pod))
        if payload.get("lease"):
            self.store.put(LEASES, _fresh(payload["lease"]))
        self.stats["transfers_received"] += 1
        return {"persistedTime": now_micro(time.time()), "resourceVersion": stored["metadata"]["resourceVersion"]}

    async def _bind(self, node: str, handover: str) -> None:
        """Step 12: the agent reported here; take the node over."""
        obj = self._node(node)
        if obj is None or binding_state(obj) != BINDING or binding_handover(obj) != handover:
            return
        self._set_binding(node, BOUND, handover)
        self.stats["bound"] += 1

    def receive_abort(self, handover: str, node: str, peer: str) -> Dict[str, Any]:
        obj = self._node(node)
        if obj is None or binding_handover(obj) != handover:
            return {"result": "unknown"}
        state = binding_state(obj)
        if state == BINDING:
            self._drop_binding(node, handover)
            self.stats["aborted"] += 1
            return {"result": "aborted"}
        if state in (BOUND, RELEASING):
            return {"result": "bound"}
        return {"result": "unknown"}

    def _drop_binding(self, node: str, handover: str) -> None:
        """Undo a transfer here: the node copy becomes Released, the pods and lease it brought go."""
        self._set_binding(node, RELEASED, handover)
        for pod in list(self.store.list("pods", predicate=lambda p: (p.get("spec") or {}).get("nodeName") == node)):
            self.store.remove("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if self.store.get(LEASES, LEASE_NS, node) is not None:
            self.store.remove(LEASES, LEASE_NS, node)

    def _gc_stale_bindings(self, now: float) -> None:
        """A Binding copy nobody resolved (its source died): drop it after three binding timeouts."""
        for obj in list(self.store.list("nodes")):
            if binding_state(obj) != BINDING:
                continue
            since = parse_time(obj["metadata"].get("annotations", {}).get(BINDING_TIME))
            if since is not None and now - since > 3 * self.binding_timeout_s:
                log.info("dropping %s: Binding since %.0f s without an agent report", obj["metadata"]["name"],
                         now - since)
                self._drop_binding(obj["metadata"]["name"], binding_handover(obj) or "")

    def node_state(self, node: str) -> Dict[str, Any]:
        obj = self._node(node)
        if obj is None:
            return {"state": None, "handover": None}
        return {"state": binding_state(obj), "handover": binding_handover(obj)}


def _fresh(obj: dict) -> dict:
    """A copy to store anew: the store gives it its own resourceVersion."""
    out = copy.deepcopy(obj)
    out.setdefault("metadata", {}).pop("resourceVersion", None)
    return out
