"""Layer 5: Komet's service-migration scheduling (SoCC '24), trace-driven.

* :mod:`.strategies`   MinMax, one-to-one, many-to-one, many-to-many, Sticky: one
  step-by-step interface for the offline simulator and a live ground scheduler
* :mod:`.hitting_set`  greedy and exact minimum hitting sets (many-to-many)
* :mod:`.trace`        client-satellite network distances over time, with Celestial's
  500 us trace hysteresis, cached or streamed
* :mod:`.simulator`    replays a strategy over a trace: migrations, time between them,
  RTT, replicas
* :mod:`.config`       the scenario's ``komet:`` section

The live platform (root; docs/komet.md, "The live platform"), imported from its
modules: :mod:`.platform` (the satellites' Komet servers on a running emulation),
:mod:`.nodeapi` (their API client), :mod:`.migration` (Sec. 3.1's procedure),
:mod:`.scheduler` (the ground scheduler), :mod:`.apps` (the applications).

Typical use::

    from leonet.orbits import load_constellation
    from leonet.topology import TopologyEngine
    from leonet.komet import build_trace, make_strategy, simulate

    engine = TopologyEngine(load_constellation("komet-iot"))
    trace = build_trace(engine, clients, start_offset_s=12200, duration_s=1200)
    print(simulate(make_strategy("many-to-one", 0.1), trace).summary())
"""
from .hitting_set import exact_hitting_set, greedy_hitting_set, is_hitting_set
from .simulator import SimulationResult, Simulator, simulate, simulate_stream
from .strategies import (STRATEGIES, Forecast, Hysteresis, ManyToMany, MinMax, MinMaxMany, StepInput, Sticky,
                         Strategy, Threshold, make_strategy, replication_sources)
from .trace import DEFAULT_HYSTERESIS_US, Quantizer, Trace, build_trace, iter_trace

__all__ = ["DEFAULT_HYSTERESIS_US", "Forecast", "Hysteresis", "ManyToMany", "MinMax", "MinMaxMany", "Quantizer",
           "STRATEGIES", "SimulationResult", "Simulator", "StepInput", "Sticky", "Strategy", "Threshold", "Trace",
           "build_trace", "exact_hitting_set", "greedy_hitting_set", "is_hitting_set", "iter_trace",
           "make_strategy", "replication_sources", "simulate", "simulate_stream"]
