"""What the containers layer adds to an :class:`~leonet.emulation.run.EmulationRun`:
Docker hosts, the info API and DNS, bounding-box suspension, fault injection and the
control socket. It is a run service (see :mod:`leonet.launch`)::

    ext = RunExtensions(run)              # validates the containers: section
    factory = ext.node_factory()          # in run.start(): logs the resource estimate
    ext.start(run)                        # after the network is up
    ext.stop()                            # before the network goes down
"""
from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from ..emulation import runstate
from ..emulation.faults import LINK_ACTIONS, NODE_ACTIONS, FaultEvent, FaultInjector
from ..emulation.nodes import NamespaceNodeFactory, NodeFactory
from ..errors import ConfigError, LeonetError
from ..infoapi.model import InfoModel
from ..infoapi.names import NodeNames
from ..orbits.timeutil import format_utc
from .config import ContainersConfig, containers_config
from .control import ControlServer
from .docker_nodes import DockerNodeFactory
from .estimate import estimate
from .node_actions import HostActions
from .suspend import BoundingBoxSuspender

if TYPE_CHECKING:
    from ..emulation.run import EmulationRun

log = logging.getLogger("leonet.containers")

FAULT_LOG = runstate.STATE_DIR / "faults.jsonl"


class RunExtensions:
    def __init__(self, run: "EmulationRun"):
        self.run = run
        self.config: ContainersConfig = containers_config(run.scenario, run.config.nodes)
        if run.config.nodes == "containernet":
            from .containernet_nodes import require_containernet
            require_containernet()  # before anything starts
        self.run_id = f"{os.getpid()}-{int(time.time() * 1000)}"
        self.docker: Optional[DockerNodeFactory] = None
        self.containernet: Optional[Any] = None   #: the ContainernetNodeFactory of `nodes: containernet`
        self.actions: Optional[HostActions] = None
        self.faults: Optional[FaultInjector] = None
        self.suspender: Optional[BoundingBoxSuspender] = None
        self.info = None
        self.model: Optional[InfoModel] = None
        self.control: Optional[ControlServer] = None
        self.timings: Dict[str, float] = {}

    # ------------------------------------------------------------------ hooks
    def node_factory(self) -> NodeFactory:
        """Log the resource estimate; the factory for the scenario's host kinds."""
        try:
            for line in estimate(self.run.engine, self.config, self.run.config.offset_s).lines():
                log.info("resource estimate: %s", line)
        except Exception as exc:  # an estimate must never stop a run
            log.warning("resource estimate failed: %s", exc)
        if self.config.uses_docker:
            from .docker_client import client
            client()  # a clear error now rather than half-way through bring-up
            if self.run.config.nodes == "containernet":
                from .containernet_nodes import ContainernetNodeFactory
                self.containernet = ContainernetNodeFactory(self.config)
                return self.containernet
            self.docker = DockerNodeFactory(self.config, self.run_id)
            return self.docker
        return NamespaceNodeFactory()

    def start(self, run: Optional["EmulationRun"] = None) -> None:
        """After bring-up: info API and DNS, main containers, suspension, faults, control."""
        run = self.run
        network, controller = run.network, run.controller
        assert network is not None and controller is not None
        t0 = time.perf_counter()
        self.actions = HostActions(self.docker)
        self.faults = FaultInjector(network, self.actions,
                                    lambda: (controller.current_time_iso, controller.current_offset_s), FAULT_LOG)
        FAULT_LOG.unlink(missing_ok=True)
        names = NodeNames(run.constellation, [n.host for n in network.nodes])
        self.model = InfoModel(run.constellation, names, lambda: network.snapshot, self.is_suspended,
                               run.engine.config.bounding_box, run.scenario.name, clock=self._clock)
        if self.config.info_api:
            from ..infoapi.server import InfoServer
            self.info = InfoServer(self.model)
            bare = [n for n in network.nodes if self.docker is None or not self.docker.is_docker(n)]
            self.info.start(network.nodes, resolv_for=bare)
        self.timings["info_api_s"] = time.perf_counter() - t0
        if self.docker is not None:
            self.docker.start_main_containers(network.nodes)
        if self.config.suspend_outside_bounding_box and run.engine.config.bounding_box is not None:
            t0 = time.perf_counter()
            self.suspender = BoundingBoxSuspender(network.nodes, self.actions, run.constellation.num_satellites,
                                                  held=lambda i: i in self.faults.state.paused)
            first = network.engine_snapshot
            if first is not None:
                paused, _ = self.suspender.apply_now(first.active)
                log.info("bounding box: %d of %d satellites are outside and paused", paused,
                         run.constellation.num_satellites)
            self.suspender.start()
            controller.hooks.tick.append(self._on_tick)
            self.timings["suspend_s"] = time.perf_counter() - t0
        self.control = ControlServer(self)
        self.control.start()

    def _clock(self) -> Dict[str, Any]:
        """The info API's ``/clock``: the emulated time now (between ticks too)."""
        c = self.run.controller
        assert c is not None
        now = c.clock()   # one reading: offset_s + lag_s is the real-time pacing's offset
        return {"time": format_utc(self.run.engine.time_of(now.offset_s)), "offset_s": now.offset_s,
                "speed": c.speed, "ticking": now.ticking, "step_s": c.step_s, "lag_s": round(now.lag_s, 3)}

    def _on_tick(self, info: Any) -> None:
        snap = self.run.network.engine_snapshot if self.run.network is not None else None
        if snap is not None and self.suspender is not None:
            self.suspender.on_active(snap.active)

    def stop(self) -> None:
        self.close()

    def close(self) -> None:
        for part in (self.control, self.suspender, self.info):
            if part is not None:
                try:
                    part.close()
                except Exception as exc:
                    log.warning("closing %s: %s", type(part).__name__, exc)
        self.control = self.suspender = self.info = None
        if self.actions is not None:
            self.actions.close()

    # ------------------------------------------------------------------ queries and actions
    def is_suspended(self, index: int) -> bool:
        held = self.faults is not None and index in self.faults.state.paused
        return held or (self.suspender is not None and self.suspender.is_suspended(index))

    def suspended_names(self) -> Dict[str, List[str]]:
        nodes = self.run.network.nodes if self.run.network is not None else []
        box = sorted(self.suspender.suspended) if self.suspender is not None else []
        held = sorted(self.faults.state.paused) if self.faults is not None else []
        return {"bounding_box": [nodes[i].name for i in box], "faults": [nodes[i].name for i in held]}

    def inject(self, body: Mapping[str, Any]) -> FaultEvent:
        """A fault from a JSON body (see :mod:`.control`)."""
        if self.faults is None:
            raise LeonetError("the run is not started")
        action = body.get("action")
        if action in NODE_ACTIONS:
            if "node" not in body:
                raise ConfigError("node", None, "missing", f"{action} needs a node")
            return getattr(self.faults, action)(str(body["node"]))
        if action in LINK_ACTIONS:
            for key in ("a", "b"):
                if key not in body:
                    raise ConfigError(key, None, "missing", f"{action} needs the link's two nodes a and b")
            a, b = str(body["a"]), str(body["b"])
            if action == "fail-link":
                return self.faults.fail_link(a, b)
            if action == "restore-link":
                return self.faults.restore_link(a, b)
            return self.faults.degrade_link(a, b, body.get("extra_delay_ms", 0.0), body.get("extra_loss_percent", 0.0))
        raise ConfigError("action", action, "unknown fault", "use one of: " + ", ".join(NODE_ACTIONS + LINK_ACTIONS))

    def set_limits(self, node: str, cpus: Optional[float], memory_mb: Optional[int]) -> FaultEvent:
        """Change a Docker node's CPU/memory limits now (logged like a fault)."""
        from .config import optional_number
        cpus = optional_number("cpus", cpus, 0.01, 1024)
        memory_mb = optional_number("memory_mb", memory_mb, 6, 1 << 22, integer=True)
        assert self.actions is not None and self.faults is not None and self.run.network is not None
        n = self.run.network.node(node)
        detail = self.actions.set_limits(n, cpus, memory_mb)
        params = {k: v for k, v in (("cpus", cpus), ("memory_mb", memory_mb)) if v is not None}
        return self.faults.record("limits", n.name, params, detail)

    def _docker_node(self, node: str):
        if self.docker is None:
            raise LeonetError("this run has no Docker nodes (emulation.nodes: docker)")
        assert self.run.network is not None
        return self.run.network.node(node)

    def workloads(self, node: Optional[str] = None) -> List[Dict[str, Any]]:
        from .workloads import list_workloads
        if self.docker is None:
            return []
        return list_workloads(self.docker, self._docker_node(node) if node else None)

    def add_workload(self, node: str, body: Mapping[str, Any]) -> Dict[str, Any]:
        from .config import parse_command, optional_number
        from .workloads import run_workload
        n = self._docker_node(node)
        image = body.get("image")
        if not isinstance(image, str) or not image:
            raise ConfigError("image", image, "missing", "give an image name")
        c = run_workload(self.docker, n, image, parse_command("command", body.get("command")),
                         str(body.get("name", "app")), optional_number("cpus", body.get("cpus"), 0.01, 1024),
                         optional_number("memory_mb", body.get("memory_mb"), 6, 1 << 22, integer=True),
                         body.get("env") or {})
        return {"name": c.name, "id": c.id}

    def remove_workload(self, node: str, name: str) -> Dict[str, Any]:
        from .workloads import remove_workload
        remove_workload(self.docker, self._docker_node(node), name)
        return {"removed": name}
