"""The info API's answers and DNS replies against the topology engine (no root needed)."""
import numpy as np
import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from leonet.emulation.addressing import host_name, node_address
from leonet.infoapi import dns
from leonet.infoapi.model import INFO_ADDRESS, InfoModel
from leonet.infoapi.names import NodeNames, dns_label
from leonet.orbits import load_constellation
from leonet.topology import TopologyEngine

from tests.emulation import scenarios


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    raw = dict(scenarios.TINY, ground_stations=scenarios.TINY["ground_stations"]
               + [{"name": "São Paulo", "lat_deg": -23.55, "lon_deg": -46.63}])
    path = scenarios.write(tmp_path_factory.mktemp("info"), raw)
    c = load_constellation(path)
    engine = TopologyEngine(c)
    taken: set = set()
    hosts = [host_name(n, taken) for n in engine.nodes.names]
    snap = engine.snapshot(0.0)
    model = InfoModel(c, NodeNames(c, hosts), lambda: snap, lambda i: i == 3, None, "tiny")
    return c, engine, snap, model


def test_dns_labels_are_dns_safe():
    assert dns_label("São Paulo") == "s-o-paulo"
    assert dns_label("Berlin") == "berlin"
    assert dns_label("a_b.c") == "a-b-c"


def test_names_resolve_celestial_style_and_by_node_name(world):
    c, engine, snap, model = world
    names = model.names
    assert names.lookup("0.0.leonet") == 0
    assert names.lookup("79.0.leonet.") == 79
    assert names.lookup("80.0.leonet") is None
    assert names.lookup("t.leonet") is None
    assert names.lookup("5.t.leonet") == 5                 # shell by its name
    assert names.lookup("berlin.gst.leonet") == 80
    assert names.lookup("Madrid") == 81
    assert names.lookup("s0p1n2.leonet") == engine.nodes.index("s0p1n2")
    gs = names.lookup("sao-paulo.gst.leonet")
    assert gs == 82 and names.dns[gs] == "sao-paulo.gst.leonet"


def test_self_and_node_answers(world):
    c, engine, snap, model = world
    status, body = model.answer("/self", 80)
    assert status == 200
    assert body["name"] == "Berlin" and body["kind"] == "ground_station" and body["address"] == node_address(80)
    assert body["dns"] == "berlin.gst.leonet" and body["active"] is True
    peers = sorted(link["peer"]["name"] for link in body["links"])
    expected = sorted(engine.nodes.names[int(b if a == 80 else a)] for a, b in zip(snap.links.a, snap.links.b)
                      if 80 in (a, b))
    assert peers == expected
    status, sat = model.answer("/shell/0/3", None)
    assert status == 200 and sat["name"] == c.satellites[3].name and sat["suspended"] is True
    assert np.allclose([sat["position"]["ecef_km"][k] for k in "xyz"], snap.positions_km[3])
    assert model.answer("/gst/berlin", None)[1]["index"] == 80
    assert model.answer("/shell/0/99", None)[0] == 404
    assert model.answer("/nope", 80)[0] == 404


def test_info_and_shell(world):
    c, engine, snap, model = world
    status, info = model.answer("/info", None)
    assert status == 200 and info["satellites"] == 80 and len(info["ground_stations"]) == 3
    assert info["shells"][0]["planes"] == 8 and info["info_address"] == INFO_ADDRESS
    status, shell = model.answer("/shell/0", None)
    assert shell["active"] == list(range(80)) and shell["suspended"] == [3]


def test_path_equals_the_engine(world):
    c, engine, snap, model = world
    for a, b in (("Berlin", "Madrid"), ("Berlin", "s0p3n4"), ("s0p0n0", "s0p5n5")):
        p = engine.snapshot(0.0).path(a, b)
        status, body = model.answer(f"/path/{a}/{b}", None)
        assert status == 200 and body["reachable"] == p.reachable
        if p.reachable:
            assert body["hops"] == list(p.hops)
            assert body["delay_ms"] == pytest.approx(p.delay_ms, abs=1e-9)
            assert body["distance_km"] == pytest.approx(p.distance_km, abs=1e-9)
            assert sum(s["delay_ms"] for s in body["segments"]) == pytest.approx(p.delay_ms)
            assert [s["from"] for s in body["segments"]] == list(p.hops[:-1])
    # Celestial's four-part form names the same nodes
    b4 = model.answer("/path/gst/berlin/0/5", None)[1]
    b2 = model.answer("/path/Berlin/5.0.leonet", None)[1]
    assert b4["hops"] == b2["hops"] and b4["delay_ms"] == b2["delay_ms"]
    assert model.answer("/path/gst/nowhere/0/1", None)[0] == 404


