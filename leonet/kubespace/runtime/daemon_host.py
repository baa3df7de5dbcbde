"""All satellite daemons of the agents process, as a plug-in of its
:class:`~leonet.controlplane.agent_host.AgentHost` (loaded with the ``plugin`` command, spec
``leonet.kubespace.runtime.daemon_host:daemon_host``).

One :class:`~.daemon.SatelliteDaemon` per agent, each with its sockets in its satellite's namespace (its
connections are made like its agent's). The host keeps every daemon's CNAA schedule (computed together,
see :mod:`.schedule`, recomputed ``recompute_before_s`` before the window ends), wakes every 100 ms
(wall), and starts the handover of each daemon whose predicted time has come on the emulated clock. A
failed handover is retried at the next decision (CNAA decided again from the plane the node is actually
on), backing off exponentially (decision interval x 2^(failures - 1), at most ``retry_backoff_max_s``)
while it keeps failing. Every handover is appended to a JSON-lines log with its 17 steps.

Commands (``kubespace_*``): ``handover`` (node, target, reason; now, waiting for the outcome), ``status``,
``log``, ``schedule``, ``auto`` (act on the schedules or not), ``stats``.
"""
from __future__ import annotations

import asyncio
import collections
import datetime as _dt
import heapq
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Set, Tuple

import numpy as np
from sgp4.api import Satrec

from ...orbits.timeutil import parse_utc
from ..assignment import ControlNode
from .clock import EmulatedClock
from .daemon import DaemonTimeouts, HandoverRecord, SatelliteDaemon
from .schedule import Params, Schedule, align_up, nearest_plane, sampled_schedules, straight_schedules

log = logging.getLogger("leonet.kubespace.daemons")

CHECK_INTERVAL_S = 0.1
LOG_KEEP = 5000
#: wall seconds before a predicted handover at which a daemon opens its connection to its plane
WARM_LEAD_S = 2.0


