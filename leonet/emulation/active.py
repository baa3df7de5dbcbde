"""The active run seen from another process: its records and the engine's view of its
current tick, recomputed from the scenario it was started with (for ``leonet check``,
``leonet probe`` and other tools that run beside ``leonet run``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List

from ..topology import Snapshot, TopologyEngine
from . import runstate


@dataclass
class ActiveRun:
    record: Dict[str, Any]       #: run.json: scenario, backend, nodes (name, netns, address, ...)
    status: Dict[str, Any]       #: status.json: time, offset_s, tick, stats
    engine: TopologyEngine
    snapshot: Snapshot           #: the engine at the run's last applied tick

    @property
    def nodes(self) -> List[Dict[str, Any]]:
        return self.record["nodes"]

    def node(self, name: str) -> Dict[str, Any]:
        """A node's record, by scenario name or host name (errors suggest names)."""
        return runstate.node_record(name)


def active_run() -> ActiveRun:
    """The active run and the engine's snapshot at its last applied tick (raises a
    :class:`~leonet.errors.LeonetError` when no run is active)."""
    from ..orbits import build_constellation, load_scenario
    record = runstate.require_active_run()
    status = runstate.read_status()
    scenario = load_scenario(record["scenario_path"], record.get("start"))
    engine = TopologyEngine(build_constellation(scenario))
    return ActiveRun(record, status, engine, engine.snapshot(float(status.get("offset_s", 0.0))))
