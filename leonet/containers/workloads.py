"""Workload containers: extra containers that share a Docker node's network namespace
(``--network container:<holder>``), as the containers of a Kubernetes pod share the
pause container's. They see the node's links, address and routes, and the info API.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..emulation.nodes import EmulatedNode
from ..errors import ConfigError, LeonetError
from .docker_nodes import ROLE_LABEL, DockerNodeFactory, container_name, limit_kwargs, node_containers
from .docker_client import client
from .images import ensure_images

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def run_workload(factory: DockerNodeFactory, node: EmulatedNode, image: str, command: Optional[Sequence[str]] = None,
                 name: str = "app", cpus: Optional[float] = None, memory_mb: Optional[int] = None,
                 env: Optional[Mapping[str, str]] = None) -> Any:
    """Start ``image`` (``command``) in ``node``'s namespace; returns the container.

    It is named ``leonet-n<index>-<host>-<name>`` and labelled like the node's own
    containers, so kill/restart/pause and cleanup include it."""
    if not _NAME_RE.match(name) or name in ("node", "main"):
        raise ConfigError("name", name, "must be a short lowercase name other than node/main",
                          "use e.g. app, kubelet or probe")
    holder = factory.holders.get(node.name)
    if holder is None:
        raise LeonetError(f"{node.name} is not a Docker node; workload containers need emulation.nodes: docker "
                          "and host: docker for its node type")
    ensure_images([image])
    kw: Dict[str, Any] = limit_kwargs(cpus, memory_mb)
    if command:
        kw["command"] = list(command)
    env = dict(env or {})
    env.update(LEONET_NODE=node.name, LEONET_ADDRESS=node.address)
    try:
        return client().containers.run(image, name=container_name(node, name), detach=True,
                                       network_mode=f"container:{holder.id}", labels=factory.labels(node, name),
                                       environment=env, **kw)
    except Exception as exc:
        if "Conflict" in str(exc):
            raise LeonetError(f"{node.name} already has a workload named {name}") from None
        try:  # created but not started (bad command, ...): do not leave it behind
            client().containers.get(container_name(node, name)).remove(force=True)
        except Exception:
            pass
        raise LeonetError(f"starting {image} in {node.name} failed: {exc}") from None


def list_workloads(factory: DockerNodeFactory, node: Optional[EmulatedNode] = None) -> List[Dict[str, Any]]:
    """Every container of the run (or of one node) with its role and status."""
    if node is not None:
        found = node_containers(factory.run_id, node.name, include_holder=True)
    else:
        from ..emulation.cleanup import DOCKER_LABEL
        found = client().containers.list(all=True, filters={"label": f"{DOCKER_LABEL}={factory.run_id}"},
                                         ignore_removed=True)
    return [{"name": c.name, "node": c.labels.get("leonet.node"), "role": c.labels.get(ROLE_LABEL),
             "image": (c.image.tags or [c.image.short_id])[0] if c.image else "", "status": c.status}
            for c in sorted(found, key=lambda c: c.name)]


def remove_workload(factory: DockerNodeFactory, node: EmulatedNode, name: str) -> None:
    if name in ("node", "main"):
        raise ConfigError("name", name, "is part of the node itself", "remove workload containers only")
    for c in node_containers(factory.run_id, node.name):
        if c.labels.get(ROLE_LABEL) == name:
            c.remove(force=True)
            return
    raise LeonetError(f"{node.name} has no workload named {name}")
