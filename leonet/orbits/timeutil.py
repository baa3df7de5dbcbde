"""UTC time handling: parsing ISO 8601 instants and converting them to Julian dates."""
from __future__ import annotations

import datetime as _dt
from typing import Iterable, Tuple, Union

import numpy as np

from ..errors import ConfigError

UTC = _dt.timezone.utc
TimeLike = Union[str, _dt.datetime]

_JD_UNIX_EPOCH = 2440587.5


def parse_utc(value: TimeLike, field: str = "time") -> _dt.datetime:
    """Parse an ISO 8601 instant into an aware UTC datetime.

    Accepts ``2026-01-31T12:00:00Z``, explicit offsets, and naive strings (taken as UTC).
    """
    if isinstance(value, _dt.datetime):
        dt = value
    elif isinstance(value, _dt.date):
        dt = _dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(field, value, "not an ISO 8601 UTC time",
                              "write it like 2026-01-31T12:00:00Z") from None
    else:
        raise ConfigError(field, value, "not a time", "write it like 2026-01-31T12:00:00Z")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_utc(dt: _dt.datetime) -> str:
    """Format as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    text = dt.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def to_jd(dt: _dt.datetime) -> Tuple[float, float]:
    """Julian date split as (whole-day part ending in .5, fraction) for full precision."""
    seconds = (dt - _dt.datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
    days = seconds / 86400.0
    whole = np.floor(days)
    return float(_JD_UNIX_EPOCH + whole), float(days - whole)


def jd_array(start: _dt.datetime, offsets_s: Iterable[float]) -> Tuple[np.ndarray, np.ndarray]:
    """Julian dates (jd, fr) for ``start + offsets_s`` seconds, as arrays for SGP4."""
    jd0, fr0 = to_jd(start)
    fr = fr0 + np.asarray(offsets_s, dtype=float) / 86400.0
    shift = np.floor(fr)
    return jd0 + shift, fr - shift


def add_seconds(dt: _dt.datetime, seconds: float) -> _dt.datetime:
    return dt + _dt.timedelta(seconds=float(seconds))
