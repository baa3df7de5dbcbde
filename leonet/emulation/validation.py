"""Expected-versus-measured RTT validation (Celestial's oracle test, made continuous).

:class:`RttProbe` sends ICMP echo requests between pairs of nodes of a live run from
inside the nodes' namespaces, and pairs every reply with the RTT the topology
engine expects for the tick that was in force when the request left: twice the
one-way delay of the least-delay path. A sample whose flight spans a tick that changed
the expected RTT by more than ``straddle_tolerance_ms`` is marked ``straddles`` and
left out of the accuracy figures (its request and reply saw different networks).
"""
from __future__ import annotations

import bisect
import csv
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .controller import TickInfo


class MeasuredAgainstExpected:
    """A sample's ``error_ms``: measured minus expected, None when either is missing
    (the engine said unreachable, or nothing came back)."""

    expected_ms: Optional[float]
    measured_ms: Optional[float]

    @property
    def error_ms(self) -> Optional[float]:
        if self.expected_ms is None or self.measured_ms is None:
            return None
        return self.measured_ms - self.expected_ms


@dataclass
class RttSample(MeasuredAgainstExpected):
    sent_wall: float                  #: unix time the request left
    emulated_time: str                #: emulated time of the tick in force then
    source: str
    target: str
    expected_ms: Optional[float]      #: None: the engine says unreachable
    measured_ms: Optional[float]      #: None: no reply
    straddles: bool = False


class TickProbe:
    """What the live probes share: threads that measure beside a run while the
    controller's tick hook notes each tick, until the threads finish (:meth:`wait`) or
    :meth:`stop` ends them early; then the hook is removed and :meth:`_finish` makes
    the samples."""

    def __init__(self, run) -> None:
        self.run = run
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []

    def _on_tick(self, info: TickInfo) -> None:
        raise NotImplementedError

    def _finish(self) -> list:
        raise NotImplementedError

    def _hook_and_start(self, loops: Sequence[Tuple[Callable[[], None], str]]) -> None:
        """Hook the ticks, then start a daemon thread per ``(function, thread name)``."""
        self.run.controller.hooks.tick.append(self._on_tick)
        for target, name in loops:
            t = threading.Thread(target=target, daemon=True, name=name)
            t.start()
            self._threads.append(t)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def stop(self) -> list:
        """End probing early; the samples."""
        self._stop.set()
        return self.wait()

    def wait(self) -> list:
        """Wait for the probe to finish; the samples, by send time."""
        for t in self._threads:
            t.join()
        if self._on_tick in self.run.controller.hooks.tick:
            self.run.controller.hooks.tick.remove(self._on_tick)
        return self._finish()


