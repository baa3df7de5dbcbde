"""Bounding-box suspension: satellites outside ``topology.bounding_box`` are paused
(Docker: ``docker pause``; namespaces: the cgroup freezer) and resumed when they come
back in. Ground stations are always active.

The controller's tick hook only computes which satellites changed side; the pauses
run in a background thread so a tick never waits for Docker. A node paused by a fault
stays paused when it re-enters the box.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ..emulation.nodes import EmulatedNode
from .node_actions import HostActions

log = logging.getLogger("leonet.containers")


class BoundingBoxSuspender:
    def __init__(self, nodes: Sequence[EmulatedNode], actions: HostActions, num_satellites: int,
                 held: Callable[[int], bool] = lambda i: False):
        self.nodes = list(nodes)
        self.actions = actions
        self.num_satellites = num_satellites
        self.held = held                      #: paused by a fault: never resumed here
        self.suspended: Set[int] = set()      #: satellites paused because they are outside
        #: milliseconds per node of each batch of pauses and resumes
        self.stats: Dict[str, List[float]] = {"pause_ms": [], "resume_ms": []}
        self._queue: "queue.Queue[Optional[Tuple[List[int], List[int]]]]" = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def apply_now(self, active: np.ndarray) -> Tuple[int, int]:
        """Pause/resume synchronously to match ``active`` (per satellite); (paused, resumed)."""
        pause, resume = self._diff(active)
        self._work(pause, resume)
        return len(pause), len(resume)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="leonet-bbox", daemon=True)
        self._thread.start()

    def on_active(self, active: np.ndarray) -> None:
        """Called every tick with the snapshot's per-satellite ``active`` mask."""
        pause, resume = self._diff(active)
        if pause or resume:
            self._queue.put((pause, resume))

    def is_suspended(self, index: int) -> bool:
        return index in self.suspended

    def _diff(self, active: np.ndarray) -> Tuple[List[int], List[int]]:
        with self._lock:
            outside = set(int(i) for i in np.flatnonzero(~np.asarray(active[:self.num_satellites], bool)))
            pause = sorted(outside - self.suspended)
            resume = sorted(self.suspended - outside)
            self.suspended = outside
        return pause, resume

    def _work(self, pause: List[int], resume: List[int]) -> None:
        resume = [i for i in resume if not self.held(i)]
        if resume:
            t0 = time.perf_counter()
            self._act(self.actions.resume_many, resume)
            self.stats["resume_ms"].append((time.perf_counter() - t0) * 1000 / len(resume))
        if pause:
            t0 = time.perf_counter()
            self._act(self.actions.pause_many, pause)
            self.stats["pause_ms"].append((time.perf_counter() - t0) * 1000 / len(pause))
        if pause or resume:
            log.debug("bounding box: paused %d, resumed %d satellites", len(pause), len(resume))

    def _act(self, fn: Callable[[List[EmulatedNode]], int], indices: List[int]) -> None:
        try:
            fn([self.nodes[i] for i in indices])
        except Exception as exc:  # e.g. Docker briefly unreachable: the next change retries nothing, so warn
            log.warning("bounding box: %s of %d nodes failed: %s", fn.__name__, len(indices), exc)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._work(*item)
            finally:
                self._queue.task_done()

    def wait_idle(self) -> None:
        """Block until every queued pause/resume is done (tests, benchmarks)."""
        self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)
            self._thread = None
