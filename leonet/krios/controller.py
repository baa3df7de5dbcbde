"""The LEO controller and the handover manager (Krios §5.2), on the Kubernetes API.

The **controller** watches the pods of Krios applications (label
``krios.leonet.io/app``). When an instance is Ready it publishes the app's endpoint if
the app has none yet, and, for pods scheduled by Krios whose handover mode is not
``none``, asks the zones manager when the host satellite leaves the zone's region
(``node_leaving_zone``) and arms a timer for ``T_exit - lead``:

* ``proactive``: lead = dt_e + t_i + t_AT + t_switch (Eq. 1, plus the time clients
  need to follow a DNS switch), with t_i the measured creation-to-Ready time of this
  controller's successors (the largest of the last five; ``init_s`` before any),
  t_AT the configured transfer estimate, dt_e = 4.58 us; or a fixed ``lead_s``;
* ``reactive``: lead = 0 (the handover starts when the satellite leaves).

The **handover manager** then makes before it breaks:

1. create the successor: same labels and spec, a new name, the old node excluded,
   ``schedulerName: krios`` (a handover instance is just a new pod to the scheduler,
   §7.3), and for stateful apps ``KRIOS_STATE_FROM`` pointing at the old instance;
2. wait until the scheduler bound it and it is Ready; a successor that is not Ready
   within a few t_i (its satellite failed or was cut off) is deleted and another
   satellite is tried, up to three times, while the old instance keeps serving;
3. switch the zone's clients: publish the successor's address under the app's name;
4. wait for the clients to follow (the record's TTL plus ``drain_s``); for stateful
   apps ask the successor to pull the state once more (the final delta);
5. delete the old instance.

Every handover is appended to a JSON-lines log and posted as an Event. The controller
does not care how pods run (processes today, containers later): it sees only the API.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..controlplane.errors import ApiError
from ..controlplane.timefmt import now_rfc3339
from ..errors import ConfigError
from ..orbits import Constellation
from .clock import Clock
from .config import KriosConfig
from .endpoints import Endpoints, service_name
from .kube import (ANN_EXCLUDE, ANN_GENERATION, ANN_PREDECESSOR, LABEL_APP, LABEL_HANDOVER, Cache, SatelliteMap,
                   app_of, pod_key, pod_ready, pod_zone)
from .manager import ZoneManager
from .timeline import MODES, PAPER_PATH_ERROR_S

log = logging.getLogger("leonet.krios.controller")

#: annotation of a stateful app: the port of its state endpoint (GET/POST /krios/state)
ANN_STATE_PORT = "krios.leonet.io/state-port"
#: how many recent start-up times the automatic lead looks at
INIT_SAMPLES = 5
#: a successor that is not Ready after this long is given up (deleted) and retried
READY_TIMEOUT_S = 120.0
#: ... or after this many times the expected start-up time t_i, if that is shorter
READY_TIMEOUT_INIT_FACTOR = 4.0
#: the shortest wait for a successor (a loaded control plane still gets this long)
READY_TIMEOUT_MIN_S = 15.0
#: successors tried per handover (each on another satellite) before the old instance is kept
MAX_ATTEMPTS = 3


@dataclass
class HandoverRecord:
    """One handover, with emulated offsets (s from the scenario start) and wall times."""

    app: str
    namespace: str
    mode: str
    old_pod: str
    old_node: str
    new_pod: str = ""
    new_node: str = ""
    lead_s: float = 0.0
    exit_s: float = 0.0          #: predicted exit of the old host from the region
    trigger_s: float = 0.0       #: when the timer fired
    created_s: float = 0.0
    ready_s: float = 0.0
    switched_s: float = 0.0
    deleted_s: float = 0.0
    init_s: float = 0.0          #: creation to Ready (real seconds): the measured t_i
    state_sync_s: Optional[float] = None
    failed_nodes: List[str] = field(default_factory=list)   #: satellites whose successor never got Ready
    outcome: str = "pending"
    wall: Dict[str, float] = field(default_factory=dict)


class LeoController:
    def __init__(self, conn, constellation: Constellation, cfg: KriosConfig, clock: Clock, endpoints: Endpoints,
                 namespace: str = "default", record_path: Optional[Path] = None):
        self.conn, self.constellation, self.cfg, self.clock = conn, constellation, cfg, clock
        self.endpoints, self.namespace = endpoints, namespace
        self.record_path = Path(record_path) if record_path else None
        self.sats = SatelliteMap(constellation)
        self.manager = ZoneManager(constellation)
        self.records: List[HandoverRecord] = []
        self.init_samples: List[float] = []
        self._timers: Dict[Tuple[str, str], asyncio.Task] = {}
        self._tracked: Dict[Tuple[str, str], str] = {}      # pod -> uid
        self._busy: Dict[str, asyncio.Task] = {}              # app -> its handover in progress
        self._published: Dict[str, Tuple[str, ...]] = {}
        self._ready_waiters: Dict[Tuple[str, str], asyncio.Event] = {}
        self._tasks: List[asyncio.Task] = []
        self.pods = Cache(conn, "v1", "pods", namespace, on_change=self._event, labelSelector=LABEL_APP)
        self.nodes = Cache(conn, "v1", "nodes")

    # ------------------------------------------------------------------ lead time
    def lead_s(self, mode: str) -> float:
        if mode == "reactive":
            return 0.0
        if self.cfg.lead_s is not None:
            return self.cfg.lead_s
        t_i = max(self.init_samples[-INIT_SAMPLES:]) if self.init_samples else self.cfg.init_s
        # t_i, the transfer and the clients' switch take real seconds; an emulation
        # running at speed s lets s emulated seconds pass in each of them
        return PAPER_PATH_ERROR_S + (t_i + self.cfg.transfer_s + self.cfg.dns_ttl_s) * self.clock.rate

    # ------------------------------------------------------------------ watch
    async def run(self) -> None:
        self._tasks = [asyncio.ensure_future(self.nodes.run()), asyncio.ensure_future(self.pods.run())]
        try:
            await self.nodes.synced.wait()
            await self.pods.synced.wait()
            for pod in list(self.pods.objects.values()):
                self._event("ADDED", pod)
            await asyncio.Event().wait()
        finally:
            for t in self._tasks + list(self._timers.values()) + list(self._busy.values()):
                t.cancel()

    def _event(self, typ: str, pod: dict) -> None:
        key = pod_key(pod)
        if typ == "DELETED":
            self._untrack(key)
            return
        if pod_ready(pod) and key in self._ready_waiters:
            self._ready_waiters[key].set()
        uid = pod["metadata"].get("uid", "")
        if self._tracked.get(key) == uid or pod["metadata"].get("deletionTimestamp"):
            return
        if pod_ready(pod) and (pod.get("spec") or {}).get("nodeName"):
            self._tracked[key] = uid
            self._track(pod)

    def _untrack(self, key: Tuple[str, str]) -> None:
        self._tracked.pop(key, None)
        t = self._timers.pop(key, None)
        if t is not None:
            t.cancel()

    def _address(self, pod: dict) -> Optional[str]:
        ip = (pod.get("status") or {}).get("podIP")
        if ip:
            return ip
        node = self.nodes.objects.get(("", pod["spec"]["nodeName"]))
        for a in ((node or {}).get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                return a["address"]
        return None

    def _track(self, pod: dict) -> None:
        key, app = pod_key(pod), app_of(pod)
        name = service_name(app, key[0])
        if name not in self._published and app not in self._busy:
            ip = self._address(pod)
            if ip:
                self._spawn(self._publish(name, [ip]))
        labels = pod["metadata"].get("labels") or {}
        mode = labels.get(LABEL_HANDOVER) or self.cfg.handover
        if mode not in MODES:
            log.warning("%s/%s: unknown %s %r; no handovers", *key, LABEL_HANDOVER, mode)
            return
        if mode == "none" or pod["spec"].get("schedulerName") != self.cfg.scheduler_name:
            return
        try:
            zone = pod_zone(pod, self.cfg)
        except ConfigError as exc:
            log.warning("%s/%s: %s", *key, exc)
            return
        node = self.nodes.objects.get(("", pod["spec"]["nodeName"]))
        sat = self.sats.satellite_of(node) if node else self.sats.satellite_of(
            {"metadata": {"name": pod["spec"]["nodeName"]}})
        if sat is None:
            log.warning("%s/%s: node %s is no satellite; no handovers", *key, pod["spec"]["nodeName"])
            return
        now = self.clock.offset_s()
        exit_s = self.manager.pass_exit_time(zone, sat, now)
        lead = self.lead_s(mode)
        log.info("tracking %s/%s on %s: leaves zone %s in %.1f s, handover %.1f s before (%s)", *key,
                 self.constellation.satellites[sat].name, zone.name, exit_s - now, lead, mode)
        if exit_s == float("inf"):
            return
        self._timers[key] = asyncio.ensure_future(self._timer(key, exit_s, lead, mode))

    async def _timer(self, key: Tuple[str, str], exit_s: float, lead: float, mode: str) -> None:
        while True:   # sleep in slices, so that clock re-synchronisations are followed
            wait = self.clock.seconds_until(exit_s - lead)
            if wait <= 0:
                break
            await asyncio.sleep(min(wait, 5.0))
        self._timers.pop(key, None)
        pod = self.pods.objects.get(key)
        if pod is None:
            return
        app = app_of(pod)
        while app in self._busy:
            # typically the handover that created this instance, still switching the
            # clients or deleting its predecessor: this one's hand-over follows it
            log.info("%s: a handover is under way; %s/%s hands over after it", app, *key)
            await asyncio.wait({self._busy[app]})
            pod = self.pods.objects.get(key)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                return
        self._busy[app] = asyncio.current_task()  # type: ignore[assignment]
        try:
            await self.handover(pod, mode, lead, exit_s)
        finally:
            self._busy.pop(app, None)

    # ------------------------------------------------------------------ handover
    def ready_timeout_s(self) -> float:
        """How long a successor may take to get Ready before it is given up: a few
        times the expected t_i, at least :data:`READY_TIMEOUT_MIN_S`."""
        t_i = max(self.init_samples[-INIT_SAMPLES:]) if self.init_samples else self.cfg.init_s
        return min(READY_TIMEOUT_S, max(READY_TIMEOUT_MIN_S, READY_TIMEOUT_INIT_FACTOR * t_i))

    def successor(self, old: dict, exclude: Sequence[str] = ()) -> dict:
        """The new instance's manifest: same labels and spec, unbound, the old node (and
        ``exclude``: satellites that failed this handover) excluded."""
        md = old["metadata"]
        app = app_of(old)
        gen = int((md.get("annotations") or {}).get(ANN_GENERATION, "0")) + 1
        spec = copy.deepcopy(old["spec"])
        for k in ("nodeName", "nominatedNodeName"):
            spec.pop(k, None)
        spec["schedulerName"] = self.cfg.scheduler_name
        annotations = {k: v for k, v in (md.get("annotations") or {}).items() if not k.startswith("krios.leonet.io/")
                       or k in (ANN_STATE_PORT, "krios.leonet.io/zone")}
        excluded = [spec_node(old), *(n for n in exclude if n != spec_node(old))]
        annotations.update({ANN_EXCLUDE: ",".join(excluded), ANN_PREDECESSOR: md["name"], ANN_GENERATION: str(gen)})
        port = annotations.get(ANN_STATE_PORT)
        ip = self._address(old)
        if port and ip:
            for c in spec.get("containers") or []:
                env = [e for e in c.get("env") or [] if e.get("name") != "KRIOS_STATE_FROM"]
                env.append({"name": "KRIOS_STATE_FROM", "value": f"http://{ip}:{port}/krios/state"})
                c["env"] = env
        labels = dict(md.get("labels") or {})
        labels[LABEL_APP] = app
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{app}-{gen:04d}-{uuid.uuid4().hex[:5]}", "namespace": md.get("namespace"),
                             "labels": labels, "annotations": annotations},
                "spec": spec}

    async def handover(self, old: dict, mode: str, lead: float, exit_s: float) -> HandoverRecord:
        """Make before break: a Ready successor (retried on other satellites if one
        never gets Ready: its satellite failed or was cut off), the switch, then the
        old instance's deletion. The old instance is deleted only after a successor
        is Ready and the clients were switched to it."""
        key = pod_key(old)
        rec = HandoverRecord(app_of(old), key[0], mode, key[1], spec_node(old), lead_s=lead, exit_s=exit_s,
                             trigger_s=self.clock.offset_s())
        wall = rec.wall
        wall["trigger"] = time.time()
        try:
            new_key = await self._ready_successor(old, rec)
            if new_key is None:
                return self._record(rec)
            new = self.pods.objects.get(new_key) or await self.conn.get("v1", "pods", new_key[1], key[0])
            rec.new_node = spec_node(new)
            ip = self._address(new)
            if ip:
                await self._publish(service_name(rec.app, key[0]), [ip])
            rec.switched_s, wall["switched"] = self.clock.offset_s(), time.time()
            await asyncio.sleep(self.cfg.dns_ttl_s + self.cfg.drain_s)
            port = (old["metadata"].get("annotations") or {}).get(ANN_STATE_PORT)
            if port and ip:
                rec.state_sync_s = await self._final_state_sync(ip, port)
            await self._delete(key, (old["spec"].get("terminationGracePeriodSeconds") or 30))
            rec.deleted_s, wall["deleted"] = self.clock.offset_s(), time.time()
            rec.outcome = "done"
        except ApiError as exc:
            rec.outcome = f"failed: {exc}"
            log.warning("%s: handover failed: %s", rec.app, exc)
        log.info("%s: %s -> %s (%s), t_i %.2f s, %.1f s before the predicted exit", rec.app, rec.old_node, rec.new_node,
                 mode, rec.init_s, rec.exit_s - rec.switched_s)
        return self._record(rec)

    async def _ready_successor(self, old: dict, rec: HandoverRecord) -> Optional[Tuple[str, str]]:
        """Create successors until one is Ready (up to :data:`MAX_ATTEMPTS`, each on a
        satellite none of the earlier ones used); its key, or None (the old instance
        stays, ``rec.outcome`` says why)."""
        namespace = rec.namespace
        for attempt in range(MAX_ATTEMPTS):
            body = self.successor(old, rec.failed_nodes)
            new_key = (namespace, body["metadata"]["name"])
            ready = self._ready_waiters[new_key] = asyncio.Event()
            timeout = self.ready_timeout_s()
            try:
                t_create = time.monotonic()
                await self.conn.create("v1", "pods", body, namespace=namespace)
                rec.new_pod, rec.created_s, rec.wall["created"] = new_key[1], self.clock.offset_s(), time.time()
                try:
                    await asyncio.wait_for(ready.wait(), timeout)
                except asyncio.TimeoutError:
                    bound = spec_node(self.pods.objects.get(new_key) or {})
                    log.warning("%s: successor %s on %s not Ready after %.0f s; deleting it and trying another "
                                "satellite", rec.app, new_key[1], bound or "(unbound)", timeout)
                    if bound:
                        rec.failed_nodes.append(bound)
                    await self._delete(new_key, 0)
                    rec.new_pod = ""
                    continue
            finally:
                self._ready_waiters.pop(new_key, None)
            rec.init_s = time.monotonic() - t_create
            if attempt == 0:     # a retry's start-up time says nothing about t_i
                self.init_samples.append(rec.init_s)
            rec.ready_s, rec.wall["ready"] = self.clock.offset_s(), time.time()
            return new_key
        rec.outcome = f"no successor Ready after {MAX_ATTEMPTS} attempts; the old instance stays"
        return None

    async def _final_state_sync(self, ip: str, port: str) -> Optional[float]:
        """Ask the successor to pull the old instance's state once more (what changed
        since its first pull); returns the seconds it took, None if it failed."""
        import aiohttp
        t0 = time.monotonic()
        try:
            async with aiohttp.ClientSession() as s:
                async with s.post(f"http://{ip}:{port}/krios/state/pull", timeout=aiohttp.ClientTimeout(total=30)) as r:
                    if r.status != 200:
                        log.warning("final state sync at %s: HTTP %d", ip, r.status)
                        return None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("final state sync at %s: %s", ip, exc)
            return None
        return time.monotonic() - t0

    async def _delete(self, key: Tuple[str, str], grace: float) -> None:
        try:
            await self.conn.delete("v1", "pods", key[1], key[0], {"gracePeriodSeconds": int(grace)})
        except ApiError as exc:
            if exc.code != 404:
                raise

    async def _publish(self, name: str, addresses: List[str]) -> None:
        try:
            await self.endpoints.publish(name, addresses, max(0, round(self.cfg.dns_ttl_s)))
            self._published[name] = tuple(addresses)
        except Exception as exc:
            log.warning("publishing %s: %s", name, exc)

    def _spawn(self, coro) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    def _record(self, rec: HandoverRecord) -> HandoverRecord:
        self.records.append(rec)
        if self.record_path:
            with open(self.record_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(rec)) + "\n")
        self._spawn(self._event_of(rec))
        return rec

    async def _event_of(self, rec: HandoverRecord) -> None:
        now = now_rfc3339()
        target = rec.new_pod or rec.old_pod
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": f"{target}.{uuid.uuid4().hex[:12]}", "namespace": rec.namespace},
              "involvedObject": {"kind": "Pod", "apiVersion": "v1", "name": target, "namespace": rec.namespace},
              "reason": "KriosHandover", "type": "Normal" if rec.outcome == "done" else "Warning",
              "message": f"{rec.mode} handover {rec.old_node} -> {rec.new_node or '?'}: {rec.outcome}",
              "count": 1, "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "krios-controller"},
              "reportingComponent": "krios-controller"}
        try:
            await self.conn.create("v1", "events", ev, namespace=rec.namespace)
        except ApiError as exc:
            log.debug("event: %s", exc)


def spec_node(pod: dict) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""
