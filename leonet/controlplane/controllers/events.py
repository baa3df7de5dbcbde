"""core/v1 Events written by the controllers, and their garbage collection (Kubernetes keeps 1 h)."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Optional

from ..errors import ApiError
from ..timefmt import now_micro, now_rfc3339, parse_time

log = logging.getLogger("leonet.controlplane.events")


def record_event(api, obj: dict, reason: str, message: str, type_: str = "Normal",
                 component: str = "leonet", host: str = "") -> Optional[dict]:
    """Create an Event about ``obj`` (in its namespace, or ``default`` for cluster-scoped objects)."""
    md = obj.get("metadata", {})
    ns = md.get("namespace") or "default"
    now = now_rfc3339()
    ev = {"metadata": {"name": f"{md.get('name', 'x')}.{uuid.uuid4().hex[:16]}", "namespace": ns},
          "involvedObject": {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
                             "name": md.get("name", ""), "namespace": md.get("namespace", ""),
                             "uid": md.get("uid", ""), "resourceVersion": md.get("resourceVersion", "")},
          "reason": reason, "message": message, "type": type_, "count": 1,
          "firstTimestamp": now, "lastTimestamp": now, "eventTime": now_micro(),
          "source": {"component": component, "host": host}, "reportingComponent": component,
          "reportingInstance": host or component, "action": reason}
    try:
        return api.create(api.core("events"), ns, ev)
    except ApiError as e:  # e.g. the namespace is being deleted
        log.debug("event not recorded: %s", e)
        return None


class EventGC:
    """Deletes Events older than ``ttl`` seconds (Kubernetes' ``--event-ttl`` default is 1 h)."""

    def __init__(self, api, ttl: float = 3600.0, period: float = 60.0):
        self.api, self.ttl, self.period = api, ttl, period

    async def run(self) -> None:
        rt = self.api.core("events")
        while True:
            await asyncio.sleep(self.period)
            cutoff = time.time() - self.ttl
            for ev in list(self.api.store.list(rt.key)):
                t = parse_time(ev.get("lastTimestamp") or ev["metadata"].get("creationTimestamp"))
                if t is not None and t < cutoff:
                    try:
                        self.api.delete(rt, ev["metadata"]["namespace"], ev["metadata"]["name"])
                    except ApiError:
                        pass
