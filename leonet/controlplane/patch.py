"""The patch formats the API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
strategic merge patch, the latter as merge patch plus merging of the lists Kubernetes merges by key."""
from __future__ import annotations

import copy
from typing import Any, List

from .errors import ApiError

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

# List fields that strategic merge patch merges element-wise, by this key (the rest are replaced).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "ports": "containerPort", "volumeMounts": "mountPath", "conditions": "type",
    "taints": "key", "tolerations": "key", "addresses": "type", "imagePullSecrets": "name",
    "containerStatuses": "name", "initContainerStatuses": "name", "ownerReferences": "uid",
    "readinessGates": "conditionType", "hostAliases": "ip",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge patch for the keys in :data:`MERGE_KEYS`; directives other than ``$patch``
    and ``$retainKeys`` are ignored (element order is kept as stored)."""
    if isinstance(patch, list):
        key = MERGE_KEYS.get(field)
        if key is None or not isinstance(target, list) or not all(isinstance(e, dict) for e in patch):
            return [strategic_merge_patch(None, e) for e in patch]
        out = [copy.deepcopy(e) for e in target]
        for e in patch:
            idx = next((i for i, t in enumerate(out) if isinstance(t, dict) and t.get(key) == e.get(key)), None)
            if e.get("$patch") == "delete":
                if idx is not None:
                    del out[idx]
            elif idx is None:
                out.append(strategic_merge_patch(None, e))
            else:
                out[idx] = strategic_merge_patch(out[idx], e)
        return out
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if directive == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        else:
            merged = strategic_merge_patch(out.get(k), v, k)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
    if retain is not None:
        out = {k: v for k, v in out.items() if k in retain or k in patch}
    return out


def _pointer(path: str) -> List[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer {path!r}", "Invalid")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: List[str]):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict):
            cur = cur[p]
        else:
            raise KeyError(p)
    return cur


def _get(doc: Any, parts: List[str]) -> Any:
    cur = doc
    for p in parts:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    return cur


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise ApiError(400, "JSON patch must be a list of operations", "BadRequest")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind in ("add", "replace", "test"):
                value = copy.deepcopy(op["value"])
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                value = copy.deepcopy(_get(doc, src))
                if kind == "move":
                    sp = _parent(doc, src)
                    del sp[int(src[-1]) if isinstance(sp, list) else src[-1]]
                kind = "add"
            if kind == "test":
                if _get(doc, parts) != value:
                    raise ApiError(422, f"test operation failed at {op['path']}", "Invalid")
                continue
            if not parts:
                if kind == "remove":
                    doc = None
                else:
                    doc = value
                continue
            parent, last = _parent(doc, parts), parts[-1]
            if isinstance(parent, list):
                if kind == "add":
                    parent.insert(len(parent) if last == "-" else int(last), value)
                elif kind == "remove":
                    del parent[int(last)]
                else:
                    parent[int(last)] = value
            else:
                if kind in ("remove", "replace") and last not in parent:
                    raise KeyError(last)
                if kind == "remove":
                    del parent[last]
                else:
                    parent[last] = value
        except ApiError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, f"the server rejected our request due to an error in our request: "
                                f"JSON patch {op!r} failed: {exc!r}", "Invalid")
    return doc


def apply_patch(content_type: str, current: dict, patch: Any) -> dict:
    ct = (content_type or "").split(";")[0].strip()
    if ct == MERGE:
        return merge_patch(current, patch)
    if ct == STRATEGIC:
        return strategic_merge_patch(current, patch)
    if ct == JSON_PATCH:
        return json_patch(current, patch)
    raise ApiError(415, f"the body of the request was in an unknown format - accepted media types include: "
                        f"{JSON_PATCH}, {MERGE}, {STRATEGIC} (server-side apply, {APPLY}, is not supported "
                        f"by leonet's control plane)", "UnsupportedMediaType")
