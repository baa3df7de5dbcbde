"""The live view as a run service (``leonet run --view``, ``LeoNet.serve_view``): started
after bring-up, stopped before teardown, and announced to other shells in
``/run/leonet/view.json`` so that ``leonet view`` finds it."""
from __future__ import annotations

import json
import os
from typing import Any, Optional, Tuple

from ..emulation import runstate
from .server import DEFAULT_PORT, ViewServer
from .sources import RunSource

VIEW_FILE = runstate.STATE_DIR / "view.json"


def announced_view() -> Optional[str]:
    """The URL of the active run's own view, if it serves one."""
    try:
        record = json.loads(VIEW_FILE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    run = runstate.active_run()
    return record.get("url") if run is not None and int(run["pid"]) == int(record.get("pid", -1)) else None


class ViewService:
    """Serves the run's live view on ``port`` (127.0.0.1 unless ``host`` says otherwise)."""

    def __init__(self, port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                 default_path: Optional[Tuple[str, str]] = None):
        self.port, self.host, self.default_path = port, host, default_path
        self.server: Optional[ViewServer] = None

    @property
    def url(self) -> Optional[str]:
        return None if self.server is None else self.server.url

    def start(self, run: Any) -> None:
        self.server = ViewServer(RunSource(run), self.port, self.host, self.default_path)
        url = self.server.start()
        try:
            runstate.STATE_DIR.mkdir(parents=True, exist_ok=True)
            VIEW_FILE.write_text(json.dumps({"pid": os.getpid(), "url": url}))
        except OSError:   # not root: the view works, other shells just do not find it
            pass

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
            try:
                if json.loads(VIEW_FILE.read_text()).get("pid") == os.getpid():
                    VIEW_FILE.unlink()
            except (OSError, json.JSONDecodeError):
                pass
