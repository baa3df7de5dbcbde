"""Ground-to-satellite path-delay tensors: values, uplinks, parallel build and cache."""
import numpy as np
import pytest

from leonet.topology import GSL
from leonet.topology import delays as delays_mod
from leonet.topology.delays import cached_ground_satellite_delays, ground_satellite_delays

from .helpers import engine as make_engine
from .helpers import gs, walker

OFFSETS = np.arange(0.0, 600.0, 60.0)


@pytest.fixture(scope="module")
def engine():
    return make_engine(walker(6, 10), ground_stations=[gs("quito", -0.2, -78.5), gs("madrid", 40.4, -3.7),
                                                       gs("tokyo", 35.7, 139.7)],
                       topology={"bounding_box": {"lat_min_deg": -10, "lat_max_deg": 60, "lon_min_deg": -90,
                                                  "lon_max_deg": 20}},
                       defaults={"min_elevation_deg": 10})


def test_delays_are_the_snapshot_paths_and_uplinks_their_first_satellite(engine):
    g = ground_satellite_delays(engine, OFFSETS, stations=[0, 2], uplinks=True)
    n = engine.nodes.num_satellites
    assert g.delay_ms.shape == (10, 2, n) and g.uplink.shape == (10, 2, n) and g.active.shape == (10, n)
    checked = 0
    for t in (0, 5):
        snap = engine.snapshot(OFFSETS[t])
        assert np.array_equal(g.active[t], snap.active)
        for row, station in enumerate((0, 2)):
            name = engine.constellation.ground_stations[station].name
            gsl = {int(a): float(d) for a, b, k, d in zip(snap.links.a, snap.links.b, snap.links.kind,
                                                          snap.links.delay_ms)
                   if k == GSL and b == n + station}
            for s in range(0, n, 7):
                p = snap.path(name, engine.constellation.satellites[s].name)
                if not p.reachable:
                    assert np.isinf(g.delay_ms[t, row, s]) and g.uplink[t, row, s] == -1
                    continue
                assert g.delay_ms[t, row, s] == pytest.approx(p.delay_ms, rel=1e-6)
                up = int(g.uplink[t, row, s])
                assert up == p.node_indices[1] and up in gsl
                if s in gsl:           # a satellite in view is reached over its own link
                    assert up == s
                checked += 1
    assert checked > 10


def test_parallel_cached_build_equals_the_serial_one_and_is_reused(engine, tmp_path, monkeypatch):
    direct = ground_satellite_delays(engine, OFFSETS, uplinks=True)
    cached = cached_ground_satellite_delays(engine, OFFSETS, tmp_path, uplinks=True, workers=2, progress=False)
    for name in ("delay_ms", "uplink", "active"):
        assert np.array_equal(getattr(cached, name), getattr(direct, name))

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although cached")
    monkeypatch.setattr(delays_mod, "_fill", fail)
    again = cached_ground_satellite_delays(engine, OFFSETS, tmp_path, uplinks=True, progress=False)
    assert np.array_equal(again.delay_ms, direct.delay_ms)
    with pytest.raises(AssertionError, match="recomputed"):   # other steps: a new entry
        cached_ground_satellite_delays(engine, OFFSETS + 1, tmp_path, progress=False)


def test_a_failed_build_leaves_no_files_behind(engine, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(delays_mod, "_fill", fail)
    with pytest.raises(KeyboardInterrupt):
        cached_ground_satellite_delays(engine, OFFSETS, tmp_path, uplinks=True, progress=False)
    assert list(tmp_path.iterdir()) == []