class RttProbe(TickProbe):
    """Pings ``pairs`` of nodes every ``interval_s`` for ``duration_s`` during a run.

    Echo requests come from a raw socket in the source node's namespace, with the send
    time stamped just before sending and the receive time from the kernel, so RTTs have
    microsecond resolution (``ping`` prints 0.1 ms, or 1 ms above 100 ms).
    """

    def __init__(self, run, pairs: Sequence[Tuple[str, str]], duration_s: float, interval_s: float = 0.2,
                 straddle_tolerance_ms: float = 0.1):
        super().__init__(run)
        self.pairs = [(run.node(a).name, run.node(b).name) for a, b in pairs]
        self.count = max(1, int(duration_s / interval_s))
        self.interval_s = interval_s
        self.straddle_tolerance_ms = straddle_tolerance_ms
        # (monotonic time the tick's changes were in place, emulated time, {pair: expected RTT})
        self._ticks: List[Tuple[float, str, Dict[Tuple[str, str], Optional[float]]]] = []
        self._results: Dict[Tuple[str, str], list] = {p: [] for p in self.pairs}

    # ------------------------------------------------------------------ expected values
    def _expected_now(self) -> Dict[Tuple[str, str], Optional[float]]:
        snap = self.run.network.snapshot
        out = {}
        for a, b in self.pairs:
            p = snap.path(a, b)
            out[(a, b)] = 2.0 * float(p.delay_ms) if p.reachable else None
        return out

    def _on_tick(self, info: TickInfo) -> None:
        with self._lock:
            self._ticks.append((time.monotonic(), info.time_iso, self._expected_now()))

    # ------------------------------------------------------------------ pinging
    def start(self) -> None:
        from .shaping.probe import Prober
        self._ticks.append((time.monotonic(), self.run.controller.current_time_iso, self._expected_now()))
        loops = []
        for pair in self.pairs:
            prober = Prober(self.run.node(pair[0]).netns)
            dst = self.run.node(pair[1]).address

            def probe(pair=pair, prober=prober, dst=dst) -> None:
                # in chunks of ~5 s, so that results can be read while probing goes on
                chunk = max(1, int(5.0 / self.interval_s))
                try:
                    left = self.count
                    while left > 0 and not self._stop.is_set():
                        result = prober.run(dst, min(chunk, left), self.interval_s)
                        with self._lock:
                            self._results[pair].append(result)
                        left -= chunk
                finally:
                    prober.close()
            loops.append((probe, f"leonet-probe-{pair[0]}"))
        self._hook_and_start(loops)

    def samples(self) -> List[RttSample]:
        """The samples so far (complete chunks of probes)."""
        with self._lock:
            return self._samples()

    def _finish(self) -> List[RttSample]:      # stop() ends probing after the current chunk
        return self._samples()

    def _samples(self) -> List[RttSample]:
        marks = [t[0] for t in self._ticks]
        offset = time.time() - time.monotonic()
        samples: List[RttSample] = []
        for pair, results in self._results.items():
            for sent, rtt in ((s, r) for res in results for s, r in zip(res.sent_at, res.rtt_ms)):
                i = max(0, bisect.bisect_right(marks, sent) - 1)
                _, when, exp = self._ticks[i]
                expected = exp[pair]
                straddles = False
                if rtt is not None:
                    j = max(0, bisect.bisect_right(marks, sent + rtt / 1000.0) - 1)
                    straddles = any(
                        self._ticks[k][2][pair] is None or expected is None
                        or abs(self._ticks[k][2][pair] - expected) > self.straddle_tolerance_ms
                        for k in range(i + 1, j + 1))
                samples.append(RttSample(sent + offset, when, pair[0], pair[1], expected, rtt, straddles))
        return sorted(samples, key=lambda s: s.sent_wall)


def summarise(samples: Sequence[RttSample]) -> Dict[str, float]:
    """Error distribution of the samples that count (replied, reachable, not straddling)."""
    errors = np.array([s.error_ms for s in samples if s.error_ms is not None and not s.straddles])
    lost = sum(1 for s in samples if s.measured_ms is None and s.expected_ms is not None)
    out = {"samples": float(len(samples)), "counted": float(len(errors)), "lost": float(lost)}
    if len(errors):
        abs_err = np.abs(errors)
        out.update({"error_p50_ms": float(np.percentile(errors, 50)),
                    "abs_error_p95_ms": float(np.percentile(abs_err, 95)),
                    "abs_error_p99_ms": float(np.percentile(abs_err, 99)),
                    "abs_error_max_ms": float(abs_err.max()),
                    "within_1ms": float(np.mean(abs_err <= 1.0)),
                    "within_4ms": float(np.mean(abs_err <= 4.0))})
    return out


def write_csv(samples: Sequence[RttSample], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sent_unix", "emulated_time", "source", "target", "expected_rtt_ms", "measured_rtt_ms",
                    "error_ms", "straddles_tick"])
        for s in samples:
            w.writerow([f"{s.sent_wall:.6f}", s.emulated_time, s.source, s.target,
                        "" if s.expected_ms is None else f"{s.expected_ms:.3f}",
                        "" if s.measured_ms is None else f"{s.measured_ms:.3f}",
                        "" if s.error_ms is None else f"{s.error_ms:.3f}", int(s.straddles)])
