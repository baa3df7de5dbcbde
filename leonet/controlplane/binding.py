"""Which nodes a control plane manages: the node's binding state on that plane.

When several control planes know the same node (KubeSpace hands satellites over between ground
stations), each plane's copy of the Node says how that plane relates to it, in the annotation
``leonet.io/binding-state``:

* ``Bound``: this plane manages the node (the only state in which it schedules pods onto it, checks its
  heartbeats, taints it and evicts its pods);
* ``Binding``: control is being transferred to this plane;
* ``Releasing``: control is being transferred away from this plane (the node still reports here);
* ``Released``: this plane no longer manages the node (its copy is a record of the past).

A node without the annotation is ``Bound``: a plane that nobody hands nodes over to behaves exactly like
Kubernetes. ``leonet.io/binding-time`` holds when the state last changed (RFC 3339 with microseconds,
wall clock) and ``leonet.io/binding-handover`` the handover that set it, if any.

The KubeSpace paper puts this state in a new Node status field (``ControlPlaneBindingState``); a stock
API server drops unknown status fields, an annotation survives every API server, so the same clients
work against k3s.
"""
from __future__ import annotations

from typing import Optional

BINDING_STATE = "leonet.io/binding-state"
BINDING_TIME = "leonet.io/binding-time"
BINDING_HANDOVER = "leonet.io/binding-handover"

BOUND, BINDING, RELEASING, RELEASED = "Bound", "Binding", "Releasing", "Released"
STATES = (BOUND, BINDING, RELEASING, RELEASED)
#: states in which the plane lists the node as under its management (the node is "visible" there)
VISIBLE = (BOUND, RELEASING)


def binding_state(node: dict) -> str:
    """The node's binding state on the plane this copy comes from (``Bound`` when unset)."""
    ann = (node.get("metadata") or {}).get("annotations") or {}
    return ann.get(BINDING_STATE) or BOUND


def binding_handover(node: dict) -> Optional[str]:
    return ((node.get("metadata") or {}).get("annotations") or {}).get(BINDING_HANDOVER)


def managed_here(node: dict) -> bool:
    """Whether this plane's scheduler and node lifecycle controller act on the node: only when Bound."""
    return binding_state(node) == BOUND


def binding_patch(state: str, when: str, handover: Optional[str] = None) -> dict:
    """A merge patch setting the binding state (``when``: RFC 3339 time of the change)."""
    if state not in STATES:
        raise ValueError(f"unknown binding state {state!r}")
    ann = {BINDING_STATE: state, BINDING_TIME: when}
    if handover is not None:
        ann[BINDING_HANDOVER] = handover
    return {"metadata": {"annotations": ann}}
