"""Timelines: diffs replay into the fresh state, parallel equals serial, events match
the snapshots they come from."""
import numpy as np
import pytest

from leonet.topology import TopologyState, handover_events, nearest_control, timeline

from .helpers import engine, gs, walker

STATIONS = [gs("Berlin", 52.52, 13.405), gs("Madrid", 40.42, -3.70), gs("Lagos", 6.52, 3.38),
            gs("Tokyo", 35.68, 139.69), gs("Auckland", -36.85, 174.76), gs("Fiji", -17.7, 178.0)]


@pytest.fixture(scope="module")
def eng():
    return engine(walker(18, 12, 700, 60), ground_stations=STATIONS, defaults={"min_elevation_deg": 15},
                  topology={"bounding_box": {"lat_min_deg": -60, "lat_max_deg": 0,
                                             "lon_min_deg": 150, "lon_max_deg": -150}})


def _state_keys(snap):
    return set(zip(snap.links.a.tolist(), snap.links.b.tolist()))


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_replay_equals_fresh_snapshot(eng, threshold):
    control = ["Berlin", "Tokyo"]
    state = TopologyState.empty(eng)
    last = None
    for diff in timeline(eng, 0.0, 1200.0, 10.0, control=control, delay_threshold_ms=threshold):
        state.apply(diff)
        last = diff
        if diff.index % 40 == 0:
            fresh = TopologyState.of_snapshot(eng, eng.snapshot(diff.offset_s), control=control)
            assert state.matches(fresh, delay_tolerance_ms=threshold)
            if threshold == 0.0:
                assert state.matches(fresh)
    fresh = TopologyState.of_snapshot(eng, eng.snapshot(1200.0), control=control)
    assert last.offset_s == 1200.0
    assert state.matches(fresh, delay_tolerance_ms=threshold)
    if threshold > 0:
        assert not state.matches(fresh)  # some delays are announced late, within the threshold


def test_diffs_are_the_set_differences_of_consecutive_snapshots(eng):
    diffs = list(timeline(eng, 100.0, 400.0, 30.0, destinations=[]))
    snaps = list(eng.snapshots(eng.step_offsets(100.0, 400.0, 30.0)))
    names = eng.nodes.names
    assert [d.offset_s for d in diffs] == [s.offset_s for s in snaps]
    assert _state_keys(snaps[0]) == set(zip(diffs[0].added.a.tolist(), diffs[0].added.b.tolist()))
    for prev, cur, d in zip(snaps[:-1], snaps[1:], diffs[1:]):
        assert set(zip(d.added.a.tolist(), d.added.b.tolist())) == _state_keys(cur) - _state_keys(prev)
        assert set(map(tuple, d.removed.tolist())) == _state_keys(prev) - _state_keys(cur)
        for g, (old, new) in enumerate(zip(prev.primary_satellite, cur.primary_satellite)):
            events = [e for e in d.handovers if e.ground_station == names[eng.nodes.num_satellites + g]]
            if old == new:
                assert not events
            else:
                assert len(events) == 1
                assert events[0].old_satellite == (names[old] if old >= 0 else None)
                assert events[0].new_satellite == (names[new] if new >= 0 else None)
        assert set(d.activated) == set(np.flatnonzero(cur.active & ~prev.active))
    assert any(len(d.added) and len(d.removed) for d in diffs[1:])
    assert any(len(d.activated) for d in diffs[1:])


def test_delay_announcements_follow_threshold_bands(eng):
    thr = 0.5
    diffs = list(timeline(eng, 0.0, 600.0, 5.0, destinations=[], delay_threshold_ms=thr))
    snaps = list(eng.snapshots(eng.step_offsets(0.0, 600.0, 5.0)))
    for prev, cur, d in zip(snaps[:-1], snaps[1:], diffs[1:]):
        pk = dict(zip(zip(prev.links.a.tolist(), prev.links.b.tolist()), prev.links.delay_ms))
        want = {k for k, v in zip(zip(cur.links.a.tolist(), cur.links.b.tolist()), cur.links.delay_ms)
                if k in pk and np.floor(v / thr) != np.floor(pk[k] / thr)}
        assert set(zip(d.delay_changed.a.tolist(), d.delay_changed.b.tolist())) == want
    assert sum(len(d.delay_changed) for d in diffs) > 0


