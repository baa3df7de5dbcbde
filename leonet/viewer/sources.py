"""Where the live view's state comes from.

* :class:`RunSource`: inside the run's own process (``leonet run --view``,
  ``LeoNet.serve_view``): the snapshot the data plane uses now (``LeoNetwork.snapshot``,
  injected link faults included: the info API's state), the controller's handovers, the
  containers layer's suspensions and the run services' ownership (:mod:`.ownership`).
  The controller's tick hook announces each new frame.
* :class:`ActiveRunSource`: from another shell (``leonet view``): the active run's
  records (``/run/leonet``), its current tick from ``status.json`` and the engine's
  snapshot at that tick recomputed from the same scenario; suspensions from the run's
  control socket when readable (root). It cannot see injected link faults or ownership:
  the page says so (use ``leonet run --view`` for those).
"""
from __future__ import annotations

import abc
import json
import logging
import threading
from collections import deque
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..topology import Snapshot
from .frames import HANDOVER_HISTORY, FrameBuilder, HandoverTracker, handover_record
from .ownership import ownership_of

log = logging.getLogger("leonet.viewer")

Listener = Callable[[], None]


class ViewSource(abc.ABC):
    """A run's state as the view needs it. Subclasses fill :attr:`builder` and call
    :meth:`_announce` when a new tick is in force."""

    builder: FrameBuilder
    notes: List[str]

    def __init__(self) -> None:
        self._listeners: List[Listener] = []
        self.notes = []

    def subscribe(self, listener: Listener) -> None:
        """``listener()`` is called (from any thread) whenever a new tick is in force."""
        self._listeners.append(listener)

    def _announce(self) -> None:
        for fn in list(self._listeners):
            fn()

    @abc.abstractmethod
    def current(self) -> Optional[Tuple[Snapshot, int]]:
        """The snapshot in force and its tick index (None before the first)."""

    @abc.abstractmethod
    def frame(self) -> Optional[Dict[str, Any]]:
        """The current frame (:meth:`FrameBuilder.frame`), None before the first tick."""

    def poll(self) -> bool:
        """Look for a new tick (sources without push); True while the run lives."""
        return True

    def close(self) -> None:
        """Stop listening to the run."""


class RunSource(ViewSource):
    """The view of a run in this process (see the module docstring)."""

    def __init__(self, run: Any):
        super().__init__()
        self.run = run
        controller = run.controller
        if controller is None or run.network is None:
            raise RuntimeError("the run is not started")
        self.builder = FrameBuilder(run.engine, run.scenario.name, controller.step_s, "run")
        self._handovers: deque = deque(
            (handover_record(h.time_iso, h.offset_s, h.ground_station, h.old, h.new)
             for h in controller.handovers[-HANDOVER_HISTORY:]), maxlen=HANDOVER_HISTORY)
        self._lock = threading.Lock()
        self._hooks = controller.hooks
        self._hooks.handover.append(self._on_handover)
        self._hooks.tick.append(self._on_tick)
        self.owner_source: Optional[str] = None

    def _on_handover(self, h: Any) -> None:
        with self._lock:
            self._handovers.append(handover_record(h.time_iso, h.offset_s, h.ground_station, h.old, h.new))

    def _on_tick(self, info: Any) -> None:
        self._announce()

    def current(self) -> Optional[Tuple[Snapshot, int]]:
        snap = self.run.network.snapshot if self.run.network is not None else None
        return None if snap is None else (snap, self.run.controller.tick_index)

    def _suspended(self) -> List[int]:
        ext = self.run.extensions
        check = getattr(ext, "is_suspended", None)
        if check is None:
            return []
        return [i for i in range(self.builder.nodes.num_satellites) if check(i)]

    def frame(self) -> Optional[Dict[str, Any]]:
        current = self.current()
        if current is None:
            return None
        snap, tick = current
        self.owner_source, owners = ownership_of(self.run)
        with self._lock:
            handovers = list(self._handovers)
        overrides = getattr(self.run.network, "overrides", None)
        failed = sum(o.failed for o in overrides.items().values()) if overrides is not None else 0
        frame = self.builder.frame(snap, tick, handovers, self._suspended(), owners, failed)
        frame["owner_source"] = self.owner_source
        return frame

    def close(self) -> None:
        for hooks, fn in ((self._hooks.handover, self._on_handover), (self._hooks.tick, self._on_tick)):
            if fn in hooks:
                hooks.remove(fn)


