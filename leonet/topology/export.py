"""Snapshots and timelines as JSON/CSV, and snapshots as networkx graphs."""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Dict, Iterable, List, Sequence, TextIO

import networkx as nx

from ..orbits.timeutil import format_utc
from .links import KIND_NAMES
from .nodes import GROUND_STATION
from .snapshot import Snapshot
from .timeline import HandoverEvent, StepDiff

LINK_COLUMNS = ("a", "b", "kind", "distance_km", "delay_ms", "bandwidth_mbps", "loss_percent")
HANDOVER_COLUMNS = ("time", "offset_s", "ground_station", "old_satellite", "new_satellite")


def snapshot_to_dict(snap: Snapshot) -> Dict[str, Any]:
    """``{"time", "nodes": [{"name", "kind", "x_km", "y_km", "z_km", ...}], "links": [...]}``
    with ECEF coordinates; satellites carry ``active`` and ground stations ``primary_satellite``."""
    nodes = snap.nodes
    out_nodes: List[Dict[str, Any]] = []
    for i, name in enumerate(nodes.names):
        x, y, z = (float(v) for v in snap.positions_km[i])
        row: Dict[str, Any] = {"name": name, "kind": nodes.kind(i), "x_km": x, "y_km": y, "z_km": z}
        if i < nodes.num_satellites:
            row["active"] = bool(snap.active[i])
        else:
            p = int(snap.primary_satellite[i - nodes.num_satellites])
            row["primary_satellite"] = nodes.names[p] if p >= 0 else None
        out_nodes.append(row)
    return {"time": format_utc(snap.time), "offset_s": snap.offset_s, "nodes": out_nodes,
            "links": snap.links.rows(nodes.names)}


def write_links_csv(snap: Snapshot, out: TextIO) -> None:
    """One CSV row per link (names, kind, km, ms, Mbit/s, percent)."""
    w = csv.DictWriter(out, fieldnames=LINK_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in snap.links.rows(snap.nodes.names):
        w.writerow(row)


def diff_to_dict(diff: StepDiff, names: Sequence[str]) -> Dict[str, Any]:
    """A JSON-ready step diff, with node names instead of indices."""
    def name(i: int) -> Any:
        return names[int(i)] if i >= 0 else None

    nh = diff.next_hops
    return {
        "index": diff.index, "time": format_utc(diff.time), "offset_s": diff.offset_s,
        "added": diff.added.rows(names),
        "removed": [[names[int(a)], names[int(b)]] for a, b in diff.removed],
        "delay_changed": [{k: r[k] for k in ("a", "b", "distance_km", "delay_ms")}
                          for r in diff.delay_changed.rows(names)],
        "next_hops": [{"node": name(n), "destination": name(d), "old": name(o), "new": name(w)}
                      for n, d, o, w in zip(nh.node, nh.destination, nh.old, nh.new)],
        "activated": [names[int(i)] for i in diff.activated],
        "deactivated": [names[int(i)] for i in diff.deactivated],
        "handovers": [handover_to_dict(e) for e in diff.handovers],
        "control_by_delay": [{"satellite": name(s), "old": name(o), "new": name(n)} for s, o, n in
                             zip(diff.control_by_delay.satellite, diff.control_by_delay.old,
                                 diff.control_by_delay.new)],
        "control_by_distance": [{"satellite": name(s), "old": name(o), "new": name(n)} for s, o, n in
                                zip(diff.control_by_distance.satellite, diff.control_by_distance.old,
                                    diff.control_by_distance.new)],
    }


def write_timeline_jsonl(diffs: Iterable[StepDiff], names: Sequence[str], out: TextIO) -> int:
    """One JSON object per line per step (streams; a day of diffs never sits in memory).
    Returns the number of steps written."""
    n = 0
    for diff in diffs:
        out.write(json.dumps(diff_to_dict(diff, names), separators=(",", ":")))
        out.write("\n")
        n += 1
    return n


def write_timeline_csv(diffs: Iterable[StepDiff], names: Sequence[str], out: TextIO) -> int:
    """Link events as CSV rows ``time,offset_s,event,a,b,kind,distance_km,delay_ms,
    bandwidth_mbps,loss_percent`` with event ``add``, ``remove`` or ``delay``."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("time", "offset_s", "event") + LINK_COLUMNS)
    n = 0
    for diff in diffs:
        t = format_utc(diff.time)
        for ev, links in (("add", diff.added), ("delay", diff.delay_changed)):
            for r in links.rows(names):
                w.writerow([t, diff.offset_s, ev] + [r[c] for c in LINK_COLUMNS])
        for a, b in diff.removed:
            w.writerow([t, diff.offset_s, "remove", names[int(a)], names[int(b)], "", "", "", "", ""])
        n += 1
    return n


def handover_to_dict(e: HandoverEvent) -> Dict[str, Any]:
    return {"time": format_utc(e.time), "offset_s": e.offset_s, "ground_station": e.ground_station,
            "old_satellite": e.old_satellite, "new_satellite": e.new_satellite}


def handovers_csv(events: Iterable[HandoverEvent]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HANDOVER_COLUMNS, lineterminator="\n")
    w.writeheader()
    for e in events:
        w.writerow({k: ("" if v is None else v) for k, v in handover_to_dict(e).items()})
    return buf.getvalue()


def to_networkx(snap: Snapshot) -> nx.Graph:
    """An undirected graph: nodes by name with ``kind`` and ``pos_km`` (ECEF), edges with
    ``kind``, ``distance_km``, ``delay_ms``, ``bandwidth_mbps`` and ``loss_percent``.
    (Ground stations carry ``relay=False`` unless the config lets them relay.)"""
    g = nx.Graph(time=format_utc(snap.time))
    names = snap.nodes.names
    for i, name in enumerate(names):
        kind = snap.nodes.kind(i)
        attrs: Dict[str, Any] = {"kind": kind, "pos_km": tuple(float(v) for v in snap.positions_km[i])}
        if kind == GROUND_STATION:
            attrs["relay"] = snap.ground_station_relay
        g.add_node(name, **attrs)
    links = snap.links
    g.add_edges_from(
        (names[int(a)], names[int(b)],
         {"kind": KIND_NAMES[int(k)], "distance_km": float(d), "delay_ms": float(t),
          "bandwidth_mbps": float(bw), "loss_percent": float(lp)})
        for a, b, k, d, t, bw, lp in zip(links.a, links.b, links.kind, links.distance_km, links.delay_ms,
                                          links.bandwidth_mbps, links.loss_percent))
    return g


__all__ = ["snapshot_to_dict", "write_links_csv", "diff_to_dict", "write_timeline_jsonl",
           "write_timeline_csv", "handover_to_dict", "handovers_csv", "to_networkx"]
