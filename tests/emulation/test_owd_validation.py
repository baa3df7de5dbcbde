"""The one-way delay validation's bookkeeping (no root): which tick a datagram belongs
to, which flights span a route change, kernel stamps, and the per-direction figures."""
import socket
import struct

import pytest

from leonet.emulation.owd_validation import (Expectation, TickMark, make_samples, overlaps_apply, rx_stamp,
                                             straddles, summarise_one_way, tick_in_force, tx_stamps)

AB, BA = ("A", "B"), ("B", "A")
MS = 1_000_000


def mark(start_ms, end_ms, ab, ba, when="t"):
    def exp(v):
        return Expectation(v, v, 10) if v is not None else Expectation(None, None, 0)
    return TickMark(start_ms * MS, end_ms * MS, when, {AB: exp(ab), BA: exp(ba)})


# ticks: in force from 0; the second applied from 1,000 to 1,080 ms changes A->B by 2 ms
# (a route change) but B->A only by 0.05 ms; the third (2,000-2,050) makes B->A unreachable
MARKS = [mark(0, 0, 20.0, 20.0, "t0"), mark(1000, 1080, 22.0, 20.05, "t1"), mark(2000, 2050, 22.0, None, "t2")]


def test_the_tick_in_force_is_the_last_whose_apply_had_ended():
    assert tick_in_force(MARKS, 0) == 0
    assert tick_in_force(MARKS, 1050 * MS) == 0      # during the apply: the old tick
    assert tick_in_force(MARKS, 1080 * MS) == 1
    assert tick_in_force(MARKS, 5000 * MS) == 2


def test_a_flight_overlapping_the_apply_of_a_route_change_straddles():
    # ends before the apply begins: fine
    assert not straddles(MARKS, AB, 900 * MS, 990 * MS, 0.1)
    # ends inside the apply window (routes were changing), though before the tick's end
    assert straddles(MARKS, AB, 980 * MS, 1010 * MS, 0.1)
    # sent inside the apply window
    assert straddles(MARKS, AB, 1050 * MS, 1075 * MS, 0.1)
    # sent after the apply ended: the new tick is in force, nothing changes after it
    assert not straddles(MARKS, AB, 1085 * MS, 1110 * MS, 0.1)
    # the reverse direction's change is within the tolerance
    assert not straddles(MARKS, BA, 980 * MS, 1010 * MS, 0.1)
    # ... but it becomes unreachable at the third tick
    assert straddles(MARKS, BA, 1990 * MS, 2010 * MS, 0.1)
    # a lost datagram straddles nothing (it counts as lost)
    assert not straddles(MARKS, AB, 980 * MS, None, 0.1)


def test_flights_during_any_apply_are_flagged():
    assert overlaps_apply(MARKS, 990 * MS, 1001 * MS)
    assert overlaps_apply(MARKS, 2010 * MS, 2020 * MS)
    assert not overlaps_apply(MARKS, 1100 * MS, 1900 * MS)


