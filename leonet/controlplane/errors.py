"""Kubernetes ``Status`` errors raised by the API server and decoded by the agent's client."""
from __future__ import annotations

from typing import Any, Dict, Optional

# HTTP code -> Kubernetes StatusReason, as the real API server reports them.
REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
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


def gone(message: str) -> ApiError:
    return ApiError(410, message, "Expired")
