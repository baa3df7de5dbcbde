"""Replays a strategy over a trace and measures it as the paper's Sec. 8 does
(artifact ``scheduling/graphs.ipynb``):

* **RTT** = 2 x the one-way distance to the serving satellite, per (client, step),
  from the distances the strategy saw (the trace with hysteresis; the exact ones
  too when the trace kept them);
* **migrations** = steps t >= 1 whose set of serving satellites differs from t - 1
  (for one shared satellite: the paper's count);
* **time between migrations** = the gaps between consecutive migrations, the first
  measured from the first step, the open interval after the last one left out;
* **replicas** = distinct serving satellites per step (many-to-many's Fig. 19), and
  **replicas started** = satellites that serve at t but not at t - 1, summed (each one
  is a state copy).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

from .strategies import Forecast, StepInput, Strategy
from .trace import Trace


@dataclass
class SimulationResult:
    """Per-step assignments and the paper's metrics derived from them."""

    strategy: str                    #: the strategy's label
    clients: Tuple[str, ...]
    step_s: float
    offsets_s: np.ndarray            #: (T,)
    assignment: np.ndarray           #: (T, C) serving satellite, -1: none
    delay_us: np.ndarray             #: (T, C) one-way distance seen (``inf`` where unserved)
    true_delay_us: Optional[np.ndarray]  #: (T, C) exact distance, if the trace kept it
    replicas: np.ndarray             #: (T,) distinct serving satellites
    changed: np.ndarray              #: (T,) bool: the serving set differs from the previous step
    started: np.ndarray              #: (T,) satellites serving now that did not at the previous step
    decision_s: float                #: time spent inside the strategy
    wall_s: float                    #: time of the whole replay
    cpu_s: float = float("nan")      #: this process's CPU time during the replay (robust to load)

    @property
    def steps(self) -> int:
        return len(self.offsets_s)

    @property
    def migration_steps(self) -> np.ndarray:
        """Step numbers t >= 1 at which the serving set changed."""
        return np.flatnonzero(self.changed[1:]) + 1

    @property
    def migrations(self) -> int:
        return int(self.changed[1:].sum())

    @property
    def time_between_migrations_s(self) -> np.ndarray:
        """Gaps between migrations (s): the first from step 0, the trailing one left out."""
        return np.diff(np.concatenate(([0], self.migration_steps))) * self.step_s

    @property
    def replicas_started(self) -> int:
        return int(self.started[1:].sum())

    @property
    def client_switches(self) -> int:
        """(client, step) pairs whose serving satellite changed."""
        a = self.assignment
        return int((a[1:] != a[:-1]).sum()) if len(a) > 1 else 0

    def rtt_ms(self, exact: bool = False) -> np.ndarray:
        """All served (client, step) RTT samples in ms (2 x one-way)."""
        d = self.true_delay_us if exact else self.delay_us
        if d is None:
            raise ValueError("the trace kept no exact distances")
        v = d[self.assignment >= 0]
        return 2.0 * v[np.isfinite(v)] / 1000.0

    def summary(self) -> Dict[str, object]:
        """The paper's numbers for this run (RTT in ms, times in s)."""
        rtt = self.rtt_ms()
        gaps = self.time_between_migrations_s
        out: Dict[str, object] = {
            "strategy": self.strategy, "clients": len(self.clients), "steps": self.steps,
            "migrations": self.migrations,
            "mean_between_migrations_s": float(gaps.mean()) if len(gaps) else float("nan"),
            "mean_rtt_ms": float(rtt.mean()) if len(rtt) else float("nan"),
            "p99_rtt_ms": float(np.percentile(rtt, 99)) if len(rtt) else float("nan"),
            "min_rtt_ms": float(rtt.min()) if len(rtt) else float("nan"),
            "max_rtt_ms": float(rtt.max()) if len(rtt) else float("nan"),
            "mean_replicas": float(self.replicas.mean()), "max_replicas": int(self.replicas.max()),
            "min_replicas": int(self.replicas.min()), "median_replicas": float(np.median(self.replicas)),
            "replicas_started": self.replicas_started, "client_switches": self.client_switches,
            "distinct_satellites": int(len(np.unique(self.assignment[self.assignment >= 0]))),
            "unserved_samples": int((self.assignment < 0).sum() + (~np.isfinite(self.delay_us)
                                                                     & (self.assignment >= 0)).sum()),
            "decision_us_per_step": 1e6 * self.decision_s / max(self.steps, 1),
            "steps_per_s": self.steps / self.wall_s if self.wall_s > 0 else float("inf"),
            "cpu_us_per_step": 1e6 * self.cpu_s / max(self.steps, 1),
        }
        if self.true_delay_us is not None:
            exact = self.rtt_ms(exact=True)
            out["mean_rtt_exact_ms"] = float(exact.mean()) if len(exact) else float("nan")
            out["p99_rtt_exact_ms"] = float(np.percentile(exact, 99)) if len(exact) else float("nan")
        return out


