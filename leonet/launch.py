"""The composition root: a run with every layer the scenario asks for.

Layers import only downward, so the emulation layer cannot start a control plane
(layer 4) itself. This module, above all layers, builds an
:class:`~leonet.emulation.run.EmulationRun` and attaches the services of the
higher layers as *run services* (objects with ``start(run)`` and ``stop()``, and
optionally ``node_factory()``):

* the containers layer (Docker hosts, info API and DNS, bounding-box suspension,
  fault injection and the control socket), always;
* one control plane per chosen ground station and the satellites' agents, when the
  scenario has a ``controlplane:`` section;
* the Krios scheduler and LEO controller, when it also has a ``krios:`` section
  (without a control plane that section only serves the trace-driven tools);
* KubeSpace's handover runtime (HRControllers in the planes, a daemon per satellite),
  when ``kubespace.runtime.enabled`` is true; it also decides the planes and shapes the
  cluster before it starts.

The CLI, the demo, the experiments and the benchmarks start runs through
:func:`prepare_run`; ``EmulationRun.from_scenario`` alone gives the bare network.
"""
from __future__ import annotations

from typing import Any, Optional, Union

from .emulation.run import EmulationRun
from .orbits import Scenario


def prepare_run(scenario: Union[str, Scenario], start: Optional[str] = None, **overrides: Any) -> EmulationRun:
    """The run of ``scenario`` (a preset, a YAML path or a validated
    :class:`~leonet.orbits.Scenario`) with every layer it asks for, not yet started.
    ``overrides`` replace ``emulation:`` keys (``backend=``, ``speed=``, ...)."""
    from .containers.extensions import RunExtensions
    run = EmulationRun.from_scenario(scenario, start, **overrides)
    run.extensions = RunExtensions(run)  # validates the containers: section now
    run.add_service(run.extensions)
    kubespace = None
    if "kubespace" in run.scenario.sections:
        from .kubespace.runtime.service import runtime_for
        kubespace = runtime_for(run)  # validates the kubespace: section now (None unless its runtime is on)
    if "controlplane" in run.scenario.sections or kubespace is not None:
        from .controlplane.cluster import ControlPlaneCluster
        # validates the controlplane: section now
        cluster = ControlPlaneCluster(run, config=kubespace.cluster_config if kubespace else None)
        run.add_service(cluster)
        if kubespace is not None:
            kubespace.attach(cluster)
            run.add_service(kubespace)
    if "krios" in run.scenario.sections and "controlplane" in run.scenario.sections:
        from .krios.service import KriosService
        run.add_service(KriosService(run))  # validates the krios: section; needs the control plane
    return run