def test_samples_pair_sends_receipts_and_expectations_per_direction():
    directions = [AB, BA]
    sends = {(0, 0): (100 * MS, True), (1, 0): (100 * MS + 5, True),        # tick 0
             (0, 1): (1200 * MS, False), (1, 1): (1200 * MS, True),         # tick 1
             (0, 2): (980 * MS, True)}                                      # spans the change
    receipts = {(0, 0): 100 * MS + 20_300_000, (1, 0): 100 * MS + 5 + 19_900_000,
                (0, 1): 1200 * MS + 22_100_000, (0, 2): 980 * MS + 21_000_000}
    samples = make_samples(MARKS, sends, receipts, directions, 0.1)
    by_key = {(s.source, s.sent_ns): s for s in samples}
    a = by_key[("A", 100 * MS)]
    assert (a.target, a.expected_ms, a.emulated_time) == ("B", 20.0, "t0")
    assert a.error_ms == pytest.approx(0.3)
    assert by_key[("B", 100 * MS + 5)].error_ms == pytest.approx(-0.1)
    late = by_key[("A", 1200 * MS)]
    assert late.expected_ms == 22.0 and late.error_ms == pytest.approx(0.1) and not late.kernel_stamped
    assert by_key[("B", 1200 * MS)].measured_ms is None                     # lost
    assert by_key[("A", 980 * MS)].straddles
    s = summarise_one_way(samples)
    assert (s["samples"], s["counted"], s["lost"], s["straddling"], s["user_stamped"]) == (5, 3, 1, 1, 1)
    assert s["within_0_5ms"] == 1.0 and s["within_1ms"] == 1.0
    assert s["abs_error_max_ms"] == pytest.approx(0.3)
    assert s["hops_min"] == s["hops_max"] == 10
    assert s["threshold_error_p50_ms"] == 0.0 and s["backend_error_p50_ms"] == pytest.approx(0.1)
    only_ab = summarise_one_way([x for x in samples if (x.source, x.target) == AB])
    assert only_ab["counted"] == 2 and only_ab["error_p50_ms"] == pytest.approx(0.2)


def test_installed_delays_split_the_error_into_threshold_and_backend_parts():
    marks = [TickMark(0, 0, "t0", {AB: Expectation(20.0, 20.04, 12)})]
    samples = make_samples(marks, {(0, 0): (0, True)}, {(0, 0): 20_540_000}, [AB], 0.1)
    s = summarise_one_way(samples)
    assert s["error_p50_ms"] == pytest.approx(0.54)
    assert s["threshold_error_p50_ms"] == pytest.approx(0.04)
    assert s["backend_error_p50_ms"] == pytest.approx(0.50)
    assert s["within_0_5ms"] == 0.0 and s["within_1ms"] == 1.0


def test_kernel_stamps_are_read_from_ancillary_data():
    stamp = struct.pack("qq", 1_700_000_000, 123_456_789) + bytes(32)      # scm_timestamping: 3 timespecs
    err = struct.pack("=IBBBBII", 42, 4, 0, 0, 0, 0, 7)                    # ENOMSG, timestamping, SND, key 7
    assert tx_stamps([(socket.SOL_SOCKET, 37, stamp), (socket.SOL_IP, 11, err)]) == (7, 1_700_000_000_123_456_789)
    sched = struct.pack("=IBBBBII", 42, 4, 0, 0, 0, 1, 7)                  # SCM_TSTAMP_SCHED: not the send
    assert tx_stamps([(socket.SOL_SOCKET, 37, stamp), (socket.SOL_IP, 11, sched)]) is None
    assert tx_stamps([(socket.SOL_IP, 11, err)]) is None
    assert rx_stamp([(socket.SOL_SOCKET, 35, struct.pack("qq", 5, 6))]) == 5_000_000_006
    assert rx_stamp([]) is None


def test_kernel_transmit_stamps_on_loopback():
    """The kernel gives a software transmit stamp for a UDP datagram (no namespace needed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        r.bind(("127.0.0.1", 0))
        r.setsockopt(socket.SOL_SOCKET, 35, 1)
        s.setsockopt(socket.SOL_SOCKET, 37, (1 << 1) | (1 << 4) | (1 << 7) | (1 << 11))
        import time
        before = time.time_ns()
        s.sendto(b"x", r.getsockname())
        r.settimeout(2)
        _data, anc, _f, _a = r.recvmsg(16, 1024)
        got = None
        deadline = time.monotonic() + 2
        while got is None and time.monotonic() < deadline:
            try:
                _d, tx_anc, _f, _a = s.recvmsg(16, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            got = tx_stamps(tx_anc)
    finally:
        s.close()
        r.close()
    if got is None:
        pytest.skip("this kernel gives no software transmit stamps on loopback")
    received = rx_stamp(anc)
    assert got[0] == 0 and before <= got[1] <= received
