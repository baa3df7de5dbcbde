"""Errors that leonet reports to users as a clear message, never as a traceback."""
from __future__ import annotations

from typing import Any, Optional


class LeonetError(Exception):
    """A user-facing error. The CLI prints it and exits with status 2."""


#: longest field name or value shown in a message (a 100,000-character name stays one short line)
MAX_SHOWN = 120


def _short(text: str) -> str:
    """``text`` on one line (control characters escaped) and at most :data:`MAX_SHOWN` long."""
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 20] + f"... ({len(text)} characters)"


class ConfigError(LeonetError, ValueError):
    """Invalid input: names the field, the bad value and how to fix it. The message is
    one line (values are shown with ``repr``, long ones shortened)."""

    def __init__(self, field: str, value: Any, problem: str, fix: Optional[str] = None):
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        msg = f"{_short(str(field))}: {problem} (got {_short(repr(value))})"
        if fix:
            msg += f"; fix: {fix}"
        super().__init__(msg)
