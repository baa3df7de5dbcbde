"""Errors that leonet reports to users as a clear message, never as a traceback."""
from __future__ import annotations

from typing import Any, Optional


class LeonetError(Exception):
    """A user-facing error. The CLI prints it and exits with status 2."""


class ConfigError(LeonetError, ValueError):
    """Invalid input: names the field, the bad value and how to fix it."""

    def __init__(self, field: str, value: Any, problem: str, fix: Optional[str] = None):
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        msg = f"{field}: {problem} (got {value!r})"
        if fix:
            msg += f"; fix: {fix}"
        super().__init__(msg)
