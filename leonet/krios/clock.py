"""Where Krios gets "now": offsets (s) from the constellation's start.

* :class:`WallClock`: UTC now, for a real cluster (k3s, kubeadm) with current TLEs;
* :class:`InfoApiClock`: the emulation's clock, read from the info API's ``/clock``
  inside a node (an emulated run may start at any scenario offset and run faster
  than real time); re-synchronised every few seconds and interpolated in between;
* :class:`FixedRateClock`: a given offset advancing at a given rate (tests, replays).
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import time
from typing import Optional

log = logging.getLogger("leonet.krios")

INFO_URL = "http://169.254.169.254"
#: how often a stopped emulation clock is read again (s)
STOPPED_POLL_S = 0.5


class Clock:
    def offset_s(self) -> float:
        raise NotImplementedError

    def seconds_until(self, offset_s: float) -> float:
        """Real seconds until the clock reads ``offset_s`` (negative if past)."""
        return (offset_s - self.offset_s()) / self.rate

    rate: float = 1.0

    async def run(self) -> None:
        """Background upkeep (none by default)."""


class WallClock(Clock):
    def __init__(self, start: _dt.datetime):
        self.start = start

    def offset_s(self) -> float:
        return (_dt.datetime.now(_dt.timezone.utc) - self.start).total_seconds()


class FixedRateClock(Clock):
    def __init__(self, offset_s: float = 0.0, rate: float = 1.0):
        self.rate = rate
        self._t0, self._o0 = time.monotonic(), offset_s

    def offset_s(self) -> float:
        return self._o0 + (time.monotonic() - self._t0) * self.rate


class InfoApiClock(Clock):
    """The emulation's clock as ``GET {url}/clock`` reports it (see docs/infoapi.md)."""

    def __init__(self, url: str = INFO_URL, resync_s: float = 5.0):
        self.url, self.resync_s = url.rstrip("/"), resync_s
        self.rate = 1.0
        self._sync: Optional[tuple] = None   # (monotonic, offset_s, ticking)

    async def sync(self) -> None:
        import aiohttp
        async with aiohttp.ClientSession() as s:
            t0 = time.monotonic()
            async with s.get(self.url + "/clock", timeout=aiohttp.ClientTimeout(total=5)) as r:
                r.raise_for_status()
                body = await r.json()
            t1 = time.monotonic()
        self.rate = float(body.get("speed", 1.0))
        self._sync = ((t0 + t1) / 2, float(body["offset_s"]), bool(body.get("ticking", True)))

    async def first_sync(self, within_s: float = 60.0) -> None:
        """The first reading, retried for up to ``within_s`` (a run's info API can be
        slow to answer while a large emulation is still being brought up)."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                await self.sync()
                return
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise
                log.warning("clock: cannot read %s/clock yet (%s); retrying", self.url, exc)
                await asyncio.sleep(1.0)

    def offset_s(self) -> float:
        if self._sync is None:
            raise RuntimeError("InfoApiClock: call sync() first")
        mono, offset, ticking = self._sync
        return offset + (time.monotonic() - mono) * self.rate if ticking else offset

    async def run(self) -> None:
        while True:
            # a stopped clock (a run holding time while it sets up) is polled often, so
            # that the moment it starts ticking is seen at once, not a resync later
            ticking = self._sync is None or self._sync[2]
            await asyncio.sleep(self.resync_s if ticking else min(self.resync_s, STOPPED_POLL_S))
            try:
                await self.sync()
            except Exception as exc:  # keep interpolating from the last reading
                log.warning("clock: cannot read %s/clock: %s", self.url, exc)
