"""What a user of the constellation sees during handovers: node visibility and pod availability.

* :class:`InvisibilityProbe`: from each control plane's ground station (its sockets in the station's
  namespace) it asks the plane for its nodes every ``interval`` (100 ms). A node is *invisible* at a
  sampling instant when no plane lists it ``Bound`` or ``Releasing`` (the KubeSpace paper's "kubectl get
  node" criterion; see :mod:`leonet.controlplane.binding`). Two modes: ``list`` (a real list request to
  every plane at every instant, as kubectl would: the issue's definition, fine for tens of nodes) and
  ``watch`` (a watch per plane keeps each plane's view, sampled every ``interval``: the same criterion
  for thousands of nodes, where a list of every node ten times a second per plane would cost more CPU
  than the emulation has). A plane whose view is older than ``stale_after_s`` (it does not answer)
  lists nothing.
* :class:`HttpProbe`: from a node's namespace (a ground station) it GETs each target URL every
  ``interval`` and counts failures (refused, reset, timed out, non-2xx): over kept-alive connections by
  default (a server that stops breaks them, so its downtime is seen all the same, at a quarter of the
  packets, which matters under the ``nfqueue`` backend's load), or a new TCP connection per request.

Both run on their own asyncio loop in a thread (:meth:`start` / :meth:`stop`), so a test or an
experiment can keep blocking on other calls meanwhile; :class:`ProbeProcess` runs either in a child
process instead, so that at scale its requests do not compete for the interpreter with the emulation's
controller. Results are plain dicts.
"""
from __future__ import annotations

import asyncio
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import aiohttp

from ...controlplane.agent import ApiConnection
from ...controlplane.binding import VISIBLE, binding_state
from ...controlplane.errors import ApiError
from ...controlplane.netns import netns as get_netns


