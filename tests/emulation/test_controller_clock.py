"""The clock the info API shows (``Controller.clock``): real-time pacing, capped at one step past the
last applied tick so that apps never run ahead of the network, and the lag by which it is held back,
from one reading. Pure."""
from leonet.emulation.controller import ClockReading, Controller, clock_at
from leonet.orbits import load_constellation
from leonet.topology import TopologyEngine


def test_on_time_the_clock_moves_between_ticks_at_speed_and_does_not_lag():
    # tick 10 applied (offset 10 s), 0.25 wall s later at speed 2
    assert clock_at(0.0, 100.0, 105.25, 2.0, 10.0, 1.0) == ClockReading(10.5, 0.0, True)


def test_while_lagging_the_clock_waits_for_the_network_and_says_by_how_much():
    # real-time pacing says 60 s, the network has applied 40 s: the clock shows 41 s, 19 s behind the pacing
    assert clock_at(0.0, 100.0, 130.0, 2.0, 40.0, 1.0) == ClockReading(41.0, 19.0, True)


def test_the_lag_is_how_late_the_next_tick_is_in_emulated_seconds():
    # step 1 s at speed 4: tick 41 (offset 41 s) was due at wall 100 + 41 / 4 = 110.25; at 111.0 it is 0.75 s
    # late, what its TickInfo.lag_ms will say when it starts, and 3 emulated seconds
    late_s = 111.0 - (100.0 + 41 / 4)
    assert clock_at(0.0, 100.0, 111.0, 4.0, 40.0, 1.0).lag_s == late_s * 4 == 3.0


def test_offset_plus_lag_is_always_the_pacing():
    for now in (100.0, 100.3, 101.0, 107.9, 130.0):
        for applied in (0.0, 3.0, 15.0, 40.0):
            r = clock_at(0.0, 100.0, now, 2.0, applied, 1.0)
            assert r.lag_s >= 0 and r.offset_s <= applied + 1.0
            assert abs(r.offset_s + r.lag_s - (now - 100.0) * 2.0) < 1e-9, (now, applied, r)


def test_the_clock_never_goes_back_as_ticks_catch_up():
    shown = [clock_at(0.0, 0.0, now, 1.0, applied, 1.0)
             for now, applied in ((5.0, 2.0), (5.5, 3.0), (6.0, 4.0), (6.2, 6.0), (6.9, 6.0))]
    assert [r.offset_s for r in shown] == sorted(r.offset_s for r in shown) and shown[-1].offset_s == 6.9
    assert [r.lag_s for r in shown] == [2.0, 1.5, 1.0, 0.0, 0.0]


def test_a_controller_that_is_not_ticking_stands_at_its_offset_without_lag():
    c = Controller(TopologyEngine(load_constellation("demo")), network=None, offset_s=120.0, lookahead=False)
    assert c.clock() == ClockReading(120.0, 0.0, False)
    assert (c.offset_now(), c.lag_s(), c.ticking) == (120.0, 0.0, False)
