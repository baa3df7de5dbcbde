"""The KubeSpace daemon of one satellite: steps 1-3, 9-11 and 13-17 of a handover (paper §IV-A).

It holds a connection (a "clientset": server URL, CA, the node's client certificate, all preloaded, no
certificate fetch) for every control plane, and drives a handover of its node from the plane it is
bound to (the source) to a target:

1. create a ``HandoverRequest`` on the source (2: the source persisted it), 3. watch it;
9. see it ``Finished``; 10. build the agent's new connection to the target; 11. the agent reports its
status (and renews its lease) there, while still reporting to the source; 12. the target sets the node
``Bound`` (seen through a watch from the report's resourceVersion); 13. the agent switches every loop to
the target; 14. it confirms; 15. the daemon sets the node ``Released`` on the source (16: committed);
17. it switches its own connection to the target.

The agent lives in the same process (:class:`leonet.controlplane.agent_host.AgentHost`), so "telling
the kubelet" is a method call on it. Every step is recorded with its wall and emulated time; steps 4-8
(the source's HRController) come from the request's status, step 12 from the node's
``leonet.io/binding-time`` on the target.

Failures never leave the node unmanaged by the daemon's doing: before ``Finished`` the source owns the
node and undoes what it did; after ``Finished`` the daemon keeps at steps 11-12 until the target binds the
node or the source fails the request (it decides with the target, after ``binding_timeout_s``).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

from ...controlplane.binding import (BINDING_TIME, BOUND, RELEASED, RELEASING, binding_handover, binding_patch,
                                      binding_state)
from ...controlplane.errors import ApiError
from ...controlplane.timefmt import now_micro, parse_time
from . import resources as R
from .clock import EmulatedClock

log = logging.getLogger("leonet.kubespace.daemon")


@dataclass
class HandoverRecord:
    """One handover as the daemon saw it: identity, outcome and the 17 steps' times."""

    request: str
    node: str
    satellite: str
    source: str
    target: str
    reason: str
    predicted_offset_s: Optional[float] = None
    outcome: str = "InProgress"            #: InProgress | Finished | Failed
    failure_reason: str = ""
    message: str = ""
    steps: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    #: whose handover procedure: ``kubespace`` (the 17 steps) or a baseline (``leave-rejoin``, ``rejoin``)
    platform: str = "kubespace"

    def mark(self, step: int, clock: EmulatedClock, wall: Optional[float] = None,
             offset_s: Optional[float] = None) -> None:
        wall = time.time() if wall is None else wall
        off = clock.offset_of_wall(wall) if offset_s is None else offset_s
        s = R.step_table(self.platform)[step]
        self.steps[step] = {"step": step, "actor": s.actor, "name": s.name,
                            "wall": wall, "wall_time": now_micro(wall), "offset_s": off,
                            "time": clock.iso(off) if off is not None else None}

    def fail(self, reason: str, message: str) -> "HandoverRecord":
        self.outcome, self.failure_reason, self.message = "Failed", reason, message
        return self

    @property
    def duration_s(self) -> Optional[float]:
        """KubeSpace: from request creation (step 1) to Released committed on the source (step 16); a
        baseline: from the decision (step 1) to its pods recreated on the target (``R.END_STEP``)."""
        end = R.END_STEP[self.platform]
        if 1 in self.steps and end in self.steps:
            return self.steps[end]["wall"] - self.steps[1]["wall"]
        return None

    def to_dict(self) -> Dict[str, Any]:
        return {"request": self.request, "node": self.node, "satellite": self.satellite, "source": self.source,
                "target": self.target, "reason": self.reason, "predicted_offset_s": self.predicted_offset_s,
                "outcome": self.outcome, "failure_reason": self.failure_reason, "message": self.message,
                "platform": self.platform, "duration_s": self.duration_s,
                "steps": [self.steps[k] for k in sorted(self.steps)]}


@dataclass
class DaemonTimeouts:
    #: how long the daemon waits for the source to decide a request while the source does not answer
    decision_s: float = 30.0
    #: pause between retries of a step that failed (network errors)
    retry_s: float = 1.0
    #: after Finished, give up waiting for the target to bind after this long (the planes resolve it)
    bind_s: float = 300.0


