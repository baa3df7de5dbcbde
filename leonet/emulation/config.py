"""The scenario's ``emulation:`` section, validated before anything starts::

    emulation:
      backend: auto              # auto | netem | nfqueue | none
      step_s: 1.0                # controller tick (emulated seconds)
      speed: 1.0                 # emulated seconds per wall second (geometry-only runs: > 1)
      offset_s: 0                # start this many seconds after the scenario's start
      routes: all                # all: every node to every node | ground-stations
      delay_update_threshold_ms: 0.05
      nodes: namespace           # namespace | docker (see docs/containers.md)

Command-line options override these keys.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

from ..errors import ConfigError
from ..orbits import Scenario

BACKENDS = ("auto", "netem", "nfqueue", "none")
ROUTE_SETS = ("all", "ground-stations")
NODE_KINDS = ("namespace", "docker")


@dataclass(frozen=True)
class EmulationConfig:
    backend: str = "auto"
    step_s: float = 1.0
    speed: float = 1.0
    offset_s: float = 0.0
    #: ``all``: routes from every node to every node (needed for traffic to satellites);
    #: ``ground-stations``: only routes towards ground stations (much smaller tables)
    routes: str = "all"
    #: a link's delay is re-applied when it moved by more than this. Small by default,
    #: because errors add up along multi-hop paths (Celestial used 0.5 ms)
    delay_update_threshold_ms: float = 0.05
    nodes: str = "namespace"

    def with_overrides(self, **kw: Any) -> "EmulationConfig":
        return parse_emulation_section({**self.__dict__, **{k: v for k, v in kw.items() if v is not None}})


def _choice(field: str, value: Any, choices: tuple) -> str:
    if value not in choices:
        raise ConfigError(field, value, "unknown value", "use one of: " + ", ".join(choices))
    return value


def _positive(field: str, value: Any, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(field, value, "must be a positive number" if not allow_zero else "must be >= 0",
                          "write a number" + (" > 0" if not allow_zero else ""))
    return float(value)


def parse_emulation_section(raw: Optional[Mapping[str, Any]]) -> EmulationConfig:
    raw = dict(raw or {})
    known = set(EmulationConfig.__dataclass_fields__)
    for key in raw:
        if key not in known:
            import difflib
            close = difflib.get_close_matches(key, sorted(known), n=1)
            raise ConfigError(f"emulation.{key}", raw[key], "unknown key",
                              f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(sorted(known)))
    d = EmulationConfig()
    return EmulationConfig(
        backend=_choice("emulation.backend", raw.get("backend", d.backend), BACKENDS),
        step_s=_positive("emulation.step_s", raw.get("step_s", d.step_s)),
        speed=_positive("emulation.speed", raw.get("speed", d.speed)),
        offset_s=_positive("emulation.offset_s", raw.get("offset_s", d.offset_s), allow_zero=True),
        routes=_choice("emulation.routes", raw.get("routes", d.routes), ROUTE_SETS),
        delay_update_threshold_ms=_positive("emulation.delay_update_threshold_ms",
                                            raw.get("delay_update_threshold_ms", d.delay_update_threshold_ms),
                                            allow_zero=True),
        nodes=_choice("emulation.nodes", raw.get("nodes", d.nodes), NODE_KINDS),
    )


def emulation_config(scenario: Scenario) -> EmulationConfig:
    return parse_emulation_section(scenario.sections.get("emulation"))


__all__ = ["EmulationConfig", "emulation_config", "parse_emulation_section", "replace"]
