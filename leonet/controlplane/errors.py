"""Kubernetes ``Status`` errors raised by the API server and decoded by the agent's client."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

# HTTP code -> Kubernetes StatusReason, as the real API server reports them.
REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
    500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


def status_object(code: int, message: str, reason: Optional[str] = None,
                  details: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A ``meta/v1 Status`` as the real API server returns with every error."""
    obj: Dict[str, Any] = {
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure" if code >= 300 else "Success",
        "message": message, "reason": reason or REASONS.get(code, "Unknown"), "code": code,
    }
    if details:
        obj["details"] = details
    return obj


class ApiError(Exception):
    """An error with an HTTP code and a Kubernetes ``Status`` body.

    Raised by the server-side store and handlers, and by :class:`leonet.controlplane.agent.ApiConnection`
    when the server answers with an error.
    """

    def __init__(self, code: int, message: str, reason: Optional[str] = None,
                 details: Optional[Dict[str, Any]] = None):
        super().__init__(f"{code} {reason or REASONS.get(code, 'Unknown')}: {message}")
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> Dict[str, Any]:
        return status_object(self.code, self.message, self.reason, self.details)

    @classmethod
    def from_status(cls, code: int, body: Any) -> "ApiError":
        if isinstance(body, dict) and body.get("kind") == "Status":
            return cls(int(body.get("code") or code), body.get("message", ""), body.get("reason"),
                       body.get("details"))
        return cls(code, str(body)[:500])


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    qual = f"{resource}.{group}" if group else resource
    return ApiError(404, f'{qual} "{name}" not found', "NotFound",
                    {"name": name, "group": group, "kind": resource})


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    qual = f"{resource}.{group}" if group else resource
    return ApiError(409, f'{qual} "{name}" already exists', "AlreadyExists",
                    {"name": name, "group": group, "kind": resource})


def conflict(resource: str, name: str, group: str = "") -> ApiError:
    qual = f"{resource}.{group}" if group else resource
    return ApiError(409, f'Operation cannot be fulfilled on {qual} "{name}": the object has been modified; '
                         "please apply your changes to the latest version and try again", "Conflict",
                    {"name": name, "group": group, "kind": resource})


def invalid(kind: str, name: str, message: str) -> ApiError:
    return ApiError(422, f'{kind} "{name}" is invalid: {message}', "Invalid", {"name": name, "kind": kind})


#: field.ErrorType of Kubernetes: the cause ``reason`` and how the message names it
_FIELD_ERRORS = {
    "FieldValueRequired": "Required value", "FieldValueInvalid": "Invalid value",
    "FieldValueTypeInvalid": "Invalid value", "FieldValueTooLong": "Too long",
    "FieldValueForbidden": "Forbidden", "FieldValueNotSupported": "Unsupported value",
}
_NO_VALUE = ("FieldValueRequired", "FieldValueTooLong", "FieldValueForbidden")


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, as Kubernetes' ``field.Error``: ``field`` is the path
    (``metadata.labels``), ``reason`` a ``FieldValue*`` cause type, ``detail`` the explanation."""

    field: str
    reason: str
    detail: str
    value: Any = None

    def body(self) -> str:
        """The message without the field path (a Status cause's ``message``)."""
        text = _FIELD_ERRORS[self.reason]
        if self.reason not in _NO_VALUE:
            text += ": " + _go_repr(self.value)
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> Dict[str, str]:
        return {"reason": self.reason, "message": self.body(), "field": self.field}


def _go_repr(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 256 else value[:256] + "...")
    try:
        text = json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 256 else text[:256] + "..."


def _aggregate(errors: Sequence[FieldError]) -> str:
    return str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"


def invalid_fields(kind: str, name: str, errors: Sequence[FieldError], group: str = "") -> ApiError:
    """422 Invalid listing every field error as a cause, worded as Kubernetes words it."""
    qual = f"{kind}.{group}" if group else kind
    return ApiError(422, f'{qual} "{name}" is invalid: {_aggregate(errors)}', "Invalid",
                    {"name": name, "group": group, "kind": kind, "causes": [e.cause() for e in errors]})


def undecodable(kind: str, api_version: str, errors: List[FieldError]) -> ApiError:
    """400 BadRequest for a body whose fields have the wrong JSON types: what Kubernetes answers
    when the body does not decode into the typed object ("cannot be handled as a Pod")."""
    return ApiError(400, f'{kind} in version "{api_version}" cannot be handled as a {kind}: {_aggregate(errors)}',
                    "BadRequest", {"kind": kind, "causes": [e.cause() for e in errors]})


def gone(message: str) -> ApiError:
    return ApiError(410, message, "Expired")