class SatelliteDaemon:
    """One satellite's daemon. ``connect(plane)`` makes a connection with the node's credentials from
    its namespace; ``agent`` is its node agent; ``on_switched(plane)`` records the agent's new plane."""

    def __init__(self, node: str, satellite: str, plane: str, agent: Any, connect: Callable[[str], Any],
                 clock: EmulatedClock, on_switched: Callable[[str], None],
                 timeouts: Optional[DaemonTimeouts] = None, platform: str = "kubespace",
                 bootstrap: Optional[Callable[[str], Any]] = None):
        self.node, self.satellite, self.plane = node, satellite, plane
        #: ``kubespace``, or a baseline whose handover procedure :mod:`.baselines` runs
        self.platform = platform
        #: plane -> (API server URL, CA PEM, bootstrap token): what a baseline joins the target with
        self.bootstrap = bootstrap
        self.agent = agent
        self._connect = connect
        self.clock = clock
        self._on_switched = on_switched
        self.timeouts = timeouts or DaemonTimeouts()
        self._conns: Dict[str, Any] = {}
        self.busy = False
        self.failures = 0            #: consecutive failed handovers
        self._release_task: Optional[asyncio.Task] = None

    def conn(self, plane: str):
        c = self._conns.get(plane)
        if c is None or c.closed:
            c = self._conns[plane] = self._connect(plane)
        return c

    async def warm(self, plane: Optional[str] = None) -> None:
        """Open the daemon's connection to ``plane`` (default: its own) ahead of use: TCP and TLS now,
        so that the request of a predicted handover takes one round trip, not three."""
        try:
            await self.conn(plane or self.plane).request("GET", "/version")
        except ApiError as e:
            log.debug("%s: warming the connection to %s: %s", self.node, plane or self.plane, e)

    async def close(self) -> None:
        if self._release_task is not None:
            self._release_task.cancel()
        for c in self._conns.values():
            await c.close()
        self._conns.clear()

    # ------------------------------------------------------------------ the handover
    async def handover(self, target: str, reason: str, predicted_offset_s: Optional[float] = None) -> HandoverRecord:
        """Hand the node over from its current plane to ``target`` (steps 1-17)."""
        source = self.plane
        rec = HandoverRecord(R.request_name(self.node), self.node, self.satellite, source, target, reason,
                             predicted_offset_s, platform=self.platform if self.platform in R.STEP_TABLES
                             else "kubespace")
        self.busy = True
        try:
            if rec.platform == "kubespace":
                await self._run(rec)
            else:
                from .baselines import BASELINE_HANDOVERS
                await BASELINE_HANDOVERS[rec.platform](self, rec)
        except asyncio.CancelledError:
            rec.fail(R.INTERRUPTED, "the daemon stopped during the handover")
            raise
        except Exception as e:   # a bug: report it as a failed handover, keep the daemon alive
            log.exception("%s: handover to %s", self.node, target)
            rec.fail(R.REQUEST_FAILED, repr(e))
        finally:
            self.busy = False
        self.failures = 0 if rec.outcome == "Finished" else self.failures + 1
        return rec

    async def _run(self, rec: HandoverRecord) -> None:
        src = self.conn(rec.source)
        off, iso = self.clock.now()
        body = R.handover_request(rec.request, self.node, rec.source, rec.target, rec.reason,
                                  self.clock.iso(rec.predicted_offset_s) if rec.predicted_offset_s is not None
                                  else iso, rec.predicted_offset_s)
        rec.mark(1, self.clock)
        try:
            await src.create(R.API_VERSION, R.PLURAL, body)
        except ApiError as e:
            rec.fail(R.SOURCE_LOST if e.code in (503, 504) else R.REQUEST_FAILED,
                     f"creating the request on {rec.source}: {e.message}")
            return
        rec.mark(2, self.clock)
        hr = await self._await_decision(src, rec)
        if hr is None:
            return
        for step, wall in sorted(R.steps_of(hr).items()):
            rec.mark(step, self.clock, wall, _emulated(hr, step))
        if R.phase(hr) == R.FAILED:
            st = hr.get("status") or {}
            rec.fail(st.get("reason") or R.REQUEST_FAILED, st.get("message") or "")
            return
        rec.mark(9, self.clock)
        warm = asyncio.get_running_loop().create_task(self.warm(rec.source))   # for step 15, meanwhile
        # steps 10-14: the agent's side (same process)
        new = self._connect(rec.target)
        rec.mark(10, self.clock)
        bound = await self._report_until_bound(new, rec)
        await warm
        if bound is None:
            await new.close()
            return
        bound_at = parse_time(bound["metadata"]["annotations"].get(BINDING_TIME))
        rec.mark(12, self.clock, bound_at or time.time())
        await self.agent.switch_to(new)
        rec.mark(13, self.clock)
        self._on_switched(rec.target)
        rec.mark(14, self.clock)
        # steps 15-16: release the node on the source
        rec.mark(15, self.clock)
        if not await self._release(src, rec):
            self._release_task = asyncio.get_running_loop().create_task(self._release_until_done(src, rec))
        # step 17: the daemon's own connection follows
        self.plane = rec.target
        rec.mark(17, self.clock)
        rec.outcome = "Finished"
        if self._release_task is None or self._release_task.done():
            self._conns.pop(rec.source, None)
            await src.close()

    async def _await_decision(self, src, rec: HandoverRecord) -> Optional[dict]:
        """Steps 3 and 9: watch the request until the source decides it (Finished or Failed). Keeps
        retrying while the source does not answer, for ``decision_s``; then the handover has failed
        (the source undoes its part on its own)."""
        sel = f"metadata.name={rec.request}"
        deadline = time.monotonic() + self.timeouts.decision_s
        cap = time.monotonic() + 10 * self.timeouts.decision_s   # even a source that answers must decide
        last_error = ""
        while time.monotonic() < min(deadline, cap):
            try:
                async for etype, obj in src.watch(R.API_VERSION, R.PLURAL, fieldSelector=sel,
                                                  timeout_seconds=int(self.timeouts.decision_s) + 1):
                    if 3 not in rec.steps:
                        rec.mark(3, self.clock)
                    if etype == "DELETED":
                        rec.fail(R.REQUEST_FAILED, "the request was deleted before it was decided")
                        return None
                    if etype != "BOOKMARK" and R.phase(obj) in (R.FINISHED, R.FAILED):
                        return obj
                    deadline = time.monotonic() + self.timeouts.decision_s   # the source answers
                deadline = time.monotonic() + self.timeouts.decision_s       # the watch ended normally
                continue
            except ApiError as e:
                last_error = e.message
            await asyncio.sleep(self.timeouts.retry_s)
        rec.fail(R.SOURCE_LOST, f"{rec.source} did not decide the request within {self.timeouts.decision_s:g} s"
                 + (f" ({last_error})" if last_error else ""))
        return None

    async def _report_until_bound(self, new, rec: HandoverRecord) -> Optional[dict]:
        """Steps 11-12: report to the target until it binds the node (a watch opened at the same time
        sees it); stop if the source fails the request (it resolves a stuck handover with the target)."""
        deadline = time.monotonic() + self.timeouts.bind_s
        reported = False
        while time.monotonic() < deadline:
            watch = asyncio.get_running_loop().create_task(self._watch_bound(new, rec.request))
            try:
                if not reported:
                    await self.agent.report_to(new)
                    reported = True
                    rec.mark(11, self.clock)
                obj = await watch
                if obj is not None:
                    return obj
            except ApiError as e:
                log.debug("%s: reporting to %s: %s", self.node, rec.target, e)
            finally:
                if not watch.done():
                    watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
            hr = await self._get_request(rec)
            if hr is not None and R.phase(hr) == R.FAILED:
                st = hr.get("status") or {}
                for step, wall in sorted(R.steps_of(hr).items()):
                    rec.mark(step, self.clock, wall, _emulated(hr, step))
                rec.fail(st.get("reason") or R.REQUEST_FAILED, st.get("message") or "")
                return None
            await asyncio.sleep(self.timeouts.retry_s)
        rec.fail(R.BINDING_TIMEOUT, f"{rec.target} did not bind the node within {self.timeouts.bind_s:g} s")
        return None

    async def _watch_bound(self, new, handover: str, timeout: float = 10.0) -> Optional[dict]:
        """The node as the target lists it once Bound by this handover (a watch: the current state, then
        changes); None after ``timeout`` s or if the target does not answer."""
        def bound(obj: dict) -> bool:
            return binding_state(obj) == BOUND and binding_handover(obj) == handover

        async def first_bound() -> Optional[dict]:
            async for etype, obj in new.watch("v1", "nodes", fieldSelector=f"metadata.name={self.node}",
                                              timeout_seconds=int(timeout) + 1):
                if etype != "BOOKMARK" and bound(obj):
                    return obj
            return None
        try:
            return await asyncio.wait_for(first_bound(), timeout)
        except (asyncio.TimeoutError, ApiError):
            return None

    async def _get_request(self, rec: HandoverRecord) -> Optional[dict]:
        try:
            return await self.conn(rec.source).get(R.API_VERSION, R.PLURAL, rec.request)
        except ApiError:
            return None

    async def _release(self, src, rec: HandoverRecord, check: bool = False) -> bool:
        """Steps 15-16: Released on the source (``check``: unless the source resolved it meanwhile; the
        target holds the node Bound, so the source can only have released it too)."""
        try:
            if check:
                node = await src.get("v1", "nodes", self.node)
                if binding_handover(node) != rec.request or binding_state(node) != RELEASING:
                    rec.mark(16, self.clock)
                    return True
            await src.patch("v1", "nodes", self.node, binding_patch(RELEASED, now_micro(), rec.request))
        except ApiError as e:
            log.debug("%s: releasing on %s: %s", self.node, rec.source, e)
            return False
        rec.mark(16, self.clock)
        return True

    async def _release_until_done(self, src, rec: HandoverRecord) -> None:
        """The source did not answer step 15: keep trying (the node is Bound on the target already;
        the source also resolves it with the target after its binding timeout)."""
        try:
            while not await self._release(src, rec, check=True):
                await asyncio.sleep(self.timeouts.retry_s)
        finally:
            await src.close()
            self._conns.pop(rec.source, None)


def _emulated(hr: dict, step: int) -> Optional[float]:
    for e in (hr.get("status") or {}).get("steps") or []:
        if int(e.get("step", -1)) == step:
            return e.get("emulatedOffsetSeconds")
    return None

