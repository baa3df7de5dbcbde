"""Handover schedules of many satellites: CNAA (Algorithm 2) over a window, from a chosen start time and
from each satellite's current control plane.

A satellite's daemon computes its own schedule from its own TLE (straight-line distance, as the
paper). The daemons of one process share the computation: one vectorised :func:`cnaa` call gives
exactly the schedules of one call per satellite (the algorithm treats satellites independently).
For the path-delay metric the samples come from the ground (the topology of the whole constellation is
needed), and a window can only start on their sampling grid.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from sgp4.api import Satrec

from ..assignment import ControlNode, assign, cnaa
from ...orbits.timeutil import add_seconds


@dataclass
class Schedule:
    """One satellite's predicted handovers in ``[start_s, start_s + window_s]`` (emulated offsets)."""

    start_s: float
    window_s: float
    initial: str
    events: List[Tuple[float, str, str]] = field(default_factory=list)   #: (offset_s, source, target)

    @property
    def end_s(self) -> float:
        return self.start_s + self.window_s

    def next_event(self, after_s: float = -math.inf) -> Optional[Tuple[float, str, str]]:
        for ev in self.events:
            if ev[0] >= after_s:
                return ev
        return None

    def drop_until(self, offset_s: float) -> None:
        """Forget events at or before ``offset_s`` (they happened)."""
        self.events = [e for e in self.events if e[0] > offset_s]


@dataclass(frozen=True)
class Params:
    """CNAA's parameters (the scenario's ``kubespace.assignment``)."""

    window_s: float
    sample_s: float
    decision_s: float
    threshold: float
    interpolation: str


def align_up(offset_s: float, step_s: float) -> float:
    """The first multiple of ``step_s`` at or after ``offset_s`` (decisions fall on this grid)."""
    return math.ceil(offset_s / step_s - 1e-9) * step_s


def straight_schedules(satrecs: Sequence[Satrec], planes: Sequence[ControlNode], scenario_start: _dt.datetime,
                       start_s: float, current: Sequence[str], p: Params) -> List[Schedule]:
    """CNAA on straight-line distance from ``start_s`` for every satellite, each starting on its
    ``current`` plane."""
    names = [n.name for n in planes]
    initial = [names.index(c) for c in current]
    result = cnaa(list(satrecs), add_seconds(scenario_start, start_s), list(planes), p.window_s, p.sample_s,
                  p.decision_s, p.threshold, p.interpolation, initial=initial)
    return _schedules(result, names, start_s, p.window_s)


def sampled_schedules(samples: np.ndarray, samples_start_s: float, names: Sequence[str], start_s: float,
                      current: Sequence[str], p: Params) -> List[Schedule]:
    """CNAA on a metric sampled every ``p.sample_s`` from ``samples_start_s`` (shape satellites x planes x
    samples, e.g. path delays from the ground), from the last sample at or before ``start_s``."""
    j = int(math.floor((start_s - samples_start_s) / p.sample_s + 1e-9))
    j = max(0, min(j, samples.shape[2] - 2))
    initial = [list(names).index(c) for c in current]
    result = assign(samples[:, :, j:], p.sample_s, p.decision_s, p.threshold, p.interpolation, initial=initial)
    out = _schedules(result, list(names), samples_start_s + j * p.sample_s, (samples.shape[2] - 1 - j) * p.sample_s)
    for s in out:
        s.drop_until(start_s - 1e-9)
    return out


def _schedules(result, names: List[str], start_s: float, window_s: float) -> List[Schedule]:
    out = []
    for i in range(result.num_satellites):
        events = [(start_s + off, names[src], names[tgt]) for off, src, tgt in result.events(i)]
        out.append(Schedule(start_s, window_s, names[int(result.initial[i])], events))
    return out


def nearest_plane(satrec: Satrec, planes: Sequence[ControlNode], when: _dt.datetime) -> Dict[str, float]:
    """Straight-line distance (km) from a satellite to every plane at ``when``."""
    from ...orbits.propagation import Propagator
    pos = Propagator([satrec], when).ecef(np.array([0.0]))[0, 0]
    return {n.name: float(np.linalg.norm(pos - n.ecef_km)) for n in planes}
