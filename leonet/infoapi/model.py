"""The info API's answers, computed from the network's current snapshot.

Every answer is a JSON-ready dict; :class:`InfoModel` is transport-free so it can be
tested, and used by tools, without sockets. Units are in the field names (``_km``,
``_ms``, ``_mbps``, ``_deg``, ``_m``). See docs/infoapi.md for every field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..emulation.addressing import node_address
from ..orbits import Constellation
from ..orbits.frames import ecef_to_geodetic
from ..orbits.timeutil import format_utc
from ..topology import Snapshot
from ..topology.links import KIND_NAMES
from .names import ZONE, NodeNames
from .records import RecordError, RecordTable

#: address of the info API and the DNS server inside every node
INFO_ADDRESS = "169.254.169.254"
API_VERSION = 1

Answer = Tuple[int, Dict[str, Any]]


class NotReady(Exception):
    """The emulation has no snapshot yet (answered with 503)."""


@dataclass
class InfoModel:
    """Answers the info API's questions about a run.

    ``snapshot`` returns the snapshot the data plane uses now (None before the first);
    ``suspended`` tells whether a node is paused by the bounding box or a fault.
    """

    constellation: Constellation
    names: NodeNames
    snapshot: Callable[[], Optional[Snapshot]]
    suspended: Callable[[int], bool] = lambda index: False
    bounding_box: Optional[Any] = None
    scenario_name: str = ""
    #: the emulation's clock now: {"time", "offset_s", "speed", "ticking", "step_s", "lag_s"} (``/clock``)
    clock: Optional[Callable[[], Dict[str, Any]]] = None
    #: published A records (``/records``, and the DNS)
    records: RecordTable = field(default_factory=RecordTable)

    def __post_init__(self) -> None:
        self.records.is_node_name = lambda name: self.names.lookup(name) is not None

    # ------------------------------------------------------------------ dispatch
    def answer(self, path: str, caller: Optional[int]) -> Answer:
        """(HTTP status, JSON body) for a GET of ``path`` by node ``caller``."""
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts and parts[0] == "records" and len(parts) <= 2:
            return self._records_get(parts[1:])
        if parts == ["clock"]:
            if self.clock is None:
                return _error(503, "the emulation has no clock yet", "retry in a second")
            return 200, self.clock()
        try:
            snap = self._snap()
            if parts == ["self"]:
                if caller is None:
                    return _error(404, "no caller node", "ask from inside a node")
                return 200, self.node_detail(snap, caller)
            if parts == ["info"] or parts == []:
                return 200, self.info(snap)
            if len(parts) == 2 and parts[0] == "shell":
                return self.shell(snap, parts[1])
            if len(parts) == 3 and parts[0] == "shell":
                shell = self.names.shell_index(parts[1])
                i = None if shell is None else self.names.satellite_in_shell(shell, parts[2])
                if i is None:
                    return _error(404, f"no satellite {parts[2]} in shell {parts[1]}",
                                  "satellites are numbered from 0 within their shell; see /shell/{shell}")
                return 200, self.node_detail(snap, i)
            if len(parts) == 2 and parts[0] in ("gst", "node"):
                i = self.names.ground_station(parts[1]) if parts[0] == "gst" else self.names.lookup(parts[1])
                if i is None:
                    return _error(404, f"no {'ground station' if parts[0] == 'gst' else 'node'} {parts[1]}",
                                  "see /info for the names")
                return 200, self.node_detail(snap, i)
            if parts and parts[0] == "path" and len(parts) in (3, 5):
                return self.path(snap, parts[1:])
        except NotReady:
            return _error(503, "the emulation is not running yet", "retry in a second")
        return _error(404, f"no such endpoint: /{'/'.join(parts)}",
                      "endpoints: /self /info /shell/{s} /shell/{s}/{sat} /gst/{name} /node/{name} "
                      "/path/{a}/{b} /path/{shell|gst}/{sat|name}/{shell|gst}/{sat|name} /clock /records")

    # ------------------------------------------------------------------ records
    def _records_get(self, parts: List[str]) -> Answer:
        if not parts:
            return 200, {"records": [r.to_dict() for r in self.records.all()]}
        rec = self.records.get(RecordTable.normalise(parts[0]))
        if rec is None:
            return _error(404, f"no record {parts[0]}", "see /records for the published names")
        return 200, rec.to_dict()

    def write(self, method: str, path: str, body: Any) -> Answer:
        """``PUT /records/<name>`` ({"addresses": [...], "ttl_s": n}) and ``DELETE /records/<name>``;
        every other write is refused (the rest of the API is read-only)."""
        parts = [p for p in path.split("?")[0].split("/") if p]
        if len(parts) != 2 or parts[0] != "records":
            return _error(405, f"{method} is only allowed on /records/<name>", "the rest of the info API is read-only")
        if method == "DELETE":
            if not self.records.remove(parts[1]):
                return _error(404, f"no record {parts[1]}", "see /records")
            return 200, {"deleted": RecordTable.normalise(parts[1])}
        if method != "PUT":
            return _error(405, f"{method} is not allowed", "use PUT or DELETE on /records/<name>")
        if not isinstance(body, dict) or "addresses" not in body:
            return _error(400, "the body must be a JSON object with addresses", 'e.g. {"addresses": ["10.64.0.7"], "ttl_s": 1}')
        try:
            rec = self.records.set(parts[1], body["addresses"], body.get("ttl_s", 1))
        except RecordError as exc:
            return _error(exc.status, str(exc), exc.hint)
        return 200, rec.to_dict()

    def _snap(self) -> Snapshot:
        snap = self.snapshot()
        if snap is None:
            raise NotReady()
        return snap

    # ------------------------------------------------------------------ pieces
    def node_ref(self, i: int) -> Dict[str, Any]:
        """Identity of node ``i``: name, kind, index, address, DNS name (and shell/id/plane/slot)."""
        c = self.constellation
        ref: Dict[str, Any] = {"name": self.names.hosts[i] if i >= c.num_satellites
                               else c.satellites[i].name, "index": i, "address": node_address(i),
                               "dns": self.names.dns[i]}
        if i < c.num_satellites:
            sat = c.satellites[i]
            ref.update(kind="satellite", shell=sat.shell, id=sat.index - c.shells[sat.shell].first,
                       plane=sat.plane, slot=sat.slot)
            ref["name"] = sat.name
        else:
            gs = c.ground_stations[i - c.num_satellites]
            ref.update(kind="ground_station", name=gs.name, host=self.names.hosts[i])
        return ref

    def _time(self, snap: Snapshot) -> Dict[str, Any]:
        return {"time": format_utc(snap.time), "offset_s": float(snap.offset_s)}

    def _position(self, snap: Snapshot, i: int) -> Dict[str, Any]:
        xyz = snap.positions_km[i]
        lat, lon, alt = ecef_to_geodetic(xyz.reshape(1, 3))
        return {"ecef_km": {"x": float(xyz[0]), "y": float(xyz[1]), "z": float(xyz[2])},
                "lat_deg": float(lat[0]), "lon_deg": float(lon[0]), "alt_km": float(alt[0])}

    def _links(self, snap: Snapshot, i: int) -> List[Dict[str, Any]]:
        L = snap.links
        rows = np.flatnonzero((L.a == i) | (L.b == i))
        out = []
        for k in rows:
            peer = int(L.b[k] if L.a[k] == i else L.a[k])
            out.append({"peer": self.node_ref(peer), "kind": KIND_NAMES[int(L.kind[k])],
                        "distance_km": float(L.distance_km[k]), "delay_ms": float(L.delay_ms[k]),
                        "bandwidth_mbps": float(L.bandwidth_mbps[k]), "loss_percent": float(L.loss_percent[k])})
        return out

    def node_detail(self, snap: Snapshot, i: int) -> Dict[str, Any]:
        """/self, /shell/{s}/{sat}, /gst/{name}, /node/{name}."""
        n = self.constellation.num_satellites
        body = self.node_ref(i)
        body.update(self._time(snap))
        body["position"] = self._position(snap, i)
        body["active"] = bool(snap.active[i]) if i < n else True
        body["suspended"] = bool(self.suspended(i))
        body["links"] = self._links(snap, i)
        if i >= n:
            gs = self.constellation.ground_stations[i - n]
            body.update(lat_deg=gs.lat_deg, lon_deg=gs.lon_deg, alt_m=gs.alt_m)
            primary = int(snap.primary_satellite[i - n])
            body["primary_satellite"] = self.node_ref(primary) if primary >= 0 else None
        return body

    def info(self, snap: Snapshot) -> Dict[str, Any]:
        """/info: the scenario, its shells, ground stations and the bounding box."""
        c = self.constellation
        box = self.bounding_box
        body = {"api_version": API_VERSION, "scenario": self.scenario_name, "model": "SGP4",
                "start": format_utc(c.start), **self._time(snap),
                "satellites": c.num_satellites, "shells": [self._shell_summary(snap, s.index) for s in c.shells],
                "ground_stations": [self.node_ref(i) for i in range(c.num_satellites, len(self.names.hosts))],
                "bounding_box": None if box is None else dict(box.__dict__),
                "zone": ZONE, "info_address": INFO_ADDRESS}
        return body

    def _shell_summary(self, snap: Snapshot, s: int) -> Dict[str, Any]:
        shell = self.constellation.shells[s]
        active = snap.active[shell.first:shell.first + shell.size]
        return {"index": s, "name": shell.name, "kind": shell.kind, "planes": shell.planes,
                "plane_sizes": list(shell.plane_sizes), "satellites": shell.size,
                "altitude_km": float(shell.altitude_km), "inclination_deg": float(shell.inclination_deg),
                "active_satellites": int(active.sum())}

    def shell(self, snap: Snapshot, label: str) -> Answer:
        """/shell/{s}: a shell and the ids of its satellites inside the bounding box."""
        s = self.names.shell_index(label)
        if s is None:
            return _error(404, f"no shell {label}", f"shells are 0..{len(self.constellation.shells) - 1}")
        shell = self.constellation.shells[s]
        body = self._shell_summary(snap, s)
        body.update(self._time(snap))
        body["active"] = [int(k) for k in np.flatnonzero(snap.active[shell.first:shell.first + shell.size])]
        body["suspended"] = [k for k in range(shell.size) if self.suspended(shell.first + k)]
        return 200, body

    def _endpoint(self, kind_or_node: str, name: Optional[str] = None) -> Optional[int]:
        if name is None:
            return self.names.lookup(kind_or_node)
        if kind_or_node == "gst":
            return self.names.ground_station(name)
        shell = self.names.shell_index(kind_or_node)
        return None if shell is None else self.names.satellite_in_shell(shell, name)

    def path(self, snap: Snapshot, parts: Sequence[str]) -> Answer:
        """/path/{a}/{b} or /path/{shell|gst}/{sat|name}/{shell|gst}/{sat|name}."""
        if len(parts) == 2:
            a, b = self._endpoint(parts[0]), self._endpoint(parts[1])
            labels = parts
        else:
            a, b = self._endpoint(parts[0], parts[1]), self._endpoint(parts[2], parts[3])
            labels = ["/".join(parts[:2]), "/".join(parts[2:])]
        for idx, label in zip((a, b), labels):
            if idx is None:
                return _error(404, f"no node {label}", "name nodes as in /info, by DNS name, or shell/id, gst/name")
        return 200, self.path_between(snap, int(a), int(b))

    def path_between(self, snap: Snapshot, a: int, b: int) -> Dict[str, Any]:
        p = snap.path(a, b)
        body: Dict[str, Any] = {"from": self.node_ref(a), "to": self.node_ref(b), **self._time(snap),
                                "reachable": p.reachable, "delay_ms": p.delay_ms, "distance_km": p.distance_km,
                                "rtt_ms": None if p.delay_ms is None else 2.0 * p.delay_ms,
                                "bandwidth_mbps": None, "hops": list(p.hops), "segments": []}
        if not p.reachable:
            return body
        L = snap.links
        segments = []
        for u, v in zip(p.node_indices[:-1], p.node_indices[1:]):
            k = snap.link_between(u, v)
            assert k is not None
            segments.append({"from": self.node_ref(u)["name"], "to": self.node_ref(v)["name"],
                             "kind": KIND_NAMES[int(L.kind[k])], "distance_km": float(L.distance_km[k]),
                             "delay_ms": float(L.delay_ms[k]), "bandwidth_mbps": float(L.bandwidth_mbps[k]),
                             "loss_percent": float(L.loss_percent[k])})
        body["segments"] = segments
        body["bandwidth_mbps"] = min((s["bandwidth_mbps"] for s in segments), default=None)
        return body


def _error(status: int, message: str, hint: str) -> Answer:
    return status, {"error": message, "hint": hint}
