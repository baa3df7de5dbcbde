"""Measure the nfqueue backend's fixed per-hop overhead, to subtract it from delays.

A packet held in userspace pays, on top of its delay, the kernel-to-daemon hand-over,
the daemon's wake-up and the verdict's re-injection. :func:`calibrate` measures it on
a scratch veth pair: the median echo RTT with both ends held for ``delay_ms`` minus
``2 * delay_ms`` minus the median RTT of the same pair unshaped, halved. What netem
would add (the bare veth RTT) is therefore kept, so both backends agree.
"""
from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import LinkParams
from .probe import Prober
from .scratch import ScratchNet

if TYPE_CHECKING:
    from .nfqueue import NfqueueShaper


@dataclass(frozen=True)
class Calibration:
    overhead_ms: float      #: per hop, to subtract
    plain_rtt_ms: float     #: median RTT of the unshaped pair
    shaped_rtt_ms: float    #: median RTT with both ends held for delay_ms, no correction
    delay_ms: float
    samples: int


def calibrate(shaper: "NfqueueShaper", delay_ms: float = 2.0, count: int = 100,
              interval_s: float = 0.004) -> Calibration:
    """Measure the overhead with ``shaper``'s own daemon (it must have no subtraction
    active for the scratch pair; the current setting is restored afterwards)."""
    previous = shaper.overhead_ms
    net = ScratchNet.pairs(f"cal{os.getpid()}", 1)
    with net, Prober(net.names[0]) as probe:
        dst = net.address(0, "b")
        probe.run(dst, 5, interval_s)  # neighbour resolution, caches
        plain = probe.run(dst, count, interval_s).received
        shaper.set_overhead(0.0)
        try:
            shaper.attach([(end, LinkParams(delay_ms)) for end in net.ends()])
            probe.run(dst, 30, interval_s)  # lets the daemon learn its timer lead
            shaped = probe.run(dst, count, interval_s).received
        finally:
            shaper.release_namespaces(net.names)
            shaper.set_overhead(previous)
    if len(plain) < count // 2 or len(shaped) < count // 2:
        raise RuntimeError("calibration pings went unanswered; is the nfqueue path working?")
    plain_ms, shaped_ms = statistics.median(plain), statistics.median(shaped)
    overhead = max(0.0, (shaped_ms - 2 * delay_ms - plain_ms) / 2)
    return Calibration(overhead, plain_ms, shaped_ms, delay_ms, len(shaped))