class Simulator:
    """Feeds a strategy one step at a time and records what it chose. Feed one whole
    :class:`Trace` (:func:`simulate`), or consecutive chunks of a streamed one."""

    def __init__(self, strategy: Strategy, clients: Tuple[str, ...], num_satellites: int, step_s: float):
        self.strategy = strategy
        self.clients = tuple(clients)
        self.step_s = float(step_s)
        strategy.reset(len(self.clients), num_satellites)
        self._parts: Dict[str, list] = {k: [] for k in ("offsets", "assignment", "delay", "true", "replicas",
                                                       "changed", "started")}
        self._previous: frozenset = frozenset()
        self._first = True
        self.decision_s = 0.0
        self.wall_s = 0.0
        self.cpu_s = 0.0

    def feed(self, trace: Trace, forecast: Optional[Forecast] = None) -> None:
        """Run the strategy over every step of ``trace`` (the next chunk, in order).
        ``forecast`` defaults to the trace itself."""
        if trace.clients != self.clients:
            raise ValueError("trace clients differ from the simulator's")
        forecast = trace if forecast is None else forecast
        wall0, cpu0 = time.perf_counter(), time.process_time()
        T, C = len(trace), trace.num_clients
        assignment = np.empty((T, C), dtype=np.int32)
        replicas = np.empty(T, dtype=np.int32)
        changed = np.zeros(T, dtype=bool)
        started = np.zeros(T, dtype=np.int32)
        rows = np.arange(C)
        step = self.strategy.step
        clock = time.perf_counter
        decision = 0.0
        previous = self._previous
        for i in range(T):
            index = trace.first_index + i
            now = StepInput(index, float(trace.offsets_s[i]), trace.delay_us[i], trace.eligible_at(index))
            t0 = clock()
            a = step(now, forecast)
            decision += clock() - t0
            assignment[i] = a
            serving = frozenset(a.tolist())
            serving = serving - {-1} if -1 in serving else serving
            replicas[i] = len(serving)
            if serving != previous:
                changed[i] = not self._first
                started[i] = len(serving - previous)
            self._first = False
            previous = serving
        self._previous = previous
        served = assignment >= 0
        picked = np.where(served, assignment, 0)
        delay = np.asarray(trace.delay_us[np.arange(T)[:, None], rows[None, :], picked], dtype=np.float32)
        delay[~served] = np.inf
        p = self._parts
        p["offsets"].append(np.asarray(trace.offsets_s, dtype=float))
        p["assignment"].append(assignment)
        p["delay"].append(delay)
        if trace.true_delay_us is not None:
            true = np.asarray(trace.true_delay_us[np.arange(T)[:, None], rows[None, :], picked], dtype=np.float32)
            true[~served] = np.inf
            p["true"].append(true)
        p["replicas"].append(replicas)
        p["changed"].append(changed)
        p["started"].append(started)
        self.decision_s += decision
        self.wall_s += time.perf_counter() - wall0
        self.cpu_s += time.process_time() - cpu0

    def result(self) -> SimulationResult:
        p = self._parts
        if not p["offsets"]:
            raise ValueError("no steps were simulated")
        cat = np.concatenate
        true = cat(p["true"]) if len(p["true"]) == len(p["offsets"]) else None
        return SimulationResult(self.strategy.label(), self.clients, self.step_s, cat(p["offsets"]),
                                cat(p["assignment"]), cat(p["delay"]), true, cat(p["replicas"]),
                                cat(p["changed"]), cat(p["started"]), self.decision_s, self.wall_s, self.cpu_s)


def simulate(strategy: Strategy, trace: Trace, forecast: Optional[Forecast] = None) -> SimulationResult:
    """Run ``strategy`` over a whole trace (its own forecast unless one is given)."""
    sim = Simulator(strategy, trace.clients, trace.num_satellites, trace.step_s)
    sim.feed(trace, forecast)
    return sim.result()


def simulate_stream(strategy: Strategy, chunks: Iterable[Trace]) -> SimulationResult:
    """Run ``strategy`` over consecutive trace chunks (e.g. :func:`~leonet.komet.trace.iter_trace`)."""
    sim: Optional[Simulator] = None
    for chunk in chunks:
        if sim is None:
            sim = Simulator(strategy, chunk.clients, chunk.num_satellites, chunk.step_s)
        sim.feed(chunk)
    if sim is None:
        raise ValueError("the trace stream was empty")
    return sim.result()
