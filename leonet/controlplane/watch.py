"""Watch fan-out: a bounded history of changes for resuming, and per-watcher queues.

Objects in events are the stored (immutable) snapshots; each is serialised to JSON at most once, however
many watchers receive it.
"""
from __future__ import annotations

import asyncio
import collections
import json
from typing import Callable, Deque, Dict, List, Optional, Set

from .errors import gone

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


class Event:
    """One change of one object; ``old`` is the previous version (``None`` for ADDED)."""

    __slots__ = ("rv", "key", "type", "obj", "old", "_json")

    def __init__(self, rv: int, key: str, type: str, obj: dict, old: Optional[dict]):
        self.rv, self.key, self.type, self.obj, self.old = rv, key, type, obj, old
        self._json: Optional[bytes] = None

    def obj_json(self) -> bytes:
        if self._json is None:
            self._json = json.dumps(self.obj, separators=(",", ":")).encode()
        return self._json

    def line(self, type: Optional[str] = None) -> bytes:
        return b'{"type":"' + (type or self.type).encode() + b'","object":' + self.obj_json() + b"}\n"


def _ns(obj: dict) -> str:
    return obj.get("metadata", {}).get("namespace") or ""


class Watcher:
    """A subscription: events of one resource, optionally one namespace and a selector predicate.

    ``queue`` receives ``(type, Event)`` pairs; ``None`` means the server closed the watch (overflow or
    shutdown) and the client must re-list.
    """

    MAX_QUEUE = 20000

    def __init__(self, hub: "WatchHub", key: str, namespace: Optional[str],
                 predicate: Optional[Callable[[dict], bool]]):
        self.hub, self.key, self.namespace, self.predicate = hub, key, namespace, predicate
        self.queue: "asyncio.Queue" = asyncio.Queue()
        self.closed = False

    def _matches(self, obj: Optional[dict]) -> bool:
        if obj is None:
            return False
        if self.namespace and _ns(obj) != self.namespace:
            return False
        return self.predicate is None or self.predicate(obj)

    def offer(self, ev: Event) -> None:
        """Translate the event for this watcher's filter (an object leaving the selection is DELETED to
        it, one entering is ADDED), as the real API server does."""
        if self.closed:
            return
        new_ok = ev.type != DELETED and self._matches(ev.obj)
        old_ok = self._matches(ev.old) if ev.type != ADDED else False
        if ev.type == DELETED:
            t = DELETED if self._matches(ev.obj) else None
        elif new_ok and old_ok:
            t = MODIFIED
        elif new_ok:
            t = ADDED
        elif old_ok:
            t = DELETED
        else:
            t = None
        if t is None:
            return
        if self.queue.qsize() >= self.MAX_QUEUE:
            self.close()
            return
        self.queue.put_nowait((t, ev))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)
            self.hub._remove(self)


class WatchHub:
    """Publishes every change to the watchers of its resource and keeps ``history_size`` recent changes
    so that a watch can resume from a resourceVersion; older ones get 410 Gone."""

    def __init__(self, start_rv: int, history_size: int = 50000):
        self.history: Deque[Event] = collections.deque(maxlen=history_size)
        self.first_rv = start_rv     # a watch from rv >= first_rv misses nothing
        self._watchers: Dict[str, Set[Watcher]] = collections.defaultdict(set)

    def publish(self, ev: Event) -> None:
        if len(self.history) == self.history.maxlen:
            self.first_rv = self.history[0].rv
        self.history.append(ev)
        for w in list(self._watchers.get(ev.key, ())):
            w.offer(ev)

    def watch(self, key: str, namespace: Optional[str], predicate: Optional[Callable[[dict], bool]],
              since_rv: Optional[int]) -> Watcher:
        """Subscribe; with ``since_rv``, first replay the changes after it (410 Gone if too old)."""
        w = Watcher(self, key, namespace, predicate)
        if since_rv is not None:
            if since_rv < self.first_rv:
                raise gone(f"too old resource version: {since_rv} ({self.first_rv})")
            for ev in self._since(since_rv):
                if ev.key == key:
                    w.offer(ev)
        self._watchers[key].add(w)
        return w

    def _since(self, rv: int) -> List[Event]:
        h = self.history
        # bisect on the deque by rv (rv increases along it)
        lo, hi = 0, len(h)
        while lo < hi:
            mid = (lo + hi) // 2
            if h[mid].rv <= rv:
                lo = mid + 1
            else:
                hi = mid
        return [h[i] for i in range(lo, len(h))]

    def _remove(self, w: Watcher) -> None:
        self._watchers.get(w.key, set()).discard(w)

    def close_all(self) -> None:
        for ws in list(self._watchers.values()):
            for w in list(ws):
                w.close()

    def watcher_count(self) -> int:
        return sum(len(s) for s in self._watchers.values())
