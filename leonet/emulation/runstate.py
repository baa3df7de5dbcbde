"""The active run, as seen from other shells (`leonet exec`, `nodes`, `status`).

A run writes ``/run/leonet/run.json`` (its pid, scenario and nodes) once, and
``/run/leonet/status.json`` after every tick, each atomically (write + rename).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import LeonetError

STATE_DIR = Path("/run/leonet")
RUN_FILE = STATE_DIR / "run.json"
STATUS_FILE = STATE_DIR / "status.json"
#: IDs of containers a run made without leonet's label (Containernet hosts), for cleanup
OWNED_CONTAINERS = STATE_DIR / "owned-containers"


def _write_json(path: Path, data: Dict[str, Any]) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def active_run() -> Optional[Dict[str, Any]]:
    """The active run's record, or None (a record of a dead process does not count)."""
    try:
        record = json.loads(RUN_FILE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not pid_alive(int(record.get("pid", -1))):
        return None
    return record


def require_active_run() -> Dict[str, Any]:
    record = active_run()
    if record is None:
        raise LeonetError("no leonet run is active: start one with `sudo leonet run SCENARIO`")
    return record


def claim(record: Dict[str, Any]) -> None:
    """Register this process as the active run (error if another one is alive)."""
    other = active_run()
    if other is not None and int(other["pid"]) != os.getpid():
        raise LeonetError(f"another leonet run is active (pid {other['pid']}, scenario {other.get('scenario')}); "
                          "stop it (Ctrl-C in its terminal) or run `leonet cleanup`")
    _write_json(RUN_FILE, dict(record, pid=os.getpid()))


def write_status(status: Dict[str, Any]) -> None:
    _write_json(STATUS_FILE, status)


def read_status() -> Dict[str, Any]:
    require_active_run()
    try:
        return json.loads(STATUS_FILE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def release() -> None:
    """Remove the run records and sockets, but only this process's (or a dead process's)."""
    try:
        record = json.loads(RUN_FILE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        record = None
    if record is not None and int(record.get("pid", -1)) != os.getpid() and pid_alive(int(record["pid"])):
        return  # another live run's records
    # Run services may leave sockets here (the control socket) if their process was killed.
    for path in (RUN_FILE, STATUS_FILE, *STATE_DIR.glob("*.sock")):
        path.unlink(missing_ok=True)


def node_record(name: str) -> Dict[str, Any]:
    record = require_active_run()
    nodes: List[Dict[str, Any]] = record["nodes"]
    for n in nodes:
        if name in (n["name"], n["host"]):
            return n
    from ..errors import ConfigError
    from ..schema import suggest
    raise ConfigError("NODE", name, "not a node of the active run",
                      suggest(name, [n["name"] for n in nodes], "list them with `leonet nodes`"))
