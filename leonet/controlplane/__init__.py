"""leonet's embedded, Kubernetes-API-compatible control plane and kubelet-like node agents.

* :class:`ControlPlane` — API server (HTTPS, SQLite), scheduler, node lifecycle, CSR signing.
* :class:`leonet.controlplane.agent.NodeAgent` — a kubelet-like agent; many run on one loop.
* :class:`leonet.controlplane.agent.ApiConnection` — an agent's swappable API connection, whose sockets
  can live in any network namespace.
"""
from .controlplane import ControlPlane, ControlPlaneOptions
from .errors import ApiError

__all__ = ["ControlPlane", "ControlPlaneOptions", "ApiError"]
