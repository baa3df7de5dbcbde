"""Published A records: names that software in the emulation points at nodes, served by
the info API's DNS beside the node names (e.g. a service name that a research system
moves from one satellite to the next).

Records live in the ``leonet`` zone, may not shadow a node's name, and carry their own
TTL so that clients re-resolve as often as the publisher needs. They are written with
``PUT /records/<name>`` (see docs/infoapi.md) or in-process with :meth:`RecordTable.set`.
"""
from __future__ import annotations

import ipaddress
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from .names import ZONE

MAX_ADDRESSES = 16
MAX_TTL_S = 86400
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class RecordError(ValueError):
    """A record that cannot be published (answered with 400 or 409)."""

    def __init__(self, status: int, message: str, hint: str):
        super().__init__(message)
        self.status, self.hint = status, hint


@dataclass(frozen=True)
class Record:
    name: str
    addresses: tuple
    ttl_s: int
    updated: float          #: time.time() of the last change
    changes: int            #: how often the addresses changed

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "addresses": list(self.addresses), "ttl_s": self.ttl_s,
                "updated_unix": round(self.updated, 6), "changes": self.changes}


class RecordTable:
    """Thread-safe name -> addresses table. ``is_node_name`` rejects names that a node
    already answers to (set by the info API once the nodes are known)."""

    def __init__(self, is_node_name: Optional[Callable[[str], bool]] = None):
        self._lock = threading.Lock()
        self._records: Dict[str, Record] = {}
        self.is_node_name = is_node_name or (lambda name: False)

    @staticmethod
    def normalise(name: str) -> str:
        key = name.rstrip(".").lower()
        if not key.endswith("." + ZONE):
            key = f"{key}.{ZONE}"
        return key

    def set(self, name: str, addresses: Sequence[str], ttl_s: int = 1) -> Record:
        key = self.normalise(name)
        labels = key.split(".")
        if len(key) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
            raise RecordError(400, f"not a DNS name: {name!r}", "use labels of a-z, 0-9 and '-', e.g. nginx.default.krios")
        if self.is_node_name(key):
            raise RecordError(409, f"{key} is a node's name", "publish under another name, e.g. <app>.<ns>.krios")
        if isinstance(addresses, str) or not isinstance(addresses, (list, tuple)) or not 1 <= len(addresses) <= MAX_ADDRESSES:
            raise RecordError(400, "addresses must be a list of 1 to 16 IPv4 addresses", 'e.g. {"addresses": ["10.64.0.7"]}')
        try:
            addrs = tuple(str(ipaddress.IPv4Address(a)) for a in addresses)
        except (ValueError, TypeError):
            raise RecordError(400, f"not IPv4 addresses: {addresses!r}", 'e.g. {"addresses": ["10.64.0.7"]}') from None
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 0 <= ttl_s <= MAX_TTL_S:
            raise RecordError(400, f"ttl_s must be a whole number of seconds in [0, {MAX_TTL_S}]", "e.g. 1")
        with self._lock:
            old = self._records.get(key)
            changes = (old.changes if old else 0) + (old is None or old.addresses != addrs)
            rec = Record(key, addrs, ttl_s, time.time() if old is None or old.addresses != addrs else old.updated,
                         changes)
            self._records[key] = rec
            return rec

    def remove(self, name: str) -> bool:
        with self._lock:
            return self._records.pop(self.normalise(name), None) is not None

    def get(self, name: str) -> Optional[Record]:
        with self._lock:
            return self._records.get(name.rstrip(".").lower())

    def all(self) -> List[Record]:
        with self._lock:
            return sorted(self._records.values(), key=lambda r: r.name)
