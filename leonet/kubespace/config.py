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

import difflib
from dataclasses import dataclass, field, fields
import ipaddress
from typing import Any, List, Mapping, Optional, Union

from ..errors import ConfigError
from ..orbits import Scenario
from .assignment import DEFAULT_THRESHOLD, PAPER_DECISION_S, PAPER_SAMPLE_S, PAPER_WINDOW_S
from .clustering import DEFAULT_FEATURE_SAMPLE
from .interpolation import METHODS
from .metrics import METRICS
from .placement import DEFAULT_MAX_ITERATIONS


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


def _keys(where: str, raw: Mapping[str, Any], allowed: List[str]) -> None:
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
        raise ConfigError(where, raw, "must be a mapping of key: value", "see docs/kubespace.md")
    return raw


def positive_int(where: str, value: Any, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(where, value, f"must be a whole number >= {lo}", f"write e.g. {max(lo, 5)}")
    return value


def positive_seconds(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(where, value, "must be a positive number of seconds", "write e.g. 60")
    return float(value)


def flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(where, value, "must be true or false", "write true or false")
    return value


def choice(where: str, value: Any, choices) -> str:
    if value not in choices:
        raise ConfigError(where, value, "unknown choice", "use " + " or ".join(choices))
    return value


def names(where: str, value: Any) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(where, value, "must be a non-empty list of ground-station names", "write [A, B]")
    if len(set(value)) != len(value):
        dup = sorted({v for v in value if value.count(v) > 1})
        raise ConfigError(where, dup, "lists a ground station twice", "name each station once")
    return list(value)


def parse_kubespace_section(raw: Any) -> KubeSpaceConfig:
    """Validate a raw ``kubespace:`` mapping (``None`` gives the defaults)."""
    raw = _mapping("kubespace", raw)
    _keys("kubespace", raw, ["placement", "assignment", "runtime"])
    p = _mapping("kubespace.placement", raw.get("placement"))
    _keys("kubespace.placement", p, [f.name for f in fields(PlacementConfig)])
    a = _mapping("kubespace.assignment", raw.get("assignment"))
    _keys("kubespace.assignment", a, [f.name for f in fields(AssignmentConfig)])
    dp, da = PlacementConfig(), AssignmentConfig()
    w = "kubespace.placement"
    sample = p.get("feature_sample", dp.feature_sample)
    placement = PlacementConfig(
        k=positive_int(f"{w}.k", p.get("k", dp.k)),
        clusters=positive_int(f"{w}.clusters", p.get("clusters", dp.clusters)),
        period_s=positive_seconds(f"{w}.period_s", p.get("period_s", dp.period_s)),
        snapshot_interval_s=positive_seconds(f"{w}.snapshot_interval_s",
                                             p.get("snapshot_interval_s", dp.snapshot_interval_s)),
        metric=choice(f"{w}.metric", p.get("metric", dp.metric), METRICS),
        seed=positive_int(f"{w}.seed", p.get("seed", dp.seed), lo=0),
        max_iterations=positive_int(f"{w}.max_iterations", p.get("max_iterations", dp.max_iterations), lo=0),
        feature_sample=None if sample is None else positive_int(f"{w}.feature_sample", sample),
        plateau_moves=flag(f"{w}.plateau_moves", p.get("plateau_moves", dp.plateau_moves)),
        candidates=names(f"{w}.candidates", p.get("candidates")))
    w = "kubespace.assignment"
    from .assignment import check_grid, check_threshold
    try:
        threshold = check_threshold(a.get("threshold", da.threshold))
    except ConfigError as exc:
        raise ConfigError(f"{w}.threshold", exc.value, exc.problem, exc.fix) from None
    assignment = AssignmentConfig(
        threshold=threshold,
        window_s=positive_seconds(f"{w}.window_s", a.get("window_s", da.window_s)),
        sample_interval_s=positive_seconds(f"{w}.sample_interval_s",
                                           a.get("sample_interval_s", da.sample_interval_s)),
        decision_interval_s=positive_seconds(f"{w}.decision_interval_s",
                                             a.get("decision_interval_s", da.decision_interval_s)),
        metric=choice(f"{w}.metric", a.get("metric", da.metric), METRICS),
        interpolation=(None if a.get("interpolation") is None
                       else choice(f"{w}.interpolation", a.get("interpolation"), METHODS)),
        control_nodes=names(f"{w}.control_nodes", a.get("control_nodes")))
    try:
        check_grid(assignment.window_s, assignment.sample_interval_s, assignment.decision_interval_s)
    except ConfigError as exc:
        key = {"sample_s": "sample_interval_s", "decision_s": "decision_interval_s"}.get(exc.field, exc.field)
        raise ConfigError(f"{w}.{key}", exc.value, exc.problem, exc.fix) from None
    runtime = parse_runtime(_mapping("kubespace.runtime", raw.get("runtime")), assignment)
    return KubeSpaceConfig(placement, assignment, runtime)


def parse_runtime(r: Mapping[str, Any], assignment: AssignmentConfig) -> RuntimeConfig:
    """The ``kubespace.runtime`` subsection (names are checked against the run's nodes later)."""
    w = "kubespace.runtime"
    _keys(w, r, [f.name for f in fields(RuntimeConfig)])
    d = RuntimeConfig()
    planes = r.get("planes")
    if planes is not None and planes != "cnpa":
        if not isinstance(planes, (list, str)):
            raise ConfigError(f"{w}.planes", planes, "must be cnpa or a list of ground-station names",
                              "write `planes: cnpa` or `planes: [A, B]`, or leave it out to use "
                              "controlplane.ground_stations")
        planes = names(f"{w}.planes", planes)
    port = r.get("sync_port", d.sync_port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{w}.sync_port", port, "must be a TCP port (1-65535)", "e.g. 6444")
    cidr = r.get("pod_cidr", d.pod_cidr)
    try:
        network = ipaddress.IPv4Network(str(cidr))
    except ValueError:
        raise ConfigError(f"{w}.pod_cidr", cidr, "is not an IPv4 network", "e.g. 10.128.0.0/9") from None
    from ..emulation.addressing import NETWORK as NODE_NETWORK
    if network.overlaps(NODE_NETWORK):
        raise ConfigError(f"{w}.pod_cidr", cidr, f"overlaps the node addresses ({NODE_NETWORK})",
                          "use a range outside 10.64.0.0/10, e.g. 10.128.0.0/9")
    prefix = positive_int(f"{w}.pod_cidr_prefix", r.get("pod_cidr_prefix", d.pod_cidr_prefix), lo=1)
    if not network.prefixlen <= prefix <= 30:
        raise ConfigError(f"{w}.pod_cidr_prefix", prefix, f"must be between {network.prefixlen} (the pod_cidr's "
                          "prefix) and 30", "e.g. 24: a /24 per satellite")
    out = RuntimeConfig(
        enabled=flag(f"{w}.enabled", r.get("enabled", d.enabled)),
        planes=planes,
        auto=flag(f"{w}.auto", r.get("auto", d.auto)),
        sync_port=port,
        sync_timeout_s=positive_seconds(f"{w}.sync_timeout_s", r.get("sync_timeout_s", d.sync_timeout_s)),
        binding_timeout_s=positive_seconds(f"{w}.binding_timeout_s",
                                           r.get("binding_timeout_s", d.binding_timeout_s)),
        retry_backoff_max_s=positive_seconds(f"{w}.retry_backoff_max_s",
                                             r.get("retry_backoff_max_s", d.retry_backoff_max_s)),
        recompute_before_s=positive_seconds(f"{w}.recompute_before_s",
                                            r.get("recompute_before_s", d.recompute_before_s)),
        max_concurrent_handovers=positive_int(f"{w}.max_concurrent_handovers",
                                              r.get("max_concurrent_handovers", d.max_concurrent_handovers)),
        pod_cidr=str(network), pod_cidr_prefix=prefix,
        request_ttl_s=positive_seconds(f"{w}.request_ttl_s", r.get("request_ttl_s", d.request_ttl_s)))
    if out.recompute_before_s >= assignment.window_s:
        raise ConfigError(f"{w}.recompute_before_s", out.recompute_before_s,
                          f"must be shorter than the CNAA window (kubespace.assignment.window_s = "
                          f"{assignment.window_s:g} s)", "e.g. 600 for a 12 h window")
    if out.sync_timeout_s >= out.binding_timeout_s:
        raise ConfigError(f"{w}.binding_timeout_s", out.binding_timeout_s,
                          f"must be longer than sync_timeout_s ({out.sync_timeout_s:g} s)", "e.g. 30")
    return out


def default_interpolation(metric: str) -> str:
    """Cubic for smooth straight-line distances; linear for path delays, which jump
    when a ground-satellite link switches (a cubic would overshoot there)."""
    return "linear" if metric == "path" else "cubic"


def kubespace_config(scenario: Scenario) -> KubeSpaceConfig:
    """The validated ``kubespace:`` section of a scenario (defaults if absent)."""
    return parse_kubespace_section(scenario.sections.get("kubespace"))

