"""Request bodies and query parameters, decoded with the limits of the real API server.

A body is at most :data:`MAX_BODY_BYTES` (Kubernetes' 3 MiB; more is 413), JSON or YAML
that holds only JSON values (YAML timestamps stay strings, as Kubernetes' YAML-to-JSON
conversion keeps them), nested at most :data:`MAX_DEPTH` deep and with at most
:data:`MAX_VALUES` values once YAML aliases are expanded. Anything else is a 400 with a
Status, never an exception further in.
"""
from __future__ import annotations

import json
import re
from typing import Any, Optional

import yaml

from ..errors import ApiError

MAX_BODY_BYTES = 3 * 1024 * 1024
#: deeper than any Kubernetes object (a CRD schema nests ~2 levels per schema level) and
#: shallow enough for every recursive step of the server (copies, merges, encoding)
MAX_DEPTH = 100
#: a 3 MiB JSON body holds fewer; only YAML aliases can expand to more
MAX_VALUES = 2_000_000
_INT64 = re.compile(r"-?[0-9]{1,18}")
_UINT64 = re.compile(r"[0-9]{1,19}")


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp type: ``2026-01-31T12:00:00Z`` stays a string."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode(raw: bytes, content_type: str) -> Any:
    """The value of a request body (JSON, or YAML for ``*yaml`` content types)."""
    try:
        if "yaml" in (content_type or ""):
            value = yaml.load(raw, Loader=_YamlLoader)
        else:
            value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, f"the body of the request could not be decoded: it is nested deeper than "
                            f"{MAX_DEPTH} levels", "BadRequest") from None
    except (ValueError, yaml.YAMLError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ApiError(400, f"the body of the request could not be decoded: {e}", "BadRequest") from None
    check_shape(value)
    return value


def check_shape(value: Any, what: str = "the body of the request could not be decoded") -> int:
    """How many values ``value`` holds; 400 unless they are JSON values, nested at most
    :data:`MAX_DEPTH` deep, at most :data:`MAX_VALUES` of them (checked without recursion: the
    check must not fail on what it checks)."""
    stack = [(value, 1, "")]
    count = 0
    while stack:
        item, depth, path = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ApiError(400, f"{what}: more than {MAX_VALUES} values "
                                "(YAML aliases expanding without bound?)", "BadRequest")
        if depth > MAX_DEPTH:
            raise ApiError(400, f"{what}: it is nested deeper than {MAX_DEPTH} levels", "BadRequest")
        if isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str):
                    raise ApiError(400, f"{what}: the key {k!r} at "
                                        f"{path or '<root>'} is not a string", "BadRequest")
                stack.append((v, depth + 1, f"{path}.{k}"))
        elif isinstance(item, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise ApiError(400, f"{what}: {item} at "
                                    f"{path or '<root>'} is not a JSON number", "BadRequest")
        elif item is not None and not isinstance(item, (str, int, bool)):
            raise ApiError(400, f"{what}: the {type(item).__name__} at "
                                f"{path or '<root>'} has no JSON equivalent", "BadRequest")
    return count


def int_param(query, name: str, default: Optional[int] = None) -> Optional[int]:
    """An integer query parameter (400 if it is not one, as Kubernetes' parameter decoding)."""
    text = query.get(name)
    if text is None or text == "":
        return default
    if not _INT64.fullmatch(text):
        raise ApiError(400, f"invalid value for query parameter {name}: {text!r} is not an integer",
                       "BadRequest")
    return int(text)


def resource_version_param(query) -> Optional[int]:
    """``resourceVersion`` of a list or watch: ``None`` for unset or ``0`` (any version), else the
    non-negative integer (400 for anything else)."""
    text = query.get("resourceVersion", "")
    if text in ("", "0"):
        return None
    if not _UINT64.fullmatch(text):
        raise ApiError(400, f'invalid resourceVersion {text!r}: a resourceVersion is a non-negative integer',
                       "BadRequest")
    return int(text)
