"""SQLite persistence with a write-through in-memory cache (one database file per control plane).

Every write takes the next cluster-wide resourceVersion, is committed to SQLite, and published to the
watch hub. Restarting loads every object and the resourceVersion counter, so resourceVersions keep
increasing across restarts and clients' optimistic concurrency stays valid.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from .watch import ADDED, DELETED, MODIFIED, Event, WatchHub

Key = Tuple[str, str]  # (namespace or "", name)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name));
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


class Store:
    """Objects by resource key (see :attr:`ResourceType.key`), then (namespace, name).

    Stored objects are treated as immutable snapshots: callers get them by reference and must copy
    before changing them; every write stores a new dict.
    """

    def __init__(self, path: Optional[Path], history_size: int = 50000):
        self.path = path
        self.db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.objects: Dict[str, Dict[Key, dict]] = {}
        row = self.db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
        self.rv = int(row[0]) if row else 0
        for res, ns, name, data in self.db.execute("SELECT resource, namespace, name, data FROM objects"):
            self.objects.setdefault(res, {})[(ns, name)] = json.loads(data)
        self.hub = WatchHub(self.rv, history_size)
        self.listeners: List[Callable[[Event], None]] = []   # in-process controllers

    def close(self) -> None:
        self.hub.close_all()
        self.db.close()

    # --- reads -----------------------------------------------------------------------------
    def get(self, res: str, namespace: str, name: str) -> Optional[dict]:
        return self.objects.get(res, {}).get((namespace or "", name))

    def list(self, res: str, namespace: Optional[str] = None,
             predicate: Optional[Callable[[dict], bool]] = None) -> List[dict]:
        """Objects sorted by (namespace, name), as the real API server lists them."""
        items = self.objects.get(res, {})
        keys = sorted(k for k in items if not namespace or k[0] == namespace)
        out = [items[k] for k in keys]
        return [o for o in out if predicate(o)] if predicate else out

    def count(self, res: str) -> int:
        return len(self.objects.get(res, {}))

    def iter_all(self) -> Iterator[Tuple[str, dict]]:
        for res, items in self.objects.items():
            for obj in items.values():
                yield res, obj

    # --- writes ----------------------------------------------------------------------------
    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, res: str, obj: dict) -> dict:
        """Create or replace ``obj`` (its namespace/name from metadata) with a new resourceVersion."""
        md = obj["metadata"]
        key = (md.get("namespace") or "", md["name"])
        old = self.objects.get(res, {}).get(key)
        rv = self._next_rv()
        md["resourceVersion"] = str(rv)
        data = json.dumps(obj, separators=(",", ":"))
        self.db.execute("BEGIN")
        try:
            self.db.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)", (res, key[0], key[1], rv, data))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(rv),))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self.rv -= 1
            raise
        self.objects.setdefault(res, {})[key] = obj
        self._publish(Event(rv, res, MODIFIED if old is not None else ADDED, obj, old))
        return obj

    def remove(self, res: str, namespace: str, name: str) -> Optional[dict]:
        """Delete; the DELETED event carries the object with the deletion's resourceVersion."""
        key = (namespace or "", name)
        old = self.objects.get(res, {}).get(key)
        if old is None:
            return None
        rv = self._next_rv()
        self.db.execute("BEGIN")
        try:
            self.db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?", (res, *key))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(rv),))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self.rv -= 1
            raise
        del self.objects[res][key]
        final = dict(old)
        final["metadata"] = dict(old["metadata"], resourceVersion=str(rv))
        self._publish(Event(rv, res, DELETED, final, old))
        return final

    def _publish(self, ev: Event) -> None:
        self.hub.publish(ev)
        for fn in list(self.listeners):
            fn(ev)