class DaemonHost:
    def __init__(self, host: Any, planes: Dict[str, Dict[str, float]], satellites: Dict[str, Dict[str, Any]],
                 scenario_start: str, assignment: Dict[str, Any], runtime: Dict[str, Any], clock: str,
                 log_path: Optional[str] = None, metric: str = "straight", samples: Optional[str] = None,
                 bootstrap_tokens: Optional[Dict[str, str]] = None):
        self.host = host
        self.planes = [ControlNode(n, v["lat_deg"], v["lon_deg"], v.get("alt_m", 0.0)) for n, v in planes.items()]
        self.params = Params(float(assignment["window_s"]), float(assignment["sample_interval_s"]),
                             float(assignment["decision_interval_s"]), float(assignment["threshold"]),
                             assignment["interpolation"])
        self.metric = metric
        self.scenario_start: _dt.datetime = parse_utc(scenario_start)
        self.clock = EmulatedClock(Path(clock))
        self.auto = bool(runtime.get("auto", True))
        self.platform = str(runtime.get("platform", "kubespace"))
        self.bootstrap_tokens = dict(bootstrap_tokens or {})
        self.recompute_before_s = float(runtime.get("recompute_before_s", 600.0))
        self.backoff_max_s = float(runtime.get("retry_backoff_max_s", 60.0))
        timeouts = DaemonTimeouts(decision_s=float(runtime.get("binding_timeout_s", 30.0)))
        self.log_path = Path(log_path) if log_path else None
        self.records: Deque[Dict[str, Any]] = collections.deque(maxlen=LOG_KEEP)
        self.satrecs: Dict[str, Satrec] = {}
        self.daemons: Dict[str, SatelliteDaemon] = {}
        for node, spec in satellites.items():
            if node not in host.agents:
                continue
            self.satrecs[node] = Satrec.twoline2rv(*spec["tle"])
            self.daemons[node] = SatelliteDaemon(
                node, spec["satellite"], host.plane_of[node], host.agents[node],
                connect=lambda plane, node=node: host.connection(node, plane), clock=self.clock,
                on_switched=lambda plane, node=node: host.set_plane(node, plane), timeouts=timeouts,
                platform=self.platform, bootstrap=self._bootstrap)
        self._samples: Optional[Tuple[np.ndarray, float, List[str]]] = None
        if samples:
            self.load_samples(samples)
        self.schedules: Dict[str, Schedule] = {}
        self.not_before: Dict[str, float] = {}
        self._heap: List[Tuple[float, str]] = []
        self._gate = asyncio.Semaphore(int(runtime.get("max_concurrent_handovers", 32)))
        self._tasks: Set[asyncio.Task] = set()
        self._recomputing = False
        self._warmed: Set[str] = set()
        self._window_end = math.inf
        self.counts = {"started": 0, "finished": 0, "failed": 0, "recomputed": 0}
        self._loop_task = asyncio.get_running_loop().create_task(self._run())

    def _bootstrap(self, plane: str) -> Tuple[str, bytes, str]:
        """(API server URL, CA, bootstrap token) of ``plane``, for a baseline's TLS bootstrap."""
        return self.host.planes[plane], self.host.ca_pem, self.bootstrap_tokens[plane]

    # ------------------------------------------------------------------ schedules
    @property
    def grid_s(self) -> float:
        """Where a (re)computed schedule may start: on the decision grid, or for ground-computed
        samples (path metric) on their sampling grid."""
        return self.params.sample_s if self.metric == "path" else self.params.decision_s

    def load_samples(self, path: str) -> None:
        """Ground-computed metric samples (``np.savez``: samples (N, K, S) in node order ``nodes``,
        ``planes``, ``start_s``), for the path metric."""
        with np.load(path) as z:
            nodes = [str(n) for n in z["nodes"]]
            order = [nodes.index(n) for n in self.daemons]
            self._samples = (np.asarray(z["samples"])[order], float(z["start_s"]), [str(p) for p in z["planes"]])

    def _compute(self, nodes: List[str], start_s: float) -> Dict[str, Schedule]:
        current = [self.daemons[n].plane for n in nodes]
        if self.metric == "path":
            assert self._samples is not None, "path metric needs samples from the ground"
            samples, s0, names = self._samples
            idx = [list(self.daemons).index(n) for n in nodes]
            out = sampled_schedules(samples[idx], s0, names, start_s, current, self.params)
        else:
            out = straight_schedules([self.satrecs[n] for n in nodes], self.planes, self.scenario_start, start_s,
                                     current, self.params)
        return dict(zip(nodes, out))

    async def _recompute(self, nodes: List[str], start_s: float) -> None:
        """New schedules for ``nodes`` from ``start_s`` (in a thread: the agents keep running)."""
        if not nodes:
            return
        fresh = await asyncio.to_thread(self._compute, nodes, start_s)
        for node, sched in fresh.items():
            d = self.daemons[node]
            if sched.initial != d.plane:   # the node moved while we computed: again, for it alone
                fresh[node] = (await asyncio.to_thread(self._compute, [node], start_s))[node]
            self.schedules[node] = fresh[node]
            self._push(node)
        self.counts["recomputed"] += len(nodes)

    def _push(self, node: str) -> None:
        sched = self.schedules.get(node)
        ev = sched.next_event(self.not_before.get(node, -math.inf)) if sched else None
        if ev is not None:
            heapq.heappush(self._heap, (ev[0], node))

    async def _recompute_all(self, start_s: float) -> None:
        self._recomputing = True
        try:
            start_s = align_up(start_s, self.grid_s)
            await self._recompute(list(self.daemons), start_s)
            self._window_end = start_s + self.params.window_s
            if self.metric == "path" and self._samples is not None:
                self._window_end = min(self._window_end, self._samples[1]
                                       + (self._samples[0].shape[2] - 1) * self.params.sample_s)
            log.info("schedules of %d daemons from offset %.0f s: %d handovers predicted", len(self.daemons),
                     start_s, sum(len(s.events) for s in self.schedules.values()))
        finally:
            self._recomputing = False

    # ------------------------------------------------------------------ the decision loop
    async def _run(self) -> None:
        while self.clock.offset() is None:
            await asyncio.sleep(CHECK_INTERVAL_S)
        await self._recompute_all(self.clock.offset())
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            try:
                self._tick()
            except Exception:   # keep deciding whatever went wrong once
                log.exception("daemon decision pass failed")

    def _tick(self) -> None:
        now = self.clock.offset()
        if now is None:
            return
        if not self._recomputing and self.metric != "path" and now >= self._window_end - self.recompute_before_s:
            self._spawn(self._recompute_all(now))
        if not self.auto:
            return
        speed = self.clock.speed or 1.0
        for at, node in heapq.nsmallest(8, self._heap):
            if at <= now + WARM_LEAD_S * speed and node not in self._warmed and not self.daemons[node].busy:
                self._warmed.add(node)
                self._spawn(self.daemons[node].warm())
        while self._heap and self._heap[0][0] <= now:
            at, node = heapq.heappop(self._heap)
            d = self.daemons[node]
            sched = self.schedules.get(node)
            ev = sched.next_event(self.not_before.get(node, -math.inf)) if sched else None
            if ev is None or ev[0] != at or d.busy:
                continue   # a stale heap entry (the schedule changed) or a handover in progress
            if ev[1] != d.plane:   # the schedule assumed another plane: decide again from the actual one
                self._spawn(self._recompute([node], align_up(now, self.grid_s)))
                continue
            self._warmed.discard(node)
            self._spawn(self._handover(node, ev[2], f"CNAA: {ev[2]} nearer than {ev[1]} (threshold "
                                                    f"{self.params.threshold:g})", ev[0]))

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _handover(self, node: str, target: str, reason: str, predicted: Optional[float]) -> HandoverRecord:
        d = self.daemons[node]
        d.busy = True   # taken before waiting for a slot, so no second handover of this node starts
        try:
            async with self._gate:
                self.counts["started"] += 1
                rec = await d.handover(target, reason, predicted)
        finally:
            d.busy = False
        self._record(rec)
        now = self.clock.offset() or 0.0
        sched = self.schedules.get(node)
        if rec.outcome == "Finished":
            self.counts["finished"] += 1
            self.not_before.pop(node, None)
            if sched is not None and predicted is not None and sched.next_event() and sched.next_event()[2] == target:
                sched.drop_until(predicted)
                self._push(node)
            else:   # not the planned handover: plan again from where the node now is
                await self._recompute([node], align_up(now, self.grid_s))
        else:
            self.counts["failed"] += 1
            delay = min(self.params.decision_s * 2 ** max(0, d.failures - 1), self.backoff_max_s)
            retry = align_up(now + delay, self.grid_s)
            self.not_before[node] = retry
            await self._recompute([node], retry)
        return rec

    def _record(self, rec: HandoverRecord) -> None:
        entry = rec.to_dict()
        self.records.append(entry)
        level = logging.INFO if rec.outcome == "Finished" else logging.WARNING
        log.log(level, "handover %s %s -> %s: %s%s", rec.node, rec.source, rec.target, rec.outcome,
                f" ({rec.failure_reason}: {rec.message})" if rec.failure_reason else "")
        if self.log_path is not None:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    async def stop(self) -> None:
        self._loop_task.cancel()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(self._loop_task, *self._tasks, return_exceptions=True)
        await asyncio.gather(*(d.close() for d in self.daemons.values()), return_exceptions=True)

    # ------------------------------------------------------------------ commands
    def _daemon(self, node: str) -> SatelliteDaemon:
        if node not in self.daemons:
            raise ValueError(f"no KubeSpace daemon for node {node!r}")
        return self.daemons[node]

    async def op_kubespace_handover(self, node: str, target: Optional[str] = None,
                                    reason: str = "requested") -> Dict[str, Any]:
        """Hand ``node`` over now (to ``target``, or to the plane nearest now) and return the record."""
        d = self._daemon(node)
        if d.busy:
            raise ValueError(f"{node} is already handing over")
        if target is None:
            off = self.clock.offset() or 0.0
            from ...orbits.timeutil import add_seconds
            dist = nearest_plane(self.satrecs[node], self.planes, add_seconds(self.scenario_start, off))
            target = min(dist, key=dist.get)
            if target == d.plane:
                raise ValueError(f"{node} is already on its nearest plane {target}")
        rec = await self._handover(node, target, reason, None)
        return rec.to_dict()

    async def op_kubespace_status(self) -> Dict[str, Any]:
        out = {}
        for node, d in self.daemons.items():
            sched = self.schedules.get(node)
            ev = sched.next_event(self.not_before.get(node, -math.inf)) if sched else None
            out[node] = {"satellite": d.satellite, "plane": d.plane, "busy": d.busy, "failures": d.failures,
                         "next": None if ev is None else {"offset_s": ev[0], "time": self.clock.iso(ev[0]),
                                                          "target": ev[2]}}
        return out

    async def op_kubespace_log(self, limit: int = 100, node: Optional[str] = None) -> List[Dict[str, Any]]:
        recs = [r for r in self.records if node is None or r["node"] == node]
        return recs[-limit:] if limit else recs

    async def op_kubespace_schedule(self, node: str) -> Dict[str, Any]:
        d = self._daemon(node)
        sched = self.schedules.get(node)
        return {"node": node, "plane": d.plane, "start_s": sched.start_s if sched else None,
                "window_s": sched.window_s if sched else None,
                "events": [{"offset_s": e[0], "time": self.clock.iso(e[0]), "source": e[1], "target": e[2]}
                           for e in (sched.events if sched else [])]}

    async def op_kubespace_samples(self, path: str) -> int:
        """New ground-computed samples (path metric): load them and plan the window they cover."""
        self.load_samples(path)
        await self._recompute_all(max(self.clock.offset() or 0.0, self._samples[1]))
        return len(self.schedules)

    async def op_kubespace_platform(self, platform: str) -> str:
        """Change what a handover does from now on (``kubespace``, ``leave-rejoin``, ``rejoin``): one run
        can measure every multi-plane platform on the same satellites."""
        from .resources import STEP_TABLES
        if platform not in STEP_TABLES:
            raise ValueError(f"platform {platform!r} cannot be switched to at run time (one of: "
                             f"{', '.join(STEP_TABLES)}; single-plane is chosen at start)")
        self.platform = platform
        for d in self.daemons.values():
            d.platform = platform
        return platform

    async def op_kubespace_auto(self, enabled: bool) -> bool:
        self.auto = bool(enabled)
        return self.auto

    async def op_kubespace_ready(self) -> bool:
        """Whether every daemon has a schedule (after the first computation)."""
        return len(self.schedules) == len(self.daemons)

    async def op_kubespace_stats(self) -> Dict[str, Any]:
        return {"daemons": len(self.daemons), "busy": sum(d.busy for d in self.daemons.values()),
                **self.counts, "cpu_s": round(sum(os.times()[:2]), 2)}


def daemon_host(host: Any, **args: Any) -> DaemonHost:
    """The plug-in factory (``leonet.kubespace.runtime.daemon_host:daemon_host``)."""
    return DaemonHost(host, **args)
