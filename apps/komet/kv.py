"""The keygroup client that functions use (FReD's client API on Redis).

A keygroup is an application's data pool. On every satellite that holds a replica it
is one Redis server bound to the satellite's address; exactly one replica is the
*primary* (writable), the others replicate from it (Redis primary-replica
replication, asynchronous, over the emulated links). Functions only see this class:

* reads go to the local replica; an item that is missing locally while the local
  replica is not the primary is read from the primary (an item written just before a
  switch and not replicated yet: the paper's "served transparently from the old
  replica", Sec. 9);
* writes go to the local replica when it is the primary, otherwise to the primary
  (found from the local replica's replication link, followed along a chain). A write
  is acknowledged only once the primary accepted it, so a failover
  (the new primary has every acknowledged write) loses none; a write held during the
  hand-over meets ``READONLY`` at the old primary and is retried at the new one.

``KOMET_KEYGROUPS`` (set by the node host) names each keygroup's local Unix socket,
its expiry and whether it is mutable.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Dict, List, Optional, Tuple

import redis

#: how often a write follows a changing primary before it gives up
_WRITE_ATTEMPTS = 6


class KeyExists(Exception):
    """Append to an append-only keygroup with an id that exists (FReD's error)."""


class Keygroup:
    """One keygroup as seen from a function on this satellite."""

    def __init__(self, name: str, unix_socket: str, expiry_s: int = 0, mutable: bool = True,
                 timeout_s: float = 2.0):
        self.name = name
        self.expiry_s = int(expiry_s)
        self.mutable = mutable
        self.timeout_s = timeout_s
        self.local = redis.Redis(unix_socket_path=unix_socket, decode_responses=True,
                                 socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._primary: Optional[Tuple[str, int]] = None
        self._remote: Dict[Tuple[str, int], redis.Redis] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ topology
    def _role(self, conn: redis.Redis) -> Tuple[str, Optional[Tuple[str, int]]]:
        info = conn.info("replication")
        if info.get("role") == "master":
            return "master", None
        return "slave", (str(info["master_host"]), int(info["master_port"]))

    def _conn(self, addr: Optional[Tuple[str, int]]) -> redis.Redis:
        if addr is None:
            return self.local
        with self._lock:
            conn = self._remote.get(addr)
            if conn is None:
                conn = redis.Redis(host=addr[0], port=addr[1], decode_responses=True, socket_timeout=self.timeout_s,
                                   socket_connect_timeout=self.timeout_s)
                self._remote[addr] = conn
            return conn

    def primary(self, refresh: bool = False) -> Optional[Tuple[str, int]]:
        """The primary's address, None when the local replica is the primary."""
        if self._primary is not None and not refresh:
            return self._primary
        addr: Optional[Tuple[str, int]] = None
        conn = self.local
        for _ in range(4):                     # follow a chain of replicas
            role, master = self._role(conn)
            if role == "master":
                break
            addr = master
            conn = self._conn(addr)
        self._primary = addr
        return addr

    def is_primary(self) -> bool:
        return self.primary(refresh=True) is None

    # ------------------------------------------------------------------ writes
    def _write(self, op):
        last: Optional[Exception] = None
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                return op(self._conn(self.primary(refresh=attempt > 0)))
            except (redis.exceptions.ReadOnlyError, redis.exceptions.ConnectionError,
                    redis.exceptions.TimeoutError) as exc:
                last = exc                      # a failover in progress: find the primary again
                time.sleep(0.05 * (attempt + 1))
        raise RuntimeError(f"keygroup {self.name}: no primary accepted the write ({last})")

    def update(self, key: str, value: str) -> None:
        if not self.mutable:
            raise PermissionError(f"keygroup {self.name} is append-only")
        ex = self.expiry_s or None
        self._write(lambda c: c.set(key, value, ex=ex))

    def delete(self, key: str) -> None:
        if not self.mutable:
            raise PermissionError(f"keygroup {self.name} is append-only")
        self._write(lambda c: c.delete(key))

    def append(self, key: str, value: str) -> None:
        """Write an item that must not exist yet (FReD's Append; the CDN uses it as a lock)."""
        ex = self.expiry_s or None
        if not self._write(lambda c: c.set(key, value, ex=ex, nx=True)):
            raise KeyExists(f"{self.name}/{key} exists")

    # ------------------------------------------------------------------ reads
    def read(self, key: str) -> Optional[str]:
        value = self.local.get(key)
        if value is None:
            primary = self.primary()
            if primary is not None:             # not replicated here yet: ask the primary
                value = self._conn(primary).get(key)
        return value

    def scan(self, count: int = 1000) -> Dict[str, str]:
        """Up to ``count`` items of the local replica."""
        keys = self.keys(count)
        values = self.local.mget(keys) if keys else []
        return {k: v for k, v in zip(keys, values) if v is not None}

    def keys(self, count: int = 1000) -> List[str]:
        out: List[str] = []
        for key in self.local.scan_iter(count=min(count, 1000)):
            out.append(key)
            if len(out) >= count:
                break
        return out


_GROUPS: Dict[str, Keygroup] = {}


def keygroup(name: str) -> Keygroup:
    """The keygroup ``name`` of this function (as deployed with it)."""
    if name not in _GROUPS:
        spec = json.loads(os.environ.get("KOMET_KEYGROUPS", "{}"))
        if name not in spec:
            raise KeyError(f"keygroup {name!r} is not on this satellite (have: {', '.join(spec) or 'none'})")
        s = spec[name]
        _GROUPS[name] = Keygroup(name, s["unix"], s.get("expiry_s", 0), s.get("mutable", True))
    return _GROUPS[name]
