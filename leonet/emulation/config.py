"""The scenario's ``emulation:`` section, validated before anything starts::

    emulation:
      backend: auto              # auto | netem | nfqueue | none
      step_s: 1.0                # controller tick (emulated seconds)
      speed: 1.0                 # emulated seconds per wall second (geometry-only runs: > 1)
      offset_s: 0                # start this many seconds after the scenario's start
      routes: all                # all: every node to every node | ground-stations | bounding-box
      routes_horizon_s: 3600     # bounding-box: satellites in the box within this time of the start
      delay_update_threshold_ms: 0.05
      route_hysteresis_ms: 0      # keep a route while within this of the least delay
      route_nexthops: objects     # objects: routes name kernel next-hop objects | inline: their gateway
      route_prefixes: aggregate   # aggregate: the first table as fewest exact prefix routes | host: a /32 each
      route_groups: none          # none | slot: ground stations group routes by the destination's orbit position
      route_group_slots: 3        # slot: consecutive orbit positions (slots) per group
      nodes: namespace           # namespace | docker | containernet (see docs/containers.md)
      forwarding: hop-by-hop     # hop-by-hop | per-pair (Celestial's model, docs/forwarding.md)
      forwarding_table: kernel   # kernel: routes | ebpf: one BPF map, written in place (no route operations)
      abort_on_overload: false   # stop the run when the delay backend cannot hold its accuracy
      nfqueue_daemon: c          # c (compiled, multi-threaded) | python (single-threaded, ~10x slower)

Command-line options override these keys.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

from ..errors import ConfigError
from ..orbits import Scenario
from ..schema import Fields, register_section
from ..topology.groups import ROUTE_GROUPINGS

#: the delay backends (docs/shaping.md); ``auto`` picks netem where the kernel has it
BACKENDS = ("auto", "netem", "nfqueue", "none")
ROUTE_SETS = ("all", "ground-stations", "bounding-box")
#: namespace: bare namespaces; docker: leonet's Docker hosts; containernet: Containernet's (docs/containers.md)
NODE_KINDS = ("namespace", "docker", "containernet")
#: hop-by-hop: packets cross every ISL and GSL of their path; per-pair: every pair of active
#: nodes has one direct virtual link with its path's delay (Celestial's model, docs/forwarding.md)
FORWARDING_MODES = ("hop-by-hop", "per-pair")

#: objects: routes name a kernel next-hop object (``ip nexthop``, Linux >= 5.3) that a handover
#: re-points once for all its routes; inline: every route names its gateway (emulation/nexthops.py)
ROUTE_NEXTHOPS = ("objects", "inline")

#: aggregate: the first table goes in as the fewest prefix routes that forward exactly as a /32
#: per destination would (emulation/aggregate.py; needs next-hop objects); host: a /32 each
ROUTE_PREFIXES = ("aggregate", "host")

#: kernel: each node's next hops are kernel routes; ebpf: all nodes' next hops are one BPF map
#: that a program on each node's route for the node range reads, written without system calls
#: (emulation/ebpf_table.py)
FORWARDING_TABLES = ("kernel", "ebpf")

#: the nfqueue backend's data path: the compiled daemon, or the original Python one (docs/shaping.md)
NFQUEUE_DAEMONS = ("c", "python")


@dataclass(frozen=True)
class EmulationConfig:
    backend: str = "auto"
    step_s: float = 1.0
    speed: float = 1.0
    offset_s: float = 0.0
    #: ``all``: routes from every node to every node (needed for traffic to satellites);
    #: ``ground-stations``: only routes towards ground stations (much smaller tables);
    #: ``bounding-box``: towards ground stations and the satellites that are inside
    #: ``topology.bounding_box`` at some time within ``routes_horizon_s`` of the start (the
    #: satellites that can host software, as in Celestial; every satellite still forwards)
    routes: str = "all"
    routes_horizon_s: float = 3600.0
    #: a link's delay is re-applied when it moved by more than this. Small by default,
    #: because errors add up along multi-hop paths (Celestial used 0.5 ms)
    delay_update_threshold_ms: float = 0.05
    #: keep a node's next hop while its path stays within this of the least delay (0: always
    #: the least-delay tree); fewer route changes per tick, paths up to this much longer
    route_hysteresis_ms: float = 0.0
    #: ``objects``: routes point at per-node next-hop objects, so moving all the routes that
    #: used a vanished GSL is one operation (docs/emulation.md, "Routes"); ``inline``: each
    #: route names its gateway (the behaviour before, and for kernels without next-hop objects)
    route_nexthops: str = "objects"
    #: ``slot``: a ground station's routes get next-hop objects per group of destinations
    #: (their position in their orbit, ``route_group_slots`` slots a group), and with route
    #: hysteresis a group's routes move to a new uplink together while every one stays within
    #: ``route_hysteresis_ms`` (docs/emulation.md, "Routes"); ``none``: objects per node
    route_groups: str = "none"
    route_group_slots: int = 3
    #: ``aggregate``: bring-up installs the first table as the fewest prefix routes that forward
    #: exactly as one /32 route per destination (about 5x fewer at shell 1: a faster bring-up,
    #: less kernel memory); later changes are /32 routes over them, a lost route a /32 throw
    #: route (docs/emulation.md, "Routes"). ``host``: a /32 route per destination throughout.
    #: Routes through next-hop objects only; with ``route_nexthops: inline`` the default is host.
    route_prefixes: str = "aggregate"
    nodes: str = "namespace"
    forwarding: str = "hop-by-hop"
    #: ``kernel``: the next hops are kernel routes (route_nexthops, route_prefixes and
    #: route_groups say how); ``ebpf``: every node's next hops live in one BPF map that the
    #: node's programs read and this process writes in place, so a tick's route changes cost
    #: no kernel operation (docs/emulation.md, "Forwarding tables in a BPF map")
    forwarding_table: str = "kernel"
    #: stop the run (exit status 3 on the command line) as soon as the delay backend
    #: reports that it cannot hold its stated accuracy (docs/shaping.md, "Overload")
    abort_on_overload: bool = False
    #: the nfqueue backend's daemon: ``c`` (compiled, built by the installer or on first
    #: use) or ``python`` (the original single-threaded one: no compiler needed, about
    #: 10x less throughput); ignored by the other backends
    nfqueue_daemon: str = "c"

    def with_overrides(self, **kw: Any) -> "EmulationConfig":
        """This configuration with the given keys replaced (``None`` keeps a key), validated."""
        base = dict(self.__dict__)
        if kw.get("route_nexthops") is not None and kw.get("route_prefixes") is None:
            del base["route_prefixes"]      # the default that goes with the new route_nexthops
        return parse_emulation_section({**base, **{k: v for k, v in kw.items() if v is not None}})


def parse_emulation_section(raw: Optional[Mapping[str, Any]], scenario: Optional[Scenario] = None) -> EmulationConfig:
    f = Fields("emulation", raw, EmulationConfig.__dataclass_fields__, doc="docs/emulation.md")
    d = EmulationConfig()
    return EmulationConfig(
        backend=f.choice("backend", d.backend, BACKENDS),
        step_s=f.number("step_s", d.step_s, lo=0, lo_open=True, unit="s"),
        speed=f.number("speed", d.speed, lo=0, lo_open=True),
        offset_s=f.number("offset_s", d.offset_s, lo=0, unit="s"),
        routes=_route_set(f, d, scenario),
        routes_horizon_s=f.number("routes_horizon_s", d.routes_horizon_s, lo=0, hi=30 * 86400, unit="s"),
        delay_update_threshold_ms=f.number("delay_update_threshold_ms", d.delay_update_threshold_ms, lo=0,
                                           unit="ms"),
        route_hysteresis_ms=f.number("route_hysteresis_ms", d.route_hysteresis_ms, lo=0, hi=10, unit="ms"),
        route_nexthops=f.choice("route_nexthops", d.route_nexthops, ROUTE_NEXTHOPS),
        route_groups=_route_groups(f, d),
        route_group_slots=f.integer("route_group_slots", d.route_group_slots, lo=1, hi=1000),
        route_prefixes=_route_prefixes(f, d),
        nodes=f.choice("nodes", d.nodes, NODE_KINDS),
        forwarding=_forwarding(f, d),
        forwarding_table=_forwarding_table(f, d),
        abort_on_overload=f.flag("abort_on_overload", d.abort_on_overload),
        nfqueue_daemon=f.choice("nfqueue_daemon", d.nfqueue_daemon, NFQUEUE_DAEMONS),
    )


def _route_set(f: Fields, d: EmulationConfig, scenario: Optional[Scenario]) -> str:
    routes = f.choice("routes", d.routes, ROUTE_SETS)
    if routes == "bounding-box" and scenario is not None and scenario.config("topology").bounding_box is None:
        raise ConfigError(f.at("routes"), routes, "needs a bounding box", "set topology.bounding_box, "
                          "or use routes: all")
    return routes


def _route_groups(f: Fields, d: EmulationConfig) -> str:
    groups = f.choice("route_groups", d.route_groups, ROUTE_GROUPINGS)
    if groups != "none" and f.get("route_nexthops", d.route_nexthops) != "objects":
        raise ConfigError(f.at("route_groups"), groups, "needs routes through next-hop objects",
                          "set emulation.route_nexthops: objects, or route_groups: none")
    return groups


def _route_prefixes(f: Fields, d: EmulationConfig) -> str:
    inline = f.get("route_nexthops", d.route_nexthops) != "objects"
    prefixes = f.choice("route_prefixes", "host" if inline else d.route_prefixes, ROUTE_PREFIXES)
    if prefixes == "aggregate" and inline:
        raise ConfigError(f.at("route_prefixes"), prefixes, "needs routes through next-hop objects",
                          "set emulation.route_nexthops: objects, or route_prefixes: host")
    return prefixes


def _forwarding_table(f: Fields, d: EmulationConfig) -> str:
    table = f.choice("forwarding_table", d.forwarding_table, FORWARDING_TABLES)
    if table == "ebpf" and f.get("forwarding", d.forwarding) == "per-pair":
        raise ConfigError(f.at("forwarding_table"), table, "applies to hop-by-hop forwarding only (per-pair "
                          "forwarding has a direct link per pair and no next hops)",
                          "set emulation.forwarding: hop-by-hop, or forwarding_table: kernel")
    return table


def _forwarding(f: Fields, d: EmulationConfig) -> str:
    mode = f.choice("forwarding", d.forwarding, FORWARDING_MODES)
    if mode == "per-pair" and f.get("routes", "all") != "all":
        raise ConfigError(f.at("routes"), f.get("routes"), "does not apply to per-pair forwarding (every node "
                          "reaches every other one over their direct link)", "remove emulation.routes")
    return mode


def emulation_config(scenario: Scenario) -> EmulationConfig:
    return scenario.config("emulation")


register_section("emulation", parse_emulation_section, "docs/emulation.md")

__all__ = ["BACKENDS", "NFQUEUE_DAEMONS", "ROUTE_NEXTHOPS", "EmulationConfig", "emulation_config",
           "parse_emulation_section", "replace"]
