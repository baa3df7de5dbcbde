"""The keygroup client that functions use (FReD's client API on Redis).

A keygroup is an application's data pool. On every satellite that holds a replica it
is one Redis server bound to the satellite's address; exactly one replica is the
*primary* (writable), the others replicate from it (Redis primary-replica
replication, asynchronous, over the emulated links). Functions only see this class:

* reads go to the local replica; an item that is missing locally while the local
  replica is not the primary is read from the primary (an item written just before a
  switch and not replicated yet: the paper's "served transparently from the old
  replica", Sec. 9). The primary is looked up again whenever the local replica follows
  another one (a hand-over re-points it) and after a failed remote read; a primary
  that cannot be reached even then leaves the local replica's answer (a miss): the
  satellite keeps serving what it holds instead of failing every miss;
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
from redis.backoff import NoBackoff
from redis.retry import Retry

#: how often a write follows a changing primary before it gives up
_WRITE_ATTEMPTS = 6
#: how long a read does not ask a primary that did not answer again
_UNREACHABLE_BACKOFF_S = 5.0


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
        # redis-py's own retries (3, backing off up to seconds) would hide a gone primary
        # behind a wait longer than a client's timeout: this class retries where it helps
        self.local = redis.Redis(unix_socket_path=unix_socket, decode_responses=True, socket_timeout=timeout_s,
                                 socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 1))
        self._primary: Optional[Tuple[str, int]] = None
        self._primary_via: Optional[Tuple[str, int]] = None   # the local replica's upstream it was found through
        self._unreachable_until: Dict[Tuple[str, int], float] = {}   # monotonic time
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
                                   socket_connect_timeout=self.timeout_s, retry=Retry(NoBackoff(), 0))
                self._remote[addr] = conn
            return conn

    def primary(self, refresh: bool = False) -> Optional[Tuple[str, int]]:
        """The primary's address, None when the local replica is the primary.

        Asks the local replica (a Unix-socket call) every time, so a hand-over that
        re-pointed it is seen at once; the rest of a chain of replicas is followed
        only when the local upstream changed or ``refresh``."""
        role, upstream = self._role(self.local)
        if upstream is None:
            self._primary = self._primary_via = None
            return None
        if not refresh and self._primary is not None and self._primary_via == upstream:
            return self._primary
        addr = upstream
        for _ in range(3):                     # follow a chain of replicas
            if self._unreachable_until.get(addr, 0.0) > time.monotonic():
                break                          # did not answer a moment ago: do not wait for it again
            role, master = self._role(self._conn(addr))
            if role == "master" or master is None:
                break
            addr = master
        self._primary, self._primary_via = addr, upstream
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
        """The item's value, None when absent (locally and, if not the primary, at the primary)."""
        value = self.local.get(key)
        if value is not None:
            return value
        tried: Optional[Tuple[str, int]] = None
        for refresh in (False, True):
            try:
                primary = self.primary(refresh=refresh)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                return None                     # the chain to the primary is broken: the local answer stands
            if primary is None or primary == tried or self._unreachable_until.get(primary, 0.0) > time.monotonic():
                return None
            try:                                # not replicated here yet: ask the primary
                return self._conn(primary).get(key)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                # gone or moved: look it up again, once; a primary that did not answer is
                # not asked again for a while (each try may cost the whole socket timeout)
                self._unreachable_until[primary] = time.monotonic() + _UNREACHABLE_BACKOFF_S
                tried = primary
        return None

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
