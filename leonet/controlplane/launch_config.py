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

Names are checked against the run's nodes, so a typo fails before bring-up.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError

BACKENDS = ("embedded", "k3s")
INITIAL = ("nearest", "round-robin")
AGENT_PROCESS = ("separate", "inline")


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
               "status_update_frequency", "request_timeout", "register_concurrency")


def _check_keys(prefix: str, raw: Mapping[str, Any], known: Sequence[str]) -> None:
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            raise ConfigError(f"{prefix}.{key}", raw[key], "unknown key",
                              f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(known))


def _choice(fieldname: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(fieldname, value, "unknown value", "use one of: " + ", ".join(choices))
    return str(value)


def _number(fieldname: str, value: Any, integer: bool = False, allow_zero: bool = False) -> float:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or value < 0 or (value == 0 and not allow_zero):
        kind = "an integer" if integer else "a number"
        raise ConfigError(fieldname, value, f"must be {kind} {'>= 0' if allow_zero else '> 0'}",
                          f"write {kind}" + (" >= 0" if allow_zero else " > 0"))
    return value


def _bool(fieldname: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(fieldname, value, "must be true or false", "write true or false")
    return value


def _name_in(fieldname: str, value: Any, names: Sequence[str], what: str) -> str:
    if not isinstance(value, str) or value not in names:
        close = difflib.get_close_matches(str(value), names, n=3)
        raise ConfigError(fieldname, value, f"not a {what} of the scenario",
                          ("did you mean " + " or ".join(repr(c) for c in close) + "?") if close
                          else f"{what}s: " + ", ".join(list(names)[:8]) + (" ..." if len(names) > 8 else ""))
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


def parse_controlplane_section(raw: Optional[Mapping[str, Any]], satellites: Sequence[str],
                               ground_stations: Sequence[str]) -> ControlPlaneLaunchConfig:
    """Validate the section against the scenario's satellite and ground-station names."""
    raw = dict(raw or {})
    _check_keys("controlplane", raw, _TOP_KEYS)
    d = ControlPlaneLaunchConfig()
    backend = _choice("controlplane.backend", raw.get("backend", d.backend), BACKENDS)

    gs_raw = raw.get("ground_stations")
    if gs_raw == "all":
        planes = tuple(ground_stations)
    elif isinstance(gs_raw, list) and gs_raw:
        planes = tuple(_name_in(f"controlplane.ground_stations[{i}]", v, ground_stations, "ground station")
                       for i, v in enumerate(gs_raw))
        if len(set(planes)) != len(planes):
            raise ConfigError("controlplane.ground_stations", gs_raw, "lists a ground station twice",
                              "list every ground station once")
    else:
        raise ConfigError("controlplane.ground_stations", gs_raw,
                          "must be `all` or a non-empty list of ground-station names",
                          "e.g. `ground_stations: [" + ", ".join(list(ground_stations)[:2]) + "]`")
    if not planes:
        raise ConfigError("controlplane.ground_stations", gs_raw, "the scenario has no ground stations",
                          "add ground stations to the scenario")

    port = raw.get("port", d.port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError("controlplane.port", port, "must be a TCP port (1-65535)", "e.g. `port: 6443`")

    a_raw = raw.get("agents", {}) or {}
    if not isinstance(a_raw, Mapping):
        raise ConfigError("controlplane.agents", a_raw, "must be a mapping", "e.g. `agents: {satellites: all}`")
    _check_keys("controlplane.agents", a_raw, _AGENT_KEYS)
    da = AgentsConfig()
    sats = _satellites("controlplane.agents.satellites", a_raw.get("satellites", "all"), satellites)
    initial = a_raw.get("initial", da.initial)
    if initial not in INITIAL:
        initial = _name_in("controlplane.agents.initial", initial, planes,
                           "control-plane ground station (or nearest / round-robin)")
    assign_raw = a_raw.get("assign", {}) or {}
    if not isinstance(assign_raw, Mapping):
        raise ConfigError("controlplane.agents.assign", assign_raw, "must be a mapping satellite: ground station",
                          "e.g. `assign: {s0p0n0: Berlin}`")
    chosen = set(sats)
    assign = {}
    for sat, gs in assign_raw.items():
        _name_in("controlplane.agents.assign", sat, satellites, "satellite")
        if sat not in chosen:
            raise ConfigError("controlplane.agents.assign", sat, "this satellite runs no agent",
                              "add it to agents.satellites, or drop it here")
        assign[sat] = _name_in(f"controlplane.agents.assign.{sat}", gs, planes, "control-plane ground station")
    agents = AgentsConfig(
        satellites=sats, initial=initial, assign=assign,
        process=_choice("controlplane.agents.process", a_raw.get("process", da.process), AGENT_PROCESS),
        lease_duration_seconds=int(_number("controlplane.agents.lease_duration_seconds",
                                           a_raw.get("lease_duration_seconds", da.lease_duration_seconds),
                                           integer=True)),
        renew_interval=float(_number("controlplane.agents.renew_interval",
                                     a_raw.get("renew_interval", da.renew_interval))),
        status_update_frequency=float(_number("controlplane.agents.status_update_frequency",
                                              a_raw.get("status_update_frequency", da.status_update_frequency))),
        request_timeout=float(_number("controlplane.agents.request_timeout",
                                      a_raw.get("request_timeout", da.request_timeout))),
        register_concurrency=int(_number("controlplane.agents.register_concurrency",
                                         a_raw.get("register_concurrency", da.register_concurrency),
                                         integer=True, allow_zero=True)))
    if agents.renew_interval >= agents.lease_duration_seconds:
        raise ConfigError("controlplane.agents.renew_interval", agents.renew_interval,
                          "must be shorter than lease_duration_seconds", "the kubelet renews at 1/4 of the lease")
    cfg = ControlPlaneLaunchConfig(
        backend=backend, ground_stations=planes, port=port,
        scheduler=_bool("controlplane.scheduler", raw.get("scheduler", d.scheduler)),
        node_monitor_period=float(_number("controlplane.node_monitor_period",
                                          raw.get("node_monitor_period", d.node_monitor_period))),
        node_monitor_grace_period=float(_number("controlplane.node_monitor_grace_period",
                                                raw.get("node_monitor_grace_period", d.node_monitor_grace_period))),
        default_toleration_seconds=int(_number("controlplane.default_toleration_seconds",
                                               raw.get("default_toleration_seconds",
                                                       d.default_toleration_seconds), integer=True, allow_zero=True)),
        orphan_pod_grace=float(_number("controlplane.orphan_pod_grace",
                                       raw.get("orphan_pod_grace", d.orphan_pod_grace))),
        agents=agents)
    if cfg.node_monitor_grace_period <= cfg.node_monitor_period:
        raise ConfigError("controlplane.node_monitor_grace_period", cfg.node_monitor_grace_period,
                          "must be longer than node_monitor_period", "Kubernetes uses 40 s and 5 s")
    return cfg
