"""Generic REST semantics over the store: what create/get/list/update/patch/delete mean for every
resource, with the per-kind rules (pods' graceful deletion and binding, namespaces' cleanup, CRDs'
registration, CSR approval, finalizers, status subresources).

Both the HTTP layer and the in-process controllers go through :class:`Api`, so their writes behave the
same and produce the same watch events.
"""
from __future__ import annotations

import copy
import secrets
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..errors import ApiError, already_exists, conflict, invalid, invalid_fields, not_found, undecodable
from ..patch import apply_patch
from ..resources import Registry, ResourceType, types_from_crd
from ..storage import Store
from ..timefmt import now_rfc3339
from . import defaults
from .objectmeta import generated_name, validate_object_meta
from .typecheck import drop_nulls, model_name, type_errors

CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_ALNUM = "bcdfghjklmnpqrstvwxz2456789"   # what Kubernetes uses for generateName suffixes


def _gen_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


class Api:
    """The control plane's object API (in process). Raises :class:`ApiError` like the HTTP API answers."""

    def __init__(self, store: Store, registry: Optional[Registry] = None,
                 toleration_seconds: int = defaults.DEFAULT_TOLERATION_SECONDS):
        self.store = store
        self.registry = registry or Registry()
        self.toleration_seconds = toleration_seconds
        for crd in store.list(CRD_KEY):
            for rt in types_from_crd(crd):
                self.registry.add(rt)
        for ns in SYSTEM_NAMESPACES:
            if store.get("namespaces", "", ns) is None:
                self.create(self.resource("", "v1", "namespaces"), "", {"metadata": {"name": ns}})

    # --- lookup ---------------------------------------------------------------------------
    def resource(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.registry.get(group, version, plural)
        if rt is None:
            gv = f"{group}/{version}" if group else version
            raise ApiError(404, f"the server could not find the requested resource ({plural} in {gv})",
                           "NotFound")
        return rt

    def core(self, plural: str) -> ResourceType:
        return self.resource("", "v1", plural)

    def _ns_of(self, rt: ResourceType, namespace: Optional[str]) -> str:
        return (namespace or "") if rt.namespaced else ""

    def get(self, rt: ResourceType, namespace: Optional[str], name: str) -> dict:
        obj = self.store.get(rt.key, self._ns_of(rt, namespace), name)
        if obj is None:
            raise not_found(rt.plural, name, rt.group)
        return self._versioned(rt, obj)

    def list(self, rt: ResourceType, namespace: Optional[str] = None,
             predicate: Optional[Callable[[dict], bool]] = None) -> Tuple[List[dict], int]:
        """(items, the store's resourceVersion at the time of the list)."""
        items = self.store.list(rt.key, namespace if rt.namespaced else None, predicate)
        if not rt.builtin:
            items = [self._versioned(rt, o) for o in items]
        return items, self.store.rv

    def _versioned(self, rt: ResourceType, obj: dict) -> dict:
        """Custom resources are stored once for all versions; answer with the requested apiVersion
        (no conversion webhooks: fields are kept as they are)."""
        if rt.builtin or obj.get("apiVersion") == rt.api_version:
            return obj
        return dict(obj, apiVersion=rt.api_version)

    # --- validation -----------------------------------------------------------------------
    @staticmethod
    def decode(rt: ResourceType, body: Any, old: Optional[dict] = None) -> dict:
        """A copy of ``body`` as the typed object Kubernetes would decode: 400 if it is not an object of
        ``rt``'s kind or a field has the wrong JSON type (built-in kinds: every field the
        OpenAPI schema knows; custom resources: ``metadata``); null members dropped. Given the
        ``old`` object an update replaces, wrong types the update leaves as they were pass."""
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request must be a JSON object", "BadRequest")
        defaults.check_kind(body, rt.api_version, rt.kind)
        model = model_name(rt.group, rt.version, rt.kind) if rt.builtin else None
        if model is not None:
            errors = type_errors(body, model, old=old)
        else:
            errors = type_errors(body.get("metadata"), "V1ObjectMeta", "metadata",
                                 old=None if old is None else old.get("metadata"))
        if errors:
            raise undecodable(rt.kind, rt.api_version, errors)
        if rt.builtin:
            obj = drop_nulls(body)  # a new object: nothing of it is shared with ``body``
        else:
            obj = copy.deepcopy(body)
            obj["metadata"] = drop_nulls(obj.get("metadata") or {})
        return obj

    @staticmethod
    def validate_metadata(rt: ResourceType, md: dict, old: Optional[dict] = None) -> None:
        """422 for invalid names, labels, annotations, finalizers or owner references. On update
        (``old``), only the fields the update changes are judged, so an object stored before a rule
        existed can still be updated and deleted (Kubernetes' "validation ratcheting")."""
        errors = validate_object_meta(md, rt.group, rt.kind)
        if old is not None:
            errors = [e for e in errors if md.get(_meta_field(e.field)) != old.get(_meta_field(e.field))]
        if errors:
            raise invalid_fields(rt.kind, md.get("name") or md.get("generateName") or "", errors,
                                 "" if rt.builtin else rt.group)

    def check_delete_options(self, options: Any) -> None:
        """400 for DeleteOptions (a request body or an eviction's) that do not decode."""
        errors = type_errors(options, "V1DeleteOptions")
        if errors:
            raise undecodable("DeleteOptions", "v1", errors)

    # --- create ---------------------------------------------------------------------------
    def create(self, rt: ResourceType, namespace: Optional[str], body: Dict[str, Any],
               user: Optional[dict] = None, dry_run: bool = False) -> dict:
        obj = self.decode(rt, body)
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        md = obj.setdefault("metadata", {})
        ns = self._ns_of(rt, namespace)
        if rt.namespaced:
            if md.get("namespace") and namespace and md["namespace"] != namespace:
                raise ApiError(400, "the namespace of the provided object does not match the namespace sent "
                                    "on the request", "BadRequest")
            ns = ns or md.get("namespace") or "default"
            nso = self.store.get("namespaces", "", ns)
            if nso is None:
                raise not_found("namespaces", ns)
            if nso.get("metadata", {}).get("deletionTimestamp"):
                raise ApiError(403, f'{rt.plural} "{md.get("name", "")}" is forbidden: unable to create new '
                                    f"content in namespace {ns} because it is being terminated", "Forbidden")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if not md.get("name") and md.get("generateName"):
            for _ in range(10):
                md["name"] = generated_name(md["generateName"], _gen_suffix())
                if self.store.get(rt.key, ns, md["name"]) is None:
                    break
        self.validate_metadata(rt, md)
        if self.store.get(rt.key, ns, md["name"]) is not None:
            raise already_exists(rt.plural, md["name"], rt.group)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
                  "selfLink"):
            md.pop(k, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        if "spec" in obj or not rt.builtin:
            md["generation"] = 1
        self._admit_create(rt, obj, user)
        if dry_run:
            return obj
        stored = self.store.put(rt.key, obj)
        if rt.key == CRD_KEY:
            for t in types_from_crd(stored):
                self.registry.add(t)
        return self._versioned(rt, stored)

    def _admit_create(self, rt: ResourceType, obj: dict, user: Optional[dict]) -> None:
        if not rt.builtin and rt.has_status:
            obj.pop("status", None)   # with a status subresource, create ignores status (as Kubernetes)
        if rt.key == "pods":
            defaults.default_pod(obj, self.toleration_seconds)
            if obj["spec"].get("nodeName"):
                self._set_condition(obj, "PodScheduled", "True")
        elif rt.key == "namespaces":
            defaults.default_namespace(obj)
        elif rt.key == "nodes":
            obj.setdefault("spec", {})
        elif rt.key == CRD_KEY:
            defaults.validate_crd(obj)
            spec = obj["spec"]
            for t in types_from_crd(obj):
                existing = self.registry.get(t.group, t.version, t.plural)
                if existing is not None and existing.builtin:
                    raise invalid(rt.kind, obj["metadata"]["name"], "spec.names.plural: conflicts with a "
                                                                   "built-in resource")
            obj["status"] = {
                "acceptedNames": spec["names"],
                "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": now_rfc3339()},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": now_rfc3339()}],
            }
        elif rt.key == "certificatesigningrequests.certificates.k8s.io":
            spec = obj.setdefault("spec", {})
            if not spec.get("request") or not spec.get("signerName"):
                raise invalid(rt.kind, obj["metadata"]["name"], "spec.request and spec.signerName are required")
            if user:
                spec["username"] = user.get("name", "")
                spec["groups"] = list(user.get("groups", []))
                spec["uid"] = user.get("uid", "")
            obj["status"] = {}

    @staticmethod
    def _set_condition(obj: dict, ctype: str, status: str, reason: str = "", message: str = "") -> None:
        conds = obj.setdefault("status", {}).setdefault("conditions", [])
        for c in conds:
            if c.get("type") == ctype:
                if c.get("status") != status:
                    c["lastTransitionTime"] = now_rfc3339()
                c["status"] = status
                return
        c = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": now_rfc3339()}
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        conds.append(c)

    # --- update / patch -------------------------------------------------------------------
    def update(self, rt: ResourceType, namespace: Optional[str], name: str, body: Dict[str, Any],
               subresource: Optional[str] = None, dry_run: bool = False) -> dict:
        ns = self._ns_of(rt, namespace)
        old = self.store.get(rt.key, ns, name)
        if old is None:
            raise not_found(rt.plural, name, rt.group)
        body = self.decode(rt, body, old)
        md = body.get("metadata") or {}
        if md.get("name") and md["name"] != name:
            raise ApiError(400, f"the name of the object ({md['name']}) does not match the name on the URL "
                                f"({name})", "BadRequest")
        if rt.namespaced and md.get("namespace") and md["namespace"] != ns:
            raise ApiError(400, "the namespace of the object does not match the namespace on the URL",
                           "BadRequest")
        if md.get("resourceVersion") and md["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(rt.plural, name, rt.group)
        if md.get("uid") and md["uid"] != old["metadata"]["uid"]:
            raise ApiError(409, f"Precondition failed: UID in precondition: {md['uid']}, UID in object meta: "
                                f"{old['metadata']['uid']}", "Conflict")
        new = self._merge_update(rt, old, body, subresource)
        self.validate_metadata(rt, new["metadata"], old["metadata"])
        if dry_run:
            return new
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") \
                and rt.key not in ("pods", "namespaces"):
            return self._really_delete(rt, old)
        stored = self.store.put(rt.key, new)
        if rt.key == CRD_KEY:
            self.registry.remove_group_resource(stored["spec"]["group"], stored["spec"]["names"]["plural"])
            for t in types_from_crd(stored):
                self.registry.add(t)
        return self._versioned(rt, stored)

    def _merge_update(self, rt: ResourceType, old: dict, body: dict, subresource: Optional[str]) -> dict:
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = copy.deepcopy(body.get("status", {}))
            return new
        if subresource == "approval":
            new = copy.deepcopy(old)
            new.setdefault("status", {})["conditions"] = copy.deepcopy(
                (body.get("status") or {}).get("conditions", []))
            return new
        if subresource:
            raise ApiError(405, f"subresource {subresource!r} does not support update", "MethodNotAllowed")
        new = copy.deepcopy(body)
        new["kind"], new["apiVersion"] = old["kind"], old["apiVersion"]
        md = new.setdefault("metadata", {})
        omd = old["metadata"]
        md["name"] = omd["name"]
        if "namespace" in omd:
            md["namespace"] = omd["namespace"]
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        md.pop("managedFields", None)
        if rt.has_status or rt.key == "pods":
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if rt.key == "pods":
            defaults.validate_pod_spec(new)
            if old.get("spec", {}).get("nodeName") and new["spec"].get("nodeName") != old["spec"]["nodeName"]:
                raise invalid("Pod", omd["name"], "spec.nodeName: Forbidden: pod updates may not change nodeName")
        if "generation" in omd:
            md["generation"] = omd["generation"] + (1 if new.get("spec") != old.get("spec") else 0)
        if rt.key == CRD_KEY:
            defaults.validate_crd(new)
            new["status"] = copy.deepcopy(old.get("status", {}))
        return new

    def patch(self, rt: ResourceType, namespace: Optional[str], name: str, content_type: str, patch: Any,
              subresource: Optional[str] = None, dry_run: bool = False) -> dict:
        old = self.get(rt, namespace, name)
        patched = apply_patch(content_type, old, patch)
        if not isinstance(patched, dict):
            raise ApiError(422, "the patch did not produce an object", "Invalid")
        # A patch is unconditional unless it names a resourceVersion itself.
        pmd = patch.get("metadata") if isinstance(patch, dict) else None
        named_rv = isinstance(pmd, dict) and pmd.get("resourceVersion")
        md = patched.setdefault("metadata", {})
        if not named_rv and isinstance(md, dict):  # metadata of another type: update() refuses it
            md["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.update(rt, namespace, name, patched, subresource, dry_run)

    # --- delete ---------------------------------------------------------------------------
    def delete(self, rt: ResourceType, namespace: Optional[str], name: str,
               options: Optional[Dict[str, Any]] = None, dry_run: bool = False) -> dict:
        """Delete, or start a graceful deletion (pods on nodes; objects with finalizers); returns the
        object as last stored."""
        options = options or {}
        ns = self._ns_of(rt, namespace)
        old = self.store.get(rt.key, ns, name)
        if old is None:
            raise not_found(rt.plural, name, rt.group)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise ApiError(409, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                                f"{old['metadata']['uid']}", "Conflict")
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(rt.plural, name, rt.group)
        if dry_run:
            return old
        grace = options.get("gracePeriodSeconds")
        if rt.key == "pods" and old["spec"].get("nodeName") and grace != 0 \
                and old.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            return self._graceful_pod_delete(old, grace)
        if old["metadata"].get("finalizers") or rt.key == "namespaces":
            if old["metadata"].get("deletionTimestamp"):
                return old
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if rt.key == "namespaces":
                new.setdefault("status", {})["phase"] = "Terminating"
                stored = self.store.put(rt.key, new)
                self._cleanup_namespace(name)
                return self.store.get(rt.key, "", name) or stored
            return self.store.put(rt.key, new)
        return self._really_delete(rt, old)

    def _graceful_pod_delete(self, old: dict, grace: Optional[int]) -> dict:
        if grace is None:
            grace = old["spec"].get("terminationGracePeriodSeconds", 30)
        md = old["metadata"]
        if md.get("deletionTimestamp") and md.get("deletionGracePeriodSeconds", grace) <= grace:
            return old
        new = copy.deepcopy(old)
        new["metadata"]["deletionTimestamp"] = now_rfc3339(time.time() + grace)
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        return self.store.put("pods", new)

    def _really_delete(self, rt: ResourceType, old: dict) -> dict:
        md = old["metadata"]
        if rt.key == CRD_KEY:
            spec = old["spec"]
            res_key = f"{spec['names']['plural']}.{spec['group']}"
            for o in list(self.store.list(res_key)):
                self.store.remove(res_key, o["metadata"].get("namespace", ""), o["metadata"]["name"])
            self.registry.remove_group_resource(spec["group"], spec["names"]["plural"])
        final = self.store.remove(rt.key, md.get("namespace", ""), md["name"])
        if rt.namespaced and md.get("namespace"):
            nso = self.store.get("namespaces", "", md["namespace"])
            if nso and nso["metadata"].get("deletionTimestamp"):
                self._finish_namespace(md["namespace"])
        return final or old

    def _cleanup_namespace(self, ns: str) -> None:
        for rt in list(self.registry.all()):
            if not rt.namespaced or rt.version != self._storage_version(rt):
                continue
            for o in list(self.store.list(rt.key, ns)):
                try:
                    self.delete(rt, ns, o["metadata"]["name"])
                except ApiError:
                    pass
        self._finish_namespace(ns)

    def _storage_version(self, rt: ResourceType) -> str:
        if rt.builtin:
            return rt.version
        crd = self.store.get(CRD_KEY, "", f"{rt.plural}.{rt.group}")
        for v in (crd or {}).get("spec", {}).get("versions", []):
            if v.get("storage"):
                return v["name"]
        return rt.version

    def _finish_namespace(self, ns: str) -> None:
        keys = {rt.key for rt in self.registry.all() if rt.namespaced}
        if any(self.store.list(k, ns) for k in keys):
            return
        self.store.remove("namespaces", "", ns)

    def delete_collection(self, rt: ResourceType, namespace: Optional[str],
                          predicate: Optional[Callable[[dict], bool]],
                          options: Optional[Dict[str, Any]] = None) -> List[dict]:
        items, _ = self.list(rt, namespace, predicate)
        out = []
        for o in items:
            try:
                out.append(self.delete(rt, o["metadata"].get("namespace"), o["metadata"]["name"], options))
            except ApiError:
                pass
        return out

    # --- pod subresources -----------------------------------------------------------------
    def bind(self, namespace: str, name: str, binding: Dict[str, Any]) -> dict:
        """``pods/binding``: assign a pod to a node (409 when it already has one); the Binding's
        ``metadata.annotations`` are set on the pod in the same write, as kube-apiserver does."""
        errors = type_errors(binding, "V1Binding")
        if errors:
            raise undecodable("Binding", "v1", errors)
        target = (binding.get("target") or {})
        node = target.get("name")
        if not node:
            raise invalid("Binding", name, "target.name: Required value")
        old = self.get(self.core("pods"), namespace, name)
        if old["spec"].get("nodeName"):
            raise ApiError(409, f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is already '
                                f'assigned to node "{old["spec"]["nodeName"]}"', "Conflict")
        if old["metadata"].get("deletionTimestamp"):
            raise ApiError(409, f'pod {name} is being deleted, cannot be assigned to a host', "Conflict")
        new = copy.deepcopy(old)
        new["spec"]["nodeName"] = node
        annotations = (binding.get("metadata") or {}).get("annotations")
        if annotations:
            new["metadata"]["annotations"] = {**(new["metadata"].get("annotations") or {}), **annotations}
        self._set_condition(new, "PodScheduled", "True")
        return self.store.put("pods", new)

    def evict(self, namespace: str, name: str, eviction: Dict[str, Any]) -> dict:
        """``pods/eviction``: a delete (no PodDisruptionBudgets here)."""
        errors = type_errors(eviction, "V1Eviction")
        if errors:
            raise undecodable("Eviction", "policy/v1", errors)
        return self.delete(self.core("pods"), namespace, name, (eviction or {}).get("deleteOptions"))


def _meta_field(path: str) -> str:
    """``labels`` of ``metadata.labels``, ``finalizers`` of ``metadata.finalizers[2]``."""
    return path.split(".", 1)[-1].split("[", 1)[0]
