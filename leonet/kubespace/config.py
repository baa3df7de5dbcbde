"""The scenario's ``kubespace:`` section, validated. Every key is optional::

    kubespace:
      placement:                  # CNPA (leonet kubespace place)
        k: 5                      # control nodes to choose
        clusters: 20              # C, representative snapshots
        period_s: 86400           # snapshots cover [start, start + period)
        snapshot_interval_s: 60
        metric: path              # path | straight
        seed: 0                   # k-means and the feature sample
        max_iterations: 100       # cap on accepted local-search swaps
        plateau_moves: false      # extension: also accept swaps that keep the max and lower the mean
        mode: paper               # paper: Algorithm 1 | refined: + worst snapshots, plateau moves, restarts
        rounds: 60                # refined: cap on rounds (snapshots added by the objective, restarts accepted)
        restarts: 64              # refined: perturbation restarts in all
        feature_sample: 2048      # flattened coordinates k-means sees (null: all)
        candidates: null          # ground-station names; null: every ground station
      assignment:                 # CNAA (leonet kubespace assign)
        threshold: 0.9            # delta: hand over when f_min / f_curr < delta
        window_s: 43200           # T
        sample_interval_s: 60     # Delta_s
        decision_interval_s: 1    # Delta_p
        metric: straight          # straight (the paper) | path
        interpolation: null       # cubic | linear; null: cubic for straight, linear for path
        control_nodes: null       # default control nodes (ground-station names)
      runtime:                    # the live handover runtime (leonet run; docs/kubespace.md)
        enabled: false
        platform: kubespace       # kubespace | leave-rejoin | rejoin | single-plane (the paper's baselines)
        planes: null              # null: controlplane.ground_stations | cnpa | [ground-station names]
        auto: true                # daemons hand over at their CNAA-predicted times (false: on request)
        sync_port: 6444           # plane-to-plane channel (HTTPS, mutual TLS with the cluster CA)
        sync_timeout_s: 5         # a transfer of a node and its pods to the target plane
        binding_timeout_s: 30     # how long a Finished request may wait for the target to Bind
        retry_backoff_max_s: 60   # failed handovers retry at the next decision, backing off to this
        recompute_before_s: 600   # recompute the CNAA schedule this long before its window ends
        max_concurrent_handovers: 32   # per daemons process
        pod_cidr: 10.128.0.0/9    # split into one subnet per satellite, by satellite index
        pod_cidr_prefix: 24
        request_ttl_s: 3600       # finished or failed HandoverRequests are deleted after this

Command-line options override these values.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
import ipaddress
from typing import Any, List, Optional, Union

from ..errors import ConfigError
from ..orbits import Scenario
from ..schema import Fields, check_number, register_section
from .assignment import DEFAULT_THRESHOLD, PAPER_DECISION_S, PAPER_SAMPLE_S, PAPER_WINDOW_S
from .clustering import DEFAULT_FEATURE_SAMPLE
from .interpolation import METHODS
from .metrics import METRICS
from .placement import DEFAULT_MAX_ITERATIONS


PLACEMENT_MODES = ("paper", "refined")
#: what the runtime is: KubeSpace, or one of the paper's baselines run by the same runtime
#: (docs/kubespace.md "Baseline platforms")
PLATFORMS = ("kubespace", "leave-rejoin", "rejoin", "single-plane")


@dataclass(frozen=True)
class PlacementConfig:
    k: int = 5
    clusters: int = 20
    period_s: float = 86400.0
    snapshot_interval_s: float = 60.0
    metric: str = "path"
    seed: int = 0
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    feature_sample: Optional[int] = DEFAULT_FEATURE_SAMPLE
    plateau_moves: bool = False
    #: ``paper`` (Algorithm 1) or ``refined`` (:mod:`.refined`)
    mode: str = "paper"
    rounds: int = 60
    restarts: int = 64
    candidates: Optional[List[str]] = None


@dataclass(frozen=True)
class AssignmentConfig:
    threshold: float = DEFAULT_THRESHOLD
    window_s: float = PAPER_WINDOW_S
    sample_interval_s: float = PAPER_SAMPLE_S
    decision_interval_s: float = PAPER_DECISION_S
    metric: str = "straight"
    interpolation: Optional[str] = None
    control_nodes: Optional[List[str]] = None


@dataclass(frozen=True)
class RuntimeConfig:
    enabled: bool = False
    #: ``kubespace`` | ``leave-rejoin`` (Karmada-like) | ``rejoin`` (Multi-KubeEdge-like) | ``single-plane``
    platform: str = "kubespace"
    planes: Union[None, str, List[str]] = None   #: None, "cnpa" or ground-station names
    auto: bool = True
    sync_port: int = 6444
    sync_timeout_s: float = 5.0
    binding_timeout_s: float = 30.0
    retry_backoff_max_s: float = 60.0
    recompute_before_s: float = 600.0
    max_concurrent_handovers: int = 32
    pod_cidr: str = "10.128.0.0/9"
    pod_cidr_prefix: int = 24
    request_ttl_s: float = 3600.0


@dataclass(frozen=True)
class KubeSpaceConfig:
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    assignment: AssignmentConfig = field(default_factory=AssignmentConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


def positive_int(where: str, value: Any, lo: int = 1) -> int:
    """A whole number >= ``lo`` (also used for command-line options)."""
    return check_number(where, value, lo=lo, integer=True)


def _seconds(f: Fields, key: str, default: float) -> float:
    return f.number(key, default, lo=0, lo_open=True, unit="s")


def _parse_placement(f: Fields) -> PlacementConfig:
    d = PlacementConfig()
    return PlacementConfig(
        k=f.integer("k", d.k, lo=1),
        clusters=f.integer("clusters", d.clusters, lo=1),
        period_s=_seconds(f, "period_s", d.period_s),
        snapshot_interval_s=_seconds(f, "snapshot_interval_s", d.snapshot_interval_s),
        metric=f.choice("metric", d.metric, METRICS),
        seed=f.integer("seed", d.seed, lo=0),
        max_iterations=f.integer("max_iterations", d.max_iterations, lo=0),
        feature_sample=f.integer("feature_sample", d.feature_sample, lo=1, optional=True, null_means="all"),
        plateau_moves=f.flag("plateau_moves", d.plateau_moves),
        mode=f.choice("mode", d.mode, PLACEMENT_MODES),
        rounds=f.integer("rounds", d.rounds, lo=1),
        restarts=f.integer("restarts", d.restarts, lo=0),
        candidates=f.names("candidates"))


def _parse_assignment(f: Fields) -> AssignmentConfig:
    from .assignment import check_grid, check_threshold
    d = AssignmentConfig()
    interpolation = f.get("interpolation")
    assignment = AssignmentConfig(
        threshold=check_threshold(f.get("threshold", d.threshold), f.at("threshold")),
        window_s=_seconds(f, "window_s", d.window_s),
        sample_interval_s=_seconds(f, "sample_interval_s", d.sample_interval_s),
        decision_interval_s=_seconds(f, "decision_interval_s", d.decision_interval_s),
        metric=f.choice("metric", d.metric, METRICS),
        interpolation=None if interpolation is None else f.choice("interpolation", None, METHODS),
        control_nodes=f.names("control_nodes"))
    check_grid(assignment.window_s, assignment.sample_interval_s, assignment.decision_interval_s,
               fields=(f.at("window_s"), f.at("sample_interval_s"), f.at("decision_interval_s")))
    return assignment


def _parse_planes(f: Fields) -> Union[None, str, List[str]]:
    planes = f.get("planes")
    if planes is None or planes == "cnpa":
        return planes
    if not isinstance(planes, (list, str)):
        raise ConfigError(f.at("planes"), planes, "must be cnpa or a list of ground-station names",
                          "write `planes: cnpa` or `planes: [A, B]`, or leave it out to use "
                          "controlplane.ground_stations")
    return f.names("planes")


def _parse_runtime(f: Fields, assignment: AssignmentConfig) -> RuntimeConfig:
    """The ``kubespace.runtime`` subsection (plane names are checked against the run's nodes later)."""
    d = RuntimeConfig()
    cidr = f.get("pod_cidr", d.pod_cidr)
    try:
        network = ipaddress.IPv4Network(str(cidr))
    except ValueError:
        raise ConfigError(f.at("pod_cidr"), cidr, "is not an IPv4 network", "e.g. 10.128.0.0/9") from None
    from ..emulation.addressing import NETWORK as NODE_NETWORK
    if network.overlaps(NODE_NETWORK):
        raise ConfigError(f.at("pod_cidr"), cidr, f"overlaps the node addresses ({NODE_NETWORK})",
                          "use a range outside 10.64.0.0/10, e.g. 10.128.0.0/9")
    prefix = f.integer("pod_cidr_prefix", d.pod_cidr_prefix, lo=network.prefixlen, hi=30,
                       fix=f"choose a prefix between {network.prefixlen} (the pod_cidr's) and 30, "
                           "e.g. 24: a /24 per satellite")
    out = RuntimeConfig(
        enabled=f.flag("enabled", d.enabled),
        platform=f.choice("platform", d.platform, PLATFORMS),
        planes=_parse_planes(f),
        auto=f.flag("auto", d.auto),
        sync_port=f.integer("sync_port", d.sync_port, lo=1, hi=65535),
        sync_timeout_s=_seconds(f, "sync_timeout_s", d.sync_timeout_s),
        binding_timeout_s=_seconds(f, "binding_timeout_s", d.binding_timeout_s),
        retry_backoff_max_s=_seconds(f, "retry_backoff_max_s", d.retry_backoff_max_s),
        recompute_before_s=_seconds(f, "recompute_before_s", d.recompute_before_s),
        max_concurrent_handovers=f.integer("max_concurrent_handovers", d.max_concurrent_handovers, lo=1),
        pod_cidr=str(network), pod_cidr_prefix=prefix,
        request_ttl_s=_seconds(f, "request_ttl_s", d.request_ttl_s))
    if out.recompute_before_s >= assignment.window_s:
        raise ConfigError(f.at("recompute_before_s"), out.recompute_before_s,
                          f"must be shorter than the CNAA window (kubespace.assignment.window_s = "
                          f"{assignment.window_s:g} s)", "e.g. 600 for a 12 h window")
    if out.sync_timeout_s >= out.binding_timeout_s:
        raise ConfigError(f.at("binding_timeout_s"), out.binding_timeout_s,
                          f"must be longer than sync_timeout_s ({out.sync_timeout_s:g} s)", "e.g. 30")
    return out


def parse_kubespace_section(raw: Any, scenario: Optional[Scenario] = None) -> KubeSpaceConfig:
    """Validate a raw ``kubespace:`` mapping (``None`` gives the defaults)."""
    f = Fields("kubespace", raw, ["placement", "assignment", "runtime"], doc="docs/kubespace.md")
    assignment = _parse_assignment(f.sub("assignment", [x.name for x in fields(AssignmentConfig)]))
    return KubeSpaceConfig(
        _parse_placement(f.sub("placement", [x.name for x in fields(PlacementConfig)])),
        assignment,
        _parse_runtime(f.sub("runtime", [x.name for x in fields(RuntimeConfig)]), assignment))


def default_interpolation(metric: str) -> str:
    """Cubic for smooth straight-line distances; linear for path delays, which jump
    when a ground-satellite link switches (a cubic would overshoot there)."""
    return "linear" if metric == "path" else "cubic"


def kubespace_config(scenario: Scenario) -> KubeSpaceConfig:
    """The validated ``kubespace:`` section of a scenario (defaults if absent)."""
    return scenario.config("kubespace")


register_section("kubespace", parse_kubespace_section, "docs/kubespace.md")
