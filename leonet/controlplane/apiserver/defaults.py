"""Defaulting and validation on create, the part of Kubernetes admission this control plane does."""
from __future__ import annotations

from typing import Any, Dict

from ..errors import ApiError, invalid

# Added to every pod, as the DefaultTolerationSeconds admission plugin does (300 s).
DEFAULT_TOLERATION_SECONDS = 300


def validate_pod_spec(pod: Dict[str, Any]) -> None:
    """422 unless the (type-checked) pod has containers, each with a name: on create and on every
    update (an update that drops them would leave a pod nothing can run, schedule or delete)."""
    name = pod["metadata"].get("name", "")
    containers = (pod.get("spec") or {}).get("containers")
    if not containers:
        raise invalid("Pod", name, "spec.containers: Required value")
    for c in containers:
        if not c.get("name"):
            raise invalid("Pod", name, "spec.containers[].name: Required value")


def default_pod(pod: Dict[str, Any], toleration_seconds: int = DEFAULT_TOLERATION_SECONDS) -> None:
    spec = pod.setdefault("spec", {})
    validate_pod_spec(pod)
    for c in spec["containers"]:
        c.setdefault("imagePullPolicy", "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("priority", 0)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tol = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key and t.get("effect") in (None, "", "NoExecute") for t in tol):
            tol.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                        "tolerationSeconds": toleration_seconds})
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos_class(spec))


def qos_class(spec: Dict[str, Any]) -> str:
    reqs = [c.get("resources", {}) for c in spec.get("containers", [])]
    if not any(r.get("requests") or r.get("limits") for r in reqs):
        return "BestEffort"
    if all(r.get("limits") and set(r.get("limits", {})) >= {"cpu", "memory"}
           and all(r.get("requests", {}).get(k, v) == v for k, v in r["limits"].items()) for r in reqs):
        return "Guaranteed"
    return "Burstable"


def default_namespace(ns: Dict[str, Any]) -> None:
    ns.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    ns.setdefault("status", {})["phase"] = "Active"
    ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = ns["metadata"]["name"]


def validate_crd(crd: Dict[str, Any]) -> None:
    name = crd["metadata"].get("name", "")
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    for f in ("group",):
        if not spec.get(f):
            raise invalid("CustomResourceDefinition", name, f"spec.{f}: Required value")
    for f in ("plural", "kind"):
        if not names.get(f):
            raise invalid("CustomResourceDefinition", name, f"spec.names.{f}: Required value")
    if name != f"{names['plural']}.{spec['group']}":
        raise invalid("CustomResourceDefinition", name,
                      f"metadata.name: Invalid value: {name!r}: must be spec.names.plural+\".\"+spec.group")
    if spec.get("scope", "Namespaced") not in ("Namespaced", "Cluster"):
        raise invalid("CustomResourceDefinition", name, "spec.scope: Unsupported value")
    versions = spec.get("versions") or []
    if not versions:
        raise invalid("CustomResourceDefinition", name, "spec.versions: Required value")
    if sum(1 for v in versions if v.get("storage")) != 1:
        raise invalid("CustomResourceDefinition", name, "spec.versions: Invalid value: must have exactly one "
                                                          "version marked as storage version")


def check_kind(body: Dict[str, Any], api_version: str, kind: str) -> None:
    if body.get("kind") and body["kind"] != kind:
        raise ApiError(400, f"the API version in the data ({body.get('apiVersion')}) and kind "
                            f"({body['kind']}) do not match the resource {kind} ({api_version})", "BadRequest")
    if body.get("apiVersion") and body["apiVersion"] != api_version:
        raise ApiError(400, f"the API version in the data ({body['apiVersion']}) does not match the "
                            f"expected API version ({api_version})", "BadRequest")