def test_parallel_run_equals_serial(eng):
    kw = dict(control=["Madrid"], delay_threshold_ms=0.5)
    serial = list(timeline(eng, 0.0, 900.0, 3.0, **kw))
    parallel = list(timeline(eng, 0.0, 900.0, 3.0, workers=2, chunk_steps=37, **kw))
    assert len(serial) == len(parallel) == 301
    for a, b in zip(serial, parallel):
        assert a.index == b.index and a.offset_s == b.offset_s
        assert a.added.equals(b.added) and a.delay_changed.equals(b.delay_changed)
        assert np.array_equal(a.removed, b.removed)
        for f in ("node", "destination", "old", "new"):
            assert np.array_equal(getattr(a.next_hops, f), getattr(b.next_hops, f))
        assert a.handovers == b.handovers
        assert np.array_equal(a.control_by_delay.new, b.control_by_delay.new)
        assert np.array_equal(a.activated, b.activated)


def test_handover_events(eng):
    events = handover_events(eng, 0.0, 1800.0, 5.0, ground_stations=["Madrid"])
    assert events[0].offset_s == 0.0 and events[0].old_satellite is None
    assert all(e.ground_station == "Madrid" for e in events)
    assert len(events) > 3
    for prev, cur in zip(events[:-1], events[1:]):
        assert cur.old_satellite == prev.new_satellite and cur.offset_s > prev.offset_s
    # each event's new satellite is the snapshot's primary at that time, and the
    # previous step's primary is the old one
    madrid = eng.nodes.index("Madrid") - eng.nodes.num_satellites
    for e in events[1:6]:
        now = eng.snapshot(e.offset_s).primary_satellite[madrid]
        before = eng.snapshot(e.offset_s - 5.0).primary_satellite[madrid]
        assert e.new_satellite == (eng.nodes.names[now] if now >= 0 else None)
        assert e.old_satellite == (eng.nodes.names[before] if before >= 0 else None)


def test_nearest_control_station(eng):
    snap = eng.snapshot(777.0)
    control = ["Berlin", "Lagos", "Auckland"]
    ctl = nearest_control(snap, control)
    idx = [snap.node_index(c) for c in control]
    n = snap.nodes.num_satellites
    for s in range(0, n, 7):
        d = [np.linalg.norm(snap.positions_km[s] - snap.positions_km[c]) for c in idx]
        assert ctl.by_distance[s] == idx[int(np.argmin(d))]
        assert ctl.distance_km[s] == pytest.approx(min(d))
        delays = [snap.path(c, s).delay_ms for c in control]
        finite = [x for x in delays if x is not None]
        if finite:
            assert ctl.by_delay[s] == idx[delays.index(min(finite))]
            assert ctl.delay_ms[s] == pytest.approx(min(finite))
        else:
            assert ctl.by_delay[s] == -1


def test_bounding_box_across_the_antimeridian(eng):
    from leonet.orbits.frames import ecef_to_geodetic
    snap = eng.snapshot(50.0)
    lat, lon, _ = ecef_to_geodetic(snap.positions_km[:snap.nodes.num_satellites])
    want = (lat >= -60) & (lat <= 0) & ((lon >= 150) | (lon <= -150))
    assert np.array_equal(snap.active, want) and want.any() and not want.all()


def test_bad_timeline_arguments(eng):
    from leonet.errors import ConfigError
    with pytest.raises(ConfigError):
        list(timeline(eng, 10.0, 0.0, 1.0))
    with pytest.raises(ConfigError):
        list(timeline(eng, 0.0, 10.0, 0.0))
    with pytest.raises(ConfigError):
        list(timeline(eng, 0.0, 10.0, 1.0, destinations=["Atlantis"]))
    with pytest.raises(ConfigError):
        list(timeline(eng, 0.0, 10.0, 1.0, workers=0))


def test_interpolated_positions_parallel_equals_serial_and_stay_close(eng):
    serial = list(timeline(eng, 0.0, 400.0, 2.0, knot_step_s=60.0, delay_threshold_ms=0.0))
    parallel = list(timeline(eng, 0.0, 400.0, 2.0, knot_step_s=60.0, delay_threshold_ms=0.0, workers=2,
                             chunk_steps=23))
    for a, b in zip(serial, parallel):
        assert a.added.equals(b.added) and a.delay_changed.equals(b.delay_changed)
        assert np.array_equal(a.removed, b.removed) and a.handovers == b.handovers
    state = TopologyState.empty(eng)
    for d in serial:
        state.apply(d)
    fresh = TopologyState.of_snapshot(eng, eng.snapshot(400.0))
    assert state.matches(fresh, delay_tolerance_ms=1e-6)  # metres of error: nanoseconds of delay
    with pytest.raises(Exception):
        list(timeline(eng, 0.0, 10.0, 1.0, knot_step_s=0))
