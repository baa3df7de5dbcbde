"""The scenario's ``emulation:`` section, validated before anything starts::

    emulation:
      backend: auto              # auto | netem | nfqueue | none
      step_s: 1.0                # controller tick (emulated seconds)
      speed: 1.0                 # emulated seconds per wall second (geometry-only runs: > 1)
      offset_s: 0                # start this many seconds after the scenario's start
      routes: all                # all: every node to every node | ground-stations
      delay_update_threshold_ms: 0.05
      nodes: namespace           # namespace | docker | containernet (see docs/containers.md)
      abort_on_overload: false   # stop the run when the delay backend cannot hold its accuracy
      nfqueue_daemon: c          # c (compiled, multi-threaded) | python (single-threaded, ~10x slower)

Command-line options override these keys.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

from ..orbits import Scenario
from ..schema import Fields, register_section

#: the delay backends (docs/shaping.md); ``auto`` picks netem where the kernel has it
BACKENDS = ("auto", "netem", "nfqueue", "none")
ROUTE_SETS = ("all", "ground-stations")
#: namespace: bare namespaces; docker: leonet's Docker hosts; containernet: Containernet's (docs/containers.md)
NODE_KINDS = ("namespace", "docker", "containernet")
#: the nfqueue backend's data path: the compiled daemon, or the original Python one (docs/shaping.md)
NFQUEUE_DAEMONS = ("c", "python")


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
    #: stop the run (exit status 3 on the command line) as soon as the delay backend
    #: reports that it cannot hold its stated accuracy (docs/shaping.md, "Overload")
    abort_on_overload: bool = False
    #: the nfqueue backend's daemon: ``c`` (compiled, built by the installer or on first
    #: use) or ``python`` (the original single-threaded one: no compiler needed, about
    #: 10x less throughput); ignored by the other backends
    nfqueue_daemon: str = "c"

    def with_overrides(self, **kw: Any) -> "EmulationConfig":
        """This configuration with the given keys replaced (``None`` keeps a key), validated."""
        return parse_emulation_section({**self.__dict__, **{k: v for k, v in kw.items() if v is not None}})


def parse_emulation_section(raw: Optional[Mapping[str, Any]], scenario: Optional[Scenario] = None) -> EmulationConfig:
    f = Fields("emulation", raw, EmulationConfig.__dataclass_fields__, doc="docs/emulation.md")
    d = EmulationConfig()
    return EmulationConfig(
        backend=f.choice("backend", d.backend, BACKENDS),
        step_s=f.number("step_s", d.step_s, lo=0, lo_open=True, unit="s"),
        speed=f.number("speed", d.speed, lo=0, lo_open=True),
        offset_s=f.number("offset_s", d.offset_s, lo=0, unit="s"),
        routes=f.choice("routes", d.routes, ROUTE_SETS),
        delay_update_threshold_ms=f.number("delay_update_threshold_ms", d.delay_update_threshold_ms, lo=0,
                                           unit="ms"),
        nodes=f.choice("nodes", d.nodes, NODE_KINDS),
        abort_on_overload=f.flag("abort_on_overload", d.abort_on_overload),
        nfqueue_daemon=f.choice("nfqueue_daemon", d.nfqueue_daemon, NFQUEUE_DAEMONS),
    )


def emulation_config(scenario: Scenario) -> EmulationConfig:
    return scenario.config("emulation")


register_section("emulation", parse_emulation_section, "docs/emulation.md")

__all__ = ["BACKENDS", "NFQUEUE_DAEMONS", "EmulationConfig", "emulation_config", "parse_emulation_section", "replace"]
