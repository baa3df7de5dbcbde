"""Links as parallel numpy arrays, and the link model (delay from distance).

Units are in the names: ``distance_km``, ``delay_ms`` (one way), ``bandwidth_mbps``
(Mbit/s, 10^6 bit/s), ``loss_percent`` (0-100, random loss as netem takes it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Sequence

import numpy as np

from ..orbits.constants import SPEED_OF_LIGHT_KM_S

ISL = 0  #: value of :attr:`Links.kind` for inter-satellite links
GSL = 1  #: value of :attr:`Links.kind` for ground-satellite links
PAIR = 2  #: a direct virtual link standing for a whole path (per-pair forwarding, see pairwise.py)
KIND_NAMES = ("isl", "gsl", "pair")


def delay_ms(distance_km: np.ndarray | float, speed_of_light_factor: float = 1.0) -> np.ndarray:
    """One-way propagation delay (ms) over a straight line: distance / (c * factor),
    with c the speed of light in vacuum (299,792.458 km/s)."""
    return np.asarray(distance_km, dtype=float) * (1000.0 / (SPEED_OF_LIGHT_KM_S * speed_of_light_factor))


def pair_keys(a: np.ndarray, b: np.ndarray, num_nodes: int) -> np.ndarray:
    """A unique int64 per undirected pair (order-independent)."""
    lo = np.minimum(a, b).astype(np.int64)
    hi = np.maximum(a, b).astype(np.int64)
    return lo * num_nodes + hi


@dataclass(frozen=True)
class Link:
    """One link, by node index; ``a < b``."""

    a: int
    b: int
    kind: str
    distance_km: float
    delay_ms: float
    bandwidth_mbps: float
    loss_percent: float


@dataclass(frozen=True)
class Links:
    """Undirected links as parallel arrays, one entry per link, with ``a < b``.

    Sorted by (a, b) when built by the engine, so two ``Links`` of the same state compare
    equal array by array.
    """

    a: np.ndarray               #: int32 node index (the smaller)
    b: np.ndarray               #: int32 node index (the larger)
    kind: np.ndarray            #: uint8, :data:`ISL` or :data:`GSL`
    distance_km: np.ndarray
    delay_ms: np.ndarray
    bandwidth_mbps: np.ndarray
    loss_percent: np.ndarray

    _FIELDS = ("a", "b", "kind", "distance_km", "delay_ms", "bandwidth_mbps", "loss_percent")

    @classmethod
    def empty(cls) -> "Links":
        i, f = np.zeros(0, np.int32), np.zeros(0)
        return cls(i, i.copy(), np.zeros(0, np.uint8), f, f.copy(), f.copy(), f.copy())

    @classmethod
    def build(cls, a: np.ndarray, b: np.ndarray, kind: np.ndarray, distance_km: np.ndarray,
              bandwidth_mbps: np.ndarray, loss_percent: np.ndarray,
              speed_of_light_factor: float = 1.0) -> "Links":
        """Links from endpoint arrays (any order); delay comes from the link model.
        The result is normalised (a < b) and sorted by (a, b)."""
        a = np.asarray(a)
        b = np.asarray(b)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        order = np.lexsort((hi, lo))
        dist = np.asarray(distance_km, dtype=float)[order]
        return cls(lo[order].astype(np.int32), hi[order].astype(np.int32),
                   np.asarray(kind, dtype=np.uint8)[order], dist, delay_ms(dist, speed_of_light_factor),
                   np.asarray(bandwidth_mbps, dtype=float)[order], np.asarray(loss_percent, dtype=float)[order])

    @classmethod
    def concat(cls, parts: Sequence["Links"]) -> "Links":
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls._FIELDS))

    def __len__(self) -> int:
        return len(self.a)

    def __iter__(self) -> Iterator[Link]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, i: int) -> Link:
        return Link(int(self.a[i]), int(self.b[i]), KIND_NAMES[int(self.kind[i])],
                    float(self.distance_km[i]), float(self.delay_ms[i]),
                    float(self.bandwidth_mbps[i]), float(self.loss_percent[i]))

    def select(self, mask_or_index: np.ndarray) -> "Links":
        """The subset picked by a boolean mask or an index array."""
        return Links(*(getattr(self, f)[mask_or_index] for f in self._FIELDS))

    def keys(self, num_nodes: int) -> np.ndarray:
        """:func:`pair_keys` of every link."""
        return pair_keys(self.a, self.b, num_nodes)

    def of_kind(self, kind: int) -> "Links":
        return self.select(self.kind == kind)

    def rows(self, names: Sequence[str]) -> List[Dict[str, object]]:
        """One dict per link, with node names, for JSON/CSV export."""
        return [{"a": names[int(a)], "b": names[int(b)], "kind": KIND_NAMES[int(k)],
                 "distance_km": float(d), "delay_ms": float(t), "bandwidth_mbps": float(bw),
                 "loss_percent": float(lp)}
                for a, b, k, d, t, bw, lp in zip(self.a, self.b, self.kind, self.distance_km,
                                                  self.delay_ms, self.bandwidth_mbps, self.loss_percent)]

    def equals(self, other: "Links", delay_tolerance_ms: float = 0.0) -> bool:
        """Same links with the same attributes; delay and distance may differ by the
        tolerance (and the distance it corresponds to)."""
        if len(self) != len(other):
            return False
        for f in ("a", "b", "kind", "bandwidth_mbps", "loss_percent"):
            if not np.array_equal(getattr(self, f), getattr(other, f)):
                return False
        if delay_tolerance_ms == 0.0:
            return (np.array_equal(self.delay_ms, other.delay_ms)
                    and np.array_equal(self.distance_km, other.distance_km))
        return bool(np.all(np.abs(self.delay_ms - other.delay_ms) <= delay_tolerance_ms))
