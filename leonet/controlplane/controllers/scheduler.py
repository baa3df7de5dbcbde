"""The default scheduler: binds pods whose ``spec.schedulerName`` is ``default-scheduler`` (or empty)
and leaves every other pod to its own scheduler (e.g. Krios).

Filters: node schedulable, taints tolerated, ``nodeSelector`` and required node affinity, resource
requests within allocatable (cpu, memory, pod count). Score: least requested, ties at random.
"""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Dict, List, Set, Tuple

from ..errors import ApiError
from ..selectors import match_labels, selector_from_dict
from ..watch import DELETED, Event
from .events import record_event

log = logging.getLogger("leonet.controlplane.scheduler")
DEFAULT_SCHEDULER = "default-scheduler"

_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def parse_quantity(q) -> float:
    """A Kubernetes quantity (``100m``, ``1Gi``, ``2``) as a float (cores, bytes, count)."""
    if q is None:
        return 0.0
    if isinstance(q, (int, float)):
        return float(q)
    s = str(q).strip()
    for suf in sorted(_SUFFIX, key=len, reverse=True):
        if s.endswith(suf):
            return float(s[: -len(suf)]) * _SUFFIX[suf]
    return float(s)


def pod_requests(pod: dict) -> Dict[str, float]:
    out = {"cpu": 0.0, "memory": 0.0}
    for c in pod.get("spec", {}).get("containers", []):
        req = (c.get("resources") or {}).get("requests") or {}
        for k in out:
            out[k] += parse_quantity(req.get(k))
    return out


def tolerates(tolerations: List[dict], taint: dict) -> bool:
    for t in tolerations or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _affinity_ok(pod: dict, labels: Dict[str, str]) -> bool:
    req = (((pod.get("spec", {}).get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = req.get("nodeSelectorTerms") or []
    if not terms:
        return True
    return any(match_labels(selector_from_dict({"matchExpressions": t.get("matchExpressions") or []}), labels)
               for t in terms)


def responsible(pod: dict, name: str = DEFAULT_SCHEDULER) -> bool:
    spec = pod.get("spec", {})
    return (spec.get("schedulerName") or DEFAULT_SCHEDULER) == name and not spec.get("nodeName") \
        and not pod["metadata"].get("deletionTimestamp")


class Scheduler:
    """Runs on the control plane's loop; reacts to pod and node changes through store events."""

    def __init__(self, api, name: str = DEFAULT_SCHEDULER, retry_interval: float = 5.0):
        self.api, self.name, self.retry_interval = api, name, retry_interval
        self._pending: Set[Tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self.scheduled = 0

    def on_event(self, ev: Event) -> None:
        if ev.key == "pods" and ev.type != DELETED and responsible(ev.obj, self.name):
            md = ev.obj["metadata"]
            self._pending.add((md["namespace"], md["name"]))
            self._wake.set()
        elif ev.key == "nodes" and self._pending:
            self._wake.set()

    async def run(self) -> None:
        for pod in self.api.store.list("pods"):
            if responsible(pod, self.name):
                self._pending.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))
        self._wake.set()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.retry_interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            for key in sorted(self._pending):
                pod = self.api.store.get("pods", *key)
                if pod is None or not responsible(pod, self.name):
                    self._pending.discard(key)
                    continue
                if self.schedule_one(pod):
                    self._pending.discard(key)
                await asyncio.sleep(0)

    def feasible_nodes(self, pod: dict) -> List[dict]:
        nodes = self.api.store.list("nodes")
        used: Dict[str, Dict[str, float]] = {}
        for p in self.api.store.list("pods"):
            n = p.get("spec", {}).get("nodeName")
            if n and p.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                u = used.setdefault(n, {"cpu": 0.0, "memory": 0.0, "pods": 0.0})
                r = pod_requests(p)
                u["cpu"] += r["cpu"]
                u["memory"] += r["memory"]
                u["pods"] += 1
        want = pod_requests(pod)
        spec = pod.get("spec", {})
        out = []
        for node in nodes:
            if node.get("spec", {}).get("unschedulable"):
                continue
            if any(t.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(spec.get("tolerations"), t)
                   for t in node.get("spec", {}).get("taints", []) or []):
                continue
            labels = node["metadata"].get("labels", {})
            if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
                continue
            if not _affinity_ok(pod, labels):
                continue
            alloc = node.get("status", {}).get("allocatable", {})
            u = used.get(node["metadata"]["name"], {"cpu": 0.0, "memory": 0.0, "pods": 0.0})
            if alloc:
                if u["pods"] + 1 > parse_quantity(alloc.get("pods", 110)):
                    continue
                if want["cpu"] and u["cpu"] + want["cpu"] > parse_quantity(alloc.get("cpu")):
                    continue
                if want["memory"] and u["memory"] + want["memory"] > parse_quantity(alloc.get("memory")):
                    continue
            score = 0.0
            for k in ("cpu", "memory"):
                cap = parse_quantity(alloc.get(k)) if alloc.get(k) else 0.0
                if cap:
                    score += 1.0 - (u[k] + want[k]) / cap
            out.append((score, random.random(), node))
        out.sort(key=lambda t: (t[0], t[1]), reverse=True)
        return [n for _, _, n in out]

    def schedule_one(self, pod: dict) -> bool:
        """Bind ``pod`` to the best feasible node; record why not when there is none."""
        nodes = self.feasible_nodes(pod)
        md = pod["metadata"]
        if not nodes:
            conds = pod.get("status", {}).get("conditions", [])
            if not any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conds):
                new = {"status": {"conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "message": f"0/{self.api.store.count('nodes')} nodes are available"}]}}
                try:
                    self.api.patch(self.api.core("pods"), md["namespace"], md["name"],
                                   "application/strategic-merge-patch+json", new, "status")
                    record_event(self.api, pod, "FailedScheduling",
                                 f"0/{self.api.store.count('nodes')} nodes are available", "Warning", self.name)
                except ApiError:
                    pass
            return False
        node = nodes[0]["metadata"]["name"]
        try:
            self.api.bind(md["namespace"], md["name"], {"target": {"kind": "Node", "name": node}})
        except ApiError as e:
            log.debug("bind %s/%s failed: %s", md["namespace"], md["name"], e)
            return e.code == 409
        self.scheduled += 1
        record_event(self.api, pod, "Scheduled", f"Successfully assigned {md['namespace']}/{md['name']} to {node}",
                     "Normal", self.name)
        return True
