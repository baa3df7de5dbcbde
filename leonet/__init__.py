"""leonet: a LEO-satellite network emulator for orbital edge orchestration research.

Layers, each importing only from the ones above it in this list:

0. :mod:`leonet.schema`       the scenario schema: field checkers, section registry
1. :mod:`leonet.orbits`       constellations, SGP4 propagation, reference frames
2. :mod:`leonet.topology`     snapshots, ISL/GSL rules, paths, timelines (pure numpy/scipy)
3. :mod:`leonet.emulation`    Mininet hosts and links, delay backends, routes, clock, CLI
4. :mod:`leonet.controlplane` embedded Kubernetes-API-compatible control plane and agents
5. :mod:`leonet.kubespace`, :mod:`leonet.krios`, :mod:`leonet.komet`  the research systems

The public Python API (docs/python-api.md), importable from here::

    from leonet import LeoNet, CLI, build_scenario, Walker, Station

Names are loaded on first use, so ``import leonet.orbits`` stays light.
"""
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "LeoNet": "leonet.api", "CLI": "leonet.api", "PathInfo": "leonet.api", "PingResult": "leonet.api",
    "Scenario": "leonet.orbits.scenario", "load_scenario": "leonet.orbits.scenario",
    "build_scenario": "leonet.orbits.builder", "Walker": "leonet.orbits.builder",
    "TleShells": "leonet.orbits.builder", "Station": "leonet.orbits.builder",
    "StationsCsv": "leonet.orbits.builder", "prepare_run": "leonet.launch",
    "ConfigError": "leonet.errors", "LeonetError": "leonet.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leonet' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)


def __dir__() -> list:
    return sorted(list(globals()) + __all__)
