"""The emulation's clock, shared with the processes that need it (daemons, control planes).

The run's controller applies tick ``k`` (emulated offset ``offset0 + k * step``) at about
``wall0 + k * step / speed``. After each tick the runtime writes ``{offset_s, mono, speed, step_s,
start}`` to a small JSON file; a reader extrapolates from the last tick at ``speed`` but never more than
one step ahead (a stalled or lagging controller holds emulated time back, as it holds the network
back). ``time.monotonic()`` is the same clock in every process of the machine.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import time
from pathlib import Path
from typing import Optional, Tuple

from ...orbits.timeutil import add_seconds, format_utc, parse_utc


class ClockWriter:
    """Writes the clock file (atomically) for :class:`EmulatedClock` readers."""

    def __init__(self, path: Path, start: _dt.datetime, step_s: float, speed: float):
        self.path = Path(path)
        self.start, self.step_s, self.speed = start, float(step_s), float(speed)

    def tick(self, offset_s: float, mono: Optional[float] = None) -> None:
        data = {"start": format_utc(self.start), "offset_s": float(offset_s),
                "mono": time.monotonic() if mono is None else mono, "speed": self.speed, "step_s": self.step_s}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)


class EmulatedClock:
    """Emulated time from a clock file, re-read when it changes (a ``stat`` per call otherwise)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._mtime = -1
        self._state: Optional[dict] = None
        self._start: Optional[_dt.datetime] = None

    def _load(self) -> Optional[dict]:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return self._state
        if mtime != self._mtime:
            try:
                state = json.loads(self.path.read_text())
            except (OSError, ValueError):   # being replaced: keep the last one
                return self._state
            self._mtime, self._state = mtime, state
            self._start = parse_utc(state["start"])
        return self._state

    def offset(self, mono: Optional[float] = None) -> Optional[float]:
        """Emulated seconds since the scenario's start at monotonic time ``mono`` (default now), or
        None before the run has written the clock."""
        st = self._load()
        if st is None:
            return None
        now = time.monotonic() if mono is None else mono
        ahead = min(max(0.0, (now - st["mono"]) * st["speed"]), st["step_s"])
        return st["offset_s"] + ahead

    def offset_of_wall(self, wall: float) -> Optional[float]:
        """Emulated offset at an epoch time (``time.time()`` of any process on this machine)."""
        return self.offset(time.monotonic() - (time.time() - wall))

    def now(self) -> Tuple[Optional[float], Optional[str]]:
        """(offset seconds, ISO UTC) of the emulation now."""
        off = self.offset()
        if off is None or self._start is None:
            return None, None
        return off, format_utc(add_seconds(self._start, off))

    def iso(self, offset_s: float) -> Optional[str]:
        self._load()
        return None if self._start is None else format_utc(add_seconds(self._start, offset_s))

    @property
    def speed(self) -> Optional[float]:
        st = self._load()
        return None if st is None else float(st["speed"])

    @property
    def start(self) -> Optional[_dt.datetime]:
        self._load()
        return self._start
