"""Discovery documents: ``/version``, ``/api``, ``/apis``, ``/api/v1`` and ``/apis/<group>/<version>``."""
from __future__ import annotations

import hashlib
from typing import Dict, List

from ..resources import Registry, ResourceType

# The Kubernetes version this control plane reports (its API subset follows this release).
KUBE_VERSION = (1, 31, 0)

_SUB_VERBS = {"status": ["get", "patch", "update"], "binding": ["create"], "eviction": ["create"],
              "approval": ["get", "patch", "update"], "scale": ["get", "patch", "update"]}


def version_info() -> dict:
    major, minor, patch = KUBE_VERSION
    return {"major": str(major), "minor": str(minor), "gitVersion": f"v{major}.{minor}.{patch}+leonet",
            "gitCommit": "leonet", "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": "python", "compiler": "leonet", "platform": "linux/amd64"}


def api_versions(server_address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _preferred(versions: List[str]) -> str:
    """Kubernetes' version priority: GA > beta > alpha, higher numbers first."""
    import re

    def prio(v: str):
        m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
        if not m:
            return (0, 0, 0, v)
        stage = {None: 3, "beta": 2, "alpha": 1}[m.group(2)]
        return (stage, int(m.group(1)), int(m.group(3) or 0), v)
    return sorted(versions, key=prio, reverse=True)[0]


def api_group_list(registry: Registry) -> dict:
    groups = []
    for group, versions in sorted(registry.group_versions().items()):
        if not group:
            continue
        vs = sorted(versions, key=lambda v: v != _preferred(versions))
        pref = _preferred(versions)
        groups.append({"name": group,
                       "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in vs],
                       "preferredVersion": {"groupVersion": f"{group}/{pref}", "version": pref}})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict:
    versions = registry.group_versions().get(group, [])
    pref = _preferred(versions)
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group,
            "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
            "preferredVersion": {"groupVersion": f"{group}/{pref}", "version": pref}}


def _resource_entry(rt: ResourceType) -> Dict:
    e = {"name": rt.plural, "singularName": rt.singular or rt.kind.lower(), "namespaced": rt.namespaced,
         "kind": rt.kind, "verbs": list(rt.verbs),
         "storageVersionHash": hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).hexdigest()[:11]}
    if rt.short_names:
        e["shortNames"] = list(rt.short_names)
    if rt.categories:
        e["categories"] = list(rt.categories)
    return e


def api_resource_list(registry: Registry, group: str, version: str) -> dict:
    resources = []
    for rt in sorted(registry.in_group_version(group, version), key=lambda r: r.plural):
        resources.append(_resource_entry(rt))
        for sub in rt.subresources:
            kind = {"binding": "Binding", "eviction": "Eviction"}.get(sub, rt.kind)
            resources.append({"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                              "kind": kind, "verbs": _SUB_VERBS.get(sub, ["get"])})
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
