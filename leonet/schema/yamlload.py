"""Reading scenario YAML safely: every bad file is a :class:`ConfigError`, never a traceback.

On top of ``yaml.safe_load`` this refuses what would otherwise slip through or crash:
a key given twice in one mapping (YAML's last-wins would silently drop the first), a
file that is not UTF-8 text, nesting deeper than any scenario needs (a deep file would
exhaust Python's recursion), and files too large to be a scenario.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

#: deeper than any scenario (the deepest real section is about 5 levels)
MAX_DEPTH = 64
#: a scenario is a few KiB; data (TLEs, CSVs) lives in files it names
MAX_BYTES = 8 << 20
#: aliases expand by reference, but a handful of them can describe a huge tree
MAX_ALIASES = 1000


class _Loader(yaml.SafeLoader):
    """SafeLoader that tracks nesting and aliases, and refuses duplicate keys."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _TooComplex(f"more than {MAX_ALIASES} aliases", self.peek_event().start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooComplex(f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise _Duplicate(f"a mapping key must be text, not {type(key).__name__}", key_node.start_mark) from None
            if key in seen:
                raise _Duplicate(f"key {key!r} appears twice in one mapping (first on line "
                                 f"{seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class _TooComplex(yaml.YAMLError):
    def __init__(self, problem: str, mark: Any):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class _Duplicate(_TooComplex):
    pass


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; errors name the file and line, the problem and the fix."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError("SCENARIO", str(path), f"cannot be read ({exc.strerror})",
                          "check the path and its permissions") from None
    if size > MAX_BYTES:
        raise ConfigError("SCENARIO", str(path), f"is {size / 2**20:.0f} MiB, too large for a scenario",
                          "keep data (TLEs, station lists) in files the scenario names")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("SCENARIO", str(path), f"is not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x})",
                          "give a YAML scenario file (see docs/scenarios.md)") from None
    if "\x00" in text:
        raise ConfigError("SCENARIO", str(path), "contains NUL bytes: not a text file",
                          "give a YAML scenario file (see docs/scenarios.md)")
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except _Duplicate as exc:
        raise ConfigError(_where(path, exc), exc.problem, "is not allowed",
                          "give each key once; YAML would silently keep only the last") from None
    except _TooComplex as exc:
        raise ConfigError(_where(path, exc), exc.problem, "is too complex for a scenario",
                          "flatten the file") from None
    except RecursionError:
        raise ConfigError(path.name, "deep nesting", "is too complex for a scenario", "flatten the file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(_where(path, exc), str(getattr(exc, "problem", exc)), "is not valid YAML",
                          "fix the YAML syntax at that line") from None


def _where(path: Path, exc: Any) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"{path.name}:{mark.line + 1}" if mark is not None else path.name
