"""The live view's frames, handover tracking and ownership hook (pure: no run, no browser)."""
import numpy as np
import pytest

from leonet.orbits import build_constellation, load_scenario
from leonet.orbits.frames import ecef_to_geodetic
from leonet.topology import TopologyEngine
from leonet.topology.links import GSL, ISL
from leonet.viewer import FrameBuilder, HandoverTracker, ownership_of, register_ownership_source
from leonet.viewer.ownership import unregister_ownership_source

from tests.emulation.scenarios import TINY, write


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    raw = dict(TINY, topology={"gsl": {"policy": "nearest"},
                               "bounding_box": {"lat_min_deg": 20, "lat_max_deg": 70, "lon_min_deg": -30,
                                                "lon_max_deg": 60}})
    return TopologyEngine(build_constellation(load_scenario(write(tmp_path_factory.mktemp("v"), raw))))


def test_a_frame_carries_the_snapshots_positions_links_and_box(engine):
    b = FrameBuilder(engine, "tiny", 1.0, "test")
    assert b.static["names"] == list(engine.nodes.names) and b.static["bounding_box"]["lat_min_deg"] == 20
    snap = engine.snapshot(100.0)
    f = b.frame(snap, 7, suspended=[3, 5])
    lat, lon, _ = ecef_to_geodetic(snap.positions_km)
    assert np.allclose(f["lat"], lat, atol=1e-3) and np.allclose(f["lon"], lon, atol=1e-3)
    isl = snap.links.select(snap.links.kind == ISL)
    assert f["isl"][0::2] == isl.a.tolist() and f["isl"][1::2] == isl.b.tolist()
    assert len(f["gsl"]) == 2 * int((snap.links.kind == GSL).sum())
    assert f["active"] == np.flatnonzero(snap.active).tolist() and 0 < len(f["active"]) < 80
    assert f["counts"] == {"satellites": 80, "ground_stations": 2, "nodes": 82, "isl": len(isl),
                           "gsl": len(f["gsl"]) // 2, "in_box": len(f["active"]), "suspended": 2,
                           "failed_links": 0}
    assert f["tick"] == 7 and f["time"] == "2026-01-31T12:01:40Z"
    p = b.path(snap, "Berlin", "Madrid")
    engine_path = snap.path("Berlin", "Madrid")
    assert p["names"] == list(engine_path.hops) and p["delay_ms"] == pytest.approx(engine_path.delay_ms)


def test_handovers_are_the_primary_satellites_changes(engine):
    tracker = HandoverTracker()
    seen = []
    prev = None
    for off in range(0, 600, 10):
        snap = engine.snapshot(float(off))
        seen += tracker.observe(snap)
        if prev is not None:
            changed = int((snap.primary_satellite != prev).sum())
            assert sum(1 for h in seen if h["offset_s"] == off) == changed
        prev = snap.primary_satellite.copy()
    assert seen, "ten minutes of a 1,200 km shell give handovers"
    h = seen[0]
    assert h["ground_station"] in ("Berlin", "Madrid") and h["old"] != h["new"]


def test_ownership_comes_from_registered_sources_then_run_services(caplog):
    class Cluster:
        def current_assignment(self):
            return {"s0p0n0": "Berlin"}

    class Run:
        services = [object(), Cluster()]

    assert ownership_of(Run()) == ("Cluster", {"s0p0n0": "Berlin"})
    register_ownership_source("bindings", lambda run: {"s0p0n1": "Madrid"})
    try:
        assert ownership_of(Run()) == ("bindings", {"s0p0n1": "Madrid"})
        register_ownership_source("bindings", lambda run: 1 / 0)    # replaced; raising is skipped and logged
        assert ownership_of(Run()) == ("Cluster", {"s0p0n0": "Berlin"})
        assert "ownership source bindings failed" in caplog.text
    finally:
        unregister_ownership_source("bindings")
    assert ownership_of(object()) == (None, None)


def test_frames_colour_satellites_by_owner(engine):
    b = FrameBuilder(engine, "tiny", 1.0, "test")
    f = b.frame(engine.snapshot(0.0), 0, ownership={"s0p0n0": "Madrid", "s0p0n1": "Berlin", "nobody": "X"})
    assert f["owners"]["labels"] == ["Berlin", "Madrid", "X"]
    assert f["owners"]["of"][:3] == [1, 0, -1] and f["owners"]["of"].count(-1) == 78
