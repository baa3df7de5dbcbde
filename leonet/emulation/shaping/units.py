"""Explicit unit conversions between leonet's units and the kernel's.

leonet speaks milliseconds, Mbit/s (10**6 bit/s) and percent. The kernel wants:

- nanoseconds (``TCA_NETEM_LATENCY64``) and psched ticks (``tc_netem_qopt.latency``,
  ``tc_tbf_qopt.buffer``; one tick is 64 ns on every kernel since 2.6.x, see
  ``/proc/net/psched``);
- bytes per second for every rate (``tc_ratespec.rate`` is a u32, so rates from
  2**32 B/s = 34.36 Gbit/s up need the 64-bit attribute);
- a u32 fraction for probabilities (0 = never, 2**32 - 1 = always).
"""
from __future__ import annotations

U32_MAX = 2 ** 32 - 1
NS_PER_MS = 1_000_000
#: ns per psched tick (PSCHED_SHIFT = 6)
NS_PER_TICK = 64


def ms_to_ns(ms: float) -> int:
    return int(round(ms * NS_PER_MS))


def ns_to_ticks(ns: int) -> int:
    """psched ticks, saturating at the u32 limit (about 275 s)."""
    return min(U32_MAX, int(ns) // NS_PER_TICK)


def mbps_to_bytes_per_s(mbps: float) -> int:
    """Mbit/s (decimal, as tc's ``mbit``) to bytes per second."""
    return int(round(mbps * 1_000_000 / 8))


def percent_to_u32(percent: float) -> int:
    """A probability in percent as the kernel's u32 fraction, clamped to [0, 100] %."""
    p = min(100.0, max(0.0, float(percent)))
    return int(round(p / 100.0 * U32_MAX))


def u32_to_fraction(value: int) -> float:
    return value / U32_MAX
