"""Komet's ground scheduler (SoCC '24, Sec. 4.2-4.3 and 5): runs one application's
migrations on the live emulation with a strategy of :mod:`.strategies`.

Every emulated step ``t`` it predicts the client-satellite distances at ``t + lead``
from the orbits (the topology engine: what the emulation will look like then), asks
the strategy which satellites should serve at ``t + lead``, and when the answer
changes it **starts the migration at once** (Sec. 3.1 of the spec):

1. replicate the keygroups to each new satellite from the closest running one and
   start the functions there (:meth:`.Deployment.add`);
2. at ``t + lead`` (or when the deployment is ready, if later) push the new serving
   satellite to the clients over the WebSocket (``/ws?client=NAME``);
3. delete the functions and replicas of the satellites no longer selected
   (:meth:`.Deployment.remove`).

A failed deployment is logged (``deploy_failed``) and undone on the new satellite,
the clients stay where they are, and it is tried again at the next step. Every event
carries the emulated offset and the wall-clock time; :attr:`GroundScheduler.decision_s`
holds the time each decision took (it must stay well below the lead time).

The scheduler runs on an asyncio loop in a ground station's namespace
(:meth:`.KometPlatform.loop`), so its calls to the satellites cross the emulated links.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

import numpy as np
from aiohttp import WSMsgType, web

from ..topology import TopologyEngine
from ..topology.delays import ground_satellite_delays
from .migration import Deployment, MigrationError
from .strategies import StepInput, Strategy, replication_sources
from .trace import client_indices, to_microseconds

WS_PORT = 8765
log = logging.getLogger("leonet.komet.scheduler")


@dataclass
class Transition:
    """A planned change of the serving satellites, due at emulated ``due_s``."""

    due_s: float
    assignment: Dict[str, str]          #: client -> satellite
    deploy: Optional["asyncio.Task[None]"] = None


@dataclass
class GroundScheduler:
    """One application's scheduler. ``now_s()`` is the emulated offset (s since the
    scenario start); ``address(sat)`` a satellite's address."""

    engine: TopologyEngine
    deployment: Deployment
    strategy: Strategy
    clients: Sequence[str]
    now_s: Callable[[], float]
    lead_s: float = 20.0
    step_s: float = 1.0
    active_only: bool = True
    events: List[Dict[str, Any]] = field(default_factory=list)
    decision_s: List[float] = field(default_factory=list)
    assignment: Dict[str, str] = field(default_factory=dict)   #: what the clients use now
    until_s: float = float("inf")                             #: where :meth:`run` stops

    def __post_init__(self) -> None:
        self._stations = client_indices(self.engine, self.clients)
        self._sats = [s.name for s in self.engine.constellation.satellites]
        self._index = {n: i for i, n in enumerate(self._sats)}
        self.strategy.reset(len(self.clients), len(self._sats))
        self._step = 0
        self._pending: List[Transition] = []
        self._planned: Dict[str, str] = {}
        self._sockets: Dict[str, Set[web.WebSocketResponse]] = {c: set() for c in self.clients}
        self._runner: Optional[web.AppRunner] = None
        self._inflight: Dict[str, Optional[str]] = {}     #: satellite being deployed -> its source

    # ------------------------------------------------------------------ events
    def event(self, kind: str, **fields: Any) -> None:
        row = {"event": kind, "offset_s": round(self.now_s(), 3), "wall": time.time(), **fields}
        self.events.append(row)
        log.info("%s", row)

    # ------------------------------------------------------------------ prediction
    def decide(self, at_s: float) -> Dict[str, str]:
        """The strategy's assignment at emulated ``at_s`` from the predicted orbits."""
        t0 = time.perf_counter()
        raw = ground_satellite_delays(self.engine, np.array([at_s]), self._stations, uplinks=False)
        delay = to_microseconds(raw.delay_ms)[0]
        eligible = np.asarray(raw.active[0], bool) if self.active_only else None
        sel = self.strategy.step(StepInput(self._step, at_s, delay, eligible))
        self._step += 1
        self.decision_s.append(time.perf_counter() - t0)
        return {c: self._sats[int(s)] for c, s in zip(self.clients, sel) if s >= 0}

    # ------------------------------------------------------------------ WebSocket
    async def serve(self, host: str, port: int = WS_PORT) -> None:
        """Listen for the clients' subscriptions on ``host:port``."""
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        client = request.query.get("client", "")
        if client not in self._sockets:
            raise web.HTTPNotFound(text=f"no client {client!r}; known: {', '.join(self.clients)}")
        ws = web.WebSocketResponse(heartbeat=10)
        await ws.prepare(request)
        self._sockets[client].add(ws)
        if client in self.assignment:
            await ws.send_str(self._message(client))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._sockets[client].discard(ws)
        return ws

    def _message(self, client: str) -> str:
        sat = self.assignment[client]
        return json.dumps({"node": sat, "address": self.deployment.address_of(sat), "offset_s": self.now_s()})

    async def _push(self, changed: Sequence[str]) -> None:
        for c in changed:
            for ws in list(self._sockets[c]):
                try:
                    await ws.send_str(self._message(c))
                except ConnectionError:
                    self._sockets[c].discard(ws)

    def subscribers(self) -> int:
        return sum(len(s) for s in self._sockets.values())

    # ------------------------------------------------------------------ migration
    async def _deploy(self, tr: Transition) -> None:
        sats = sorted(set(tr.assignment.values()) - set(self.deployment.satellites) - set(self._inflight))
        if sats and not self.deployment.satellites:     # the first deployment: one creates the state,
            await self._add(sats[0], None)              # the others replicate it (many-to-many)
            if not self.deployment.satellites:
                return
            sats = sats[1:]
        running = [self._index[s] for s in self.deployment.satellites]
        offset = self.now_s()
        sources = replication_sources(running, [self._index[s] for s in sats],
                                      lambda s: self.engine.snapshot(offset).routes([s]).delay_ms[0])
        await asyncio.gather(*(self._add(s, self._sats[sources[self._index[s]]] if self._index[s] in sources
                                         else None) for s in sats))

    async def _add(self, sat: str, source: Optional[str]) -> None:
        self.event("deploy_start", node=sat, source=source)
        self._inflight[sat] = source
        try:
            t = await self.deployment.add(sat, source)
        except MigrationError as exc:
            self.event("deploy_failed", node=sat, step=exc.step, error=str(exc))
            return
        finally:
            self._inflight.pop(sat, None)
        self.event("deploy_complete", node=sat, **{k: round(v, 4) for k, v in t.items()})

    def _ready(self, tr: Transition) -> bool:
        return set(tr.assignment.values()) <= set(self.deployment.satellites)

    async def _remove(self, sat: str) -> None:
        self.event("undeploy_start", node=sat)
        try:
            t = await self.deployment.remove(sat)
        except MigrationError as exc:
            self.event("undeploy_failed", node=sat, step=exc.step, error=str(exc))
            try:                                # unreachable (left the box, died): forget it if
                t = await self.deployment.remove(sat, reachable=False)   # it held no primary
            except MigrationError as again:
                self.event("undeploy_failed", node=sat, step=again.step, error=str(again))
                return
        self.event("undeploy_complete", node=sat, **{k: round(v, 4) for k, v in t.items()})

    async def _settle(self, retry: bool = False) -> None:
        """Switch to every pending transition that is due and deployed, in order;
        ``retry``: deploy again what failed (once per step)."""
        while self._pending:
            tr = self._pending[0]
            if tr.deploy is not None and not tr.deploy.done():
                return
            if not self._ready(tr):             # failed: the clients stay meanwhile
                if retry:
                    tr.deploy = asyncio.ensure_future(self._deploy(tr))
                return
            if self.now_s() + 1e-6 < tr.due_s:
                return
            self._pending.pop(0)
            changed = [c for c, s in tr.assignment.items() if self.assignment.get(c) != s]
            self.assignment = dict(tr.assignment)
            if changed:
                self.event("switch", clients=len(changed), nodes=sorted(set(tr.assignment.values())))
                await self._push(changed)
            keep = set(self.assignment.values()) | {s for p in self._pending for s in p.assignment.values()}
            keep |= {src for src in self._inflight.values() if src}   # a copy is being made from it
            for sat in [s for s in self.deployment.satellites if s not in keep]:
                await self._remove(sat)

    async def start(self) -> None:
        """The first deployment, at the current time; clients are assigned when it is up."""
        now = self.now_s()
        first = self.decide(now)
        if not first:
            raise MigrationError("plan", "-", f"no satellite can serve {', '.join(self.clients)} at {now:.0f} s")
        self._planned = first
        tr = Transition(now, first)
        tr.deploy = asyncio.ensure_future(self._deploy(tr))
        self._pending.append(tr)
        await tr.deploy
        if not self._ready(tr):
            raise MigrationError("first deployment", ",".join(sorted(set(first.values()))),
                                 "see the scheduler's events")
        await self._settle()

    async def tick(self) -> None:
        """One decision for ``now + lead``, then whatever switch is due."""
        plan = self.decide(self.now_s() + self.lead_s)
        if plan and plan != self._planned:
            self._planned = plan
            tr = Transition(self.now_s() + self.lead_s, plan)
            tr.deploy = asyncio.ensure_future(self._deploy(tr))
            self._pending.append(tr)
            self.event("plan", due_s=round(tr.due_s, 3), nodes=sorted(set(plan.values())))
        await self._settle(retry=True)

    async def deployed(self) -> None:
        """Wait until no deployment is in flight (a manual-clock driver calls it so that
        emulated time does not outrun the deployments)."""
        tasks = [tr.deploy for tr in self._pending if tr.deploy is not None and not tr.deploy.done()]
        if tasks:
            await asyncio.gather(*tasks)

    async def run(self, until_s: float, poll_s: float = 0.05) -> None:
        """Decide once per emulated step until emulated ``until_s`` (the attribute
        :attr:`until_s` may be moved meanwhile, e.g. from ``inf`` once the clients run)."""
        self.until_s = until_s
        next_step = self.now_s()
        while self.now_s() < self.until_s:
            if self.now_s() >= next_step:
                await self.tick()
                next_step += self.step_s
            else:
                await self._settle()
                await asyncio.sleep(poll_s)

    async def close(self) -> None:
        for socks in self._sockets.values():
            for ws in list(socks):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
