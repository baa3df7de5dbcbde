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
  (without a control plane that section only serves the trace-driven tools).

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
    if "controlplane" in run.scenario.sections:
        from .controlplane.cluster import ControlPlaneCluster
        run.add_service(ControlPlaneCluster(run))  # validates the controlplane: section now
    if "krios" in run.scenario.sections and "controlplane" in run.scenario.sections:
        from .krios.service import KriosService
        run.add_service(KriosService(run))  # validates the krios: section; needs the control plane
    return run