def test_not_ready_is_503(world):
    c, engine, snap, model = world
    empty = InfoModel(c, model.names, lambda: None)
    assert empty.answer("/info", None)[0] == 503


def _ask(model, name, qtype="A"):
    return DNSRecord.parse(dns.answer(DNSRecord.question(name, qtype).pack(), model.names, INFO_ADDRESS))


def test_dns_answers(world):
    model = world[3]
    r = _ask(model, "berlin.gst.leonet")
    assert r.header.rcode == RCODE.NOERROR and str(r.rr[0].rdata) == node_address(80)
    assert str(_ask(model, "7.0.leonet").rr[0].rdata) == node_address(7)
    assert str(_ask(model, "info.leonet").rr[0].rdata) == INFO_ADDRESS
    assert _ask(model, "nobody.gst.leonet").header.rcode == RCODE.NXDOMAIN
    assert _ask(model, "example.com").header.rcode == RCODE.REFUSED
    ptr = _ask(model, "20.0.64.10.in-addr.arpa", "PTR")
    assert ptr.rr[0].rtype == QTYPE.PTR and str(ptr.rr[0].rdata) == "20.0.leonet."
    assert dns.answer(b"garbage", model.names, INFO_ADDRESS) is None


def test_published_records_resolve_with_their_ttl_and_cannot_shadow_nodes(world):
    c, engine, snap, model = world
    model = InfoModel(c, model.names, lambda: snap)
    status, body = model.write("PUT", "/records/nginx.default.krios", {"addresses": ["10.64.0.7"], "ttl_s": 1})
    assert status == 200 and body["name"] == "nginx.default.krios.leonet" and body["changes"] == 1

    def ask(name):
        return DNSRecord.parse(dns.answer(DNSRecord.question(name).pack(), model.names, INFO_ADDRESS, model.records))
    r = ask("nginx.default.krios.leonet")
    assert [str(x.rdata) for x in r.rr] == ["10.64.0.7"] and r.rr[0].ttl == 1
    # a switch: two endpoints during an overlap, then the new one alone
    model.write("PUT", "/records/nginx.default.krios.leonet", {"addresses": ["10.64.0.7", "10.64.0.9"], "ttl_s": 1})
    assert [str(x.rdata) for x in ask("nginx.default.krios.leonet").rr] == ["10.64.0.7", "10.64.0.9"]
    assert model.answer("/records/nginx.default.krios", None)[1]["changes"] == 2
    assert [r["name"] for r in model.answer("/records", None)[1]["records"]] == ["nginx.default.krios.leonet"]
    # node names stay the nodes'; bad input is refused with a hint
    assert model.write("PUT", "/records/berlin.gst", {"addresses": ["10.64.0.7"]})[0] == 409
    assert model.write("PUT", "/records/x_y", {"addresses": ["10.64.0.7"]})[0] == 400
    assert model.write("PUT", "/records/ok", {"addresses": ["999.1.1.1"]})[0] == 400
    assert model.write("PUT", "/records/ok", {"addresses": ["10.0.0.1"], "ttl_s": -1})[0] == 400
    assert model.write("PUT", "/records/ok", "nonsense")[0] == 400
    assert model.write("POST", "/records/ok", {"addresses": ["10.0.0.1"]})[0] == 405
    assert model.write("PUT", "/self", {})[0] == 405
    assert str(ask("berlin.gst.leonet").rr[0].rdata) == node_address(80)
    assert model.write("DELETE", "/records/nginx.default.krios", None)[0] == 200
    assert ask("nginx.default.krios.leonet").header.rcode == RCODE.NXDOMAIN
    assert model.answer("/records/nginx.default.krios", None)[0] == 404


def test_clock(world):
    c, engine, snap, model = world
    assert InfoModel(c, model.names, lambda: snap).answer("/clock", None)[0] == 503
    timed = InfoModel(c, model.names, lambda: snap, clock=lambda: {"offset_s": 12.5, "speed": 1.0, "ticking": True})
    assert timed.answer("/clock", None) == (200, {"offset_s": 12.5, "speed": 1.0, "ticking": True})
