"""A Krios volume (§5.3) for the apps, stdlib only: the instance's state kept in a
local folder (``KRIOS_STATE_DIR``), served over HTTP so that a successor on the next
satellite can pull it across the emulated network before it reports Ready, and pull
the delta once more when the handover manager asks (``POST /krios/state/pull``).

The state is a mapping of sensor -> set of sequence numbers, so merging two copies is
a union and no update the successor has already seen is lost or doubled.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, Optional, Set


class StateVolume:
    def __init__(self, folder: Optional[str] = None):
        name = os.environ.get("POD_NAME") or str(os.getpid())
        self.folder = Path(folder or os.environ.get("KRIOS_STATE_DIR")
                           or Path(tempfile.gettempdir()) / "krios-volumes" / name)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "state.json"
        self._lock = threading.Lock()
        self.seen: Dict[str, Set[int]] = {}
        self.pulled_bytes = 0
        self.pull_seconds = 0.0
        if self.path.exists():
            self.merge(self.path.read_bytes())

    def add(self, sensor: str, seq: int) -> int:
        """Record one update; returns how many the sensor has now. Written through."""
        with self._lock:
            s = self.seen.setdefault(sensor, set())
            s.add(seq)
            count = len(s)
            self._save()
        return count

    def export(self) -> bytes:
        with self._lock:
            return json.dumps({k: sorted(v) for k, v in self.seen.items()}, separators=(",", ":")).encode()

    def merge(self, data: bytes) -> int:
        """Union another copy into this one; returns the number of new updates."""
        other = json.loads(data or b"{}")
        added = 0
        with self._lock:
            for sensor, seqs in other.items():
                s = self.seen.setdefault(sensor, set())
                before = len(s)
                s.update(int(x) for x in seqs)
                added += len(s) - before
            self._save()
        return added

    def pull(self, url: str, timeout: float = 30.0) -> int:
        """GET the state at ``url`` (the old instance's ``/krios/state``) and merge it."""
        t0 = time.monotonic()
        with urllib.request.urlopen(url, timeout=timeout) as r:
            data = r.read()
        self.pulled_bytes += len(data)
        added = self.merge(data)
        self.pull_seconds += time.monotonic() - t0
        return added

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: sorted(v) for k, v in self.seen.items()}, separators=(",", ":")))
        tmp.replace(self.path)
