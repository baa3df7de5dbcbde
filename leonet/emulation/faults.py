"""Fault injection: kill, restart, pause or resume a node; fail, restore or degrade a
link. Every event is logged with its emulated and wall-clock times.

* **Links** use :meth:`LeoNetwork.set_link_override`'s table: a failed link is taken out
  before routing (traffic goes around it, if it can); a degraded one keeps its routes
  and gets extra one-way delay and random loss. Faults last until restored, across
  ticks and handovers.
* **Nodes**: *kill* stops the node's software (:class:`NodeActions`) and fails every
  link the node has or will get, so the dead node neither answers nor forwards;
  *restart* starts its software again and restores its links (except links failed on
  their own). *pause* freezes its software (the kernel still forwards, as a hung
  payload would leave the radio running); *resume* thaws it.

:class:`FaultInjector` is thread-safe; the containers layer serves it over a control
socket for `leonet fault ...`.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple

from ..errors import ConfigError, LeonetError
from .network import LeoNetwork
from .nodes import EmulatedNode
from .overrides import LinkOverride

log = logging.getLogger("leonet.faults")

NODE_ACTIONS = ("kill", "restart", "pause", "resume")
LINK_ACTIONS = ("fail-link", "restore-link", "degrade-link")


class NodeActions(Protocol):
    """What kill/restart/pause/resume do to a node's software (per host kind).
    Each returns a short description of what it did."""

    def kill(self, node: EmulatedNode) -> str: ...
    def restart(self, node: EmulatedNode) -> str: ...
    def pause(self, node: EmulatedNode) -> str: ...
    def resume(self, node: EmulatedNode) -> str: ...


@dataclass(frozen=True)
class FaultEvent:
    """One injected fault (or its undoing), as logged."""

    seq: int
    action: str
    target: str                     #: a node name, or "A~B" for a link
    params: Dict[str, Any]
    emulated_time: Optional[str]    #: ISO UTC of the emulation when it was applied
    emulated_offset_s: Optional[float]
    wall_time: str                  #: ISO UTC wall clock, milliseconds
    detail: str

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


Clock = Callable[[], Tuple[Optional[str], Optional[float]]]


@dataclass
class FaultState:
    down: Set[int] = field(default_factory=set)
    paused: Set[int] = field(default_factory=set)
    links: Dict[Tuple[int, int], LinkOverride] = field(default_factory=dict)


class FaultInjector:
    """Injects faults into a running :class:`LeoNetwork` and keeps their log."""

    def __init__(self, network: LeoNetwork, actions: NodeActions, clock: Clock,
                 log_path: Optional[Path] = None):
        self.network = network
        self.actions = actions
        self.clock = clock
        self.log_path = log_path
        self.events: List[FaultEvent] = []
        self.state = FaultState()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ nodes
    def kill(self, node: str) -> FaultEvent:
        """Stop the node's software and take all its links down until :meth:`restart`."""
        with self._lock:
            n = self.network.node(node)
            detail = self.actions.kill(n)
            self.state.down.add(n.index)
            self._refresh_node_links(n.index)
            return self._record("kill", n.name, {}, detail)

    def restart(self, node: str) -> FaultEvent:
        """Bring a killed (or running) node's links back and start its software again."""
        with self._lock:
            n = self.network.node(node)
            self.state.down.discard(n.index)
            self._refresh_node_links(n.index)
            detail = self.actions.restart(n)
            self.state.paused.discard(n.index)
            return self._record("restart", n.name, {}, detail)

    def pause(self, node: str) -> FaultEvent:
        with self._lock:
            n = self.network.node(node)
            detail = self.actions.pause(n)
            self.state.paused.add(n.index)
            return self._record("pause", n.name, {}, detail)

    def resume(self, node: str) -> FaultEvent:
        with self._lock:
            n = self.network.node(node)
            detail = self.actions.resume(n)
            self.state.paused.discard(n.index)
            return self._record("resume", n.name, {}, detail)

    # ------------------------------------------------------------------ links
    def fail_link(self, a: str, b: str) -> FaultEvent:
        """Take the link between two nodes down (now and whenever it would come up)."""
        return self._link("fail-link", a, b, LinkOverride(failed=True), {})

    def degrade_link(self, a: str, b: str, extra_delay_ms: float = 0.0, extra_loss_percent: float = 0.0
                     ) -> FaultEvent:
        """Add one-way delay (ms, each direction) and random loss (percent) to a link."""
        for name, value, hi in (("extra_delay_ms", extra_delay_ms, 60000.0),
                                ("extra_loss_percent", extra_loss_percent, 100.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= hi:
                raise ConfigError(name, value, f"must be a number in [0, {hi:g}]", "e.g. 20 (ms) or 5 (%)")
        if extra_delay_ms == 0 and extra_loss_percent == 0:
            raise ConfigError("degrade", (extra_delay_ms, extra_loss_percent), "changes nothing",
                              "give an extra delay (ms) and/or loss (%)")
        return self._link("degrade-link", a, b,
                          LinkOverride(extra_delay_ms=float(extra_delay_ms),
                                       extra_loss_percent=float(extra_loss_percent)),
                          {"extra_delay_ms": float(extra_delay_ms), "extra_loss_percent": float(extra_loss_percent)})

    def restore_link(self, a: str, b: str) -> FaultEvent:
        """Undo a link's failure or degradation."""
        return self._link("restore-link", a, b, None, {})

    def _link(self, action: str, a: str, b: str, override: Optional[LinkOverride],
              params: Dict[str, Any]) -> FaultEvent:
        with self._lock:
            na, nb = self.network.node(a), self.network.node(b)
            if na.index == nb.index:
                raise ConfigError("link", f"{a}~{b}", "names the same node twice", "give two different nodes")
            key = (min(na.index, nb.index), max(na.index, nb.index))
            if override is None:
                if self.state.links.pop(key, None) is None:
                    raise LeonetError(f"no fault on the link {na.name}~{nb.name} to restore")
            else:
                self.state.links[key] = override
            self._set_pair(*key)
            self._apply()
            up = self.network.snapshot is not None and self.network.engine_snapshot is not None \
                and self.network.engine_snapshot.link_between(*key) is not None
            detail = "" if up else "the link is not up now; the fault applies when it comes up"
            return self._record(action, f"{na.name}~{nb.name}", params, detail)

    # ------------------------------------------------------------------ internals
    def _effective(self, i: int, j: int) -> Optional[LinkOverride]:
        if i in self.state.down or j in self.state.down:
            return LinkOverride(failed=True)
        return self.state.links.get((i, j))

    def _set_pair(self, i: int, j: int) -> None:
        o = self._effective(i, j)
        if o is None:
            self.network.overrides.clear(i, j)
        else:
            self.network.overrides.set(i, j, o)

    def _refresh_node_links(self, i: int) -> None:
        for j in range(len(self.network.nodes)):
            if j != i:
                self._set_pair(min(i, j), max(i, j))
        self._apply()

    def _apply(self) -> None:
        snap = self.network.engine_snapshot
        if snap is not None:
            report = self.network.apply(snap)
            for line in report.errors:
                log.warning("applying a fault: %s", line)

    def _record(self, action: str, target: str, params: Dict[str, Any], detail: str) -> FaultEvent:
        emulated, offset = self.clock()
        wall = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event = FaultEvent(len(self.events) + 1, action, target, dict(params), emulated, offset, wall, detail)
        self.events.append(event)
        log.info("fault %s %s%s at emulated %s (wall %s)%s", action, target,
                 "".join(f" {k}={v}" for k, v in params.items()), emulated, wall, f": {detail}" if detail else "")
        if self.log_path is not None:
            try:
                with open(self.log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(event.to_dict()) + "\n")
            except OSError as exc:
                log.warning("writing the fault log %s: %s", self.log_path, exc)
        return event

    def record(self, action: str, target: str, params: Dict[str, Any], detail: str = "") -> FaultEvent:
        """Log an event that another layer carried out (e.g. a runtime limit change)."""
        with self._lock:
            return self._record(action, target, params, detail)
