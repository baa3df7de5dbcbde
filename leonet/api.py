"""The Python API for ``sudo python`` scripts, in Mininet's idiom.

::

    from leonet import LeoNet, CLI

    with LeoNet("demo") as net:                        # a preset, a YAML path or a Scenario
        print(net["Berlin"].cmd("ping -c 3 madrid.gst.leonet"))
        print(net.path("Berlin", "Madrid"))            # the engine's path at the current tick
        net.advance(30)                                # 30 emulated seconds later
        CLI(net)                                       # Mininet's CLI with leonet's commands

:class:`LeoNet` wraps one live emulation run (see :mod:`leonet.launch`): it validates
the scenario when created, brings the network and every service the scenario asks for
(Docker hosts, info API and DNS, control planes) up in :meth:`LeoNet.start`, and removes
everything in :meth:`LeoNet.stop` -- also on an exception or Ctrl-C inside ``with``.

Two clocks: ``clock="realtime"`` (default) ticks in the background at the scenario's
speed, as ``leonet run`` does, and :meth:`LeoNet.advance` waits for it;
``clock="manual"`` applies ticks only when :meth:`LeoNet.advance` is called, as fast as
the kernel takes them, so a script controls exactly when the topology changes.
"""
from __future__ import annotations

import datetime as _dt
import math
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .emulation.controller import GslHandover, TickInfo
from .emulation.run import EmulationRun, require_root
from .errors import ConfigError, LeonetError
from .launch import prepare_run
from .orbits import Scenario
from .schema import check_choice
from .topology import Path as EnginePath

CLOCKS = ("realtime", "manual")


@dataclass(frozen=True)
class PathInfo:
    """The engine's least-delay path between two nodes at the current tick."""

    source: str
    target: str
    reachable: bool
    delay_ms: float               #: one-way propagation delay
    hops: Tuple[str, ...]         #: node names from source to target (both included)
    time: str                     #: emulated UTC time of the tick

    @property
    def rtt_ms(self) -> float:
        """Twice the one-way delay: the RTT a ping should measure."""
        return 2.0 * self.delay_ms

    def __str__(self) -> str:
        if not self.reachable:
            return f"{self.source} -> {self.target}: unreachable at {self.time}"
        return (f"{self.source} -> {self.target}: {self.delay_ms:.3f} ms one way, {len(self.hops) - 1} hops "
                f"({' '.join(self.hops)}) at {self.time}")


@dataclass(frozen=True)
class PingResult:
    """RTTs measured between two nodes, each beside the engine's expected RTT."""

    source: str
    target: str
    measured_ms: Tuple[Optional[float], ...]   #: None: no reply
    expected_ms: Tuple[Optional[float], ...]   #: None: the engine said unreachable

    @property
    def received(self) -> int:
        return sum(m is not None for m in self.measured_ms)

    @property
    def loss_percent(self) -> float:
        return 100.0 * (1 - self.received / max(1, len(self.measured_ms)))

    @property
    def errors_ms(self) -> List[float]:
        """Measured minus expected RTT, per answered ping."""
        return [m - e for m, e in zip(self.measured_ms, self.expected_ms) if m is not None and e is not None]


