"""The simulator's metrics on hand-built traces, and chunked replay equal to a whole one."""
import numpy as np
import pytest

from leonet.komet import MinMax, MinMaxMany, build_trace, iter_trace, make_strategy, simulate, simulate_stream

from .helpers import hand_trace, one_client

INF = float("inf")


def test_migrations_and_time_between_them_as_the_paper_counts_them():
    # Best satellite: 0 for steps 0-2, 1 for steps 3-6, 0 again from step 7 (10 steps of 2 s).
    rows = [[1000, 2000]] * 3 + [[2000, 1000]] * 4 + [[1000, 2000]] * 3
    res = simulate(MinMax(), one_client(rows, step_s=2.0))
    assert res.migrations == 2 and res.migration_steps.tolist() == [3, 7]
    # first gap from the start (3 steps), then 7 - 3; the open interval after step 7 is left out
    assert res.time_between_migrations_s.tolist() == [6.0, 8.0]
    s = res.summary()
    assert s["mean_between_migrations_s"] == 7.0 and s["distinct_satellites"] == 2
    assert s["mean_rtt_ms"] == pytest.approx(2.0) and s["replicas_started"] == 2


def test_rtt_is_twice_the_one_way_distance_seen_and_exact():
    tr = one_client([[1000, 3000], [1500, 3000], [2000, 3000]])
    tr.true_delay_us = tr.delay_us + 100          # what the strategy saw was stale by 100 us
    res = simulate(MinMax(), tr)
    assert res.rtt_ms().tolist() == [2.0, 3.0, 4.0]
    assert res.rtt_ms(exact=True).tolist() == pytest.approx([2.2, 3.2, 4.2])
    s = res.summary()
    assert s["p99_rtt_ms"] == pytest.approx(np.percentile([2.0, 3.0, 4.0], 99))
    assert s["mean_rtt_exact_ms"] == pytest.approx(3.2)


def test_replicas_per_step_and_state_copies_for_many_to_many():
    d = [[[1000, 9000, 9000], [9000, 1000, 9000]],     # two replicas: sat0, sat1
         [[1000, 9000, 9000], [1000, 9000, 9000]],     # one: sat0 (sat1 dropped)
         [[9000, 9000, 1000], [9000, 9000, 1000]],     # one: sat2 (a copy)
         [[9000, 9000, 1000], [INF, INF, INF]]]        # client 1 sees nothing
    res = simulate(MinMaxMany(), hand_trace(d))
    assert res.replicas.tolist() == [2, 1, 1, 1]
    assert res.migrations == 2 and res.replicas_started == 1 and res.client_switches == 4
    s = res.summary()
    assert (s["max_replicas"], s["min_replicas"], s["mean_replicas"]) == (2, 1, 1.25)
    assert s["unserved_samples"] == 1 and res.assignment[3].tolist() == [2, -1]


def test_streamed_replay_equals_the_whole_trace(small_engine):
    engine = small_engine
    clients = ["portland", "boise", "seattle"]
    whole = build_trace(engine, clients, 100, 120, step_s=2)
    for name, thr in (("many-to-many", 0.25), ("many-to-one", 0.1)):
        a = simulate(make_strategy(name, thr), whole)
        b = simulate_stream(make_strategy(name, thr), iter_trace(engine, clients, 100, 120, step_s=2, chunk_steps=11))
        assert np.array_equal(a.assignment, b.assignment)
        assert a.migrations == b.migrations and np.array_equal(a.replicas, b.replicas)
        assert np.array_equal(a.delay_us, b.delay_us)


def test_active_only_serves_from_satellites_inside_the_bounding_box(small_engine):
    engine = small_engine
    clients = ["portland", "boise", "seattle"]
    free = build_trace(engine, clients, 100, 120, step_s=2)
    boxed = build_trace(engine, clients, 100, 120, step_s=2, active_only=True)
    assert 0.005 < free.active.mean() < 0.5
    outside = 0
    for name in ("minmax-many", "many-to-many", "many-to-one"):
        a = simulate(make_strategy(name, 0.25), boxed).assignment
        t, c = np.nonzero(a >= 0)
        assert len(t) > 0 and boxed.active[t, a[t, c]].all()
        unboxed = simulate(make_strategy(name, 0.25), free).assignment
        t, c = np.nonzero(unboxed >= 0)
        outside += int((~free.active[t, unboxed[t, c]]).sum())
    assert outside > 0                 # without the box, satellites outside it do serve
