"""One emulation run from a scenario: validate, bring up, tick, tear down.

    with EmulationRun.from_scenario("demo", duration_s=60) as run:
        run.start()
        run.controller.run(60)

Everything is validated before anything is created; on any exit (return, exception,
Ctrl-C, SIGTERM) the run removes what it created.

Interrupts: from :meth:`EmulationRun.start` on (in the main thread), SIGINT and SIGTERM both
raise ``KeyboardInterrupt``, also where SIGINT was inherited as ignored (a script's background
job). Once the teardown has begun they are ignored, with a note: a second Ctrl-C must not cut
the teardown short and leave namespaces and processes behind.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any, Dict, List, Optional, Union

from ..errors import LeonetError
from ..orbits import Scenario, build_constellation, load_scenario
from ..orbits.timeutil import format_utc
from ..topology import TopologyEngine
from . import runstate
from .cleanup import cleanup
from .config import EmulationConfig, emulation_config
from .controller import Controller, Hooks, TickInfo
from .network import LeoNetwork, Progress
from .nodes import NamespaceNodeFactory, NodeFactory
from .shaping.base import LinkShaper

log = logging.getLogger("leonet.emulation")


def require_root() -> None:
    if os.geteuid() != 0:
        raise LeonetError("emulation needs root (network namespaces, veths, routes): run it with sudo")


def make_backend(kind: str) -> LinkShaper:
    """The link shaper for ``kind`` (auto | netem | nfqueue | none)."""
    from .shaping.factory import make_shaper
    return make_shaper(kind)


class EmulationRun:
    """A scenario brought up as a live emulation."""

    def __init__(self, scenario: Union[str, Scenario], config: Optional[EmulationConfig] = None,
                 start: Optional[str] = None):
        #: the validated scenario (every section checked when it was loaded)
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, start)
        self.config = config if config is not None else emulation_config(self.scenario)
        self.constellation = build_constellation(self.scenario)
        self.engine = TopologyEngine(self.constellation)
        self.shaper: Optional[LinkShaper] = None
        self.network: Optional[LeoNetwork] = None
        self.controller: Optional[Controller] = None
        self._old_handlers: Dict[int, Any] = {}
        self._stopping = False
        #: Run services (see leonet.launch), started in order after bring-up and stopped in
        #: reverse before teardown: objects with start(run) and stop(); the first one with a
        #: node_factory() chooses how nodes are made (bare namespaces otherwise).
        self.services: List[Any] = []
        #: the containers layer's service, when the run was built by leonet.launch.prepare_run
        self.extensions: Optional[Any] = None

    def add_service(self, service: Any) -> None:
        self.services.append(service)

    def _node_factory(self) -> NodeFactory:
        for service in self.services:
            make = getattr(service, "node_factory", None)
            if make is not None:
                return make()
        if self.config.nodes != "namespace":
            raise LeonetError(f"emulation.nodes: {self.config.nodes} hosts come from a higher layer: build the run "
                              "with leonet.launch.prepare_run (the CLI does)")
        return NamespaceNodeFactory()

    @classmethod
    def from_scenario(cls, scenario: Union[str, Scenario], start: Optional[str] = None,
                      **overrides: Any) -> "EmulationRun":
        """A run of ``scenario`` (a preset name, a YAML path or a :class:`Scenario`),
        with ``emulation:`` keys overridden (``backend=``, ``speed=``, ...; None keeps)."""
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario, start)
        return cls(scenario, emulation_config(scenario).with_overrides(**overrides))

    # ------------------------------------------------------------------ lifecycle
    def start(self, progress: Optional[Progress] = None) -> None:
        require_root()
        self._catch_interrupts()
        if runstate.active_run() is not None:
            runstate.claim({})  # raises with the other run's pid
        cleanup(stop_run=False)  # leftovers of a crashed run
        self.shaper = make_backend(self.config.backend)
        self.network = LeoNetwork(self.engine, self.config, self.shaper, self._node_factory())
        self.controller = Controller(self.engine, self.network, self.config.step_s, self.config.speed,
                                     self.config.offset_s, Hooks())
        runstate.claim({"scenario": self.scenario.name, "backend": self.shaper.name,
                        "scenario_path": str(self.scenario.source), "routes": self.config.routes,
                        "delay_update_threshold_ms": self.config.delay_update_threshold_ms,
                        "start": format_utc(self.scenario.start),
                        "nodes": [n.to_dict() for n in self.network.nodes]})
        report = self.network.start(self.controller.first_snapshot(), progress or (lambda *a: None))
        for line in report.errors:
            log.warning("bring-up: %s", line)
        self.controller.hooks.tick.append(self._write_status)
        self._write_status(None)
        for service in self.services:
            service.start(self)

    def _write_status(self, info: Optional[TickInfo]) -> None:
        c = self.controller
        assert c is not None and self.shaper is not None
        runstate.write_status({
            "time": c.current_time_iso, "offset_s": c.current_offset_s, "tick": c.tick_index,
            "step_s": c.step_s, "speed": c.speed, "backend": self.shaper.name,
            "backend_accuracy_ms": self.shaper.accuracy_ms, "stats": c.stats.summary(),
            "last_tick": None if info is None else {
                "compute_ms": info.compute_ms, "apply_ms": info.apply_ms, "lag_ms": info.lag_ms,
                "links_added": info.report.links_added, "links_removed": info.report.links_removed,
                "delays_updated": info.report.delays_updated, "routes_changed": info.report.routes_changed,
                "phase_ms": info.report.phase_ms},
            "handovers": len(c.handovers),
            "link_faults": self._link_faults(),
        })

    def _link_faults(self) -> List[list]:
        """The link faults in effect (node indices), so that `leonet check` routes around them as the
        run does."""
        table = self.network.overrides.items() if self.network is not None else {}
        return [[a, b, o.failed, o.extra_delay_ms, o.extra_loss_percent] for (a, b), o in sorted(table.items())]

    # ------------------------------------------------------------------ interrupts
    def _catch_interrupts(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._old_handlers:
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, self._interrupt)

    def _interrupt(self, signum: int, frame: Any) -> None:
        if self._stopping:
            sys.stderr.write("leonet: still stopping (removing what the run created); `leonet cleanup` from "
                             "another shell forces it\n")
            return
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def _release_interrupts(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._old_handlers = {}

    def stop(self) -> None:
        self._stopping = True
        try:
            self._stop()
        finally:
            self._stopping = False
            self._release_interrupts()

    def _stop(self) -> None:
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as exc:  # keep tearing down
                log.warning("stopping %s: %s", type(service).__name__, exc)
        if self.controller is not None:
            self.controller.close()
        if self.network is not None:
            self.network.stop()
        runstate.release()

    def __enter__(self) -> "EmulationRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers
    def node(self, name: str):
        assert self.network is not None
        return self.network.node(name)

    def expected_rtt_ms(self, a: str, b: str) -> Optional[float]:
        """2 x the engine's one-way path delay between two nodes, at the current tick."""
        assert self.network is not None and self.network.snapshot is not None
        p = self.network.snapshot.path(self.node(a).name, self.node(b).name)
        return None if not p.reachable else 2.0 * float(p.delay_ms)