class LeoNet:
    """One live emulation of a scenario, driven from Python.

    ``scenario``: a preset name, a YAML path, a :class:`~leonet.orbits.Scenario`
    (:func:`leonet.build_scenario` makes one in Python) or a mapping as YAML would give.
    ``backend``, ``speed``, ``step_s``, ``offset_s``: override the scenario's
    ``emulation:`` keys. ``abort_on_overload``: stop ticking as soon as the delay backend
    reports that it cannot hold its stated accuracy (``emulation.abort_on_overload``;
    :meth:`health` says when and how much either way). ``start``: override its start time.
    ``progress``: bring-up progress bars on a terminal (True), none (False), or a
    ``(stage, done, total)`` callback.
    """

    def __init__(self, scenario: Union[str, Scenario, Dict[str, Any]], *, clock: str = "realtime",
                 start: Optional[str] = None, backend: Optional[str] = None, speed: Optional[float] = None,
                 step_s: Optional[float] = None, offset_s: Optional[float] = None,
                 abort_on_overload: Optional[bool] = None,
                 progress: Union[bool, Callable[[str, int, int], None]] = True):
        self.clock = check_choice("clock", clock, CLOCKS)
        if isinstance(scenario, dict):
            scenario = Scenario.from_dict(scenario)
        #: the underlying run (every layer's objects hang off it)
        self.run: EmulationRun = prepare_run(scenario, start=start, backend=backend, speed=speed,
                                             step_s=step_s, offset_s=offset_s,
                                             abort_on_overload=abort_on_overload)
        self._progress = progress
        self._ticker: Optional[threading.Thread] = None
        self._ticked = threading.Condition()
        self._view: Any = None
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LeoNet":
        """Bring the network and its services up (needs root); with the real-time clock,
        start ticking."""
        require_root()
        if self._started:
            return self
        self._started = True
        try:
            self.run.start(self._progress_callback())
            self.controller.hooks.tick.append(self._notify_tick)
            if self.clock == "realtime":
                self._ticker = threading.Thread(target=self.controller.run, name="leonet-ticker", daemon=True)
                self._ticker.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _progress_callback(self) -> Optional[Callable[[str, int, int], None]]:
        if callable(self._progress):
            return self._progress
        if self._progress and sys.stderr.isatty():
            from .emulation.progress import StageBars
            return StageBars(leave=False)
        return None

    def stop(self) -> None:
        """Stop ticking and remove everything the run created. Safe to call twice."""
        if self.run.controller is not None:
            self.run.controller.stop()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self._view is not None:
            from .emulation.hosts import stop_hosts
            stop_hosts(self._view)
            self._view = None
        self.run.stop()

    def __enter__(self) -> "LeoNet":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ nodes
    @property
    def scenario(self) -> Scenario:
        return self.run.scenario

    @property
    def satellites(self) -> List[str]:
        """Satellite node names (``s<shell>p<plane>n<slot>``)."""
        return [s.name for s in self.run.constellation.satellites]

    @property
    def ground_stations(self) -> List[str]:
        return [g.name for g in self.run.constellation.ground_stations]

    def __getitem__(self, name: str) -> Any:
        """The node as a Mininet host: ``cmd()``, ``popen()``, ``sendCmd()``, ``IP()``.
        Its shell runs in the node's namespace with the node's DNS (``*.leonet``)."""
        node = self._require_network().node(name)
        containernet = getattr(self.run.extensions, "containernet", None)
        if containernet is not None and containernet.host(node.name) is not None:
            return containernet.host(node.name)   # Containernet's Docker host: cmd() runs in the container
        return self.mininet.nameToNode[node.host]

    def get(self, *names: str) -> Any:
        """Mininet's ``net.get``: one host, or a list of hosts."""
        hosts = [self[n] for n in names]
        return hosts[0] if len(hosts) == 1 else hosts

    def address(self, name: str) -> str:
        """The node's IPv4 address (a /32 on its loopback)."""
        return self._require_network().node(name).address

    @property
    def mininet(self) -> Any:
        """A stock ``mininet.net.Mininet`` whose hosts are the run's nodes (made on first use)."""
        if self._view is None:
            from .emulation.hosts import mininet_view
            self._view = mininet_view(self._require_network())
        return self._view

    # ------------------------------------------------------------------ time
    @property
    def controller(self) -> Any:
        if self.run.controller is None:
            raise LeonetError("the emulation is not started: call net.start() or use `with LeoNet(...) as net`")
        return self.run.controller

    @property
    def time(self) -> _dt.datetime:
        """The emulated UTC time of the tick in force."""
        return self.run.engine.time_of(self.controller.current_offset_s)

    @property
    def offset_s(self) -> float:
        """Emulated seconds since the scenario's start."""
        return self.controller.current_offset_s

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of emulated time pass: with the real-time clock, wait until the
        controller has applied that tick; with the manual clock, apply the ticks now."""
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds)) or seconds < 0:
            raise ConfigError("seconds", seconds, "must be a number >= 0", "e.g. net.advance(10)")
        c = self.controller
        target = c.current_offset_s + seconds - 1e-9
        if self.clock == "manual":
            c.step(max(0, math.ceil((target - c.current_offset_s) / c.step_s - 1e-9)))
            return
        with self._ticked:
            while c.current_offset_s < target:
                if self._ticker is None or not self._ticker.is_alive():
                    raise LeonetError("the emulation stopped ticking")
                self._ticked.wait(timeout=1.0)

    def _notify_tick(self, info: TickInfo) -> None:
        with self._ticked:
            self._ticked.notify_all()

    # ------------------------------------------------------------------ topology
    def path(self, a: str, b: str) -> PathInfo:
        """The engine's least-delay path from ``a`` to ``b`` at the tick in force."""
        network = self._require_network()
        snap = network.snapshot
        p: EnginePath = snap.path(network.node(a).name, network.node(b).name)
        return PathInfo(p.source, p.target, bool(p.reachable), float(p.delay_ms) if p.reachable else math.inf,
                        tuple(p.hops), self.controller.current_time_iso)

    def ping(self, a: str, b: str, count: int = 5, interval_s: float = 0.2) -> PingResult:
        """Ping ``b`` from ``a`` through the emulated network (ICMP from ``a``'s
        namespace, microsecond timestamps) and pair each RTT with the expected one."""
        from .emulation.validation import RttProbe
        probe = RttProbe(self.run, [(a, b)], duration_s=count * interval_s, interval_s=interval_s)
        probe.start()
        samples = probe.wait()
        return PingResult(probe.pairs[0][0], probe.pairs[0][1], tuple(s.measured_ms for s in samples),
                          tuple(s.expected_ms for s in samples))

    def one_way(self, a: str, b: str, count: int = 20, interval_s: float = 0.05) -> List[Any]:
        """One-way delays from ``a`` to ``b`` and back, at every hop of the engine's paths
        (:mod:`leonet.emulation.owdprobe`): a ``LegResult`` per direction, with
        ``one_way_ms``, ``at_hop(k)`` and ``hop_rows()`` beside the engine's delays."""
        from .emulation.owdprobe import probe_run
        self._require_network()
        return probe_run(self.run, a, b, count, interval_s)

    # ------------------------------------------------------------------ hooks
    def on_tick(self, callback: Callable[[TickInfo], None]) -> None:
        """Call ``callback(TickInfo)`` after every tick (from the ticking thread)."""
        self.controller.hooks.tick.append(callback)

    def on_handover(self, callback: Callable[[GslHandover], None]) -> None:
        """Call ``callback(GslHandover)`` whenever a ground station's primary satellite changes."""
        self.controller.hooks.handover.append(callback)

    def on_links(self, callback: Callable[[list, list], None]) -> None:
        """Call ``callback(added, removed)`` with the links (a, b, kind) a tick changed."""
        self.controller.hooks.links.append(callback)

    # ------------------------------------------------------------------ faults
    def fault(self, action: str, *targets: str, **params: Any) -> Any:
        """Inject a fault, as ``leonet fault`` does: ``kill``, ``restart``, ``pause`` or
        ``resume`` a node (one target); ``fail-link``, ``restore-link`` or
        ``degrade-link`` between two nodes (``extra_delay_ms=``, ``extra_loss_percent=``).
        Returns the logged :class:`~leonet.emulation.faults.FaultEvent`."""
        from .emulation.faults import LINK_ACTIONS, NODE_ACTIONS
        ext = self.run.extensions
        if ext is None:
            raise LeonetError("this run has no fault injector")
        check_choice("action", action, NODE_ACTIONS + LINK_ACTIONS)
        wanted = 1 if action in NODE_ACTIONS else 2
        if len(targets) != wanted:
            raise ConfigError("targets", list(targets), f"{action} takes {wanted} node name(s)",
                              "e.g. net.fault('kill', 's0p1n2') or net.fault('fail-link', 'Berlin', 's0p1n2')")
        body: Dict[str, Any] = {"action": action, **params}
        if wanted == 1:
            body["node"] = targets[0]
        else:
            body["a"], body["b"] = targets
        return ext.inject(body)

    # ------------------------------------------------------------------ control planes
    @property
    def cluster(self) -> Any:
        """The :class:`~leonet.controlplane.cluster.ControlPlaneCluster` (scenarios with a
        ``controlplane:`` section)."""
        from .controlplane.cluster import ControlPlaneCluster
        return ControlPlaneCluster.of(self.run)

    def kubectl(self, ground_station: str, args: Union[str, Sequence[str]], check: bool = True,
                timeout: float = 60.0) -> str:
        """Run kubectl against a ground station's control plane, from inside the station's
        namespace (so its requests cross nothing but the station's own stack); returns
        its output. ``check``: raise when kubectl fails."""
        from .controlplane.kubeconfig import kubectl_binary
        from .controlplane.netns import exec_prefix
        plane = self.cluster.planes.get(self._require_network().node(ground_station).name)
        if plane is None:
            raise ConfigError("ground_station", ground_station, "runs no control plane",
                              "control planes run on: " + ", ".join(self.cluster.planes))
        argv = shlex.split(args) if isinstance(args, str) else list(args)
        proc = subprocess.run([*exec_prefix(plane.netns), kubectl_binary(), "--kubeconfig", plane.kubeconfig,
                               *argv], capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise LeonetError(f"kubectl {' '.join(argv)} on {ground_station} failed: {proc.stderr.strip()}")
        return proc.stdout + (proc.stderr if not check else "")

    # ------------------------------------------------------------------ live view
    def serve_view(self, port: int = 8765, path: Optional[Tuple[str, str]] = None, host: str = "127.0.0.1") -> str:
        """Serve the live web view of this run (docs/view.md) on ``host:port`` until
        :meth:`stop`; ``path``: two node names whose path the page highlights. Returns the URL."""
        from .viewer import ViewService
        self._require_network()
        service = ViewService(port, host, path)
        service.start(self.run)
        self.run.add_service(service)   # stopped with the run
        return str(service.url)

    # ------------------------------------------------------------------ status
    def status(self) -> Dict[str, Any]:
        """Tick statistics (compute, apply, lag percentiles), GSL handovers, backend, and
        the delay backend's health (``shaper_health``, as :meth:`health` gives it)."""
        c = self.controller
        return {"time": c.current_time_iso, "offset_s": c.current_offset_s, "tick": c.tick_index,
                "backend": self.run.shaper.name if self.run.shaper else None,
                "backend_accuracy_ms": self.run.shaper.accuracy_ms if self.run.shaper else None,
                "stats": c.stats.summary(), "handovers": len(c.handovers),
                "shaper_health": self.health().to_dict()}

    def health(self) -> Any:
        """Whether the delay backend holds its stated accuracy: a
        :class:`~leonet.emulation.shaping.health.ShaperHealth` with the last second's
        lateness, backlog and CPU, ``overloaded`` now, and every overload episode of the
        run (when, how long, how bad; ``summary()`` says it in one line).
        ``aborted`` tells whether ``abort_on_overload`` stopped the run."""
        return self.run.shaper_health()

    @property
    def aborted(self) -> Optional[str]:
        """Why the run stopped itself (``abort_on_overload``), else None."""
        return self.run.abort_reason

    # ------------------------------------------------------------------ helpers
    def _require_network(self) -> Any:
        if self.run.network is None or self.run.network.snapshot is None:
            raise LeonetError("the emulation is not started: call net.start() or use `with LeoNet(...) as net`")
        return self.run.network

    def __repr__(self) -> str:
        state = "running" if self._started and self.run.network is not None else "not started"
        return (f"<LeoNet {self.scenario.name}: {len(self.satellites)} satellites, "
                f"{len(self.ground_stations)} ground stations, {state}>")


def CLI(net: LeoNet) -> None:  # noqa: N802 (Mininet's name)
    """Mininet's interactive CLI on a running :class:`LeoNet`, with leonet's commands
    (``time``, ``where``, ``path``, ``links``, ``handovers``, ``check``) and those of the
    run's services (KubeSpace's ``bindings``)."""
    from .emulation.mncli import LeoCLI
    commands = {name: fn for service in net.run.services
                for name, fn in getattr(service, "cli_commands", dict)().items()}
    LeoCLI(net.mininet, net.controller, commands)


__all__ = ["CLI", "CLOCKS", "LeoNet", "PathInfo", "PingResult"]
