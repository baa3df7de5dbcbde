"""The scenario's ``komet:`` section, validated. Every key is optional::

    komet:
      clients: [redmond]        # ground-station names or glob patterns ("buoy-*"); default: all
      strategy: one-to-one      # minmax | minmax-many | one-to-one | many-to-one | many-to-many | sticky
      threshold: 0.1            # 0.1 or "10%" (relative), "500us" / "1ms" (absolute, one way)
      aggregate: rms            # many-to-one score: rms | sum
      tie_break: ever           # many-to-many hitting-set ties: ever | current
      hitting_set: greedy       # many-to-many: greedy | exact
      max_replicas: null        # many-to-many: cap on the greedy set
      sticky_candidates: 5      # Sticky: longest-staying candidates kept
      active_only: false        # only satellites inside topology.bounding_box may serve
      trace:
        start_offset_s: 0       # seconds after the scenario start
        duration_s: 1200
        step_s: 1
        hysteresis_us: 500      # Celestial's trace update threshold; 0: exact distances

Command-line options override these values.
"""
from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field, fields
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..orbits import Scenario
from .strategies import (AGGREGATES, DEFAULT_THRESHOLD, SOLVERS, STICKY_CANDIDATES, STRATEGIES, TIE_BREAKS,
                         Strategy, Threshold, make_strategy)
from .trace import DEFAULT_HYSTERESIS_US


@dataclass(frozen=True)
class TraceConfig:
    start_offset_s: float = 0.0
    duration_s: float = 1200.0
    step_s: float = 1.0
    hysteresis_us: float = DEFAULT_HYSTERESIS_US


@dataclass(frozen=True)
class KometConfig:
    clients: Optional[Tuple[str, ...]] = None
    strategy: str = "many-to-one"
    threshold: Threshold = field(default_factory=lambda: Threshold(DEFAULT_THRESHOLD))
    aggregate: str = "rms"
    tie_break: str = "ever"
    hitting_set: str = "greedy"
    max_replicas: Optional[int] = None
    sticky_candidates: int = STICKY_CANDIDATES
    active_only: bool = False
    trace: TraceConfig = field(default_factory=TraceConfig)

    def make_strategy(self) -> Strategy:
        """A fresh strategy as configured (a ConfigError names a bad combination)."""
        try:
            return make_strategy(self.strategy, self.threshold, self.aggregate, self.tie_break, self.hitting_set,
                                 self.max_replicas, self.sticky_candidates)
        except ConfigError as exc:
            raise ConfigError(f"komet.{exc.field}", exc.value, exc.problem, exc.fix) from None

    def with_overrides(self, where: str = "komet", **values: Any) -> "KometConfig":
        """A copy with the non-None values replaced (command-line options), validated
        again (errors name ``where`` and the key)."""
        trace_keys = {f.name for f in fields(TraceConfig)}
        top = {k: v for k, v in values.items() if v is not None and k not in trace_keys}
        tr = {k: v for k, v in values.items() if v is not None and k in trace_keys}
        raw = {**_as_raw(self), **top, "trace": {**_as_raw(self.trace), **tr}}
        return parse_komet_section(raw, where=where)


def _as_raw(obj) -> dict:
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, Threshold):
            v = str(v) if v.is_absolute else v.relative
        elif isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, TraceConfig):
            continue
        out[f.name] = v
    return out


def _keys(where: str, raw: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=2)
            raise ConfigError(f"{where}.{key}", raw[key], "unknown key",
                              ("did you mean " + " or ".join(repr(c) for c in close) + "?") if close
                              else "allowed: " + ", ".join(allowed))


def _mapping(where: str, raw: Any) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(where, raw, "must be a mapping of key: value", "see docs/komet.md")
    return raw


