"""Exports: JSON/CSV of snapshots and timelines, and the networkx graph."""
import csv
import io
import json

import networkx as nx
import pytest

from leonet.topology import timeline
from leonet.topology.export import (diff_to_dict, snapshot_to_dict, to_networkx, write_links_csv,
                                    write_timeline_csv, write_timeline_jsonl)

from .helpers import engine, gs, walker


@pytest.fixture(scope="module")
def eng():
    return engine(walker(8, 8, 1000, 60), ground_stations=[gs("A", 10, 10), gs("B", -20, 60), gs("C", 45, -100)],
                  defaults={"min_elevation_deg": 10})


def test_snapshot_json_roundtrip_and_csv(eng):
    snap = eng.snapshot(500.0)
    doc = json.loads(json.dumps(snapshot_to_dict(snap)))
    assert len(doc["nodes"]) == len(snap.nodes) and len(doc["links"]) == len(snap.links)
    for row, link in zip(doc["links"], snap.links):
        assert row["a"] == snap.nodes.names[link.a] and row["delay_ms"] == link.delay_ms
    buf = io.StringIO()
    write_links_csv(snap, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == len(snap.links)
    assert float(rows[0]["distance_km"]) == pytest.approx(snap.links.distance_km[0])


def test_networkx_graph_matches_snapshot_paths(eng):
    snap = eng.snapshot(800.0)
    g = to_networkx(snap)
    assert g.number_of_edges() == len(snap.links) and g.number_of_nodes() == len(snap.nodes)
    assert g.nodes["A"]["kind"] == "ground_station" and g.nodes["A"]["relay"] is False
    # shortest satellite-to-satellite delay agrees (no station can be transited on these)
    sats = g.subgraph(n for n, d in g.nodes(data=True) if d["kind"] == "satellite")
    for target in ("s0p3n4", "s0p7n1"):
        want = nx.dijkstra_path_length(sats, "s0p0n0", target, weight="delay_ms")
        assert snap.path("s0p0n0", target).delay_ms == pytest.approx(want)


def test_timeline_exports(eng):
    diffs = list(timeline(eng, 0.0, 300.0, 30.0, control=["A"]))
    names = eng.nodes.names
    buf = io.StringIO()
    assert write_timeline_jsonl(diffs, names, buf) == len(diffs)
    lines = [json.loads(l) for l in buf.getvalue().splitlines()]
    assert lines[0]["index"] == 0 and len(lines[0]["added"]) == len(diffs[0].added)
    assert lines[0]["handovers"][0]["old_satellite"] is None
    assert json.loads(json.dumps(diff_to_dict(diffs[3], names))) == lines[3]
    buf = io.StringIO()
    write_timeline_csv(diffs, names, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert {r["event"] for r in rows} >= {"add", "remove"}
    assert sum(r["event"] == "add" for r in rows) == sum(len(d.added) for d in diffs)
    assert sum(r["event"] == "remove" for r in rows) == sum(len(d.removed) for d in diffs)
