"""What the live view shows, as JSON-ready dicts built from a topology snapshot.

Transport-free (tested without a run or a browser): :class:`FrameBuilder` turns the
scenario into the page's static description (node names, kinds, shells, the bounding
box) once, and every snapshot into a *frame*: positions, links, the bounding-box state,
handovers, ownership and a path. Node indices are the topology's (satellites first, then
ground stations), so links are sent as flat index pairs.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..orbits.frames import ecef_to_geodetic
from ..orbits.timeutil import format_utc
from ..topology import Snapshot, TopologyEngine
from ..topology.links import GSL, ISL

#: handovers the page keeps in its list
HANDOVER_HISTORY = 50


@dataclass
class HandoverTracker:
    """GSL handovers (a ground station's primary satellite changing) between the
    snapshots it is shown, newest last (for sources that do not get the controller's
    handover hook)."""

    history: Deque[Dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HANDOVER_HISTORY))
    _primary: Optional[np.ndarray] = None
    _offset: Optional[float] = None

    def observe(self, snap: Snapshot) -> List[Dict[str, Any]]:
        """Record the handovers since the last snapshot observed; returns the new ones."""
        fresh: List[Dict[str, Any]] = []
        names, n = snap.nodes.names, snap.nodes.num_satellites
        if self._primary is not None and self._offset is not None and snap.offset_s > self._offset:
            for g in np.flatnonzero(snap.primary_satellite != self._primary):
                old, new = int(self._primary[g]), int(snap.primary_satellite[g])
                fresh.append(handover_record(format_utc(snap.time), snap.offset_s, names[n + g],
                                             names[old] if old >= 0 else None, names[new] if new >= 0 else None))
        self._primary, self._offset = snap.primary_satellite.copy(), snap.offset_s
        self.history.extend(fresh)
        return fresh


def handover_record(time_iso: str, offset_s: float, station: str, old: Optional[str],
                    new: Optional[str]) -> Dict[str, Any]:
    return {"time": time_iso, "offset_s": float(offset_s), "ground_station": station, "old": old, "new": new}


class FrameBuilder:
    """Static description and per-tick frames of one scenario's network."""

    def __init__(self, engine: TopologyEngine, scenario_name: str, step_s: float, source: str):
        self.engine = engine
        c = engine.constellation
        self.nodes = engine.nodes
        box = engine.config.bounding_box
        self.static: Dict[str, Any] = {
            "type": "static",
            "scenario": scenario_name,
            "source": source,
            "start": format_utc(c.start),
            "step_s": float(step_s),
            "names": list(self.nodes.names),
            "num_satellites": self.nodes.num_satellites,
            "shell_of": [int(s) for s in c.shell_of] if c.num_satellites else [],
            "shells": [s.name for s in c.shells],
            "ground_stations": [g.name for g in c.ground_stations],
            "bounding_box": None if box is None else {
                "lat_min_deg": box.lat_min_deg, "lat_max_deg": box.lat_max_deg,
                "lon_min_deg": box.lon_min_deg, "lon_max_deg": box.lon_max_deg},
        }

    def frame(self, snap: Snapshot, tick: int, handovers: Sequence[Mapping[str, Any]] = (),
              suspended: Sequence[int] = (), ownership: Optional[Mapping[str, str]] = None,
              failed_links: int = 0) -> Dict[str, Any]:
        """One tick's state (JSON-ready). ``ownership``: satellite name -> owner label."""
        lat, lon, alt = ecef_to_geodetic(snap.positions_km)
        links = snap.links
        isl, gsl = links.kind == ISL, links.kind == GSL
        n = self.nodes.num_satellites
        owners = None
        if ownership:
            labels = sorted(set(ownership.values()))
            code = {label: i for i, label in enumerate(labels)}
            of = [-1] * n
            for name, label in ownership.items():
                i = self.nodes.index(name) if name in self.nodes.names else -1
                if 0 <= i < n:
                    of[i] = code[label]
            owners = {"labels": labels, "of": of}
        return {
            "type": "frame",
            "tick": int(tick),
            "time": format_utc(snap.time),
            "offset_s": float(snap.offset_s),
            "lat": np.round(lat, 3).tolist(),
            "lon": np.round(lon, 3).tolist(),
            "alt_km": np.round(alt[:n], 1).tolist(),
            "active": [int(i) for i in np.flatnonzero(snap.active)] if not snap.active.all() else None,
            "suspended": sorted(int(i) for i in suspended),
            "isl": np.column_stack((links.a[isl], links.b[isl])).ravel().tolist(),
            "gsl": np.column_stack((links.a[gsl], links.b[gsl])).ravel().tolist(),
            "primary": [int(p) for p in snap.primary_satellite],
            "handovers": list(handovers)[-HANDOVER_HISTORY:],
            "owners": owners,
            "counts": {"satellites": n, "ground_stations": len(self.nodes) - n, "nodes": len(self.nodes),
                       "isl": int(isl.sum()), "gsl": int(gsl.sum()), "in_box": int(snap.active.sum()),
                       "suspended": len(suspended), "failed_links": int(failed_links)},
        }

    def path(self, snap: Snapshot, a: str, b: str) -> Dict[str, Any]:
        """The least-delay path between two nodes (by name) for the page to highlight."""
        p = snap.path(a, b)
        return {"from": p.source, "to": p.target, "reachable": p.reachable, "delay_ms": p.delay_ms,
                "rtt_ms": None if p.delay_ms is None else 2 * p.delay_ms, "hops": list(p.node_indices),
                "names": list(p.hops)}
