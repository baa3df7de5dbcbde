"""The patch formats the API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
strategic merge patch, the latter as merge patch plus merging of the lists Kubernetes merges by key."""
from __future__ import annotations

import copy
from typing import Any, List

from .apiserver.bodies import check_shape
from .errors import ApiError

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
#: Kubernetes' limit
MAX_JSON_PATCH_OPERATIONS = 10_000
#: values all copy and move operations of one JSON patch may copy (copies of copies grow exponentially)
MAX_JSON_PATCH_COPIED_VALUES = 100_000

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
    _check_directives(patch)
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


def _check_directives(patch: dict) -> None:
    """400 for directives strategic merge patch does not define (as Kubernetes' mergepatch errors)."""
    directive = patch.get("$patch")
    if directive is not None and directive not in ("replace", "delete", "merge"):
        raise ApiError(400, f"strategic merge patch: unknown $patch directive {directive!r} (replace, delete "
                            "or merge)", "BadRequest")
    retain = patch.get("$retainKeys")
    if retain is not None and not (isinstance(retain, list) and all(isinstance(k, str) for k in retain)):
        raise ApiError(400, "strategic merge patch: $retainKeys must be a list of field names", "BadRequest")


def _pointer(path: str) -> List[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer {path!r}", "Invalid")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: List[str]):
    return _get(doc, parts[:-1])


def _get(doc: Any, parts: List[str]) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, list):
            cur = cur[_index(p, len(cur), adding=False)]
        elif isinstance(cur, dict):
            cur = cur[p]
        else:
            raise KeyError(p)
    return cur


JSON_PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")


def _check_operation(op: Any) -> None:
    """422 for an operation RFC 6902 does not define (what Kubernetes' JSON patch library answers)."""
    if not isinstance(op, dict):
        raise ApiError(422, f"the server rejected our request due to an error in our request: JSON patch "
                            f"operation {op!r} is not an object", "Invalid")
    if op.get("op") not in JSON_PATCH_OPS:
        raise ApiError(422, f"the server rejected our request due to an error in our request: Unexpected kind: "
                            f"{op.get('op')!r} (a JSON patch operation is one of {', '.join(JSON_PATCH_OPS)})",
                       "Invalid")
    for key in ("path", "from") if op["op"] in ("move", "copy") else ("path",):
        if not isinstance(op.get(key), str):
            raise ApiError(422, f"the server rejected our request due to an error in our request: JSON patch "
                                f"operation {op['op']!r} needs a string {key!r}", "Invalid")
    if op["op"] in ("add", "replace", "test") and "value" not in op:
        raise ApiError(422, f"the server rejected our request due to an error in our request: JSON patch "
                            f"operation {op['op']!r} needs a 'value'", "Invalid")


def _index(part: str, size: int, adding: bool) -> int:
    """A JSON pointer array index: decimal without leading zeros, within the array ('-' appends)."""
    if adding and part == "-":
        return size
    if not (part.isdigit() and part.isascii()) or (len(part) > 1 and part[0] == "0"):
        raise IndexError(f"{part!r} is not an array index")
    index = int(part)
    if index > size or (index == size and not adding):
        raise IndexError(f"index {index} is out of range (the array has {size} elements)")
    return index


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test. At most :data:`MAX_JSON_PATCH_OPERATIONS`
    operations, copying at most :data:`MAX_JSON_PATCH_COPIED_VALUES` values in all."""
    if not isinstance(ops, list):
        raise ApiError(400, "JSON patch must be a list of operations", "BadRequest")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise ApiError(413, f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
                            f"got {len(ops)}", "RequestEntityTooLarge")
    doc = copy.deepcopy(doc)
    copied = 0
    for op in ops:
        _check_operation(op)
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind in ("add", "replace", "test"):
                value = copy.deepcopy(op["value"])
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                if kind == "move" and len(parts) > len(src) and parts[:len(src)] == src:
                    raise ValueError("a value cannot be moved into one of its children")
                source = _get(doc, src)
                copied += check_shape(source, "the JSON patch's source value")
                if copied > MAX_JSON_PATCH_COPIED_VALUES:
                    raise ApiError(422, f"the JSON patch copies more than {MAX_JSON_PATCH_COPIED_VALUES} values",
                                   "Invalid")
                value = copy.deepcopy(source)
                if kind == "move":
                    if not src:
                        raise ValueError("the whole document cannot be moved")
                    sp = _parent(doc, src)
                    del sp[_index(src[-1], len(sp), adding=False) if isinstance(sp, list) else src[-1]]
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
                index = _index(last, len(parent), adding=kind == "add")
                if kind == "add":
                    parent.insert(index, value)
                elif kind == "remove":
                    del parent[index]
                else:
                    parent[index] = value
            elif not isinstance(parent, dict):
                raise KeyError(last)
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


PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC)


def unsupported_patch_type(content_type: str) -> ApiError:
    return ApiError(415, f"the body of the request was in an unknown format - accepted media types include: "
                         f"{JSON_PATCH}, {MERGE}, {STRATEGIC} (server-side apply, {APPLY}, is not supported "
                         f"by leonet's control plane; got {content_type or 'no Content-Type'})",
                    "UnsupportedMediaType")


def apply_patch(content_type: str, current: dict, patch: Any) -> dict:
    """``current`` patched; the result is held to the limits of a request body (depth, size)."""
    ct = (content_type or "").split(";")[0].strip()
    if ct == MERGE:
        result = merge_patch(current, patch)
    elif ct == STRATEGIC:
        result = strategic_merge_patch(current, patch)
    elif ct == JSON_PATCH:
        result = json_patch(current, patch)
    else:
        raise unsupported_patch_type(ct)
    check_shape(result, "the patched object")
    return result
