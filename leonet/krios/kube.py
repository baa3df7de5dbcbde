"""Krios on the Kubernetes API: the labels and annotations it reads and writes, how
pods name their zone and nodes their satellite, and a small list-and-watch cache.

Krios talks to the API server only over HTTPS (``ApiConnection``, an aiohttp client
built from a kubeconfig), so the same code runs against leonet's embedded control
plane and against any other Kubernetes API (k3s, kubeadm).

**Pods** opt in with ``spec.schedulerName: krios`` and name their zone either with
the paper's labels (``leozone: "<lat>_<lon>"``, ``radius: "<km>"``) or with the
annotation ``krios.leonet.io/zone: <name>`` (a zone of the scenario's
``krios.zones``; polygons only this way). Optional labels: ``krios.leonet.io/app``
(the application the instance belongs to; default: the pod's name),
``krios.leonet.io/handover`` (``proactive``, ``reactive`` or ``none``),
``krios.leonet.io/policy`` (``krios``, ``closest``, ``random``, ``longest``).

**Nodes** name their satellite with the label ``sat_id`` (the paper's: an index into
the constellation) or ``leonet.io/satellite``, else by their name (leonet registers
satellite ``s0p12n5`` as node ``s0p12n5``).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Dict, Mapping, Optional

from ..errors import ConfigError
from ..orbits import Constellation
from .config import KriosConfig
from .zones import LABEL_ZONE, Zone, zone_from_labels

log = logging.getLogger("leonet.krios")

DOMAIN = "krios.leonet.io"
ANN_ZONE = f"{DOMAIN}/zone"
LABEL_APP = f"{DOMAIN}/app"
LABEL_HANDOVER = f"{DOMAIN}/handover"
LABEL_POLICY = f"{DOMAIN}/policy"
#: set by the handover manager on a successor: the node it must not land on (the old host)
ANN_EXCLUDE = f"{DOMAIN}/exclude-node"
#: set by the handover manager: the instance a successor replaces, and its generation
ANN_PREDECESSOR = f"{DOMAIN}/predecessor"
ANN_GENERATION = f"{DOMAIN}/generation"
#: written by the scheduler on a pod it bound: the satellite's predicted exit (UTC)
ANN_EXIT = f"{DOMAIN}/predicted-exit"
LABEL_SAT_ID = "sat_id"
LABEL_SATELLITE = "leonet.io/satellite"


def pod_key(pod: Mapping[str, Any]) -> tuple:
    md = pod["metadata"]
    return md.get("namespace", "default"), md["name"]


def app_of(pod: Mapping[str, Any]) -> str:
    md = pod["metadata"]
    return (md.get("labels") or {}).get(LABEL_APP) or md["name"]


def pod_zone(pod: Mapping[str, Any], cfg: KriosConfig) -> Zone:
    """The zone a pod asks for; :class:`ConfigError` naming the label if it is bad or missing."""
    md = pod["metadata"]
    labels, annotations = md.get("labels") or {}, md.get("annotations") or {}
    name = annotations.get(ANN_ZONE) or labels.get(ANN_ZONE)
    if name:
        return cfg.zone(name, f"metadata.annotations.{ANN_ZONE}")
    zone = zone_from_labels(labels, min_elevation_deg=cfg.min_elevation_deg, max_radius_km=cfg.max_zone_radius_km)
    if zone is None:
        raise ConfigError("metadata.labels", sorted(labels), "the pod names no LEO zone",
                          f"add the label {LABEL_ZONE}: '<lat>_<lon>' (and radius: '<km>'), or the annotation "
                          f"{ANN_ZONE}: <zone of krios.zones>")
    return zone


def pod_ready(pod: Mapping[str, Any]) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def node_ready(node: Mapping[str, Any]) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


class SatelliteMap:
    """Kubernetes node name <-> constellation satellite index."""

    def __init__(self, constellation: Constellation):
        self.constellation = constellation
        self._by_name = {s.name.lower(): s.index for s in constellation.satellites}

    def satellite_of(self, node: Mapping[str, Any]) -> Optional[int]:
        md = node["metadata"]
        labels = md.get("labels") or {}
        if LABEL_SAT_ID in labels:
            try:
                k = int(labels[LABEL_SAT_ID])
            except ValueError:
                return None
            return k if 0 <= k < self.constellation.num_satellites else None
        name = labels.get(LABEL_SATELLITE) or labels.get("leonet.io/node") or md["name"]
        return self._by_name.get(str(name).lower())


class Cache:
    """A list-and-watch cache of one resource (an informer, reduced): ``objects`` by
    (namespace, name); ``on_change(type, obj)`` for every event after the first list.
    Watches resume from the last resourceVersion and re-list after errors."""

    def __init__(self, conn, api_version: str, plural: str, namespace: Optional[str] = None,
                 on_change: Optional[Callable[[str, dict], None]] = None, **params: str):
        self.conn, self.api_version, self.plural, self.namespace = conn, api_version, plural, namespace
        self.params = params
        self.on_change = on_change
        self.objects: Dict[tuple, dict] = {}
        self.synced = asyncio.Event()
        self._rv: Optional[str] = None

    @staticmethod
    def key(obj: Mapping[str, Any]) -> tuple:
        md = obj["metadata"]
        return md.get("namespace") or "", md["name"]

    async def _list(self) -> None:
        out = await self.conn.list(self.api_version, self.plural, self.namespace, **self.params)
        fresh = {self.key(o): o for o in out.get("items") or []}
        gone = [k for k in self.objects if k not in fresh]
        self.objects = fresh
        self._rv = (out.get("metadata") or {}).get("resourceVersion")
        if self.on_change and self.synced.is_set():
            for k in gone:
                self.on_change("DELETED", {"metadata": {"namespace": k[0], "name": k[1]}})
            for o in fresh.values():
                self.on_change("MODIFIED", o)
        self.synced.set()

    async def run(self) -> None:
        from ..controlplane.errors import ApiError
        while True:
            try:
                if self._rv is None:
                    await self._list()
                async for typ, obj in self.conn.watch(self.api_version, self.plural, self.namespace,
                                                      resource_version=self._rv, timeout_seconds=300, **self.params):
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        self._rv = rv
                    if typ == "BOOKMARK":
                        continue
                    k = self.key(obj)
                    if typ == "DELETED":
                        self.objects.pop(k, None)
                    else:
                        self.objects[k] = obj
                    if self.on_change:
                        self.on_change(typ, obj)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.code == 410:
                    self._rv = None
                else:
                    log.warning("watch %s: %s; retrying", self.plural, e)
                    await asyncio.sleep(1.0)