def _choice(where: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        raise ConfigError(where, value, "unknown choice",
                          f"did you mean {close[0]!r}?" if close else "use " + " or ".join(choices))
    return value


def _number(where: str, value: Any, lo: float, positive: bool = False, example: str = "1") -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and (value > lo if positive else value >= lo)
    if not ok:
        raise ConfigError(where, value, f"must be a number {'>' if positive else '>='} {lo:g}", f"write e.g. {example}")
    return float(value)


def _whole(where: str, value: Any, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(where, value, f"must be a whole number >= {lo}", f"write e.g. {max(lo, 5)}")
    return value


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(where, value, "must be true or false", "write true or false")
    return value


def _clients(where: str, value: Any) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(where, value, "must be a non-empty list of ground-station names or patterns",
                          'write e.g. [redmond] or ["buoy-*"]')
    if len(set(value)) != len(value):
        dup = sorted({v for v in value if value.count(v) > 1})
        raise ConfigError(where, dup, "lists a client twice", "name each client once")
    return tuple(value)


def parse_komet_section(raw: Any, where: str = "komet") -> KometConfig:
    """Validate a raw ``komet:`` mapping (``None`` gives the defaults)."""
    raw = _mapping(where, raw)
    top = [f.name for f in fields(KometConfig)]
    _keys(where, raw, top)
    t = _mapping(f"{where}.trace", raw.get("trace"))
    _keys(f"{where}.trace", t, [f.name for f in fields(TraceConfig)])
    d, dt = KometConfig(), TraceConfig()
    trace = TraceConfig(
        start_offset_s=_number(f"{where}.trace.start_offset_s", t.get("start_offset_s", dt.start_offset_s), 0.0,
                               example="40500"),
        duration_s=_number(f"{where}.trace.duration_s", t.get("duration_s", dt.duration_s), 0.0, True, "1200"),
        step_s=_number(f"{where}.trace.step_s", t.get("step_s", dt.step_s), 0.0, True, "1"),
        hysteresis_us=_number(f"{where}.trace.hysteresis_us", t.get("hysteresis_us", dt.hysteresis_us), 0.0,
                              example="500"))
    if trace.duration_s < trace.step_s:
        raise ConfigError(f"{where}.trace.duration_s", trace.duration_s, f"is shorter than one step ({trace.step_s:g} s)",
                          "give a longer duration or a shorter step")
    max_replicas = raw.get("max_replicas", d.max_replicas)
    cfg = KometConfig(
        clients=_clients(f"{where}.clients", raw.get("clients")),
        strategy=_choice(f"{where}.strategy", raw.get("strategy", d.strategy), STRATEGIES),
        threshold=Threshold.parse(raw.get("threshold", d.threshold), f"{where}.threshold"),
        aggregate=_choice(f"{where}.aggregate", raw.get("aggregate", d.aggregate), AGGREGATES),
        tie_break=_choice(f"{where}.tie_break", raw.get("tie_break", d.tie_break), TIE_BREAKS),
        hitting_set=_choice(f"{where}.hitting_set", raw.get("hitting_set", d.hitting_set), SOLVERS),
        max_replicas=None if max_replicas is None else _whole(f"{where}.max_replicas", max_replicas),
        sticky_candidates=_whole(f"{where}.sticky_candidates", raw.get("sticky_candidates", d.sticky_candidates)),
        active_only=_flag(f"{where}.active_only", raw.get("active_only", d.active_only)),
        trace=trace)
    try:
        make_strategy(cfg.strategy, cfg.threshold, cfg.aggregate, cfg.tie_break, cfg.hitting_set, cfg.max_replicas,
                      cfg.sticky_candidates)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc.field}", exc.value, exc.problem, exc.fix) from None
    return cfg


def komet_config(scenario: Scenario) -> KometConfig:
    """The validated ``komet:`` section of a scenario (defaults if absent)."""
    return parse_komet_section(scenario.sections.get("komet"))


def resolve_clients(scenario: Scenario, patterns: Optional[Sequence[str]], where: str = "komet.clients"
                    ) -> List[str]:
    """Ground-station names matching ``patterns`` (names or globs), in scenario order;
    every ground station when None. A pattern that matches nothing is an error."""
    names = [g.name for g in scenario.ground_stations]
    if patterns is None:
        if not names:
            raise ConfigError(where, None, "the scenario has no ground stations", "add the clients as ground_stations")
        return names
    chosen = set()
    for p in patterns:
        hits = fnmatch.filter(names, p)
        if not hits:
            close = difflib.get_close_matches(p, names, n=1)
            raise ConfigError(where, p, "matches no ground station",
                              f"did you mean {close[0]!r}?" if close else "list them with `leonet info SCENARIO`")
        chosen.update(hits)
    return [n for n in names if n in chosen]


