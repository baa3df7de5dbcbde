"""Layer 2: the network topology of a constellation over time (pure numpy/scipy).

* :mod:`.config`    the scenario's ``topology:`` section, validated
* :mod:`.isl`       +Grid inter-satellite links and their line-of-sight/latitude/range rules
* :mod:`.gsl`       ground-satellite links: visibility, policies, caps
* :mod:`.links`     links as arrays, and the link model (delay = distance / (c * factor))
* :mod:`.engine`    :class:`TopologyEngine`: positions -> :class:`Snapshot`
* :mod:`.snapshot`  one instant: links, sparse graph, paths
* :mod:`.routing`   Dijkstra, next hops, hop lists
* :mod:`.control`   nearest control ground station per satellite
* :mod:`.timeline`  per-step diffs, handover events, replay
* :mod:`.bbox`      the bounding box of active satellites
* :mod:`.export`    JSON/CSV and networkx
* :mod:`.plot`      a world map (matplotlib)

Typical use::

    from leonet.orbits import load_constellation
    from leonet.topology import TopologyEngine

    engine = TopologyEngine(load_constellation("starlink-shell1"))
    snap = engine.snapshot("2026-01-31T12:00:00Z")
    print(snap.path("Madrid", "Tokyo").delay_ms)
"""
from .bbox import BoundingBox
from .config import GslRules, IslRules, TopologyConfig, parse_topology_section, topology_config
from .control import ControlAssignment, nearest_control
from .engine import TopologyEngine
from .links import GSL, ISL, Link, Links, delay_ms
from .nodes import Nodes
from .routing import RoutingTables, shortest_paths
from .snapshot import Path, Snapshot
from .timeline import (ControlChanges, HandoverEvent, NextHopChanges, StepDiff, TopologyState,
                       handover_events, timeline)

__all__ = ["BoundingBox", "ControlAssignment", "ControlChanges", "GSL", "GslRules", "HandoverEvent",
           "ISL", "IslRules", "Link", "Links", "NextHopChanges", "Nodes", "Path", "RoutingTables",
           "Snapshot", "StepDiff", "TopologyConfig", "TopologyEngine", "TopologyState", "delay_ms",
           "handover_events", "nearest_control", "parse_topology_section", "shortest_paths", "timeline",
           "topology_config"]
