"""The clock the info API shows (``Controller.offset_now``): real-time pacing, capped at one
step past the last applied tick so that apps never run ahead of the network. Pure."""
from leonet.emulation.controller import paced_offset


def test_on_time_the_clock_moves_between_ticks_at_speed():
    # tick 10 applied (offset 10 s), 0.25 wall s later at speed 2
    assert paced_offset(0.0, 100.0, 105.25, 2.0, 10.0, 1.0) == 10.5


def test_while_lagging_the_clock_waits_for_the_network():
    # real-time pacing says 60 s, the network has applied 40 s: the clock shows 41 s
    assert paced_offset(0.0, 100.0, 130.0, 2.0, 40.0, 1.0) == 41.0


def test_the_clock_never_goes_back_as_ticks_catch_up():
    shown = [paced_offset(0.0, 0.0, now, 1.0, applied, 1.0)
             for now, applied in ((5.0, 2.0), (5.5, 3.0), (6.0, 4.0), (6.2, 6.0), (6.9, 6.0))]
    assert shown == sorted(shown) and shown[-1] == 6.9
