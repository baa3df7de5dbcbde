"""Is the delay backend holding its stated accuracy? Overload is never silent.

A userspace backend (nfqueue) can fall behind: when packets arrive faster than its
daemon can take and release them, they wait in the kernel for the daemon, unseen by
any delay setting, and every path it shapes gets slower, related or not. The daemon
therefore measures itself, cumulatively (see ``NfqueueShaper.stats``):

- *release lateness*: how late each packet left against its due time;
- *transit*: the time from a packet's release at one hop to its arrival at the daemon
  at the next hop. Normally tens of microseconds (the kernel's forwarding and the
  hand-over); when the daemon is behind, the packet's wait for it is in there;
- *made-up waits* (compiled daemon): the part of a transit that no bandwidth (tbf)
  queue explains, i.e. waits for the daemon or for the kernel's forwarding on a busy
  machine. The daemon makes them up at the next hop, so along a path they cost
  nothing, but the same waits also fall where nothing can make them up: in the end
  hosts' kernels (a request's delivery, the turnaround to its reply) and after the
  last hop. Their median is therefore the signal that the machine has no CPU to
  spare for the emulation;
- *backlog*: packets the kernel holds for the daemon that it has not read yet, and
  the kernel's drops because the daemon did not keep up (compiled daemon only);
- its CPU time (per worker: busy and polling time).

:class:`ShaperMonitor` samples these every ``interval_s``, turns the differences into
one :class:`HealthWindow` per interval and judges it against :class:`HealthLimits`
derived from the backend's stated accuracy. Consecutive overloaded windows form an
:class:`OverloadEpisode` (when, how long, how bad). :class:`ShaperHealth` is the
frozen view the run exposes (``EmulationRun.shaper_health()``), writes into
``leonet status`` and logs. Backends without counters (netem: the kernel does the
work) report ``measured=False``.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

log = logging.getLogger(__name__)

#: log-linear histogram bins of the daemons: 16 per power of two of microseconds
BINS_PER_OCTAVE = 16


def bin_middle_ms(index: int, sub: int = BINS_PER_OCTAVE) -> float:
    """The middle of histogram bin ``index`` in ms (see ``hist_bin`` in nfqd.c)."""
    if index < sub:
        return (index + 0.5) / 1000.0
    exponent, part = index // sub + 3, index % sub
    low = (sub + part) << (exponent - 4)
    return (low + (1 << (exponent - 4)) / 2.0) / 1000.0


def bin_of_ns(ns: int, sub: int = BINS_PER_OCTAVE) -> int:
    """The bin of a duration in ns (the inverse of :func:`bin_middle_ms`)."""
    us = max(0, int(ns) // 1000)
    if us < sub:
        return us
    exponent = us.bit_length() - 1
    return (exponent - 3) * sub + ((us >> (exponent - 4)) & (sub - 1))


def _hist(raw: Optional[Sequence[Sequence[int]]]) -> Dict[int, int]:
    return {int(b): int(n) for b, n in (raw or [])}


def _quantile_ms(hist: Mapping[int, int], q: float) -> Optional[float]:
    total = sum(hist.values())
    if total <= 0:
        return None
    want, acc = q * total, 0
    for index in sorted(hist):
        acc += hist[index]
        if acc >= want and hist[index] > 0:
            return bin_middle_ms(index)
    return bin_middle_ms(max(hist))


#: what each overload reason means
REASONS = {
    "hop_wait": "packets wait for the daemon or the kernel between hops (median wait above the bound)",
    "late": "median release lateness above the accuracy",
    "late_tail": "release lateness p99 above the tail bound",
    "backlog": "unread packets queue up in the kernel (more than the accuracy's worth of work)",
    "dropped": "packets dropped because the daemon did not read them in time",
    "queue_full": "packets dropped because a link end's queue was full",
}


@dataclass(frozen=True)
class HealthLimits:
    """When a window counts as overloaded. ``accuracy_ms`` is the backend's stated
    per-hop accuracy (a median): a median release lateness or hop-to-hop transit
    above it, or a backlog that takes longer than it to read, breaks it. The tail
    bound is looser (a loaded VM's timer wake-ups are late by milliseconds now and
    then; see docs/shaping.md)."""

    accuracy_ms: float
    #: release lateness p99 above this: overloaded
    tail_ms: float = 10.0
    #: fewer packets than this in a window: quantiles are not judged
    min_samples: int = 50
    #: median made-up wait per hop above this: overloaded (None: half the accuracy).
    #: Such waits are made up along a path, but about two of them per round trip fall
    #: in the end hosts, where nothing makes them up (docs/shaping.md, *Overload*).
    wait_ms: Optional[float] = None

    @property
    def wait_bound_ms(self) -> float:
        return self.wait_ms if self.wait_ms is not None else self.accuracy_ms / 2.0


@dataclass(frozen=True)
class HealthWindow:
    """What the backend measured about itself over one interval."""

    end_unix: float
    seconds: float
    packets_per_s: float
    #: CPU of the daemon, in cores (1.0 = one core busy)
    cpu_cores: float
    #: the busiest worker's share of time spent handling packets (compiled daemon)
    busy_share: Optional[float]
    release_late_p50_ms: Optional[float]
    release_late_p99_ms: Optional[float]
    release_late_max_ms: Optional[float]
    transit_p50_ms: Optional[float]
    transit_p99_ms: Optional[float]
    #: hop-to-hop waits no tbf queue explains, made up at the next hop (compiled daemon)
    wait_p50_ms: Optional[float]
    wait_p99_ms: Optional[float]
    #: packets the kernel holds for the daemon that it has not read (at the window's end)
    backlog_packets: Optional[int]
    #: how long reading that backlog takes at the window's packet rate
    backlog_ms: Optional[float]
    #: packets the kernel dropped because the daemon did not keep up
    dropped: int
    #: packets dropped because a link end's queue was full (queue_maxlen)
    queue_full: int
    #: why the window counts as overloaded (codes of :data:`REASONS`; empty: it does not)
    reasons: Tuple[str, ...] = ()
    emulated_time: Optional[str] = None

    @property
    def overloaded(self) -> bool:
        return bool(self.reasons)

    def describe(self) -> str:
        parts = []
        if self.wait_p50_ms is not None:
            parts.append(f"made-up wait p50 {self.wait_p50_ms:.2f} / p99 {self.wait_p99_ms:.2f} ms")
        if self.transit_p50_ms is not None:
            parts.append(f"hop-to-hop transit p50 {self.transit_p50_ms:.2f} ms")
        if self.release_late_p99_ms is not None:
            parts.append(f"release lateness p50 {self.release_late_p50_ms:.2f} / p99 {self.release_late_p99_ms:.2f} ms")
        if self.backlog_packets is not None:
            parts.append(f"backlog {self.backlog_packets} packets ({self.backlog_ms or 0.0:.1f} ms)")
        if self.dropped or self.queue_full:
            parts.append(f"{self.dropped} dropped unread, {self.queue_full} dropped by full queues")
        parts.append(f"{self.packets_per_s:,.0f} packet-hops/s, daemon CPU {self.cpu_cores:.2f} cores")
        return ", ".join(parts)


@dataclass(frozen=True)
class OverloadEpisode:
    """Consecutive overloaded windows: when, how long, how bad."""

    start_unix: float
    end_unix: Optional[float]            #: None while it lasts
    start_emulated: Optional[str]
    end_emulated: Optional[str]
    windows: int
    worst_transit_p50_ms: Optional[float]
    worst_release_late_p99_ms: Optional[float]
    worst_backlog_ms: Optional[float]
    dropped: int
    reasons: Tuple[str, ...]
    worst_wait_p50_ms: Optional[float] = None

    @property
    def ongoing(self) -> bool:
        return self.end_unix is None

    def duration_s(self, now_unix: Optional[float] = None) -> float:
        end = self.end_unix if self.end_unix is not None else (now_unix or time.time())
        return max(0.0, end - self.start_unix)

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.start_unix))
        emu = f" (emulated {self.start_emulated})" if self.start_emulated else ""
        worst = []
        if self.worst_wait_p50_ms is not None:
            worst.append(f"made-up wait p50 up to {self.worst_wait_p50_ms:.2f} ms per hop")
        if self.worst_transit_p50_ms is not None:
            worst.append(f"hop-to-hop wait p50 up to {self.worst_transit_p50_ms:.2f} ms")
        if self.worst_release_late_p99_ms is not None:
            worst.append(f"release lateness p99 up to {self.worst_release_late_p99_ms:.2f} ms")
        if self.worst_backlog_ms:
            worst.append(f"backlog up to {self.worst_backlog_ms:.1f} ms")
        if self.dropped:
            worst.append(f"{self.dropped} packets dropped")
        state = "ongoing" if self.ongoing else f"{self.duration_s():.0f} s"
        return f"from {when}{emu}, {state}: " + "; ".join(worst or [REASONS[r] for r in self.reasons])


@dataclass(frozen=True)
class ShaperHealth:
    """The delay backend's health as the run sees it (``EmulationRun.shaper_health()``).

    ``ok`` is False while the backend is overloaded (its last window broke the
    limits); ``episodes`` lists every overload of the run, the last one possibly
    ongoing. Delays measured during an episode carry the backend's own extra delay.
    """

    backend: str
    measured: bool                       #: False: the backend does not measure itself (netem)
    accuracy_ms: float
    limits: Optional[HealthLimits]
    last: Optional[HealthWindow]
    episodes: Tuple[OverloadEpisode, ...] = ()
    windows: int = 0

    @property
    def overloaded(self) -> bool:
        """Overloaded in the last measured window."""
        return self.last is not None and self.last.overloaded

    @property
    def ok(self) -> bool:
        return not self.overloaded

    @property
    def ever_overloaded(self) -> bool:
        return bool(self.episodes)

    def overloaded_s(self) -> float:
        now = time.time()
        return sum(e.duration_s(now) for e in self.episodes)

    def summary(self) -> str:
        if not self.measured:
            return f"{self.backend}: not self-measured (no userspace data path to fall behind)"
        if not self.episodes:
            state = "within its stated accuracy" if self.windows else "no measurement yet"
            return f"{self.backend}: {state}"
        head = "OVERLOADED now" if self.overloaded else "overloaded earlier"
        return (f"{self.backend}: {head}; {len(self.episodes)} episode(s), {self.overloaded_s():.0f} s in all; "
                f"last {self.episodes[-1].describe()}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ok"] = self.ok
        out["overloaded"] = self.overloaded
        out["overloaded_s"] = round(self.overloaded_s(), 1)
        out["summary"] = self.summary()
        return out


@dataclass
class _Sample:
    mono: float
    wall: float
    counters: Mapping


class ShaperMonitor:
    """Samples a shaper's counters every ``interval_s`` (in a thread, after
    :meth:`start`, or on each :meth:`sample` call) and keeps its health.

    ``on_overload(episode, window)`` runs when an episode starts, ``on_recovery(episode)``
    when it ends; ``emulated_time()`` labels windows with the emulated time.
    """

    def __init__(self, shaper, interval_s: float = 1.0, limits: Optional[HealthLimits] = None,
                 emulated_time: Optional[Callable[[], str]] = None,
                 on_overload: Optional[Callable[[OverloadEpisode, HealthWindow], None]] = None,
                 on_recovery: Optional[Callable[[OverloadEpisode], None]] = None) -> None:
        self.shaper = shaper
        self.interval_s = interval_s
        self.limits = limits or HealthLimits(accuracy_ms=max(0.05, float(getattr(shaper, "accuracy_ms", 0.5))))
        self.emulated_time = emulated_time
        self.on_overload = on_overload
        self.on_recovery = on_recovery
        self.measured = shaper.health_counters() is not None
        self._lock = threading.Lock()
        self._prev: Optional[_Sample] = None
        self._last: Optional[HealthWindow] = None
        self._episodes: List[OverloadEpisode] = []
        self._windows = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        #: worker scheduling classes last warned about (None: as asked)
        self._demoted: Optional[Tuple[str, ...]] = None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> "ShaperMonitor":
        if self.measured and self._thread is None:
            self.sample()
            self._thread = threading.Thread(target=self._loop, name="leonet-shaper-health", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sample()
            except Exception as exc:  # the daemon is gone (run stopping): stop quietly
                log.debug("shaper health sample failed: %s", exc)
                if self._stop.is_set():
                    return

    # ------------------------------------------------------------------ measuring
    def sample(self) -> Optional[HealthWindow]:
        """Read the counters now; the window since the previous sample (None on the first)."""
        counters = self.shaper.health_counters()
        if counters is None:
            return None
        now = _Sample(time.monotonic(), time.time(), counters)
        self._check_classes(counters)
        with self._lock:
            prev, self._prev = self._prev, now
            if prev is None:
                return None
            window = self._window(prev, now)
            self._windows += 1
            self._last = window
            started = ended = None
            current = self._episodes[-1] if self._episodes and self._episodes[-1].ongoing else None
            if window.overloaded:
                if current is None:
                    current = self._new_episode(window)
                    self._episodes.append(current)
                    started = current
                else:
                    current = self._extend(current, window)
                    self._episodes[-1] = current
            elif current is not None:
                ended = self._episodes[-1] = replace(current, end_unix=window.end_unix,
                                                     end_emulated=window.emulated_time)
        if started is not None and self.on_overload is not None:
            self.on_overload(started, window)
        if ended is not None and self.on_recovery is not None:
            self.on_recovery(ended)
        return window

    def _check_classes(self, counters: Mapping) -> None:
        """Warn (once per change) when the daemon asked for real-time scheduling but its
        workers do not have it: something outside leonet re-classed them, and on a busy
        machine their releases then come late by up to seconds (docs/shaping.md)."""
        if not counters.get("realtime"):
            return
        classes = tuple(str(w.get("policy", "?")) for w in counters.get("workers", []))
        demoted = classes if any(c not in ("fifo", "rr", "unknown", "?") for c in classes) else None
        if demoted != self._demoted:
            if demoted is not None:
                log.warning("the delay daemon's workers run %s, not the SCHED_FIFO it asked for (re-classed "
                            "from outside?): delays will be late while the machine is busy", "/".join(demoted))
            else:
                log.warning("the delay daemon's workers are SCHED_FIFO again")
            self._demoted = demoted

    def health(self) -> ShaperHealth:
        with self._lock:
            return ShaperHealth(backend=getattr(self.shaper, "name", "?"), measured=self.measured,
                                accuracy_ms=self.limits.accuracy_ms, limits=self.limits if self.measured else None,
                                last=self._last, episodes=tuple(self._episodes), windows=self._windows)

    def _window(self, a: _Sample, b: _Sample) -> HealthWindow:
        ca, cb = a.counters, b.counters
        seconds = max(1e-6, b.mono - a.mono)
        late = _diff(cb.get("late_hist"), ca.get("late_hist"))
        transit = _diff(cb.get("transit_hist"), ca.get("transit_hist"))
        waits = _diff(cb.get("wait_hist"), ca.get("wait_hist"))
        packets = max(0, int(cb.get("packets", 0)) - int(ca.get("packets", 0)))
        rate = packets / seconds
        busy = None
        wa, wb = ca.get("workers") or [], cb.get("workers") or []
        if wa and len(wa) == len(wb):
            busy = max((y.get("busy_s", 0.0) - x.get("busy_s", 0.0)) / seconds for x, y in zip(wa, wb))
        ka, kb = ca.get("kernel"), cb.get("kernel")
        backlog = backlog_ms = None
        dropped = max(0, int(cb.get("enobufs", 0)) - int(ca.get("enobufs", 0)))
        queue_full = 0
        if kb is not None:
            backlog = int(kb.get("pending", 0))
            backlog_ms = 1000.0 * backlog / rate if rate > 0 else (0.0 if backlog == 0 else None)
            if ka is not None:
                dropped += max(0, int(kb.get("user_dropped", 0)) - int(ka.get("user_dropped", 0)))
                queue_full = max(0, int(kb.get("queue_dropped", 0)) - int(ka.get("queue_dropped", 0)))
        window = HealthWindow(
            end_unix=b.wall, seconds=seconds, packets_per_s=rate,
            cpu_cores=max(0.0, float(cb.get("cpu_s", 0.0)) - float(ca.get("cpu_s", 0.0))) / seconds,
            busy_share=busy,
            release_late_p50_ms=_quantile_ms(late, 0.5), release_late_p99_ms=_quantile_ms(late, 0.99),
            release_late_max_ms=_quantile_ms(late, 1.0),
            transit_p50_ms=_quantile_ms(transit, 0.5), transit_p99_ms=_quantile_ms(transit, 0.99),
            wait_p50_ms=_quantile_ms(waits, 0.5), wait_p99_ms=_quantile_ms(waits, 0.99),
            backlog_packets=backlog, backlog_ms=backlog_ms, dropped=dropped, queue_full=queue_full,
            emulated_time=self._emulated_now())
        return replace(window, reasons=self._judge(window, sum(late.values()), sum(transit.values()),
                                                   sum(waits.values())))

    def _judge(self, w: HealthWindow, n_late: int, n_transit: int, n_waits: int) -> Tuple[str, ...]:
        lim = self.limits
        enough_late = n_late >= lim.min_samples
        if n_waits >= lim.min_samples:      # compiled daemon: waits no tbf explains
            hop_wait = (w.wait_p50_ms or 0.0) > lim.wait_bound_ms
        else:                               # no such split (Python daemon): every transit
            hop_wait = n_transit >= lim.min_samples and (w.transit_p50_ms or 0.0) > lim.accuracy_ms
        checks = (
            ("hop_wait", hop_wait),
            ("late", enough_late and (w.release_late_p50_ms or 0.0) > lim.accuracy_ms),
            ("late_tail", enough_late and (w.release_late_p99_ms or 0.0) > lim.tail_ms),
            ("backlog", (w.backlog_packets or 0) >= lim.min_samples and (w.backlog_ms or 0.0) > lim.accuracy_ms),
            ("dropped", w.dropped > 0),
            ("queue_full", w.queue_full > 0),
        )
        return tuple(code for code, broken in checks if broken)

    def _emulated_now(self) -> Optional[str]:
        try:
            return self.emulated_time() if self.emulated_time is not None else None
        except Exception:  # noqa: BLE001 - a label only
            return None

    @staticmethod
    def _new_episode(w: HealthWindow) -> OverloadEpisode:
        return OverloadEpisode(start_unix=w.end_unix - w.seconds, end_unix=None, start_emulated=w.emulated_time,
                               end_emulated=None, windows=1, worst_transit_p50_ms=w.transit_p50_ms,
                               worst_release_late_p99_ms=w.release_late_p99_ms, worst_backlog_ms=w.backlog_ms,
                               dropped=w.dropped + w.queue_full, reasons=w.reasons,
                               worst_wait_p50_ms=w.wait_p50_ms)

    @staticmethod
    def _extend(e: OverloadEpisode, w: HealthWindow) -> OverloadEpisode:
        return replace(e, windows=e.windows + 1,
                       worst_transit_p50_ms=_max(e.worst_transit_p50_ms, w.transit_p50_ms),
                       worst_wait_p50_ms=_max(e.worst_wait_p50_ms, w.wait_p50_ms),
                       worst_release_late_p99_ms=_max(e.worst_release_late_p99_ms, w.release_late_p99_ms),
                       worst_backlog_ms=_max(e.worst_backlog_ms, w.backlog_ms),
                       dropped=e.dropped + w.dropped + w.queue_full,
                       reasons=tuple(dict.fromkeys(e.reasons + w.reasons)))


def _diff(new: Optional[Sequence[Sequence[int]]], old: Optional[Sequence[Sequence[int]]]) -> Dict[int, int]:
    a, b = _hist(old), _hist(new)
    return {k: n - a.get(k, 0) for k, n in b.items() if n - a.get(k, 0) > 0}


def _max(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


__all__ = ["REASONS", "HealthLimits", "HealthWindow", "OverloadEpisode", "ShaperHealth", "ShaperMonitor",
           "bin_middle_ms", "bin_of_ns"]