class ActiveRunSource(ViewSource):
    """The view of the active run of another process (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        from ..emulation.active import active_run
        self._active = active_run()        # raises LeonetError when no run is active
        self.pid = int(self._active.record["pid"])
        status = self._active.status
        self.builder = FrameBuilder(self._active.engine, str(self._active.record.get("scenario")),
                                    float(status.get("step_s", 1.0)), "active-run")
        self._tracker = HandoverTracker()
        self._snap = self._active.snapshot
        self._tick = int(status.get("tick", 0))
        self._tracker.observe(self._snap)
        self.notes = ["shown from another process: injected link faults and control-plane ownership are "
                      "visible only in the run's own view (leonet run --view)"]

    def poll(self) -> bool:
        from ..emulation import runstate
        record = runstate.active_run()
        if record is None or int(record["pid"]) != self.pid:
            return False
        try:
            status = json.loads(runstate.STATUS_FILE.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return True
        tick = int(status.get("tick", self._tick))
        if tick != self._tick:
            self._snap = self._active.engine.snapshot(float(status.get("offset_s", 0.0)))
            self._tick = tick
            self._tracker.observe(self._snap)
            self._announce()
        return True

    def current(self) -> Optional[Tuple[Snapshot, int]]:
        return self._snap, self._tick

    def _suspended(self) -> List[int]:
        try:
            from ..containers.control import request
            names = request("GET", "/suspended")
        except Exception:   # no control socket (no root, or a run without one)
            return []
        index = {n: i for i, n in enumerate(self.builder.nodes.names)}
        return [index[n] for group in names.values() if isinstance(group, list) for n in group if n in index]

    def frame(self) -> Optional[Dict[str, Any]]:
        frame = self.builder.frame(self._snap, self._tick, list(self._tracker.history), self._suspended())
        frame["owner_source"] = None
        return frame


class EngineSource(ViewSource):
    """The topology engine alone, ticking in real time at ``speed`` (``leonet view
    SCENARIO``: a scenario's orbit and links without an emulation, no root needed)."""

    def __init__(self, engine: Any, scenario_name: str, step_s: float = 1.0, speed: float = 1.0,
                 offset_s: float = 0.0):
        super().__init__()
        self.engine, self.step_s, self.speed = engine, float(step_s), float(speed)
        self.builder = FrameBuilder(engine, scenario_name, step_s, "engine")
        self._tracker = HandoverTracker()
        self._tick = 0
        self._offset0 = float(offset_s)
        self._snap = engine.snapshot(self._offset0)
        self._tracker.observe(self._snap)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.notes = ["geometry only: no emulation is running (the topology engine's snapshots)"]

    def start(self) -> "EngineSource":
        self._thread = threading.Thread(target=self._run, name="leonet-view-engine", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        import time
        wall0 = time.monotonic()
        while not self._stop.wait(max(0.0, wall0 + (self._tick + 1) * self.step_s / self.speed - time.monotonic())):
            self.advance()

    def advance(self) -> None:
        """Move to the next tick now (also used by tests)."""
        snap = self.engine.snapshot(self._offset0 + (self._tick + 1) * self.step_s)
        self._snap, self._tick = snap, self._tick + 1
        self._tracker.observe(snap)
        self._announce()

    def current(self) -> Optional[Tuple[Snapshot, int]]:
        return self._snap, self._tick

    def frame(self) -> Optional[Dict[str, Any]]:
        frame = self.builder.frame(self._snap, self._tick, list(self._tracker.history))
        frame["owner_source"] = None
        return frame

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
