"""The HandoverRequest resource and the 17 steps of a KubeSpace handover (paper §IV-A, Figs. 5-6).

``HandoverRequest`` (group ``kubespace.leonet.io``, version ``v1alpha1``, cluster-scoped, with a status
subresource) lives on the *source* control plane. Its spec names the node, the source and target planes
(ground-station names), why, and when CNAA predicted the handover; its status goes
``Pending -> Processing -> Finished`` or ``Failed`` (with a reason), and records when each plane-side
step happened.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ...controlplane.timefmt import now_micro, parse_time

GROUP, VERSION = "kubespace.leonet.io", "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND, PLURAL = "HandoverRequest", "handoverrequests"
RESOURCE_KEY = f"{PLURAL}.{GROUP}"

PENDING, PROCESSING, FINISHED, FAILED = "Pending", "Processing", "Finished", "Failed"
ACTIVE_PHASES = ("", PENDING, PROCESSING)

#: failure reasons (``status.reason``)
UNKNOWN_NODE = "UnknownNode"
UNKNOWN_PLANE = "UnknownPlane"
NOT_BOUND_HERE = "NotBoundHere"
ALREADY_IN_HANDOVER = "AlreadyInHandover"
TARGET_UNREACHABLE = "TargetUnreachable"
TRANSFER_REJECTED = "TransferRejected"
INTERRUPTED = "Interrupted"
BINDING_TIMEOUT = "BindingTimeout"
SOURCE_LOST = "SourceLost"
REQUEST_FAILED = "RequestFailed"

CRD: Dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": RESOURCE_KEY},
    "spec": {
        "group": GROUP, "scope": "Cluster",
        "names": {"plural": PLURAL, "singular": "handoverrequest", "kind": KIND, "shortNames": ["hr"],
                  "categories": ["kubespace"]},
        "versions": [{
            "name": VERSION, "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            "additionalPrinterColumns": [
                {"name": "Node", "type": "string", "jsonPath": ".spec.nodeName"},
                {"name": "Source", "type": "string", "jsonPath": ".spec.sourcePlane"},
                {"name": "Target", "type": "string", "jsonPath": ".spec.targetPlane"},
                {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                {"name": "Reason", "type": "string", "jsonPath": ".status.reason"},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
        }],
    },
}


@dataclass(frozen=True)
class Step:
    number: int
    actor: str         #: daemon, agent, source, target
    name: str
    short: str = ""    #: a label for figures


#: The 17 steps, numbered as in the paper's Fig. 6. A step's time is when it completed.
STEPS: List[Step] = [
    Step(1, "daemon", "daemon sends the HandoverRequest to the source plane",
         "request sent"),
    Step(2, "source", "source API server persisted the request (create answered)",
         "request persisted"),
    Step(3, "daemon", "daemon's watch on the request established",
         "watch established"),
    Step(4, "source", "HRController received the creation event",
         "creation event at HRController"),
    Step(5, "source", "HRController set the request Processing",
         "request Processing"),
    Step(6, "source", "HRController set the node Releasing on the source",
         "node Releasing (source)"),
    Step(7, "source", "node and pods sent to the target; target persisted them and acknowledged",
         "transfer acknowledged by target"),
    Step(8, "source", "HRController set the request Finished",
         "request Finished"),
    Step(9, "daemon", "daemon saw Finished through its watch",
         "daemon sees Finished"),
    Step(10, "agent", "agent loaded the target's configuration and built a new connection",
         "agent: new connection"),
    Step(11, "agent", "agent reported its status to the target over the new connection",
         "agent reported to target"),
    Step(12, "target", "target set the node Bound",
         "node Bound (target)"),
    Step(13, "agent", "agent switched its connection pointer to the target",
         "agent switched"),
    Step(14, "agent", "agent confirmed the switch to the daemon",
         "agent confirms"),
    Step(15, "daemon", "daemon sends Released to the source",
         "Released sent"),
    Step(16, "source", "source API server committed Released",
         "Released committed (source)"),
    Step(17, "daemon", "daemon switched its own connection to the target; handover complete",
         "daemon switched"),
]
STEP_NAMES = {s.number: s.name for s in STEPS}

#: The steps of a leave/rejoin handover (the paper's Karmada baseline, its Fig. 3(a)):
#: drain, leave, TLS bootstrap on the target, pods recreated there and started anew.
LEAVE_REJOIN_STEPS: List[Step] = [
    Step(1, "daemon", "CNAA decided the handover", "decided"),
    Step(2, "source", "pod configuration read from the source (to synchronise to the target)", "config read"),
    Step(3, "source", "node cordoned on the source (unschedulable)", "cordoned"),
    Step(4, "source", "pods evicted on the source (evictions accepted)", "pods evicted"),
    Step(5, "agent", "pods stopped and gone from the source", "pods stopped"),
    Step(6, "agent", "agent disconnected from the source", "disconnected"),
    Step(7, "source", "Node and Lease deleted on the source (the node is invisible)", "node deleted (source)"),
    Step(8, "agent", "local cluster configuration (connection, credentials) cleared", "config cleared"),
    Step(9, "target", "CSR created on the target with its bootstrap token", "CSR created"),
    Step(10, "target", "CSR approved and signed; client certificate received", "certificate"),
    Step(11, "target", "node registered on the target (Node and Lease created)", "registered (target)"),
    Step(12, "target", "pods recreated on the target from the synchronised configuration", "pods recreated"),
    Step(13, "agent", "pods scheduled and running again", "pods running"),
]
#: The steps of a rejoin handover without eviction (the paper's Multi-KubeEdge baseline): pods keep
#: running from the agent's local cache of their configuration while the node leaves and rejoins.
REJOIN_STEPS: List[Step] = [
    Step(1, "daemon", "CNAA decided the handover", "decided"),
    Step(2, "agent", "pod configuration taken from the agent's local cache", "config cached"),
    Step(3, "agent", "agent disconnected from the source (pods keep running)", "disconnected"),
    Step(4, "source", "pods, Node and Lease deleted on the source (the node is invisible)", "node deleted (source)"),
    Step(5, "agent", "local cluster configuration (connection, credentials) cleared", "config cleared"),
    Step(6, "target", "CSR created on the target with its bootstrap token", "CSR created"),
    Step(7, "target", "CSR approved and signed; client certificate received", "certificate"),
    Step(8, "target", "node registered on the target (Node and Lease created)", "registered (target)"),
    Step(9, "target", "pods recreated on the target from the local cache; the agent adopts them running",
         "pods recreated"),
]
#: platform -> its steps, and the step that ends a handover's duration (from step 1)
STEP_TABLES: Dict[str, List[Step]] = {"kubespace": STEPS, "leave-rejoin": LEAVE_REJOIN_STEPS,
                                      "rejoin": REJOIN_STEPS}
END_STEP: Dict[str, int] = {"kubespace": 16, "leave-rejoin": 12, "rejoin": 9}
#: the step after which a baseline's node is registered on the target again
REGISTERED_STEP: Dict[str, int] = {"leave-rejoin": 11, "rejoin": 8}


def step_table(platform: str) -> Dict[int, Step]:
    """Step number -> :class:`Step` of a platform's handover."""
    return {s.number: s for s in STEP_TABLES[platform]}


