"""The topology CLI, and the acceptance check: a starlink-shell1 path that an independent
computation (networkx over hand-derived +Grid links and look angles) confirms."""
import csv
import io
import json

import networkx as nx
import numpy as np
import pytest

from leonet.cli.main import main
from leonet.orbits import load_constellation, parse_satellite_name
from leonet.orbits.frames import look_angles

from .helpers import light_ms

AT = "2026-01-31T12:00:00Z"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _independent_graph(c, when):
    """+Grid (same slot, 72x22, wrapping) from names, GSLs from look angles >= 25 deg;
    ground stations are path endpoints only. Weights: one-way light delay in ms."""
    pos = c.positions_at(when)
    g = nx.Graph()
    for s in c.satellites:
        _, p, n = parse_satellite_name(s.name)
        for q, m in ((p, (n + 1) % 22), ((p + 1) % 72, n)):
            other = c.satellite(f"s0p{q}n{m}").index
            g.add_edge(s.name, f"s0p{q}n{m}", weight=light_ms(np.linalg.norm(pos[s.index] - pos[other])))
    gss = c.ground_stations
    elev, _, rng = look_angles(np.array([x.ecef_km for x in gss]), [x.lat_deg for x in gss],
                               [x.lon_deg for x in gss], pos)
    gsl = {x.name: {c.satellites[k].name: light_ms(rng[i, k]) for k in np.flatnonzero(elev[i] >= 25)}
           for i, x in enumerate(gss)}
    return g, gsl


def _independent_delay(g, gsl, a, b):
    h = g.copy()
    for name in (a, b):
        for sat, w in gsl[name].items():
            h.add_edge(name, sat, weight=w)
    return nx.dijkstra_path_length(h, a, b)


@pytest.mark.parametrize("a, b", [("Madrid", "Awarua"), ("Kenansville_FL", "Gravelines"), ("Usingen", "Aerzen")])
def test_acceptance_path_between_gateways(capsys, a, b):
    code, out, _ = run(capsys, "path", "starlink-shell1", "--at", AT, "--from", a, "--to", b, "--format", "json")
    assert code == 0
    res = json.loads(out)
    assert set(res) >= {"from", "to", "time", "delay_ms", "distance_km", "hops"}
    assert res["from"] == a and res["to"] == b and res["time"] == AT
    c = load_constellation("starlink-shell1")
    g, gsl = _independent_graph(c, AT)
    hops = res["hops"]
    assert hops[0] == a and hops[-1] == b
    # every hop is a real link of the independent model, and the delays add up
    total = gsl[a][hops[1]] + gsl[b][hops[-2]] + sum(g[u][v]["weight"] for u, v in zip(hops[1:-2], hops[2:-1]))
    assert res["delay_ms"] == pytest.approx(total, abs=1e-6)
    assert res["delay_ms"] == pytest.approx(light_ms(res["distance_km"]), rel=1e-12)
    # and it is the shortest
    assert res["delay_ms"] == pytest.approx(_independent_delay(g, gsl, a, b), abs=1e-6)


def test_path_table_and_unreachable(capsys):
    code, out, _ = run(capsys, "path", "starlink-shell1", "--at", AT, "--from", "Madrid", "--to", "s0p10n3")
    assert code == 0 and "ms one way" in out and "Madrid -> s0p" in out
    # Nome (64.5 N) is beyond a 53 deg shell's 25 deg coverage: unreachable, exit 1
    code, out, _ = run(capsys, "path", "starlink-shell1", "--at", AT, "--from", "Nome_AK", "--to", "Madrid",
                       "--format", "json")
    res = json.loads(out)
    assert code == 1 and res["reachable"] is False and res["delay_ms"] is None and res["hops"] == []


def test_topology_json_format(capsys):
    code, out, _ = run(capsys, "topology", "iridium", "--at", AT, "--format", "json")
    assert code == 0
    res = json.loads(out)
    assert res["time"] == AT
    assert len(res["nodes"]) == 66 + 116
    node = res["nodes"][0]
    assert {"name", "kind", "x_km", "y_km", "z_km"} <= set(node) and node["kind"] == "satellite"
    assert res["nodes"][-1]["kind"] == "ground_station"
    r = np.linalg.norm([node["x_km"], node["y_km"], node["z_km"]])
    assert 7100 < r < 7200  # 780 km above the Earth, in ECEF km
    kinds = {l["kind"] for l in res["links"]}
    assert kinds == {"isl", "gsl"}
    for l in res["links"]:
        assert {"a", "b", "kind", "distance_km", "delay_ms", "bandwidth_mbps"} <= set(l)
        assert l["delay_ms"] == pytest.approx(light_ms(l["distance_km"]))
    # Iridium is a Walker star: no link joins the first and last planes
    assert not any({l["a"][:4], l["b"][:4]} == {"s0p0", "s0p5"} for l in res["links"])


def test_topology_csv_and_table(capsys):
    code, out, _ = run(capsys, "topology", "iridium", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows and rows[0]["kind"] in ("isl", "gsl")
    code, out, _ = run(capsys, "topology", "iridium")
    assert code == 0 and "ISLs" in out.splitlines()[0]


def test_handovers(capsys):
    code, out, _ = run(capsys, "handovers", "starlink-shell1", "--from", AT, "--to", "2026-01-31T12:10:00Z",
                       "--ground-station", "Madrid", "--format", "json")
    assert code == 0
    events = json.loads(out)
    assert events[0]["old_satellite"] is None and events[0]["time"] == AT
    assert len(events) >= 3
    assert all(e["ground_station"] == "Madrid" for e in events)
    assert all(p["new_satellite"] == q["old_satellite"] for p, q in zip(events[:-1], events[1:]))
    code, out, _ = run(capsys, "handovers", "starlink-shell1", "--to", "2026-01-31T12:02:00Z",
                       "--ground-station", "Madrid", "--ground-station", "Usingen", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {r["ground_station"] for r in rows} == {"Madrid", "Usingen"}


def test_plot_writes_a_png(capsys, tmp_path):
    out_file = tmp_path / "map.png"
    code, out, _ = run(capsys, "plot", "starlink-shell1", "--at", AT, "--path", "Madrid", "Awarua",
                       "-o", str(out_file))
    assert code == 0
    data = out_file.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


@pytest.mark.parametrize("argv, field", [
    (["path", "starlink-shell1", "--from", "Madird", "--to", "Usingen"], "Madrid"),
    (["path", "starlink-shell1", "--at", "noon", "--from", "Madrid", "--to", "Usingen"], "--at"),
    (["handovers", "starlink-shell1", "--to", "2026-01-31T11:00:00Z", "--ground-station", "Madrid"], "end"),
    (["handovers", "starlink-shell1", "--to", AT, "--ground-station", "Madrid", "--step", "0"], "step"),
    (["handovers", "starlink-shell1", "--to", AT, "--ground-station", "s0p0n0"], "ground station"),
])
def test_bad_input_exits_2_with_a_clear_message(capsys, argv, field):
    code, _, err = run(capsys, *argv)
    assert code == 2 and "leonet: error:" in err and field in err and "Traceback" not in err
