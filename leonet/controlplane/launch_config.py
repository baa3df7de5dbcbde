"""The scenario's ``controlplane:`` section, validated before anything starts::

    controlplane:
      backend: embedded              # embedded | k3s
      ground_stations: [Berlin]      # hosts of a control plane: a list of names, or `all`
      port: 6443
      scheduler: true                # false: leave every pod to an external scheduler
      node_monitor_period: 5         # s (Kubernetes' defaults)
      node_monitor_grace_period: 40  # s
      default_toleration_seconds: 300
      orphan_pod_grace: 20           # s
      agents:
        satellites: all              # all | none | a list of satellite names | a count N (spread evenly)
        initial: nearest             # nearest | round-robin | a ground station of the list above
        assign: {s0p0n0: Berlin}     # per-satellite initial control plane (overrides `initial`)
        process: separate            # separate: one extra process for all agents | inline: a thread of the run
        lease_duration_seconds: 40
        renew_interval: 10
        status_update_frequency: 10
        request_timeout: 10          # s, per API request of an agent
        register_concurrency: 64     # agents registering at once (0: all at once)
        pod_runtime: process         # process: pods as processes | docker: as Docker containers (tens of pods)

Names are checked against the run's nodes, so a typo fails before bring-up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..schema import Fields, register_section, suggest

if TYPE_CHECKING:
    from ..orbits import Scenario

BACKENDS = ("embedded", "k3s")
INITIAL = ("nearest", "round-robin")
AGENT_PROCESS = ("separate", "inline")
#: pod runtimes (:func:`leonet.controlplane.agent.runtime.make_runtime`)
POD_RUNTIMES = ("process", "docker")


@dataclass(frozen=True)
class AgentsConfig:
    satellites: Tuple[str, ...] = ()        #: satellite names that run an agent (resolved)
    initial: str = "nearest"
    assign: Dict[str, str] = field(default_factory=dict)
    process: str = "separate"
    lease_duration_seconds: int = 40
    renew_interval: float = 10.0
    status_update_frequency: float = 10.0
    request_timeout: float = 10.0
    register_concurrency: int = 64
    pod_runtime: str = "process"


@dataclass(frozen=True)
class ControlPlaneLaunchConfig:
    backend: str = "embedded"
    ground_stations: Tuple[str, ...] = ()   #: ground-station names that host a control plane (resolved)
    port: int = 6443
    scheduler: bool = True
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    default_toleration_seconds: int = 300
    orphan_pod_grace: float = 20.0
    agents: AgentsConfig = field(default_factory=AgentsConfig)


_TOP_KEYS = ("backend", "ground_stations", "port", "scheduler", "node_monitor_period",
             "node_monitor_grace_period", "default_toleration_seconds", "orphan_pod_grace", "agents")
_AGENT_KEYS = ("satellites", "initial", "assign", "process", "lease_duration_seconds", "renew_interval",
               "status_update_frequency", "request_timeout", "register_concurrency", "pod_runtime")


def _name_in(fieldname: str, value: Any, names: Sequence[str], what: str) -> str:
    if not isinstance(value, str) or value not in names:
        raise ConfigError(fieldname, value, f"not a {what} of the scenario",
                          suggest(value, names, f"{what}s: " + ", ".join(list(names)[:8])
                                  + (" ..." if len(names) > 8 else "")))
    return value


def _spread(names: Sequence[str], count: int) -> Tuple[str, ...]:
    """``count`` names spread evenly over ``names`` (which is ordered shell, plane, slot)."""
    n = len(names)
    return tuple(names[(k * n) // count] for k in range(count))


def _satellites(fieldname: str, value: Any, satellites: Sequence[str]) -> Tuple[str, ...]:
    if value == "all":
        return tuple(satellites)
    if value in ("none", None):
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= len(satellites):
            raise ConfigError(fieldname, value, f"must be between 0 and {len(satellites)} (the satellites)",
                              "write a smaller count, or `all`")
        return _spread(satellites, value)
    if isinstance(value, list):
        out = tuple(_name_in(f"{fieldname}[{i}]", v, satellites, "satellite") for i, v in enumerate(value))
        dupes = {v for v in out if out.count(v) > 1}
        if dupes:
            raise ConfigError(fieldname, sorted(dupes)[0], "listed twice", "list every satellite once")
        return out
    raise ConfigError(fieldname, value, "must be all, none, a count or a list of satellite names",
                      "e.g. `satellites: all`, `satellites: 100` or `satellites: [s0p0n0, s0p1n3]`")


def _planes(f: Fields, ground_stations: Sequence[str], named_elsewhere: bool = False) -> Tuple[str, ...]:
    gs_raw = f.get("ground_stations")
    if gs_raw is None and named_elsewhere:
        return ()
    if gs_raw == "all":
        planes = tuple(ground_stations)
    elif isinstance(gs_raw, list) and gs_raw:
        planes = tuple(_name_in(f"{f.at('ground_stations')}[{i}]", v, ground_stations, "ground station")
                       for i, v in enumerate(gs_raw))
        if len(set(planes)) != len(planes):
            raise ConfigError(f.at("ground_stations"), gs_raw, "lists a ground station twice",
                              "list every ground station once")
    else:
        raise ConfigError(f.at("ground_stations"), gs_raw,
                          "must be `all` or a non-empty list of ground-station names",
                          "e.g. `ground_stations: [" + ", ".join(list(ground_stations)[:2]) + "]`")
    if not planes:
        raise ConfigError(f.at("ground_stations"), gs_raw, "the scenario has no ground stations",
                          "add ground stations to the scenario")
    return planes


def _agents(a: Fields, planes: Tuple[str, ...], satellites: Sequence[str]) -> AgentsConfig:
    da = AgentsConfig()
    sats = _satellites(a.at("satellites"), a.get("satellites", "all"), satellites)
    initial = a.get("initial", da.initial)
    if initial not in INITIAL:
        initial = _name_in(a.at("initial"), initial, planes,
                           "control-plane ground station (or nearest / round-robin)")
    assign_raw = a.get("assign", {}) or {}
    if not isinstance(assign_raw, Mapping):
        raise ConfigError(a.at("assign"), assign_raw, "must be a mapping satellite: ground station",
                          "e.g. `assign: {s0p0n0: Berlin}`")
    chosen = set(sats)
    assign = {}
    for sat, gs in assign_raw.items():
        _name_in(a.at("assign"), sat, satellites, "satellite")
        if sat not in chosen:
            raise ConfigError(a.at("assign"), sat, "this satellite runs no agent",
                              "add it to agents.satellites, or drop it here")
        assign[sat] = _name_in(f"{a.at('assign')}.{sat}", gs, planes, "control-plane ground station")
    agents = AgentsConfig(
        satellites=sats, initial=initial, assign=assign,
        process=a.choice("process", da.process, AGENT_PROCESS),
        lease_duration_seconds=a.integer("lease_duration_seconds", da.lease_duration_seconds, lo=0, lo_open=True),
        renew_interval=a.number("renew_interval", da.renew_interval, lo=0, lo_open=True, unit="s"),
        status_update_frequency=a.number("status_update_frequency", da.status_update_frequency, lo=0,
                                         lo_open=True, unit="s"),
        request_timeout=a.number("request_timeout", da.request_timeout, lo=0, lo_open=True, unit="s"),
        register_concurrency=a.integer("register_concurrency", da.register_concurrency, lo=0),
        pod_runtime=a.choice("pod_runtime", da.pod_runtime, POD_RUNTIMES))
    if agents.renew_interval >= agents.lease_duration_seconds:
        raise ConfigError(a.at("renew_interval"), agents.renew_interval,
                          "must be shorter than lease_duration_seconds", "the kubelet renews at 1/4 of the lease")
    return agents


def parse_controlplane_section(raw: Optional[Mapping[str, Any]], satellites: Sequence[str],
                               ground_stations: Sequence[str],
                               planes_named_elsewhere: bool = False) -> ControlPlaneLaunchConfig:
    """Validate the section against the scenario's satellite and ground-station names.

    ``planes_named_elsewhere``: a research runtime names the planes (KubeSpace's
    ``kubespace.runtime.planes``), so ``ground_stations`` may be left out here; it then
    parses as ``()`` and the runtime parses the section again with its planes filled in."""
    f = Fields("controlplane", raw, _TOP_KEYS, doc="docs/controlplane.md")
    d = ControlPlaneLaunchConfig()
    backend = f.choice("backend", d.backend, BACKENDS)
    planes = _planes(f, ground_stations, planes_named_elsewhere)
    port = f.integer("port", d.port, 1, 65535, unit="(a TCP port)", fix="e.g. `port: 6443`")
    # planes named elsewhere: agents' stations are checked here against every ground station, and
    # against the planes when the runtime parses the section again
    agents = _agents(f.sub("agents", _AGENT_KEYS, example="`agents: {satellites: all}`"),
                     planes or tuple(ground_stations), satellites)
    cfg = ControlPlaneLaunchConfig(
        backend=backend, ground_stations=planes, port=port,
        scheduler=f.flag("scheduler", d.scheduler),
        node_monitor_period=f.number("node_monitor_period", d.node_monitor_period, lo=0, lo_open=True, unit="s"),
        node_monitor_grace_period=f.number("node_monitor_grace_period", d.node_monitor_grace_period, lo=0,
                                           lo_open=True, unit="s"),
        default_toleration_seconds=f.integer("default_toleration_seconds", d.default_toleration_seconds, lo=0),
        orphan_pod_grace=f.number("orphan_pod_grace", d.orphan_pod_grace, lo=0, lo_open=True, unit="s"),
        agents=agents)
    if cfg.node_monitor_grace_period <= cfg.node_monitor_period:
        raise ConfigError(f.at("node_monitor_grace_period"), cfg.node_monitor_grace_period,
                          "must be longer than node_monitor_period", "Kubernetes uses 40 s and 5 s")
    return cfg


def controlplane_config(scenario: "Scenario") -> ControlPlaneLaunchConfig:
    """The scenario's validated ``controlplane:`` section (names checked against its nodes)."""
    return scenario.config("controlplane")


def _runtime_names_planes(scenario: "Scenario") -> bool:
    """Whether the scenario turns on a runtime that names the control planes itself (read from the
    raw mapping: this layer does not import the research systems above it)."""
    kubespace = scenario.sections.get("kubespace")
    runtime = kubespace.get("runtime") if isinstance(kubespace, Mapping) else None
    return isinstance(runtime, Mapping) and runtime.get("enabled") is True


register_section("controlplane",
                 lambda raw, scenario: parse_controlplane_section(raw, scenario.satellite_names(),
                                                                  scenario.ground_station_names(),
                                                                  _runtime_names_planes(scenario)),
                 "docs/controlplane.md")