def request_name(node: str) -> str:
    """A unique request name: ``<node>-<8 hex>``."""
    return f"{node}-{secrets.token_hex(4)}"[:253]


def handover_request(name: str, node: str, source: str, target: str, reason: str,
                     predicted_time: Optional[str], predicted_offset_s: Optional[float]) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"nodeName": node, "sourcePlane": source, "targetPlane": target, "reason": reason}
    if predicted_time is not None:
        spec["predictedTime"] = predicted_time
    if predicted_offset_s is not None:
        spec["predictedOffsetSeconds"] = round(float(predicted_offset_s), 3)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": spec}


def phase(hr: Dict[str, Any]) -> str:
    return (hr.get("status") or {}).get("phase") or ""


def step_entry(number: int, wall: float, offset_s: Optional[float]) -> Dict[str, Any]:
    """A step's record in ``status.steps``: wall time (RFC 3339, microseconds) and emulated offset."""
    e: Dict[str, Any] = {"step": number, "wallTime": now_micro(wall)}
    if offset_s is not None:
        e["emulatedOffsetSeconds"] = round(offset_s, 6)
    return e


def steps_of(hr: Dict[str, Any]) -> Dict[int, float]:
    """Step number -> wall time (epoch seconds) recorded in a request's status."""
    out = {}
    for e in (hr.get("status") or {}).get("steps") or []:
        t = parse_time(e.get("wallTime"))
        if t is not None:
            out[int(e["step"])] = t
    return out
