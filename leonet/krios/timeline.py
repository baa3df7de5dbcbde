"""Predicted handovers of one application in one zone, without running anything.

:func:`plan` replays what the Krios scheduler and LEO controller would do, driven by
the zones manager: place on the policy's best member; in ``proactive`` mode start the
successor ``lead_s`` before the host leaves the region (it is Ready ``init_s`` later
and the old instance is then deleted: make before break); in ``reactive`` mode only
when the host leaves (the zone waits ``init_s`` for the successor); in ``none`` mode
never (the scheduler alone). The trace-driven experiments (Figs. 2, 10-12) and
``leonet krios timeline`` use it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .manager import ZoneManager
from .zones import Zone

MODES = ("proactive", "reactive", "none")
#: the paper's t_i (k8s pod start-up benchmark, §5.2)
PAPER_INIT_S = 5.0
#: Delta t_e as the paper computes it: 3 km of SGP4 error at 7.575 km/s, per day (4.58 us)
PAPER_PATH_ERROR_S = (3000.0 / 7575.0) / 86400.0
#: how often a handover that found no candidate is retried (s)
RETRY_S = 1.0


@dataclass(frozen=True)
class Instance:
    """One application instance: on ``satellite`` from ``created_s`` (Ready at
    ``ready_s``) until ``deleted_s``; its host leaves the region at ``exit_s``."""

    satellite: int
    name: str
    created_s: float
    ready_s: float
    deleted_s: float
    exit_s: float


@dataclass(frozen=True)
class Handover:
    """A handover triggered at ``time_s`` from ``old`` to ``new`` (satellite ids;
    ``new`` is None when no member was in the region)."""

    time_s: float
    old: int
    new: Optional[int]
    old_exit_s: float


@dataclass
class Plan:
    zone: Zone
    policy: str
    mode: str
    lead_s: float
    init_s: float
    start_s: float
    end_s: float
    instances: List[Instance] = field(default_factory=list)
    handovers: List[Handover] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def intervals_s(self) -> np.ndarray:
        """Time between consecutive handovers (s)."""
        times = np.array([h.time_s for h in self.handovers if h.new is not None])
        return np.diff(times)

    def dwell_s(self) -> np.ndarray:
        """How long each instance served that was replaced within the window (created
        to deleted), the quantity Figs. 10-12 compare."""
        return np.array([i.deleted_s - i.created_s for i in self.instances
                         if i.deleted_s < self.end_s and i.created_s > self.start_s])

    def mean_instances(self) -> float:
        """Time-average number of instances alive over the window (the paper's 1.03)."""
        alive = sum(max(0.0, min(i.deleted_s, self.end_s) - max(i.created_s, self.start_s)) for i in self.instances)
        return alive / self.duration_s

    def overlap_s(self) -> np.ndarray:
        """Per handover, how long the old and the new instance ran together."""
        out = []
        for a, b in zip(self.instances, self.instances[1:]):
            out.append(max(0.0, min(a.deleted_s, b.deleted_s) - b.created_s))
        return np.array(out)

    def available(self, manager: ZoneManager, step_s: float = 1.0) -> np.ndarray:
        """Per ``step_s`` over the window: is some Ready instance on a satellite in the
        region (direct access, the paper's availability)?"""
        grid = self.start_s + step_s * np.arange(int(self.duration_s / step_s))
        ok = np.zeros(len(grid), dtype=bool)
        for inst in self.instances:
            live = (grid >= inst.ready_s) & (grid < inst.deleted_s)
            if live.any():
                ok[live] |= np.nan_to_num(manager.margin(self.zone, inst.satellite, grid[live]), nan=-1.0) >= 0
        return ok

    def availability(self, manager: ZoneManager, step_s: float = 1.0) -> float:
        return float(self.available(manager, step_s).mean())

    def to_rows(self) -> List[dict]:
        return [{"instance": k, "satellite": i.name, "created_s": i.created_s, "ready_s": i.ready_s,
                 "deleted_s": i.deleted_s, "exit_s": i.exit_s} for k, i in enumerate(self.instances)]


def plan(manager: ZoneManager, zone: Zone, start_s: float, duration_s: float, policy: str = "krios",
         mode: str = "proactive", lead_s: float = PAPER_INIT_S + PAPER_PATH_ERROR_S, init_s: float = PAPER_INIT_S,
         seed: int = 0, first: Optional[int] = None) -> Plan:
    """Replay placements and handovers of one app over ``[start_s, start_s + duration_s)``.

    The first instance is placed (and Ready) at ``start_s``, on ``first`` if given
    (e.g. a stock scheduler's random node) or on the policy's best member. A handover
    that finds no member retries every ``RETRY_S`` seconds.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    rng = np.random.default_rng(seed)
    end = start_s + duration_s
    out = Plan(zone, policy, mode, lead_s if mode == "proactive" else 0.0, init_s, start_s, end)
    t = start_s
    host = first
    while host is None and t < end:
        host = manager.best(zone, t, manager.members(zone, t), policy, rng)
        if host is None:
            t += RETRY_S
    if host is None:
        return out
    created, ready = t, t
    while True:
        exit_s = manager.exit_time(zone, host, created)
        if mode == "none" or not np.isfinite(exit_s):
            out.instances.append(Instance(host, manager.constellation.satellites[host].name, created, ready, end, exit_s))
            return out
        # The controller tracks an instance once it is Ready (§5.2), so it cannot hand
        # over earlier than that even when the host is about to leave.
        trigger = max(ready, exit_s - out.lead_s)
        new = None
        while trigger < end:
            new = manager.best(zone, trigger, manager.members(zone, trigger, exclude=[host]), policy, rng)
            if new is not None:
                break
            if not out.handovers or out.handovers[-1].old != host:
                out.handovers.append(Handover(trigger, host, None, exit_s))   # the first failed attempt
            trigger += RETRY_S
        if trigger >= end:
            out.instances.append(Instance(host, manager.constellation.satellites[host].name, created, ready, end, exit_s))
            return out
        out.handovers.append(Handover(trigger, host, new, exit_s))
        new_ready = trigger + init_s
        out.instances.append(Instance(host, manager.constellation.satellites[host].name, created, ready,
                                      new_ready, exit_s))
        host, created, ready = new, trigger, new_ready