class _Probe:
    """A probe sampling on its own asyncio loop in a daemon thread: subclasses implement
    ``_main(ready)`` (set ``ready`` once sampling, return when ``self._stop`` is set) and
    ``result()``."""

    stop_timeout = 30.0

    def __init__(self) -> None:
        self.started = self.stopped = 0.0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._future = None
        self._stop: Optional[asyncio.Event] = None

    def start(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"leonet-{type(self).__name__}",
                                        daemon=True)
        self._thread.start()
        ready = threading.Event()
        self._future = asyncio.run_coroutine_threadsafe(self._begin(ready), self._loop)
        ready.wait(30)
        return self

    async def _begin(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        try:
            await self._main(ready)
        finally:
            ready.set()

    def stop(self) -> Dict[str, Any]:
        """Stop sampling and return the result (:meth:`result`)."""
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            try:
                self._future.result(self.stop_timeout)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(5)
                self._loop.close()
                self._thread = None
        return self.result()

    async def _main(self, ready: threading.Event) -> None:
        raise NotImplementedError

    def result(self) -> Dict[str, Any]:
        raise NotImplementedError


def _pct(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


@dataclass
class PlaneEndpoint:
    """How to reach one plane: its admin kubeconfig and the namespace to ask from."""

    name: str
    kubeconfig: str
    netns: Optional[str]


#: a view's time before its first answer
NEVER = -1e18


@dataclass
class _View:
    states: Dict[str, str] = field(default_factory=dict)   #: node -> binding state
    at: float = NEVER                                        #: monotonic time the view is from
    latencies_ms: List[float] = field(default_factory=list)
    errors: int = 0
    in_flight: bool = False
    connected: bool = False                                  #: watch mode: the watch is open


class InvisibilityProbe(_Probe):
    """Samples node visibility across control planes every ``interval`` seconds.

    ``nodes``: the node names to judge (default: every node any plane has listed Bound or Releasing
    since the probe started)."""

    def __init__(self, planes: Iterable[PlaneEndpoint], nodes: Optional[Iterable[str]] = None,
                 interval: float = 0.1, mode: str = "list", stale_after_s: float = 1.0,
                 request_timeout: float = 5.0):
        super().__init__()
        if mode not in ("list", "watch"):
            raise ValueError("mode must be list or watch")
        self.planes = list(planes)
        self.nodes: Optional[Set[str]] = set(nodes) if nodes is not None else None
        self.interval, self.mode, self.stale_after_s = interval, mode, stale_after_s
        self.request_timeout = request_timeout
        self._views: Dict[str, _View] = {p.name: _View() for p in self.planes}
        self._known: Set[str] = set()
        self.samples = 0
        self.invisible: Dict[str, List[float]] = {}       #: node -> monotonic instants it was invisible
        self.plane_down_samples: Dict[str, int] = {p.name: 0 for p in self.planes}

    async def _main(self, ready: threading.Event) -> None:
        conns = {p.name: ApiConnection.from_kubeconfig(p.kubeconfig, netns=p.netns) for p in self.planes}
        for c in conns.values():
            c.request_timeout = self.request_timeout
        tasks: List[asyncio.Task] = []
        try:
            if self.mode == "watch":
                tasks = [asyncio.ensure_future(self._watch(name, c)) for name, c in conns.items()]
                # sample only once every plane has answered its first list (or could not within the
                # request timeout): a view not loaded yet is not a plane listing nothing
                deadline = time.monotonic() + self.request_timeout
                while time.monotonic() < deadline and any(v.at == NEVER for v in self._views.values()):
                    await asyncio.sleep(0.02)
            else:   # a first round of lists before sampling starts
                await asyncio.gather(*(self._list(name, c) for name, c in conns.items()))
            self.started = time.monotonic()
            ready.set()
            k = 0
            while not self._stop.is_set():
                k += 1
                due = self.started + k * self.interval
                try:
                    await asyncio.wait_for(self._stop.wait(), max(0.0, due - time.monotonic()))
                    break
                except asyncio.TimeoutError:
                    pass
                if self.mode == "list":
                    for name, c in conns.items():
                        if not self._views[name].in_flight:
                            tasks.append(asyncio.ensure_future(self._list(name, c)))
                    tasks = [t for t in tasks if not t.done()]
                self._sample(time.monotonic())
            self.stopped = time.monotonic()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for c in conns.values():
                await c.close()

    # ------------------------------------------------------------------ views
    async def _list(self, name: str, conn: ApiConnection) -> None:
        view = self._views[name]
        view.in_flight = True
        t0 = time.monotonic()
        try:
            items = (await conn.list("v1", "nodes"))["items"]
        except ApiError:
            view.errors += 1
            return
        finally:
            view.in_flight = False
        view.states = {n["metadata"]["name"]: binding_state(n) for n in items}
        view.at = t0            # the plane's state at the time of the request, at the latest
        view.latencies_ms.append((time.monotonic() - t0) * 1e3)

    async def _watch(self, name: str, conn: ApiConnection) -> None:
        view = self._views[name]
        while True:
            try:
                lst = await conn.list("v1", "nodes")
                view.states = {n["metadata"]["name"]: binding_state(n) for n in lst["items"]}
                view.at = time.monotonic()
                view.connected = True
                async for etype, obj in conn.watch("v1", "nodes", resource_version=lst["metadata"]["resourceVersion"],
                                                   timeout_seconds=300):
                    if etype == "DELETED":
                        view.states.pop(obj["metadata"]["name"], None)
                    elif etype != "BOOKMARK":
                        view.states[obj["metadata"]["name"]] = binding_state(obj)
                    view.at = time.monotonic()
                view.at = time.monotonic()
            except ApiError:
                view.errors += 1
                view.connected = False
                await asyncio.sleep(self.interval)

    def _fresh(self, view: _View, now: float) -> bool:
        if self.mode == "watch" and view.connected:   # a connected watch is current however quiet
            return True
        return now - view.at <= self.stale_after_s

    def _sample(self, now: float) -> None:
        self.samples += 1
        visible: Set[str] = set()
        for name, view in self._views.items():
            if not self._fresh(view, now):
                self.plane_down_samples[name] += 1
                continue
            visible.update(n for n, st in view.states.items() if st in VISIBLE)
        self._known |= visible
        judged = self.nodes if self.nodes is not None else self._known
        for node in judged - visible:
            self.invisible.setdefault(node, []).append(now)

    # ------------------------------------------------------------------ result
    def result(self) -> Dict[str, Any]:
        """``samples``, ``invisible_s`` per node (invisible samples x interval), ``gaps`` (node, start,
        end in seconds since the probe started, consecutive invisible samples), list latency per plane."""
        gaps: List[Tuple[str, float, float]] = []
        for node, ts in self.invisible.items():
            start = prev = ts[0]
            for t in ts[1:] + [None]:
                if t is None or t - prev > 1.5 * self.interval:
                    gaps.append((node, round(start - self.started, 3), round(prev - self.started + self.interval, 3)))
                    if t is not None:
                        start = t
                if t is not None:
                    prev = t
        judged = self.nodes if self.nodes is not None else self._known
        return {"mode": self.mode, "interval_s": self.interval, "samples": self.samples,
                "duration_s": round((self.stopped or time.monotonic()) - self.started, 2),
                "nodes": len(judged),
                "invisible_s": {n: round(len(ts) * self.interval, 3) for n, ts in self.invisible.items()},
                "invisible_total_s": round(sum(len(ts) for ts in self.invisible.values()) * self.interval, 3),
                "gaps": gaps, "plane_down_samples": dict(self.plane_down_samples),
                "planes": {name: {"errors": v.errors, "requests": len(v.latencies_ms),
                                  "latency_ms_p50": _pct(v.latencies_ms, 50), "latency_ms_p99": _pct(v.latencies_ms, 99)}
                           for name, v in self._views.items()}}


@dataclass
class _Target:
    url: str
    sent: int = 0
    ok: int = 0
    failures: List[Tuple[float, str]] = field(default_factory=list)   #: (seconds since start, why)
    latencies_ms: List[float] = field(default_factory=list)


class HttpProbe(_Probe):
    """GETs each target every ``interval`` s from ``netns`` (a ground station's namespace); a request that
    fails or takes longer than ``timeout`` s is a failure. ``new_connection``: a new TCP connection per
    request instead of kept-alive ones."""

    def __init__(self, netns: Optional[str], targets: Dict[str, str], interval: float = 0.1,
                 timeout: float = 2.0, new_connection: bool = False):
        super().__init__()
        self.netns = netns
        self.targets = {name: _Target(url) for name, url in targets.items()}
        self.interval, self.timeout, self.new_connection = interval, timeout, new_connection
        self.stop_timeout = timeout + 30

    async def _main(self, ready: threading.Event) -> None:
        connector = aiohttp.TCPConnector(force_close=self.new_connection, limit=0,
                                         socket_factory=get_netns(self.netns).socket_factory())
        session = aiohttp.ClientSession(connector=connector)
        pending: Set[asyncio.Task] = set()
        try:
            self.started = time.monotonic()
            ready.set()
            k = 0
            while not self._stop.is_set():
                for name in self.targets:
                    t = asyncio.ensure_future(self._get(session, name))
                    pending.add(t)
                    t.add_done_callback(pending.discard)
                k += 1
                try:
                    await asyncio.wait_for(self._stop.wait(), max(0.0, self.started + k * self.interval - time.monotonic()))
                except asyncio.TimeoutError:
                    pass
            self.stopped = time.monotonic()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            await session.close()

    async def _get(self, session: aiohttp.ClientSession, name: str) -> None:
        target = self.targets[name]
        target.sent += 1
        t0 = time.monotonic()
        try:
            async with session.get(target.url, timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                await resp.read()
                if resp.status >= 300:
                    raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
            target.ok += 1
            target.latencies_ms.append((time.monotonic() - t0) * 1e3)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            target.failures.append((round(t0 - self.started, 3), type(e).__name__ + (f": {e}" if str(e) else "")))

    def result(self) -> Dict[str, Any]:
        lat = [x for t in self.targets.values() for x in t.latencies_ms]
        return {"interval_s": self.interval, "duration_s": round((self.stopped or time.monotonic()) - self.started, 2),
                "sent": sum(t.sent for t in self.targets.values()),
                "failures": sum(len(t.failures) for t in self.targets.values()),
                "latency_ms_p50": statistics.median(lat) if lat else None, "latency_ms_p99": _pct(lat, 99),
                "targets": {n: {"url": t.url, "sent": t.sent, "ok": t.ok, "failures": t.failures[:50]}
                            for n, t in self.targets.items()}}


def plane_endpoints(planes: Dict[str, Any]) -> List[PlaneEndpoint]:
    """Endpoints from a cluster's ``planes`` ({name: PlaneInfo}) or ``active_planes()`` ({name: dict})."""
    out = []
    for name, p in planes.items():
        get = (lambda k: p[k]) if isinstance(p, dict) else (lambda k: getattr(p, k))
        out.append(PlaneEndpoint(name, get("kubeconfig"), get("netns")))
    return out


def _probe_child(cls_name: str, kwargs: Dict[str, Any], conn) -> None:
    probe = globals()[cls_name](**kwargs).start()
    conn.send("started")
    conn.recv()                      # the parent asks for the result
    conn.send(probe.stop())


class ProbeProcess:
    """Run an :class:`InvisibilityProbe` or :class:`HttpProbe` in a child process (spawned: it inherits
    nothing of the parent's threads); ``start()`` returns once it samples, ``stop()`` returns its result."""

    def __init__(self, cls: type, **kwargs: Any):
        import multiprocessing as mp
        if cls not in (InvisibilityProbe, HttpProbe):
            raise ValueError("ProbeProcess runs InvisibilityProbe or HttpProbe")
        self._ctx = mp.get_context("spawn")
        self._parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_probe_child, args=(cls.__name__, kwargs, child), daemon=True,
                                       name=f"leonet-{cls.__name__}")

    def start(self, timeout: float = 60.0) -> "ProbeProcess":
        self._proc.start()
        if not self._parent.poll(timeout):
            self._proc.kill()
            raise RuntimeError("the probe process did not start")
        self._parent.recv()
        return self

    def stop(self, timeout: float = 120.0) -> Dict[str, Any]:
        self._parent.send("stop")
        if not self._parent.poll(timeout):
            self._proc.kill()
            raise RuntimeError("the probe process did not answer")
        result = self._parent.recv()
        self._proc.join(10)
        return result
