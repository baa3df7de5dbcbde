"""Link faults layered over the engine's snapshots: failed links and degraded links.

A failed link is removed before routing, so static routing goes around it at once (as
an oracle routing protocol would); a degraded link keeps its routes but gets extra
delay and loss. Overrides last until restored, across ticks and handovers (a failed
GSL that disappears and comes back stays failed).
"""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from ..topology import Snapshot
from ..topology.links import Links

Pair = Tuple[int, int]


@dataclass(frozen=True)
class LinkOverride:
    failed: bool = False
    extra_delay_ms: float = 0.0
    extra_loss_percent: float = 0.0


class LinkOverrides:
    """Thread-safe table of overrides by node pair (a < b)."""

    def __init__(self) -> None:
        self._table: Dict[Pair, LinkOverride] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._table)

    def set(self, a: int, b: int, override: LinkOverride) -> None:
        with self._lock:
            self._table[(min(a, b), max(a, b))] = override

    def clear(self, a: int, b: int) -> bool:
        with self._lock:
            return self._table.pop((min(a, b), max(a, b)), None) is not None

    def items(self) -> Dict[Pair, LinkOverride]:
        with self._lock:
            return dict(self._table)

    def apply(self, snap: Snapshot) -> Snapshot:
        """The snapshot as the data plane should see it."""
        table = self.items()
        if not table:
            return snap
        links = snap.links
        n = len(snap.nodes)
        keys = links.keys(n)
        keep = np.ones(len(links), dtype=bool)
        delay = links.delay_ms.copy()
        loss = links.loss_percent.copy()
        for (a, b), o in table.items():
            k = int(np.searchsorted(keys, a * n + b))
            if k >= len(keys) or keys[k] != a * n + b:
                continue  # the link is not up now
            if o.failed:
                keep[k] = False
            delay[k] += o.extra_delay_ms
            loss[k] = min(100.0, loss[k] + o.extra_loss_percent)
        changed = Links(links.a, links.b, links.kind, links.distance_km, delay, links.bandwidth_mbps, loss)
        return dataclasses.replace(snap, links=changed.select(keep), _graph=None)
