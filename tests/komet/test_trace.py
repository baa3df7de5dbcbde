"""Traces from the topology engine, Celestial's trace hysteresis, caching and streaming."""
import numpy as np
import pytest

from leonet.errors import ConfigError
from leonet.komet import Quantizer, build_trace, iter_trace
from leonet.komet.trace import to_microseconds

INF = float("inf")
CLIENTS = ["portland", "boise", "seattle"]


def quantize(values, uplinks=None, threshold=500.0):
    v = np.asarray(values, dtype=np.float32).reshape(-1, 1, 1)
    u = None if uplinks is None else np.asarray(uplinks).reshape(-1, 1, 1)
    return Quantizer(threshold).apply(v, u).ravel().tolist()


def test_quantizer_records_a_path_again_only_past_the_threshold_since_the_last_record():
    # 1400 and 1500 are within 500 us of the recorded 1000; 1501 is not. The drift from
    # 1501 to 1900 in small steps stays within 500 of the record, then 2002 is past it.
    assert quantize([1000, 1400, 1500, 1501, 1700, 1900, 2001, 2002]) == \
        [1000, 1000, 1000, 1501, 1501, 1501, 1501, 2002]


def test_quantizer_records_reachability_and_uplink_changes_at_once():
    assert quantize([1000, INF, INF, 1100]) == [1000, INF, INF, 1100]
    # A new uplink satellite refreshes the record even for a small change, compared with
    # the uplink of the path last recorded.
    assert quantize([1000, 1100, 1200, 1300], uplinks=[3, 3, 4, 4]) == [1000, 1000, 1200, 1200]
    assert quantize([1000, 1100, 1200], threshold=0) == [1000, 1100, 1200]


def test_quantizer_state_carries_across_chunks():
    q = Quantizer(500)
    a = q.apply(np.array([[[1000.0]], [[1300.0]]], dtype=np.float32))
    b = q.apply(np.array([[[1450.0]], [[1600.0]]], dtype=np.float32))
    assert a.ravel().tolist() + b.ravel().tolist() == [1000, 1000, 1000, 1600]


def test_microseconds_are_truncated_like_celestials_integer_delays():
    assert to_microseconds(np.array([[[2.5689, INF]]], np.float32)).ravel().tolist() == [2568.0, INF]


def test_trace_is_the_engine_path_delay_in_microseconds(small_engine):
    tr = build_trace(small_engine, CLIENTS, 100, 120, step_s=2, hysteresis_us=500)
    assert tr.delay_us.shape == (60, 3, 80) and tr.offsets_s[0] == 100 and tr.offsets_s[-1] == 218
    snap = small_engine.snapshot(float(tr.offsets_s[7]))
    for ci, client in enumerate(CLIENTS):
        for s in (0, 13, 41, 79):
            p = snap.path(client, small_engine.constellation.satellites[s].name)
            want = np.floor(p.delay_ms * 1000) if p.reachable else INF
            assert tr.true_delay_us[7, ci, s] == pytest.approx(want, abs=1.0)
    finite = np.isfinite(tr.true_delay_us)
    assert 0.5 < finite.mean() < 1.0                  # some steps see no satellite at all
    assert (np.isfinite(tr.delay_us) == finite).all()
    err = np.abs(tr.delay_us[finite] - tr.true_delay_us[finite])
    assert err.max() <= 500 and err.mean() > 10       # stale by up to the threshold, and visibly so


def test_cached_and_streamed_traces_equal_the_direct_one(small_engine, tmp_path):
    direct = build_trace(small_engine, CLIENTS, 100, 120, step_s=2)
    cached = build_trace(small_engine, CLIENTS, 100, 120, step_s=2, cache_dir=tmp_path, workers=2)
    again = build_trace(small_engine, CLIENTS, 100, 120, step_s=2, cache_dir=tmp_path)
    assert sorted(p.name.split("-")[-1] for p in tmp_path.iterdir()) == ["active.npy", "delay.npy", "uplink.npy"]
    chunks = list(iter_trace(small_engine, CLIENTS, 100, 120, step_s=2, chunk_steps=7, workers=2, keep_true=True))
    assert [c.first_index for c in chunks[:3]] == [0, 7, 14]
    for tr in (cached, again):
        assert np.array_equal(tr.delay_us, direct.delay_us)
        assert np.array_equal(tr.true_delay_us, direct.true_delay_us)
    assert np.array_equal(np.concatenate([c.delay_us for c in chunks]), direct.delay_us)
    assert np.array_equal(np.concatenate([c.true_delay_us for c in chunks]), direct.true_delay_us)


def test_satellite_delays_are_the_engine_path_between_satellites(small_engine):
    tr = build_trace(small_engine, CLIENTS[:1], 100, 10)
    d = tr.satellite_delays(3, 5)
    snap = small_engine.snapshot(103.0)
    names = small_engine.constellation.satellites
    assert d[5] == 0
    assert d[40] == pytest.approx(np.floor(snap.path(names[5].name, names[40].name).delay_ms * 1000), abs=1)


def test_bad_trace_inputs_name_the_field(small_engine):
    with pytest.raises(ConfigError, match="redmund"):
        build_trace(small_engine, ["redmund"], 0, 10)
    with pytest.raises(ConfigError) as exc:
        build_trace(small_engine, CLIENTS, 0, 0.5, step_s=1)
    assert exc.value.field == "duration_s"
    with pytest.raises(ConfigError) as exc:
        build_trace(small_engine, CLIENTS, 0, 10, hysteresis_us=-1)
    assert exc.value.field == "hysteresis_us"
