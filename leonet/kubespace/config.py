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

Command-line options override these values.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, List, Optional

from ..orbits import Scenario
from ..schema import Fields, check_number, register_section
from .assignment import DEFAULT_THRESHOLD, PAPER_DECISION_S, PAPER_SAMPLE_S, PAPER_WINDOW_S
from .clustering import DEFAULT_FEATURE_SAMPLE
from .interpolation import METHODS
from .metrics import METRICS
from .placement import DEFAULT_MAX_ITERATIONS


PLACEMENT_MODES = ("paper", "refined")


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
class KubeSpaceConfig:
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    assignment: AssignmentConfig = field(default_factory=AssignmentConfig)


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


def parse_kubespace_section(raw: Any, scenario: Optional[Scenario] = None) -> KubeSpaceConfig:
    """Validate a raw ``kubespace:`` mapping (``None`` gives the defaults)."""
    f = Fields("kubespace", raw, ["placement", "assignment"], doc="docs/kubespace.md")
    return KubeSpaceConfig(
        _parse_placement(f.sub("placement", [x.name for x in fields(PlacementConfig)])),
        _parse_assignment(f.sub("assignment", [x.name for x in fields(AssignmentConfig)])))


def default_interpolation(metric: str) -> str:
    """Cubic for smooth straight-line distances; linear for path delays, which jump
    when a ground-satellite link switches (a cubic would overshoot there)."""
    return "linear" if metric == "path" else "cubic"


def kubespace_config(scenario: Scenario) -> KubeSpaceConfig:
    """The validated ``kubespace:`` section of a scenario (defaults if absent)."""
    return scenario.config("kubespace")


register_section("kubespace", parse_kubespace_section, "docs/kubespace.md")
