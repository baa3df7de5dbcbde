"""Where each part of a scenario is declared.

A scenario has a core (``name``, ``start``, ``defaults``, ``shells``,
``ground_stations``: :mod:`leonet.orbits.scenario`) and one top-level *section* per
layer that needs settings (``topology:``, ``emulation:``, ...). Each layer declares its
section here with :func:`register_section` (a parser from the raw mapping to a frozen
config object) and its *per-node parameters* with :func:`register_node_param`
(settable under ``defaults:`` and overridden per shell or ground station).

The registry is the one place that knows which module declares what
(:data:`SECTION_MODULES`, :data:`NODE_PARAM_MODULES`); those modules are imported by
name when a scenario needs them, so the scenario loader (layer 1) can validate every
section without importing the layers above it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Tuple

if TYPE_CHECKING:
    from ..orbits.scenario import Scenario

#: section name -> the module that declares it (imported on first use)
SECTION_MODULES: Dict[str, str] = {
    "topology": "leonet.topology.config",
    "emulation": "leonet.emulation.config",
    "containers": "leonet.containers.config",
    "controlplane": "leonet.controlplane.launch_config",
    "kubespace": "leonet.kubespace.config",
    "komet": "leonet.komet.config",
}

#: modules that declare per-node parameters
NODE_PARAM_MODULES: Tuple[str, ...] = ("leonet.topology.config",)

#: who may set a per-node parameter
NODE_PARAM_LEVELS = ("defaults", "shell", "ground_station")


@dataclass(frozen=True)
class SectionSpec:
    """A top-level scenario section and its parser.

    ``parse(raw, scenario)`` gets the raw value (``None`` when the section is absent, so
    it returns the defaults) and the scenario whose core is already validated (for names
    of ground stations and satellites, and other sections through
    :meth:`~leonet.orbits.scenario.Scenario.config`)."""

    name: str
    parse: Callable[[Any, "Scenario"], Any]
    doc: str
    module: str


@dataclass(frozen=True)
class NodeParam:
    """A per-node parameter: a global default under ``defaults:``, overridden per shell
    and per ground station (``levels`` says where it may be set)."""

    name: str
    default: Any
    check: Callable[[str, Any], Any]
    doc: str
    levels: Tuple[str, ...] = NODE_PARAM_LEVELS
    module: str = ""


_sections: Dict[str, SectionSpec] = {}
_node_params: Dict[str, NodeParam] = {}


def register_section(name: str, parse: Callable[[Any, "Scenario"], Any], doc: str) -> None:
    """Declare the section ``name`` (called at import by the module named for it in
    :data:`SECTION_MODULES`)."""
    module = SECTION_MODULES.get(name)
    if module is None:
        raise RuntimeError(f"section {name!r} is not listed in leonet.schema.registry.SECTION_MODULES")
    _sections[name] = SectionSpec(name, parse, doc, module)


def register_node_param(name: str, default: Any, check: Callable[[str, Any], Any], doc: str,
                        levels: Tuple[str, ...] = NODE_PARAM_LEVELS, module: str = "") -> None:
    """Declare a per-node parameter (called at import by a module of
    :data:`NODE_PARAM_MODULES`)."""
    _node_params[name] = NodeParam(name, default, check, doc, tuple(levels), module)


def section_names() -> Tuple[str, ...]:
    """Every top-level section a scenario may have, besides its core."""
    return tuple(SECTION_MODULES)


def section(name: str) -> SectionSpec:
    """The declaration of section ``name``, importing its module on first use."""
    if name not in _sections:
        importlib.import_module(SECTION_MODULES[name])
        if name not in _sections:
            raise RuntimeError(f"{SECTION_MODULES[name]} does not register section {name!r}")
    return _sections[name]


def node_params() -> Dict[str, NodeParam]:
    """Every per-node parameter, by name (in declaration order)."""
    for module in NODE_PARAM_MODULES:
        importlib.import_module(module)
    return dict(_node_params)
