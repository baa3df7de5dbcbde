"""Validation of ``metadata`` as the Kubernetes API server does it (apimachinery's
``ValidateObjectMeta``): names per kind, ``generateName``, label keys and values, annotation
keys and their total size, finalizers and owner references.

The messages are Kubernetes' own, so that clients and users see the same text from leonet's
control plane as from a real cluster. Types are checked before this (:mod:`.typecheck`); a
value of the wrong type gets here only when an update leaves what an older version stored as
it was, and is skipped.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional

from ..errors import FieldError

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
TOTAL_ANNOTATION_BYTES = 256 * 1024
#: generateName is cut to this length before the 5-character random suffix (Kubernetes' rule)
GENERATED_NAME_PREFIX_MAX = DNS1123_LABEL_MAX - 5

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + r")*"
_QUALIFIED = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED + r")?"

_LABEL_RE = re.compile(_LABEL)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN)
_QUALIFIED_RE = re.compile(_QUALIFIED)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE)

_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
              "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
              f"validation is '{_LABEL}')")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                  "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                  f"for validation is '{_SUBDOMAIN}')")
_QUALIFIED_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                  "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                  f"validation is '{_QUALIFIED}')")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE}')")


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1123_label(value: str) -> List[str]:
    """Problems of ``value`` as an RFC 1123 label (Namespace names)."""
    out = [_too_long(DNS1123_LABEL_MAX)] if len(value) > DNS1123_LABEL_MAX else []
    return out + ([] if _LABEL_RE.fullmatch(value) else [_LABEL_MSG])


def dns1123_subdomain(value: str) -> List[str]:
    """Problems of ``value`` as an RFC 1123 subdomain (most names)."""
    out = [_too_long(DNS1123_SUBDOMAIN_MAX)] if len(value) > DNS1123_SUBDOMAIN_MAX else []
    return out + ([] if _SUBDOMAIN_RE.fullmatch(value) else [_SUBDOMAIN_MSG])


def path_segment(value: str) -> List[str]:
    """Problems of ``value`` as one URL path segment (every name must be one)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def qualified_name(value: str) -> List[str]:
    """Problems of ``value`` as a qualified name: ``[prefix/]name`` (label and annotation keys)."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        prefix_errors: List[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        prefix_errors = ["prefix part must be non-empty"] if not prefix else \
            ["prefix part " + m for m in dns1123_subdomain(prefix)]
    else:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                f"validation is '{_QUALIFIED}') with an optional DNS subdomain prefix and '/' (e.g. "
                "'example.com/MyName')"]
    if not name:
        return prefix_errors + ["name part must be non-empty"]
    out = prefix_errors + ([f"name part must be no more than {QUALIFIED_NAME_MAX} characters"]
                           if len(name) > QUALIFIED_NAME_MAX else [])
    return out + ([] if _QUALIFIED_RE.fullmatch(name) else [_QUALIFIED_MSG])


def label_value(value: str) -> List[str]:
    out = [_too_long(LABEL_VALUE_MAX)] if len(value) > LABEL_VALUE_MAX else []
    return out + ([] if _LABEL_VALUE_RE.fullmatch(value) else [_LABEL_VALUE_MSG])


NameRule = Callable[[str], List[str]]

#: name rules by (API group, kind) where they differ from the DNS-1123 subdomain most kinds use
NAME_RULES: Dict[tuple, NameRule] = {
    ("", "Namespace"): dns1123_label,
    ("certificates.k8s.io", "CertificateSigningRequest"): lambda name: [],  # any path segment
}


def name_rule(group: str, kind: str) -> NameRule:
    return NAME_RULES.get((group, kind), dns1123_subdomain)


def _mask_trailing_dash(prefix: str) -> str:
    """generateName may end in '-' (the suffix follows it)."""
    return prefix[:-1] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix


def generated_name(prefix: str, suffix: str) -> str:
    """The name Kubernetes makes of ``generateName`` and a random suffix."""
    return prefix[:GENERATED_NAME_PREFIX_MAX] + suffix


def validate_object_meta(md: Dict[str, Any], group: str, kind: str) -> List[FieldError]:
    """Every problem of ``md`` (already type-checked) for an object of ``kind``."""
    errors: List[FieldError] = []
    rule = name_rule(group, kind)
    name = _str(md.get("name"))
    if not name:
        errors.append(FieldError("metadata.name", "FieldValueRequired", "name or generateName is required"))
    else:
        errors += [FieldError("metadata.name", "FieldValueInvalid", m, name) for m in rule(name) + path_segment(name)]
    prefix = _str(md.get("generateName"))
    if prefix:
        errors += [FieldError("metadata.generateName", "FieldValueInvalid", m, prefix)
                   for m in rule(_mask_trailing_dash(prefix)) + path_segment(prefix)]
    for key, value in _str_map(md.get("labels")).items():
        errors += [FieldError("metadata.labels", "FieldValueInvalid", m, key) for m in qualified_name(key)]
        errors += [FieldError("metadata.labels", "FieldValueInvalid", m, value) for m in label_value(value)]
    annotations = _str_map(md.get("annotations"))
    for key in annotations:
        errors += [FieldError("metadata.annotations", "FieldValueInvalid", m, key)
                   for m in qualified_name(key.lower())]
    if sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items()) > TOTAL_ANNOTATION_BYTES:
        errors.append(FieldError("metadata.annotations", "FieldValueTooLong",
                                 f"must have at most {TOTAL_ANNOTATION_BYTES} bytes"))
    finalizers = md.get("finalizers")
    for i, finalizer in enumerate(finalizers if isinstance(finalizers, list) else []):
        errors += [FieldError(f"metadata.finalizers[{i}]", "FieldValueInvalid", m, finalizer)
                   for m in qualified_name(finalizer)] if isinstance(finalizer, str) else []
    refs = md.get("ownerReferences")
    errors += _owner_references([r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else [])
    return errors


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _str_map(value: Any) -> Dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _owner_references(refs: List[dict]) -> List[FieldError]:
    errors: List[FieldError] = []
    for ref in refs:
        for key, what in (("apiVersion", "version"), ("kind", "kind"), ("name", "name"), ("uid", "uid")):
            if not ref.get(key):
                errors.append(FieldError("metadata.ownerReferences", "FieldValueInvalid",
                                         f"{what} must not be empty", ref))
    if sum(1 for ref in refs if ref.get("controller")) > 1:
        errors.append(FieldError("metadata.ownerReferences", "FieldValueInvalid",
                                 "Only one reference can have Controller set to true", refs))
    return errors


def name_errors(name: str, group: str, kind: str) -> Optional[str]:
    """Why ``name`` is not a valid name for ``kind``, or ``None`` (for names from a URL)."""
    problems = name_rule(group, kind)(name) + path_segment(name)
    return "; ".join(problems) if problems else None

