"""The JSON types of built-in objects, checked as Kubernetes' decoder checks them.

A real API server decodes every request body into its Go struct, so a label map that is a
list or a name that is a number is rejected with 400 before anything reads it. leonet stores
JSON as it comes, so it checks the same types here, from the OpenAPI types the official
``kubernetes`` client is generated from (``openapi_types`` and ``attribute_map`` of its
models): every field the schema knows must have its type; fields it does not know are kept,
as Kubernetes keeps them for custom resources. Quantities (``cpu: 1`` or ``"500m"``) are
numbers or strings of Kubernetes' quantity grammar, as the real decoder accepts them.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import math
import re
from typing import Any, Dict, List, Optional, Tuple

from ..errors import FieldError

#: stop after this many type errors in one object
MAX_ERRORS = 10
_INT64 = (-(2 ** 63), 2 ** 63 - 1)
#: JSON fields whose map values are resource quantities (``Dict[str, str]`` in the client models)
QUANTITY_MAPS = frozenset({"limits", "requests", "capacity", "allocatable", "overhead", "allocatedResources",
                           "hard", "used"})
QUANTITY_FIELDS = frozenset({"sizeLimit"})
#: integer fields of Kubernetes that leonet's node agent also takes as fractional seconds (so that tests
#: and emulations can probe more often than once a second): any finite number is accepted
FRACTIONAL_SECONDS = frozenset({("V1Probe", "periodSeconds"), ("V1Probe", "timeoutSeconds"),
                                ("V1Probe", "initialDelaySeconds")})
_QUANTITY_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?")
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")

#: model class of each built-in (group, kind), where it is not ``<Version><Kind>``
_MODEL_NAMES = {("", "Event"): "CoreV1Event"}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@functools.lru_cache(maxsize=None)
def _model(name: str):
    import kubernetes.client
    return getattr(kubernetes.client, name, None)


@functools.lru_cache(maxsize=None)
def _fields(name: str) -> Dict[str, str]:
    """JSON field name -> OpenAPI type string of the client model ``name``."""
    cls = _model(name)
    return {cls.attribute_map[attr]: t for attr, t in cls.openapi_types.items()}


def model_name(group: str, version: str, kind: str) -> Optional[str]:
    """The client model of a built-in kind (``V1Pod``), or ``None`` if the client has none."""
    name = _MODEL_NAMES.get((group, kind), version[:1].upper() + version[1:] + kind)
    return name if _model(name) is not None else None


@functools.lru_cache(maxsize=None)
def _parse(type_name: str) -> Tuple[str, str]:
    """('list', item type) / ('map', value type) / ('model', name) / ('primitive', name)."""
    for pattern, shape in ((r"[Ll]ist\[(.+)\]", "list"), (r"[Dd]ict\[str, (.+)\]", "map"),
                           (r"dict\(str, (.+)\)", "map")):
        m = re.fullmatch(pattern, type_name)
        if m:
            return shape, m.group(1)
    if type_name in ("str", "int", "bool", "float", "object", "datetime", "date", "bytes"):  # date: a str
        return "primitive", type_name
    return "model", type_name


_ABSENT = object()


def _child(old: Any, key: Any) -> Any:
    """What ``old`` holds at ``key`` (a dict key or list index), or :data:`_ABSENT`."""
    if isinstance(old, dict):
        return old.get(key, _ABSENT)
    if isinstance(old, list) and isinstance(key, int) and key < len(old):
        return old[key]
    return _ABSENT


class _Checker:
    """Walks a value along its OpenAPI type. With ``old`` (the stored object an update replaces), a wrong
    type the update does not change is let through: objects stored before these checks stay updatable."""

    def __init__(self) -> None:
        self.errors: List[FieldError] = []

    def fail(self, path: str, value: Any, expected: str, old: Any = _ABSENT) -> None:
        if len(self.errors) < MAX_ERRORS and not (old is not _ABSENT and old == value):
            self.errors.append(FieldError(path or "<root>", "FieldValueTypeInvalid",
                                          f"expected {expected}, got {json_type(value)}", value))

    def invalid(self, path: str, value: Any, detail: str, old: Any) -> None:
        if not (old is not _ABSENT and old == value):
            self.errors.append(FieldError(path, "FieldValueInvalid", detail, value))

    def check(self, value: Any, type_name: str, path: str, field: str = "", old: Any = _ABSENT) -> None:
        if value is None or len(self.errors) >= MAX_ERRORS:
            return  # null decodes to the zero value (see drop_nulls)
        shape, arg = _parse(type_name)
        if shape == "list":
            if not isinstance(value, list):
                return self.fail(path, value, "array", old)
            for i, item in enumerate(value):
                if item is None and arg != "object":  # Kubernetes would make it a zero element; refused
                    self.fail(f"{path}[{i}]", item, _expected(arg), _child(old, i))
                else:
                    self.check(item, arg, f"{path}[{i}]", old=_child(old, i))
        elif shape == "map":
            if not isinstance(value, dict):
                return self.fail(path, value, "object", old)
            quantities = field in QUANTITY_MAPS and arg == "str"
            for key, item in value.items():
                sub = f"{path}[{key}]"
                if quantities:
                    self.quantity(item, sub, _child(old, key))
                elif item is None and arg != "object":
                    self.fail(sub, item, _expected(arg), _child(old, key))
                else:
                    self.check(item, arg, sub, old=_child(old, key))
        elif shape == "model":
            if not isinstance(value, dict):
                return self.fail(path, value, "object", old)
            if _model(arg) is None:
                return
            fields = _fields(arg)
            for key, item in value.items():
                t = fields.get(key)
                if t is not None:
                    sub = f"{path}.{key}" if path else key
                    if key in QUANTITY_FIELDS and t == "str":
                        self.quantity(item, sub, _child(old, key))
                    elif (arg, key) in FRACTIONAL_SECONDS:
                        self.check(item, "float", sub, key, _child(old, key))
                    else:
                        self.check(item, t, sub, key, _child(old, key))
        else:
            self.primitive(value, arg, path, old)

    def primitive(self, value: Any, kind: str, path: str, old: Any) -> None:
        if kind == "object":
            return
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]
        elif kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, str)
        if not ok:
            return self.fail(path, value, {"bool": "boolean", "int": "a 64-bit integer", "float": "number"}
                             .get(kind, "string"), old)
        if kind == "datetime" and not _is_time(value):
            self.invalid(path, value, "expected an RFC 3339 time (e.g. 2026-01-31T12:00:00Z)", old)
        elif kind == "bytes" and not _is_base64(value):
            self.invalid(path, value, "expected base64-encoded data", old)

    def quantity(self, value: Any, path: str, old: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return self.fail(path, value, "a quantity (number or string)", old)
        if isinstance(value, str) and not _QUANTITY_RE.fullmatch(value.strip()):
            self.invalid(path, value, "quantities must match the regular expression "
                                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", old)
        if isinstance(value, float) and not math.isfinite(value):
            self.invalid(path, value, "a quantity must be finite", old)


def _expected(type_name: str) -> str:
    shape, arg = _parse(type_name)
    if shape == "primitive":
        return {"bool": "boolean", "int": "a 64-bit integer", "float": "number", "object": "a value"}.get(arg, "string")
    return "array" if shape == "list" else "object"


def _is_time(value: str) -> bool:
    if not _TIME_RE.fullmatch(value):
        return False
    try:
        dt.datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
        return True
    except ValueError:
        return False


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


def type_errors(obj: Any, model: str, path: str = "", old: Optional[Any] = None) -> List[FieldError]:
    """The fields of ``obj`` (found at ``path``) whose JSON type differs from the client model
    ``model`` (e.g. ``V1Pod``), except those equal to their counterpart in ``old`` (the stored
    object an update replaces) if given."""
    checker = _Checker()
    checker.check(obj, model, path, old=_ABSENT if old is None else old)
    return checker.errors


def drop_nulls(value: Any) -> Any:
    """``value`` without the null members of its objects (at any depth), as a Go struct decoded from
    JSON and encoded again would be: null is the zero value, and zero values are omitted."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value
