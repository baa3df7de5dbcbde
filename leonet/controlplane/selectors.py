"""Label and field selectors, parsed once per request and matched against stored objects."""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Tuple

from .errors import ApiError

Requirement = Tuple[str, str, Tuple[str, ...]]
# (key, op, values); op in =, !=, in, notin, exists, !exists, gt, lt (node affinity), never (unknown operator)

_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists", "Gt": "gt", "Lt": "lt"}

_SET_RE = re.compile(r"^\s*([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")

# Field selectors the real API server accepts, per resource (metadata.name/namespace work everywhere).
FIELDS: Dict[str, Tuple[str, ...]] = {
    "pods": ("spec.nodeName", "spec.schedulerName", "spec.restartPolicy", "spec.serviceAccountName",
             "status.phase", "status.podIP", "status.nominatedNodeName"),
    "nodes": ("spec.unschedulable",),
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type"),
    "namespaces": ("status.phase",),
    "certificatesigningrequests.certificates.k8s.io": ("spec.signerName",),
}


def _split_top(s: str) -> List[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(s: Optional[str]) -> List[Requirement]:
    """Parse ``a=b,c!=d,e in (f,g),h notin (i),j,!k`` (the syntax of ``labelSelector``)."""
    reqs: List[Requirement] = []
    if not s:
        return reqs
    for part in _split_top(s):
        m = _SET_RE.match(part)
        if m:
            vals = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((m.group(1), m.group(2), vals))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), "!=", (v.strip(),)))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append((k.strip(), "=", (v.strip(),)))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append((k.strip(), "=", (v.strip(),)))
        elif part.startswith("!"):
            reqs.append((part[1:].strip(), "!exists", ()))
        elif re.match(r"^[A-Za-z0-9._/-]+$", part):
            reqs.append((part, "exists", ()))
        else:
            raise ApiError(400, f"unable to parse requirement: {part!r}", "BadRequest")
    return reqs


def selector_from_dict(sel: Optional[dict]) -> List[Requirement]:
    """A ``metav1.LabelSelector`` (matchLabels / matchExpressions) as requirements."""
    reqs: List[Requirement] = []
    if not sel:
        return reqs
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, "=", (str(v),)))
    for e in sel.get("matchExpressions") or []:
        op = _OPERATORS.get(e.get("operator"), "never")  # an operator Kubernetes does not know selects nothing
        reqs.append((e.get("key") or "", op, tuple(e.get("values") or ())))
    return reqs


def _compare(value: Optional[str], bound: Tuple[str, ...], greater: bool) -> bool:
    """Node affinity's Gt/Lt: the label and the single value are integers."""
    try:
        a, b = int(value), int(bound[0])  # type: ignore[arg-type]
    except (TypeError, ValueError, IndexError):
        return False
    return a > b if greater else a < b


def match_labels(reqs: List[Requirement], labels: Optional[Dict[str, str]]) -> bool:
    if labels is not None and not isinstance(labels, dict):
        return False  # an object stored before labels were validated: no selector selects it
    labels = labels or {}
    for key, op, vals in reqs:
        present = key in labels
        v = labels.get(key)
        if op == "=" and v != vals[0]:
            return False
        if op == "!=" and present and v == vals[0]:
            return False
        if op == "in" and v not in vals:
            return False
        if op == "notin" and present and v in vals:
            return False
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
        if op in ("gt", "lt") and not _compare(v, vals, op == "gt"):
            return False
        if op == "never":
            return False
    return True


def _field_value(obj: dict, path: str) -> str:
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict) and path == "source":  # events: source is {component, host}
        return str(cur.get("component", ""))
    return str(cur)


def parse_field_selector(s: Optional[str], resource_key: str) -> List[Requirement]:
    """Parse ``spec.nodeName=x,metadata.name!=y``, rejecting fields the resource does not index."""
    reqs: List[Requirement] = []
    if not s:
        return reqs
    allowed = ("metadata.name", "metadata.namespace") + FIELDS.get(resource_key, ())
    for part in _split_top(s):
        if "!=" in part:
            k, v = part.split("!=", 1)
            op = "!="
        elif "==" in part:
            k, v = part.split("==", 1)
            op = "="
        elif "=" in part:
            k, v = part.split("=", 1)
            op = "="
        else:
            raise ApiError(400, f"invalid field selector: {part!r}", "BadRequest")
        k = k.strip()
        if k not in allowed:
            raise ApiError(400, f'field label not supported: {k}', "BadRequest")
        reqs.append((k, op, (v.strip(),)))
    return reqs


def match_fields(reqs: List[Requirement], obj: dict) -> bool:
    for key, op, vals in reqs:
        v = _field_value(obj, key)
        if (op == "=") != (v == vals[0]):
            return False
    return True


def make_filter(label_selector: Optional[str], field_selector: Optional[str],
                resource_key: str) -> Optional[Callable[[dict], bool]]:
    """A predicate for both selectors, or ``None`` when the request has neither."""
    lreqs = parse_label_selector(label_selector)
    freqs = parse_field_selector(field_selector, resource_key)
    if not lreqs and not freqs:
        return None
    return lambda o: match_labels(lreqs, _labels(o)) and match_fields(freqs, o)


def _labels(obj: dict) -> Optional[dict]:
    md = obj.get("metadata")
    return md.get("labels") if isinstance(md, dict) else None
