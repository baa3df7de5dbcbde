"""Field checkers for scenario input: every error names the field, the value and a fix.

Two forms of the same checks:

* functions on one ``(field, value)`` pair (:func:`check_number`, :func:`check_choice`,
  ...), for values that are not read from a mapping (per-node parameters, CLI options);
* :class:`Fields`, a view of one mapping of a scenario at a dotted path, which rejects
  unknown keys (with a did-you-mean) and reads each key through the same checks::

      f = Fields("emulation", raw, keys=("backend", "step_s"), doc="docs/emulation.md")
      backend = f.choice("backend", "auto", BACKENDS)
      step_s = f.number("step_s", 1.0, lo=0, lo_open=True)

Numbers are finite: NaN and infinities are refused everywhere (YAML spells them ``.nan``
and ``.inf``), and booleans are never numbers.
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from ..errors import ConfigError

#: the longest name (ground station, shell, scenario) accepted: a DNS label's length
MAX_NAME_LENGTH = 63


def suggest(value: Any, choices: Iterable[str], otherwise: str, n: int = 3) -> str:
    """``did you mean 'x' or 'y'?`` for close matches of ``value``, else ``otherwise``."""
    close = difflib.get_close_matches(str(value), list(choices), n=n)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return otherwise


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e12 else f"{x:g}"


def describe_range(lo: Optional[float], hi: Optional[float], lo_open: bool = False,
                   hi_open: bool = False) -> str:
    """``[0, 90]``, ``(0, 1]``, ``> 0``, ``>= 0``, ``<= 5`` or ``any value``."""
    if lo is not None and hi is not None:
        return f"{'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_fmt(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {_fmt(hi)}"
    return "any value"


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def check_number(field: str, value: Any, lo: Optional[float] = None, hi: Optional[float] = None, *,
                 lo_open: bool = False, hi_open: bool = False, unit: str = "",
                 optional: bool = False, null_means: str = "no limit", integer: bool = False,
                 fix: Optional[str] = None) -> Any:
    """A finite number in the range (``integer``: a whole number, returned as ``int``;
    otherwise returned as ``float``). ``optional``: ``None`` passes through (and means
    ``null_means``, for messages).

    ``fix`` replaces the generic advice for an out-of-range value."""
    if value is None and optional:
        return None
    rng = describe_range(lo, hi, lo_open, hi_open)
    in_unit = f" {unit}" if unit else ""
    in_range = f" in {rng}" if lo is not None and hi is not None else (f" {rng}" if rng != "any value" else "")
    or_null = f", or null for {null_means}" if optional else ""
    kind = "whole number" if integer else "number"
    if not is_number(value) or (integer and not float(value).is_integer()):
        if isinstance(value, float) and not math.isfinite(value):
            problem = "must be a finite number"
        else:
            problem = f"must be a {kind}" + (" or null" if optional else "")
        raise ConfigError(field, value, problem, f"write a {kind}{in_range}{in_unit}{or_null}")
    v = float(value)
    too_low = lo is not None and (v <= lo if lo_open else v < lo)
    too_high = hi is not None and (v >= hi if hi_open else v > hi)
    if too_low or too_high:
        where = f"in {rng}" if lo is not None and hi is not None else rng
        raise ConfigError(field, value, f"must be {where}{in_unit}",
                          fix or (f"choose a value in {rng}" if lo is not None and hi is not None
                                  else f"write a {kind} {rng}") + or_null)
    return int(value) if integer else v


def check_choice(field: str, value: Any, choices: Sequence[str], problem: str = "unknown choice") -> str:
    """One of ``choices``; otherwise a did-you-mean or the list of choices."""
    if not isinstance(value, str) or value not in choices:
        listed = "use one of: " + ", ".join(choices)
        close = suggest(value, choices, "")
        raise ConfigError(field, value, problem, f"{close} ({listed})" if close else listed)
    return value


def check_flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(field, value, "must be true or false", "write true or false")
    return value


def check_mapping(field: str, value: Any, doc: str = "docs/scenarios.md", allow_none: bool = True,
                  example: Optional[str] = None) -> Mapping[str, Any]:
    """A mapping with string keys (``None`` is an empty mapping when ``allow_none``).
    The advice shows ``example`` when given, else points to ``doc``."""
    if value is None and allow_none:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(field, value, "must be a mapping of key: value",
                          f"write e.g. {example}" if example else f"see {doc}")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{field}.{key}", value[key], "keys must be text",
                              "write the key as a word (quote numbers and booleans)")
    return value


def check_keys(field: str, mapping: Mapping[str, Any], allowed: Iterable[str],
               label: str = "allowed") -> None:
    """Reject keys outside ``allowed``, naming the key and the closest allowed ones."""
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{field}.{key}", mapping[key], "unknown key",
                              suggest(key, sorted(allowed), f"{label}: " + ", ".join(sorted(allowed))))


def check_name(field: str, value: Any, what: str = "name") -> str:
    """A short printable name: no control characters, at most :data:`MAX_NAME_LENGTH`
    characters after trimming (numbers are accepted as names and turned into text)."""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise ConfigError(field, value, f"must be a non-empty {what}", "write a short name")
    text = str(value).strip()
    if any(not ch.isprintable() for ch in text):
        raise ConfigError(field, value, f"{what} has a control character (newline, tab, NUL ...)",
                          "use letters, digits, spaces, '-', '_' and '.'")
    if len(text) > MAX_NAME_LENGTH:
        raise ConfigError(field, text[:20] + "...", f"{what} is {len(text)} characters long",
                          f"use at most {MAX_NAME_LENGTH} characters")
    return text


def check_string(field: str, value: Any, optional: bool = False, example: str = "text") -> Optional[str]:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(field, value, "must be a non-empty string" + (" or null" if optional else ""),
                          f"write e.g. {example}")
    return value


def check_name_list(field: str, value: Any, what: str = "ground station", optional: bool = True,
                    comma_string: bool = True) -> Optional[List[str]]:
    """A non-empty list of distinct names (``A,B`` is accepted as a list when
    ``comma_string``); ``None`` when ``optional``."""
    if value is None and optional:
        return None
    if comma_string and isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(field, value, f"must be a non-empty list of {what} names", "write [A, B]")
    if len(set(value)) != len(value):
        dup = sorted({v for v in value if value.count(v) > 1})
        raise ConfigError(field, dup, f"lists a {what} twice", f"name each {what} once")
    return list(value)


class Fields:
    """A mapping of the scenario at the dotted path ``where``, read key by key.

    Construction checks that ``raw`` is a mapping (``None`` counts as empty) and, when
    ``keys`` is given, that it has no other keys. Each reader returns the checked value,
    or ``default`` when the key is absent."""

    def __init__(self, where: str, raw: Any, keys: Optional[Iterable[str]] = None, *,
                 doc: str = "docs/scenarios.md", label: str = "allowed", example: Optional[str] = None):
        self.where = where
        self.doc = doc
        self.raw: Mapping[str, Any] = check_mapping(where, raw, doc, example=example)
        if keys is not None:
            check_keys(where, self.raw, keys, label)

    def at(self, key: str) -> str:
        """The dotted field name of ``key``."""
        return f"{self.where}.{key}"

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, default: Any = None) -> Any:
        """The raw value (unchecked)."""
        return self.raw.get(key, default)

    def require(self, key: str, hint: str) -> Any:
        """The raw value of a mandatory key."""
        if key not in self.raw:
            raise ConfigError(self.at(key), None, "missing", hint)
        return self.raw[key]

    def number(self, key: str, default: Any, lo: Optional[float] = None, hi: Optional[float] = None,
               **kw: Any) -> Any:
        return check_number(self.at(key), self.raw.get(key, default), lo, hi, **kw)

    def integer(self, key: str, default: Any, lo: Optional[float] = None, hi: Optional[float] = None,
                **kw: Any) -> Any:
        return check_number(self.at(key), self.raw.get(key, default), lo, hi, integer=True, **kw)

    def choice(self, key: str, default: Any, choices: Sequence[str], problem: str = "unknown choice") -> str:
        return check_choice(self.at(key), self.raw.get(key, default), choices, problem)

    def flag(self, key: str, default: bool) -> bool:
        return check_flag(self.at(key), self.raw.get(key, default))

    def string(self, key: str, default: Any, **kw: Any) -> Optional[str]:
        return check_string(self.at(key), self.raw.get(key, default), **kw)

    def names(self, key: str, default: Any = None, **kw: Any) -> Optional[List[str]]:
        return check_name_list(self.at(key), self.raw.get(key, default), **kw)

    def sub(self, key: str, keys: Optional[Iterable[str]] = None, doc: Optional[str] = None,
            example: Optional[str] = None) -> "Fields":
        """The nested mapping at ``key`` (absent or null: empty)."""
        return Fields(self.at(key), self.raw.get(key), keys, doc=doc or self.doc, example=example)
