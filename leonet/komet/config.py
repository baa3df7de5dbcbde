"""The scenario's ``komet:`` section, validated (declared in :mod:`leonet.schema`).
Every key is optional::

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

Command-line options override these values (:meth:`KometConfig.with_overrides`).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..schema import Fields, register_section, suggest
from .strategies import (AGGREGATES, DEFAULT_THRESHOLD, SOLVERS, STICKY_CANDIDATES, STRATEGIES, TIE_BREAKS,
                         Strategy, Threshold, make_strategy)
from .trace import DEFAULT_HYSTERESIS_US

if TYPE_CHECKING:
    from ..orbits.scenario import Scenario

DOC = "docs/komet.md"


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
    """A config object back as the raw mapping it parses from."""
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


def _parse_trace(f: Fields) -> TraceConfig:
    d = TraceConfig()
    trace = TraceConfig(
        start_offset_s=f.number("start_offset_s", d.start_offset_s, lo=0, unit="s"),
        duration_s=f.number("duration_s", d.duration_s, lo=0, lo_open=True, unit="s"),
        step_s=f.number("step_s", d.step_s, lo=0, lo_open=True, unit="s"),
        hysteresis_us=f.number("hysteresis_us", d.hysteresis_us, lo=0, unit="us"))
    if trace.duration_s < trace.step_s:
        raise ConfigError(f.at("duration_s"), trace.duration_s, f"is shorter than one step ({trace.step_s:g} s)",
                          "give a longer duration or a shorter step")
    return trace


def parse_komet_section(raw: Any, scenario: Optional["Scenario"] = None, where: str = "komet") -> KometConfig:
    """Validate a raw ``komet:`` mapping (``None`` gives the defaults). With a
    ``scenario``, the client patterns must each match one of its ground stations."""
    f = Fields(where, raw, [x.name for x in fields(KometConfig)], doc=DOC)
    d = KometConfig()
    try:
        clients = f.names("clients", what="client")
    except ConfigError as exc:
        fix = 'write e.g. [redmond] or ["buoy-*"] (names or patterns)' if exc.problem.startswith("must") else exc.fix
        raise ConfigError(exc.field, exc.value, exc.problem, fix) from None
    cfg = KometConfig(
        clients=None if clients is None else tuple(clients),
        strategy=f.choice("strategy", d.strategy, STRATEGIES),
        threshold=Threshold.parse(f.get("threshold", d.threshold), f.at("threshold")),
        aggregate=f.choice("aggregate", d.aggregate, AGGREGATES),
        tie_break=f.choice("tie_break", d.tie_break, TIE_BREAKS),
        hitting_set=f.choice("hitting_set", d.hitting_set, SOLVERS),
        max_replicas=f.integer("max_replicas", d.max_replicas, lo=1, optional=True, null_means="no cap"),
        sticky_candidates=f.integer("sticky_candidates", d.sticky_candidates, lo=1),
        active_only=f.flag("active_only", d.active_only),
        trace=_parse_trace(f.sub("trace", [x.name for x in fields(TraceConfig)])))
    try:       # a combination that cannot work (e.g. a 100 % switching threshold) is refused here
        make_strategy(cfg.strategy, cfg.threshold, cfg.aggregate, cfg.tie_break, cfg.hitting_set, cfg.max_replicas,
                      cfg.sticky_candidates)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc.field}", exc.value, exc.problem, exc.fix) from None
    if scenario is not None:
        resolve_clients(scenario, cfg.clients, f.at("clients"))
    return cfg


def komet_config(scenario: "Scenario") -> KometConfig:
    """The validated ``komet:`` section of a scenario (defaults if absent)."""
    return scenario.config("komet")


def resolve_clients(scenario: "Scenario", patterns: Optional[Sequence[str]], where: str = "komet.clients"
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
            raise ConfigError(where, p, "matches no ground station",
                              suggest(p, names, "list them with `leonet info SCENARIO`", n=1))
        chosen.update(hits)
    return [n for n in names if n in chosen]


register_section("komet", parse_komet_section, DOC)
