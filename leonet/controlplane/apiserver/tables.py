"""Server-side ``meta.k8s.io/v1 Table`` output, which kubectl asks for in ``get`` (including ``-o wide``)."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from ..resources import ResourceType
from ..timefmt import parse_time


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration`` (``5s``, ``3m20s``, ``2d3h``...)."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d" if d % 365 else f"{d // 365}y"


def age(ts: Optional[str], now: float) -> str:
    t = parse_time(ts)
    return "<unknown>" if t is None else human_duration(now - t)


def _col(name: str, typ: str = "string", priority: int = 0, fmt: str = "", desc: str = "") -> dict:
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was "
                       "created.")


def _node_row(o: dict, now: float) -> List[Any]:
    conds = {c.get("type"): c.get("status") for c in o.get("status", {}).get("conditions", [])}
    ready = conds.get("Ready")
    status = "Ready" if ready == "True" else ("NotReady" if ready == "False" else "Unknown")
    if o.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = o["metadata"].get("labels")
    labels = labels if isinstance(labels, dict) else {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = o.get("status", {}).get("nodeInfo", {})
    addrs = {a.get("type"): a.get("address") for a in o.get("status", {}).get("addresses", [])}
    return [o["metadata"]["name"], status, ",".join(roles) or "<none>", age(o["metadata"].get("creationTimestamp"),
            now), info.get("kubeletVersion", ""), addrs.get("InternalIP", "<none>"),
            addrs.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def pod_status_text(o: dict) -> str:
    st = o.get("status", {})
    reason = st.get("reason") or st.get("phase", "Unknown")
    for cs in st.get("containerStatuses", []) or []:
        state = cs.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason") and reason == "Running":
            reason = state["terminated"]["reason"]
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(o: dict, now: float) -> List[Any]:
    st = o.get("status", {})
    css = st.get("containerStatuses", []) or []
    total = len(o.get("spec", {}).get("containers", []))
    ready = sum(1 for c in css if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in css)
    gates = o.get("spec", {}).get("readinessGates") or []
    return [o["metadata"]["name"], f"{ready}/{total}", pod_status_text(o), restarts,
            age(o["metadata"].get("creationTimestamp"), now), st.get("podIP") or "<none>",
            o.get("spec", {}).get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>",
            f"{len(gates)}" if gates else "<none>"]


def _jsonpath(o: Any, path: str) -> Any:
    cur = o
    for part in [p for p in path.strip().lstrip("{").rstrip("}").split(".") if p]:
        if isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
    return cur


COLUMNS: Dict[str, tuple] = {
    "nodes": ([NAME, _col("Status"), _col("Roles"), AGE, _col("Version"), _col("Internal-IP", priority=1),
               _col("External-IP", priority=1), _col("OS-Image", priority=1), _col("Kernel-Version", priority=1),
               _col("Container-Runtime", priority=1)], _node_row),
    "pods": ([NAME, _col("Ready"), _col("Status"), _col("Restarts", "string"), AGE, _col("IP", priority=1),
              _col("Node", priority=1), _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)],
             _pod_row),
    "namespaces": ([NAME, _col("Status"), AGE],
                   lambda o, now: [o["metadata"]["name"], o.get("status", {}).get("phase", ""),
                                   age(o["metadata"].get("creationTimestamp"), now)]),
    "leases.coordination.k8s.io": (
        [NAME, _col("Holder"), AGE],
        lambda o, now: [o["metadata"]["name"], o.get("spec", {}).get("holderIdentity", ""),
                        age(o["metadata"].get("creationTimestamp"), now)]),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
               lambda o, now: [age(o.get("lastTimestamp") or o.get("eventTime") or
                                   o["metadata"].get("creationTimestamp"), now), o.get("type", ""),
                               o.get("reason", ""),
                               f"{o.get('involvedObject', {}).get('kind', '').lower()}/"
                               f"{o.get('involvedObject', {}).get('name', '')}", o.get("message", "")]),
    "certificatesigningrequests.certificates.k8s.io": (
        [NAME, AGE, _col("SignerName"), _col("Requestor"), _col("Condition")],
        lambda o, now: [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"), now),
                        o.get("spec", {}).get("signerName", ""), o.get("spec", {}).get("username", ""),
                        ",".join(c.get("type", "") for c in o.get("status", {}).get("conditions", []))
                        or "Pending"]),
    "customresourcedefinitions.apiextensions.k8s.io": (
        [NAME, _col("Created At", "date")],
        lambda o, now: [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")]),
}


def to_table(rt: ResourceType, items: List[dict], list_meta: Dict[str, Any],
             include_object: str = "Metadata") -> dict:
    """A Table of ``items``; rows carry PartialObjectMetadata (kubectl needs it for names/namespaces)."""
    now = time.time()
    if rt.key in COLUMNS:
        cols, row = COLUMNS[rt.key]
    elif rt.printer_columns:
        cols = [NAME] + [_col(c["name"], "string" if c.get("type") == "date" else c.get("type", "string"),
                              int(c.get("priority", 0)), desc=c.get("description", ""))
                         for c in rt.printer_columns]
        if not any(c["name"] == "Age" for c in rt.printer_columns):
            cols.append(AGE)
        pcs = rt.printer_columns

        def row(o: dict, now: float) -> List[Any]:
            cells: List[Any] = [o["metadata"]["name"]]
            for c in pcs:
                v = _jsonpath(o, c.get("jsonPath", ""))
                cells.append(age(v, now) if c.get("type") == "date" and v else ("<none>" if v is None else v))
            if not any(c["name"] == "Age" for c in pcs):
                cells.append(age(o["metadata"].get("creationTimestamp"), now))
            return cells
    else:
        cols = [NAME, AGE]

        def row(o: dict, now: float) -> List[Any]:
            return [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"), now)]
    rows = []
    for o in items:
        r: Dict[str, Any] = {"cells": row(o, now)}
        if include_object == "Object":
            r["object"] = o
        elif include_object != "None":
            r["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": o["metadata"]}
        rows.append(r)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": cols, "rows": rows}
