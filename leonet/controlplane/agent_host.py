"""Many node agents on one asyncio loop, driven by JSON-able commands.

The same :class:`AgentHost` runs inside a dedicated agents process (:mod:`.agents_process`, commands
as JSON lines on its stdin) or on a loop thread of the emulation run's own process
(:class:`InlineAgents`). Either way each agent's sockets are created in its satellite's network
namespace, so every API message crosses the emulated network.

Commands (``op`` and its arguments):

* ``init``: ``planes`` {name: url}, ``ca`` (PEM), ``config`` (:class:`AgentConfig` fields),
  ``request_timeout``, ``register_concurrency`` (agents registering at once; 0: all);
* ``add``: ``agents``, a list of {name, address, netns, plane, cert, key, labels, pod_cidr (optional)};
* ``wait_registered``: ``timeout`` -> {registered, seconds};
* ``swap``: ``node``, ``plane``, ``deregister_old``, ``orphan_grace`` -> {seconds};
* ``post_status``: ``node`` -> {sent, done, resourceVersion, plane} (``time.monotonic()`` stamps, comparable
  across processes; ``plane``: where the post went); a node between planes posts once it joined;
* ``set_pressure``: ``node``, ``pressure`` ({MemoryPressure, DiskPressure, PIDPressure: bool}, or None to
  measure the host again) -> {sent, done, plane, evicted}: under pressure the agent evicts a pod at once
  (the kubelet's eviction manager), then posts the conditions;
* ``pod_pid``: ``node``, ``namespace``, ``name`` -> pid or None;
* ``assignment`` -> {node: plane}; ``stats`` -> totals and RSS; ``stop``;
* ``plugin``: ``spec`` (``"package.module:factory"``) and ``args``: loads a plug-in, see below.

**Plug-ins** let a higher layer run its own per-node software beside the agents, on the same loop
(KubeSpace's satellite daemons, which tell their agent to hand over). ``factory(host, **args)`` gets this
:class:`AgentHost` and returns an object whose ``op_<name>`` coroutine methods become commands of the
host, and whose optional ``stop()`` coroutine runs before the agents stop. ``set_plane(node, plane)``
records that a plug-in moved an agent to another plane.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import threading
import time
from dataclasses import fields
from typing import Any, Dict, List, Optional, Set

from .agent import AgentConfig, ApiConnection, NodeAgent


def rss_mb(pid: Optional[int] = None) -> float:
    """Resident set size of a process in MB (this one by default)."""
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def agent_config(raw: Dict[str, Any]) -> AgentConfig:
    known = {f.name for f in fields(AgentConfig)}
    return AgentConfig(**{k: v for k, v in raw.items() if k in known})


class AgentHost:
    """The agents of one process. Call :meth:`handle` from the loop that runs them."""

    def __init__(self) -> None:
        self.planes: Dict[str, str] = {}
        self.ca_pem = b""
        self.config = AgentConfig()
        self.request_timeout = 10.0
        self.agents: Dict[str, NodeAgent] = {}
        self.plane_of: Dict[str, str] = {}
        self._creds: Dict[str, tuple] = {}
        self._added_at = time.monotonic()
        self._gate: Optional[asyncio.Semaphore] = None
        self._starting: Set[asyncio.Task] = set()
        self.plugins: List[Any] = []

    async def handle(self, op: str, args: Dict[str, Any]) -> Any:
        fn = getattr(self, f"op_{op}", None)
        for plugin in self.plugins:
            if fn is not None:
                break
            fn = getattr(plugin, f"op_{op}", None)
        if fn is None:
            raise ValueError(f"unknown agents command {op!r}")
        return await fn(**args)

    async def op_plugin(self, spec: str, args: Optional[Dict[str, Any]] = None) -> str:
        """Load a plug-in (``"package.module:factory"``); returns its class name."""
        module, _, attr = spec.partition(":")
        if not attr:
            raise ValueError(f"plug-in {spec!r}: write it as package.module:factory")
        factory = getattr(importlib.import_module(module), attr)
        plugin = factory(self, **(args or {}))
        if asyncio.iscoroutine(plugin):
            plugin = await plugin
        self.plugins.append(plugin)
        return type(plugin).__name__

    def set_plane(self, node: str, plane: str) -> None:
        """Record that ``node``'s agent now reports to ``plane`` (a plug-in moved it)."""
        self._agent(node)
        self.plane_of[node] = plane

    def connection(self, node: str, plane: str) -> ApiConnection:
        """A new connection for ``node`` to ``plane`` with the node's credentials, from its namespace."""
        return self._connection(node, plane, self._agent(node).netns)

    # --- commands -------------------------------------------------------------------------
    async def op_init(self, planes: Dict[str, str], ca: str, config: Dict[str, Any],
                      request_timeout: float = 10.0, register_concurrency: int = 64) -> None:
        self.planes = dict(planes)
        self.ca_pem = ca.encode()
        self.config = agent_config(config)
        self.request_timeout = request_timeout
        # At most this many agents register at once (0: no limit). Thousands of simultaneous TLS
        # handshakes time out against Python control planes and their retries feed the storm.
        self._gate = asyncio.Semaphore(register_concurrency) if register_concurrency > 0 else None

    def _connection(self, node: str, plane: str, netns: str) -> ApiConnection:
        cert, key = self._creds[node]
        return ApiConnection(self.planes[plane], self.ca_pem, cert_pem=cert, key_pem=key, netns=netns,
                             request_timeout=self.request_timeout, name=plane)

    async def op_add(self, agents: List[Dict[str, Any]]) -> int:
        """Create the agents and start them (registration goes on in the background)."""
        self._added_at = time.monotonic()
        loop = asyncio.get_running_loop()
        for i, spec in enumerate(agents):
            name = spec["name"]
            self._creds[name] = (spec["cert"].encode(), spec["key"].encode())
            agent = NodeAgent(name, self._connection(name, spec["plane"], spec["netns"]),
                              address=spec["address"], netns=spec["netns"], labels=spec.get("labels"),
                              config=self.config, pod_cidr=spec.get("pod_cidr"))
            self.agents[name] = agent
            self.plane_of[name] = spec["plane"]
            if self._gate is None:
                await agent.start()
            else:
                self._starting.add(loop.create_task(self._start_gated(agent)))
            if i % 50 == 49:
                await asyncio.sleep(0)   # let early registrations progress while the rest are created
        return len(self.agents)

    async def _start_gated(self, agent: NodeAgent) -> None:
        assert self._gate is not None
        async with self._gate:
            await agent.start()
            try:   # hold the slot until registered, but not for an agent that cannot reach its plane
                await asyncio.wait_for(agent.registered.wait(), 2 * self.request_timeout)
            except asyncio.TimeoutError:
                pass

    async def op_wait_registered(self, timeout: float = 600.0) -> Dict[str, Any]:
        await asyncio.wait_for(asyncio.gather(*(a.wait_registered(timeout) for a in self.agents.values())),
                               timeout)
        return {"registered": len(self.agents), "seconds": round(time.monotonic() - self._added_at, 2)}

    async def op_swap(self, node: str, plane: str, deregister_old: bool = True,
                      orphan_grace: Optional[float] = None) -> Dict[str, Any]:
        agent = self._agent(node)
        if plane not in self.planes:
            raise ValueError(f"no control plane {plane!r}")
        t0 = time.monotonic()
        await agent.swap_connection(self._connection(node, plane, agent.netns), deregister_old=deregister_old,
                                    orphan_grace=orphan_grace)
        self.plane_of[node] = plane
        return {"seconds": round(time.monotonic() - t0, 4)}

    async def op_post_status(self, node: str) -> Dict[str, Any]:
        agent = self._agent(node)
        sent = time.monotonic()
        if not agent.registered.is_set():   # between planes (a baseline's handover): posted once joined
            await agent.registered.wait()
        plane = agent.conn.name
        res = await agent.post_status(force=True)
        return {"sent": sent, "done": time.monotonic(), "plane": plane,
                "resourceVersion": (res or {}).get("metadata", {}).get("resourceVersion")}

    async def op_set_pressure(self, node: str, pressure: Optional[Dict[str, bool]] = None) -> Dict[str, Any]:
        agent = self._agent(node)
        plane = agent.conn.name
        sent = time.monotonic()
        evictions = agent.stats["evictions"]
        await agent.set_pressure(pressure)
        return {"sent": sent, "done": time.monotonic(), "plane": plane,
                "evicted": agent.stats["evictions"] - evictions}

    async def op_pod_pid(self, node: str, namespace: str, name: str) -> Optional[int]:
        return self._agent(node).pod_pid(namespace, name)

    async def op_assignment(self) -> Dict[str, str]:
        return dict(self.plane_of)

    async def op_stats(self) -> Dict[str, Any]:
        totals: Dict[str, int] = {}
        for a in self.agents.values():
            for k, v in a.stats.items():
                totals[k] = totals.get(k, 0) + v
        return {"agents": len(self.agents), "registered": sum(a.registered.is_set() for a in self.agents.values()),
                "rss_mb": round(rss_mb(), 1), "cpu_s": round(sum(os.times()[:2]), 1), **totals}

    async def op_stop(self, stop_pods: bool = True) -> None:
        for plugin in reversed(self.plugins):
            stop = getattr(plugin, "stop", None)
            if stop is not None:
                try:
                    await stop()
                except Exception:   # keep stopping the agents
                    logging.getLogger("leonet.controlplane.agents").exception("stopping a plug-in")
        self.plugins.clear()
        for t in self._starting:
            t.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        await asyncio.gather(*(a.stop(stop_pods=stop_pods) for a in self.agents.values()), return_exceptions=True)
        self.agents.clear()

    def _agent(self, node: str) -> NodeAgent:
        try:
            return self.agents[node]
        except KeyError:
            raise ValueError(f"no agent for node {node!r}") from None


class InlineAgents:
    """An :class:`AgentHost` on a loop thread of the calling process, with a synchronous interface
    (the same as :class:`leonet.controlplane.agents_process.AgentsProcess`)."""

    def __init__(self) -> None:
        self.host = AgentHost()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="leonet-agents", daemon=True)
        self._thread.start()
        self.pid = os.getpid()

    def call(self, op: str, reply_timeout: Optional[float] = 600.0, **args: Any) -> Any:
        """Run one command; arguments go through JSON as they would to a separate process."""
        args = json.loads(json.dumps(args))
        fut = asyncio.run_coroutine_threadsafe(self.host.handle(op, args), self.loop)
        return fut.result(reply_timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.call("stop", reply_timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
