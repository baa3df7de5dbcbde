"""Kubernetes time formats: ``Time`` (RFC 3339, seconds) and ``MicroTime`` (microseconds)."""
from __future__ import annotations

import datetime as dt
import time
from typing import Optional


def now_rfc3339(t: Optional[float] = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def now_micro(t: Optional[float] = None) -> str:
    t = time.time() if t is None else t
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: Optional[str]) -> Optional[float]:
    """Seconds since the epoch of a Time or MicroTime string (``None`` for missing/unparsable)."""
    if not s:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(s, fmt).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
