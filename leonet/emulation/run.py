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

import gc
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
from .network import LeoNetwork, Progress, check_forwarding_table_size
from .nodes import NamespaceNodeFactory, NodeFactory
from .shaping.base import LinkShaper
from .shaping.health import HealthWindow, OverloadEpisode, ShaperHealth, ShaperMonitor

log = logging.getLogger("leonet.emulation")


def require_root() -> None:
    if os.geteuid() != 0:
        raise LeonetError("emulation needs root (network namespaces, veths, routes): run it with sudo")


def make_backend(kind: str, nfqueue_daemon: str = "c") -> LinkShaper:
    """The link shaper for ``kind`` (auto | netem | nfqueue | none); ``nfqueue_daemon``
    (c | python) chooses the nfqueue backend's data path."""
    from .shaping.factory import make_shaper, resolve_backend
    if resolve_backend(kind) == "nfqueue":
        return make_shaper(kind, implementation=nfqueue_daemon)
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
        self._health: Optional[ShaperMonitor] = None
        self._froze_collector = False
        self._forwarding_map_id: Optional[int] = None
        self._status_lock = threading.Lock()
        self._last_tick: Optional[TickInfo] = None
        #: why the run stopped itself (``emulation.abort_on_overload``), else None
        self.abort_reason: Optional[str] = None

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
        if self.config.forwarding == "per-pair":
            from .network import check_per_pair_size
            check_per_pair_size(self.engine, self.config.offset_s)
        check_forwarding_table_size(self.engine, self.config)
        if runstate.active_run() is not None:
            runstate.claim({})  # raises with the other run's pid
        cleanup(stop_run=False)  # leftovers of a crashed run
        self.shaper = make_backend(self.config.backend, self.config.nfqueue_daemon)
        self.network = LeoNetwork(self.engine, self.config, self.shaper, self._node_factory())
        self.controller = Controller(self.engine, self.network, self.config.step_s, self.config.speed,
                                     self.config.offset_s, Hooks())
        runstate.claim({"scenario": self.scenario.name, "backend": self.shaper.name,
                        "scenario_path": str(self.scenario.source), "routes": self.config.routes,
                        "forwarding": self.config.forwarding,
                        "delay_update_threshold_ms": self.config.delay_update_threshold_ms,
                        "route_hysteresis_ms": self.config.route_hysteresis_ms,
                        "start": format_utc(self.scenario.start),
                        "nodes": [n.to_dict() for n in self.network.nodes],
                        **({"destinations": self.network.destinations.tolist()}
                           if self.config.routes == "bounding-box" else {})})
        report = self.network.start(self.controller.first_snapshot(), progress or (lambda *a: None),
                                    computed=self.controller.first_computed)
        for line in report.errors:
            log.warning("bring-up: %s", line)
        # What bring-up built lives as long as the run and holds no garbage: out of the
        # collector's way, a full collection during a tick scans only what ticks made
        # (at phase I it scanned millions of objects, 50-90 ms, several times a minute).
        gc.freeze()
        self._froze_collector = True
        fmap = self.network.forwarding_map
        self._forwarding_map_id = fmap.id if fmap is not None else None
        self._health = ShaperMonitor(self.shaper, emulated_time=lambda: self.controller.current_time_iso,
                                     on_overload=self._on_overload, on_recovery=self._on_recovery).start()
        self.controller.hooks.tick.append(self._write_status)
        self._write_status(None)
        for service in self.services:
            service.start(self)

    def _write_status(self, info: Optional[TickInfo]) -> None:
        c = self.controller
        assert c is not None and self.shaper is not None
        with self._status_lock:  # the tick thread and the health monitor's
            if info is not None:
                self._last_tick = info
            self._write_status_locked(c, self._last_tick)

    def _write_status_locked(self, c: Controller, info: Optional[TickInfo]) -> None:
        runstate.write_status({
            "time": c.current_time_iso, "offset_s": c.current_offset_s, "tick": c.tick_index,
            "step_s": c.step_s, "speed": c.speed, "backend": self.shaper.name,
            "backend_accuracy_ms": self.shaper.accuracy_ms, "stats": c.stats.summary(),
            # emulation.forwarding_table: ebpf: where `leonet check` reads the tables
            "forwarding_map_id": self._forwarding_map_id,
            "last_tick": None if info is None else {
                "compute_ms": info.compute_ms, "apply_ms": info.apply_ms, "lag_ms": info.lag_ms,
                "links_added": info.report.links_added, "links_removed": info.report.links_removed,
                "delays_updated": info.report.delays_updated, "routes_changed": info.report.routes_changed,
                "phase_ms": info.report.phase_ms},
            "handovers": len(c.handovers),
            "shaper_health": self.shaper_health().to_dict(),
            "link_faults": self._link_faults(),
        })

    # ------------------------------------------------------------------ delay backend health
    def shaper_health(self) -> ShaperHealth:
        """Whether the delay backend holds its stated accuracy: the last measured window
        and every overload episode of the run (when, how long, how bad). See
        :mod:`leonet.emulation.shaping.health`."""
        if self._health is None:
            name = self.shaper.name if self.shaper is not None else self.config.backend
            return ShaperHealth(backend=name, measured=False, accuracy_ms=0.0, limits=None, last=None)
        return self._health.health()

    def _on_overload(self, episode: OverloadEpisode, window: HealthWindow) -> None:
        log.warning("the %s delay backend is overloaded (%s); delays measured now carry its extra delay",
                    self.shaper.name if self.shaper else "?", window.describe())
        if self.controller is not None:
            # `leonet status` shows it now, not at the next tick, and before an abort
            # (below) lets whoever waits for the run go on to read the status
            self._write_status(None)
        if self.config.abort_on_overload and self.abort_reason is None:
            self.abort_reason = f"the delay backend is overloaded {episode.describe()}"
            log.error("stopping the run (emulation.abort_on_overload): %s", self.abort_reason)
            if self.controller is not None:
                self.controller.stop()

    def _on_recovery(self, episode: OverloadEpisode) -> None:
        log.warning("the delay backend holds its accuracy again; it was overloaded %s", episode.describe())

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
        if self._health is not None:
            self._health.stop()
            health = self._health.health()
            if health.ever_overloaded:
                log.warning("delay backend: %s. Delays measured during these episodes are not accurate.",
                            health.summary())
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as exc:  # keep tearing down
                log.warning("stopping %s: %s", type(service).__name__, exc)
        if self.controller is not None:
            self.controller.close()
        if self.network is not None:
            self.network.stop()
        if self._froze_collector:  # a process may start many runs: let the collector see this one's cycles
            gc.unfreeze()
            self._froze_collector = False
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
